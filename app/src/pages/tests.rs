//! Tests across runs: one test's history (result strip, duration chart, recent failures,
//! quarantine) and the flaky tests of a project over a window.

use crate::api::projects::list_projects;
use crate::api::test_history::{
    get_test_history, list_flaky, SetQuarantine, FLAKY_DAYS, HISTORY_SHOWN,
};
use crate::components::feedback::ErrorPanel;
use crate::components::layout::Me;
use crate::logic::time::{format_duration_s, format_utc, percent};
use crate::logic::url::encode_query_value;
use crate::model::{CaseStatus, Quarantine, Role, TestExecution, TestHistory};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The CSS class and word for an execution's result.
fn result_of(e: &TestExecution) -> (&'static str, &'static str) {
    match e.status {
        CaseStatus::Error => ("bad", "error"),
        CaseStatus::Failed => ("bad", "failed"),
        CaseStatus::Passed if e.retried => ("warn", "passed on retry"),
        CaseStatus::Passed => ("good", "passed"),
        CaseStatus::Skipped => ("muted", "skipped"),
    }
}

/// A time without the zone, for columns that say UTC in their heading.
fn short_utc(ms: i64) -> String {
    format_utc(ms).trim_end_matches(" UTC").to_string()
}

/// Whether the signed-in user may quarantine tests (the server checks again).
async fn may_quarantine(me: Option<Me>) -> bool {
    match me {
        Some(me) => matches!(me.await, Ok(Some(u)) if u.role.allows(Role::Approver)),
        None => false,
    }
}

#[component]
pub fn TestPage() -> impl IntoView {
    let params = use_params_map();
    let id = params
        .read_untracked()
        .get("id")
        .and_then(|i| i.parse::<i64>().ok())
        .unwrap_or(-1);
    let history = Resource::new(move || id, get_test_history);
    let me = use_context::<Me>();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the test…"</p> }>
            {move || Suspend::new(async move {
                let editable = may_quarantine(me).await;
                match history.await {
                    Err(e) => view! { <Title text="Test"/><ErrorPanel error=e/> }.into_any(),
                    Ok(h) => view! { <TestView history=h editable/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TestView(history: TestHistory, editable: bool) -> impl IntoView {
    let t = history.test;
    let runs = &history.executions;
    let shown = runs.len();
    let failed = runs
        .iter()
        .filter(|e| e.status >= CaseStatus::Failed)
        .count();
    let flaky = runs
        .iter()
        .filter(|e| e.status == CaseStatus::Passed && e.retried)
        .count();
    let ran = runs
        .iter()
        .filter(|e| e.status != CaseStatus::Skipped)
        .count();
    let pass_rate = (ran > 0).then(|| (ran - failed) as f64 / ran as f64);
    let mut durations: Vec<f64> = runs.iter().filter_map(|e| e.duration_s).collect();
    durations.sort_by(f64::total_cmp);
    let median = (!durations.is_empty()).then(|| durations[durations.len() / 2]);
    let owner = if t.classname.is_empty() {
        t.suite.clone()
    } else {
        t.classname.clone()
    };
    let failures: Vec<TestExecution> = runs
        .iter()
        .filter(|e| e.status >= CaseStatus::Failed)
        .take(10)
        .cloned()
        .collect();
    // The strip reads left to right, oldest to newest.
    let strip: Vec<TestExecution> = runs.iter().rev().cloned().collect();
    let project_q = encode_query_value(&t.project);
    view! {
        <Title text=t.name.clone()/>
        <header class="page-header">
            <p class="crumbs">
                <a href="/runs">"Runs"</a> " / "
                <a href=format!("/runs?project={project_q}")>{t.project.clone()}</a> " / "
                <a href=format!("/tests/flaky?project={project_q}")>"Flaky tests"</a>
            </p>
            <h1 id="test-name">{t.name.clone()}</h1>
            <p class="muted">
                <code>{owner}</code>
                {(!t.suite.is_empty() && t.suite != t.classname).then(|| view! { " · suite " <code>{t.suite.clone()}</code> })}
                {t.file.clone().map(|f| view! { " · " <code>{f}</code> })}
            </p>
        </header>
        <QuarantineView test_id=t.id quarantine=t.quarantine.clone() editable/>
        <div class="grid stats" id="test-totals">
            <div class="panel stat"><p class="stat-label">"Executions"</p><p class="stat-value">{history.total}</p>
                <p class="muted small">{format!("newest {shown} shown (at most {HISTORY_SHOWN})")}</p></div>
            <div class=format!("panel stat {}", if failed > 0 { "bad" } else { "" })><p class="stat-label">"Failed"</p><p class="stat-value">{failed}</p>
                <p class="muted small">{pass_rate.map(|p| format!("pass rate {}", percent(p))).unwrap_or_else(|| "never ran".into())}</p></div>
            <div class=format!("panel stat {}", if flaky > 0 { "warn" } else { "" })><p class="stat-label">"Passed on retry"</p><p class="stat-value">{flaky}</p>
                <p class="muted small">"flaked within a run"</p></div>
            <div class="panel stat"><p class="stat-label">"Median duration"</p><p class="stat-value">{median.map(format_duration_s).unwrap_or_else(|| "–".into())}</p>
                <p class="muted small">{durations.last().map(|m| format!("longest {}", format_duration_s(*m))).unwrap_or_default()}</p></div>
        </div>
        <section class="panel" id="test-history">
            <h2>"Results, oldest to newest"</h2>
            {strip.is_empty().then(|| view! { <p class="muted">"No executions yet."</p> })}
            <ol class="strip" aria-label="Result of each execution, oldest to newest">
                {strip.into_iter().map(|e| {
                    let (class, word) = result_of(&e);
                    let title = format!("run {} · {} · {}{}{}", e.run_id, format_utc(e.at), word,
                        e.duration_s.map(|d| format!(" · {}", format_duration_s(d))).unwrap_or_default(),
                        e.branch.as_deref().map(|b| format!(" · {b}")).unwrap_or_default());
                    view! { <li><a class=format!("cell {class}") href=format!("/runs/{}", e.run_id) title=title.clone() aria-label=title></a></li> }
                }).collect_view()}
            </ol>
            <p class="legend muted small">
                <span class="cell good"></span>" passed " <span class="cell warn"></span>" passed on retry "
                <span class="cell bad"></span>" failed or error " <span class="cell muted"></span>" skipped"
            </p>
        </section>
        <section class="panel" id="test-durations">
            <h2>"Duration"</h2>
            {match history.duration_chart {
                Some(svg) => view! { <div class="chart-box" inner_html=svg></div> }.into_any(),
                None => view! { <p class="muted">"Not enough timed executions for a chart."</p> }.into_any(),
            }}
        </section>
        <section class="panel" id="test-failures">
            <h2>"Recent failures"</h2>
            {failures.is_empty().then(|| view! { <p class="muted">"No failures among the executions shown."</p> })}
            <ul class="cases">
                {failures.into_iter().map(|e| {
                    let (class, word) = result_of(&e);
                    view! {
                        <li class="case">
                            <p><span class=format!("badge {class}")>{word}</span> " "
                                <a href=format!("/runs/{}", e.run_id)>"run " {e.run_id}</a>
                                " " <span class="muted">{format_utc(e.at)}
                                {e.branch.clone().map(|b| format!(" · {b}"))}
                                {e.commit_sha.as_deref().map(|c| format!(" · {}", c.chars().take(8).collect::<String>()))}</span></p>
                            {e.message.clone().map(|m| view! { <pre class="message">{m}</pre> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// The quarantine state; people who may change it get the form.
#[component]
fn QuarantineView(test_id: i64, quarantine: Option<Quarantine>, editable: bool) -> impl IntoView {
    if editable {
        view! { <QuarantineControl test_id quarantine/> }.into_any()
    } else {
        view! { <QuarantineNote quarantine/> }.into_any()
    }
}

#[component]
fn QuarantineNote(quarantine: Option<Quarantine>) -> impl IntoView {
    quarantine.map(|q| {
        view! {
            <p class="alert warn" id="quarantine-state">
                <strong>"Quarantined"</strong> " since " {format_utc(q.at)}
                {q.by.map(|b| format!(" by {b}"))} ": " {q.reason}
                <br/><span class="small">"Its failures stay visible here but are not held against a release."</span>
            </p>
        }
    })
}

/// Quarantine or release a test, in the browser (approvers and admins).
#[island]
fn QuarantineControl(test_id: i64, quarantine: Option<Quarantine>) -> impl IntoView {
    let action = ServerAction::<SetQuarantine>::new();
    let state = RwSignal::new(quarantine);
    Effect::new(move |_| {
        if let Some(Ok(q)) = action.value().get() {
            state.set(q);
        }
    });
    view! {
        <section class="panel narrow quarantine" id="quarantine">
            {move || {
                let q = state.get();
                let quarantined = q.is_some();
                view! {
                    <QuarantineNote quarantine=q/>
                    <ActionForm action attr:class="stack">
                        <input type="hidden" name="test_id" value=test_id.to_string()/>
                        <input type="hidden" name="quarantine" value=(!quarantined).to_string()/>
                        {(!quarantined).then(|| view! {
                            <label for="quarantine-reason">"Quarantine this test"</label>
                            <input id="quarantine-reason" name="reason" required maxlength="500"
                                placeholder="why, e.g. times out on the shared runner; ticket QA-123"/>
                        })}
                        <button type="submit" class=if quarantined { "" } else { "primary" }>
                            {if quarantined { "Release from quarantine" } else { "Quarantine" }}
                        </button>
                    </ActionForm>
                }
            }}
            {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <p class="alert error" role="alert">{e.to_string()}</p> })}
        </section>
    }
}

#[component]
pub fn FlakyPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let days = q
        .get("days")
        .and_then(|d| d.parse::<i64>().ok())
        .unwrap_or(FLAKY_DAYS);
    let asked = q.get("project").filter(|p| !p.is_empty());
    let projects = Resource::new(|| (), |_| list_projects());
    let flaky = Resource::new(
        move || asked.clone(),
        move |asked| async move {
            // Without a choice, the first project.
            let project = match asked {
                Some(p) => p,
                None => match list_projects().await?.into_iter().next() {
                    Some(p) => p.slug,
                    None => return Ok((String::new(), Vec::new())),
                },
            };
            let tests = list_flaky(project.clone(), days).await?;
            Ok::<_, crate::AppError>((project, tests))
        },
    );
    view! {
        <Title text="Flaky tests"/>
        <header class="page-header">
            <p class="crumbs"><a href="/runs">"Runs"</a></p>
            <h1>"Flaky tests"</h1>
            <p class="muted">"A test is flaky when it passed on a retry within a run, or both passed and failed on the same commit. Runs where more than 80% of tests failed are infrastructure failures and do not count. Flake rate = flaky executions ÷ executions in the window."</p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading flaky tests…"</p> }>
            {move || Suspend::new(async move {
                let projects = projects.await.unwrap_or_default();
                match flaky.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok((project, tests)) => {
                        let csv = format!("/api/v1/projects/{}/flaky-tests?days={days}&format=csv", encode_query_value(&project));
                        let empty = tests.is_empty();
                        let lost: f64 = tests.iter().map(|t| t.time_lost_s).sum();
                        view! {
                            <form method="get" action="/tests/flaky" class="filters panel" id="flaky-filters">
                                <label for="fl-project">"Project"</label>
                                <select id="fl-project" name="project">
                                    {projects.into_iter().map(|p| {
                                        let selected = p.slug == project;
                                        view! { <option value=p.slug.clone() selected=selected>{p.slug.clone()}</option> }
                                    }).collect_view()}
                                </select>
                                <label for="fl-days">"Window"</label>
                                <select id="fl-days" name="days">
                                    {[7i64, 14, 30, 90].into_iter().map(|d| view! {
                                        <option value=d.to_string() selected=d == days>{format!("{d} days")}</option>
                                    }).collect_view()}
                                </select>
                                <button type="submit">"Show"</button>
                            </form>
                            <p class="muted" id="flaky-summary">
                                {format!("{} flaky test{} in {} over the last {days} days, {} lost to re-runs and failed executions. ",
                                    tests.len(), if tests.len() == 1 { "" } else { "s" }, project, format_duration_s(lost))}
                                "The same list as CSV or JSON through the API: " <code>{csv}</code> " (token with the read scope)."
                            </p>
                            <section class="panel table-panel">
                                <table class="data" id="flaky-table">
                                    <thead><tr>
                                        <th scope="col">"Test"</th>
                                        <th scope="col" class="num">"Flake rate"</th>
                                        <th scope="col" class="num">"Flaky · executions"</th>
                                        <th scope="col" class="num">"Commits"</th>
                                        <th scope="col">"First flaked (UTC)"</th>
                                        <th scope="col">"Last flaked (UTC)"</th>
                                        <th scope="col" class="num">"Time lost"</th>
                                    </tr></thead>
                                    <tbody>
                                        {empty.then(|| view! { <tr><td colspan="7" class="muted">"No flaky tests in this window."</td></tr> })}
                                        {tests.into_iter().map(|t| {
                                            let owner = if t.classname.is_empty() { t.suite.clone() } else { t.classname.clone() };
                                            view! {
                                                <tr data-test=t.name.clone()>
                                                    <td>
                                                        <a href=format!("/tests/{}", t.test_id)><strong>{t.name.clone()}</strong></a>
                                                        {t.quarantined.then(|| view! { " " <span class="badge warn">"quarantined"</span> })}
                                                        <br/><span class="muted">{owner}</span>
                                                    </td>
                                                    <td class="num">{percent(t.flake_rate)}</td>
                                                    <td class="num">{t.flakes} " · " {t.executions}</td>
                                                    <td class="num">{t.commits}</td>
                                                    <td>{short_utc(t.first_flaked)}</td>
                                                    <td>{short_utc(t.last_flaked)}</td>
                                                    <td class="num">{format_duration_s(t.time_lost_s)}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
