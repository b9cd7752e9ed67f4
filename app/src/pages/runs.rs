//! CI runs: the filterable list (filters in the URL, refreshed while open) and a run's page
//! (jobs timeline, failed tests first, coverage, performance against the default bands).

use crate::api::projects::list_projects;
use crate::api::runs::{get_run, list_runs};
use crate::components::feedback::ErrorPanel;
use crate::logic::bands::{self, Band, Level};
use crate::logic::time::{format_duration_s, format_utc, percent};
use crate::logic::url::encode_query_value;
use crate::model::{CaseRow, CaseStatus, Run, RunDetail, RunFilter, RunPage, RunStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Seconds between refreshes of the runs list while it is open.
const REFRESH_SECONDS: u64 = 10;

fn status_class(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Success => "badge good",
        RunStatus::Failure | RunStatus::Error => "badge bad",
        RunStatus::Running | RunStatus::Queued => "badge busy",
        RunStatus::Cancelled => "badge muted",
    }
}

fn level_class(level: Level) -> &'static str {
    match level {
        Level::Pass => "good",
        Level::Warn => "warn",
        Level::Fail => "bad",
    }
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(8).collect()
}

#[component]
pub fn RunsPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let text = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
    let f = RunFilter {
        project: text("project"),
        branch: text("branch"),
        status: text("status"),
        days: q.get("days").and_then(|d| d.parse().ok()),
        text: text("q"),
        before_id: q.get("before").and_then(|b| b.parse().ok()),
        limit: Some(50),
    };
    let projects = Resource::new(|| (), |_| list_projects());
    let page = Resource::new(|| (), {
        let f = f.clone();
        move |_| list_runs(f.clone())
    });
    let sel_project = f.project.clone().unwrap_or_default();
    let sel_status = f.status.clone().unwrap_or_default();
    let sel_days = f.days.unwrap_or(0);
    let (branch, search) = (
        f.branch.clone().unwrap_or_default(),
        f.text.clone().unwrap_or_default(),
    );
    view! {
        <Title text="Runs"/>
        <header class="page-header">
            <h1>"Runs"</h1>
            <p class="muted">"CI runs as CI systems report them, newest first. The first page refreshes itself every " {REFRESH_SECONDS} " seconds. "
                <a href="/tests/flaky">"Flaky tests"</a> " · "
                <a href="/api/v1/openapi.json">"API reference (OpenAPI)"</a></p>
        </header>
        <form method="get" action="/runs" class="filters panel" id="run-filters">
            <label for="f-project">"Project"</label>
            <select id="f-project" name="project">
                <option value="">"all"</option>
                <Suspense fallback=|| ()>
                    {move || {
                        let sel_project = sel_project.clone();
                        Suspend::new(async move {
                            projects.await.unwrap_or_default().into_iter().map(|p| {
                                let selected = p.slug == sel_project;
                                view! { <option value=p.slug.clone() selected=selected>{p.slug.clone()}</option> }
                            }).collect_view()
                        })
                    }}
                </Suspense>
            </select>
            <label for="f-branch">"Branch"</label>
            <input id="f-branch" name="branch" value=branch placeholder="any"/>
            <label for="f-status">"Status"</label>
            <select id="f-status" name="status">
                <option value="">"any"</option>
                {RunStatus::ALL.iter().map(|s| view! {
                    <option value=s.as_str() selected=s.as_str() == sel_status>{s.as_str()}</option>
                }).collect_view()}
            </select>
            <label for="f-days">"Within"</label>
            <select id="f-days" name="days">
                {[(0, "all time"), (1, "1 day"), (7, "7 days"), (14, "14 days"), (30, "30 days"), (90, "90 days")].into_iter().map(|(d, t)| view! {
                    <option value=d.to_string() selected=d == sel_days>{t}</option>
                }).collect_view()}
            </select>
            <label for="f-q">"Search"</label>
            <input id="f-q" name="q" type="search" value=search placeholder="workflow, author, commit, run id"/>
            <button type="submit">"Filter"</button>
            <a href="/runs">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
            {move || {
                let filter = f.clone();
                Suspend::new(async move {
                    match page.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(page) => view! { <RunsTable filter page/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The runs table: the only part of the page that runs in the browser, so the first page can
/// refresh itself while it is open.
#[island]
fn RunsTable(filter: RunFilter, page: RunPage) -> impl IntoView {
    let live = filter.before_id.is_none();
    let page = RwSignal::new(page);
    if live {
        let query = filter.clone();
        Effect::new(move |_| {
            let query = query.clone();
            if let Ok(handle) = set_interval_with_handle(
                move || {
                    let query = query.clone();
                    leptos::task::spawn_local(async move {
                        // A failed refresh keeps the rows shown; the next one tries again.
                        if let Ok(fresh) = list_runs(query).await {
                            page.set(fresh);
                        }
                    });
                },
                std::time::Duration::from_secs(REFRESH_SECONDS),
            ) {
                on_cleanup(move || handle.clear());
            }
        });
    }
    view! {
            {move || {
                let f = filter.clone();
                let page = page.get();
                        let next = page.next_before_id.map(|id| {
                            let mut q = vec![format!("before={id}")];
                            for (k, v) in [("project", &f.project), ("branch", &f.branch), ("status", &f.status), ("q", &f.text)] {
                                if let Some(v) = v { q.push(format!("{k}={}", encode_query_value(v))); }
                            }
                            if let Some(d) = f.days { q.push(format!("days={d}")); }
                            format!("/runs?{}", q.join("&"))
                        });
                        let empty = page.runs.is_empty();
                        view! {
                            <section class="panel table-panel">
                                <table class="data" id="runs-table">
                                    <thead><tr>
                                        <th scope="col">"Run"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Branch · commit"</th>
                                        <th scope="col" class="num">"Tests"</th>
                                        <th scope="col" class="num">"Pass rate"</th>
                                        <th scope="col" class="num">"Coverage"</th>
                                        <th scope="col" class="num">"Duration"</th>
                                        <th scope="col">"Started"</th>
                                    </tr></thead>
                                    <tbody>
                                        {empty.then(|| view! { <tr><td colspan="8" class="muted">"No runs match. CI systems send runs with a project token: see Settings → Projects and tokens."</td></tr> })}
                                        {page.runs.into_iter().map(|r| view! { <RunRow run=r/> }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            {next.map(|href| view! { <p><a href=href>"Older runs →"</a></p> })}
                        }
            }}
    }
}

#[component]
fn RunRow(run: Run) -> impl IntoView {
    let href = format!("/runs/{}", run.id);
    let pass_rate = run.tests.pass_rate();
    let coverage = run.coverage.and_then(|c| c.line_rate);
    view! {
        <tr data-run=run.id.to_string()>
            <td>
                <a href=href><strong>{if run.workflow.is_empty() { "run".to_string() } else { run.workflow.clone() }}</strong>
                    " #" {run.external_id.clone()}{(run.attempt > 1).then(|| format!(" (attempt {})", run.attempt))}</a>
                <br/><span class="muted">{run.project.clone()} " · " {run.provider.as_str()}</span>
            </td>
            <td><span class=status_class(run.status)>{run.status.as_str()}</span></td>
            <td>
                <code>{run.branch.clone().unwrap_or_else(|| "–".into())}</code>
                <br/><code class="muted">{run.commit_sha.as_deref().map(short_sha).unwrap_or_default()}</code>
            </td>
            <td class="num">
                {run.tests.tests}
                {(run.tests.failed + run.tests.errors > 0).then(|| view! { <br/><span class="bad">{run.tests.failed + run.tests.errors} " failed"</span> })}
                {(run.tests.flaky > 0).then(|| view! { <br/><span class="warn">{run.tests.flaky} " flaky"</span> })}
            </td>
            <td class="num">{pass_rate.map(|p| view! { <span class=level_class(bands::PASS_RATE.level(p))>{percent(p)}</span> }.into_any()).unwrap_or_else(|| "–".into_any())}</td>
            <td class="num">{coverage.map(|c| view! { <span class=level_class(bands::LINE_COVERAGE.level(c))>{percent(c)}</span> }.into_any()).unwrap_or_else(|| "–".into_any())}</td>
            <td class="num">{run.duration_s().map(format_duration_s).unwrap_or_else(|| "–".into())}</td>
            <td class="nowrap">{run.started_at.map(format_utc).unwrap_or_else(|| "–".into())}</td>
        </tr>
    }
}

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|i| i.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    let detail = Resource::new(id, get_run);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the run…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <Title text="Run"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <RunView detail=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunView(detail: RunDetail) -> impl IntoView {
    let run = detail.run.clone();
    let title = format!(
        "{} #{}",
        if run.workflow.is_empty() {
            "Run"
        } else {
            &run.workflow
        },
        run.external_id
    );
    let commit_link = match (&detail.repository_url, &run.commit_sha) {
        (Some(repo), Some(sha)) => {
            let href = format!("{repo}/commit/{sha}");
            let text = short_sha(sha);
            Some(
                view! { <a href=href rel="noopener noreferrer"><code>{text}</code></a> }.into_any(),
            )
        }
        (None, Some(sha)) => Some(view! { <code>{short_sha(sha)}</code> }.into_any()),
        _ => None,
    };
    let t = run.tests;
    view! {
        <Title text=title.clone()/>
        <header class="page-header">
            <p class="crumbs"><a href="/runs">"Runs"</a> " / " <a href=format!("/runs?project={}", encode_query_value(&run.project))>{run.project.clone()}</a></p>
            <h1>{title} " " <span class=status_class(run.status) id="run-status">{run.status.as_str()}</span></h1>
            <p class="muted">
                {run.provider.as_str()}
                {run.branch.clone().map(|b| view! { " · branch " <code>{b}</code> })}
                {commit_link.map(|l| view! { " · commit " {l} })}
                {run.author.clone().map(|a| format!(" · by {a}"))}
                {run.trigger.clone().map(|t| format!(" · {t}"))}
                {run.started_at.map(|s| format!(" · started {}", format_utc(s)))}
                {run.duration_s().map(|d| format!(" · took {}", format_duration_s(d)))}
                {run.url.clone().map(|u| view! { " · " <a href=u rel="noopener noreferrer">"open in CI"</a> })}
            </p>
        </header>
        <div class="grid stats" id="run-totals">
            <Stat label="Tests" value=t.tests.to_string() detail=format!("{} passed · {} skipped · {} report(s)", t.passed, t.skipped, detail.reports)/>
            <Stat label="Failed" value=(t.failed + t.errors).to_string() detail=format!("{} failures · {} errors", t.failed, t.errors)
                level=(t.failed + t.errors > 0).then_some(Level::Fail)/>
            <Stat label="Flaky" value=t.flaky.to_string() detail="passed after failing on retry".to_string()
                level=(t.flaky > 0).then_some(Level::Warn)/>
            <Banded label="Pass rate" value=t.pass_rate() band=bands::PASS_RATE fmt=percent/>
            <Banded label="Line coverage" value=run.coverage.and_then(|c| c.line_rate) band=bands::LINE_COVERAGE fmt=percent/>
            <Stat label="Branch coverage" level=None value=run.coverage.and_then(|c| c.branch_rate).map(percent).unwrap_or_else(|| "–".into())
                detail=run.coverage.map(|c| format!("{}/{} lines · {}/{} branches", c.lines_covered, c.lines_valid, c.branches_covered, c.branches_valid)).unwrap_or_else(|| "no coverage report".into())/>
        </div>
        {(!run.performance.is_empty() || !run.security.is_empty()).then(|| {
            let p = run.performance;
            let s = run.security;
            view! {
                <h2>"Performance and security"</h2>
                <div class="grid stats" id="run-performance">
                    <Banded label="p95 latency" value=p.p95_ms band=bands::P95_MS fmt=|v| format!("{v:.0} ms")/>
                    <Banded label="p99 latency" value=p.p99_ms band=bands::P99_MS fmt=|v| format!("{v:.0} ms")/>
                    <Banded label="Error rate" value=p.error_rate band=bands::ERROR_RATE fmt=|v| format!("{:.2}%", v * 100.0)/>
                    <Stat label="p50 · throughput" value=p.p50_ms.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "–".into())
                        detail=p.throughput_rps.map(|v| format!("{v:.0} req/s")).unwrap_or_default()/>
                    <Banded label="Critical findings" value=s.critical.map(|v| v as f64) band=bands::CRITICAL_FINDINGS fmt=|v| format!("{v:.0}")/>
                    <Stat label="High · medium · low" value=format!("{} · {} · {}", opt(s.high), opt(s.medium), opt(s.low)) detail="security findings".to_string()/>
                </div>
            }
        })}
        {detail.risk.clone().map(|r| view! { <RunRiskPanel risk=r/> })}
        {(!run.jobs.is_empty()).then(|| view! { <JobsTimeline run=run.clone()/> })}
        <section class="panel" id="problem-tests">
            <h2>"Failed and flaky tests"</h2>
            {detail.problem_cases.is_empty().then(|| view! { <p class="muted">{if t.tests == 0 { "No test report yet." } else { "Every test passed on its first attempt." }}</p> })}
            <ul class="cases">
                {detail.problem_cases.into_iter().map(|c| view! { <CaseItem case=c/> }).collect_view()}
            </ul>
            {(detail.more_problems > 0).then(|| view! { <p class="muted">"and " {detail.more_problems} " more"</p> })}
            {detail.detail_purged_at.map(|at| view! {
                <p class="muted small" id="detail-purged">
                    {format!("Failure output and per-file coverage were purged on {} (retention of CI artifacts).", crate::logic::time::format_utc(at))}
                </p>
            })}
        </section>
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

#[component]
fn Stat(
    label: &'static str,
    value: String,
    #[prop(optional)] detail: String,
    #[prop(default = None)] level: Option<Level>,
) -> impl IntoView {
    view! {
        <div class=format!("panel stat {}", level.map(level_class).unwrap_or(""))>
            <p class="stat-label">{label}</p>
            <p class="stat-value">{value}</p>
            <p class="muted small">{detail}</p>
        </div>
    }
}

/// A figure with its warn/fail band: the value, its level, and the band in words.
#[component]
fn Banded(
    label: &'static str,
    value: Option<f64>,
    band: Band,
    fmt: fn(f64) -> String,
) -> impl IntoView {
    let level = value.map(|v| band.level(v));
    let text = value.map(fmt).unwrap_or_else(|| "–".into());
    let detail = match level {
        Some(l) => format!("{} · {}", l.as_str(), band.describe(fmt)),
        None => format!("not reported · {}", band.describe(fmt)),
    };
    view! { <Stat label value=text detail level=level/> }
}

/// Jobs as bars on the run's time axis.
#[component]
fn JobsTimeline(run: Run) -> impl IntoView {
    let start = run
        .jobs
        .iter()
        .filter_map(|j| j.started_at)
        .chain(run.started_at)
        .min();
    let end = run
        .jobs
        .iter()
        .filter_map(|j| j.finished_at.or(j.started_at))
        .chain(run.finished_at)
        .max();
    let span = match (start, end) {
        (Some(s), Some(e)) if e > s => Some((s, (e - s) as f64)),
        _ => None,
    };
    view! {
        <section class="panel" id="jobs">
            <h2>"Jobs"</h2>
            <ol class="timeline">
                {run.jobs.into_iter().map(|j| {
                    let (left, width) = match (span, j.started_at) {
                        (Some((s, total)), Some(js)) => {
                            let je = j.finished_at.unwrap_or(js);
                            let left = (js - s) as f64 / total * 100.0;
                            (left, ((je - js) as f64 / total * 100.0).max(0.8))
                        }
                        _ => (0.0, 100.0),
                    };
                    let took = match (j.started_at, j.finished_at) {
                        (Some(a), Some(b)) if b >= a => format_duration_s((b - a) as f64 / 1000.0),
                        _ => j.status.as_str().to_string(),
                    };
                    view! {
                        <li>
                            <span class="job-name">{j.name.clone()}</span>
                            <span class="track" title=format!("{} · {}", j.name, took)>
                                <span class=format!("bar {}", j.status.as_str()) style=format!("margin-left:{left:.2}%;width:{width:.2}%")></span>
                            </span>
                            <span class="job-time">{took}</span>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn CaseItem(case: CaseRow) -> impl IntoView {
    let (class, label) = match case.status {
        CaseStatus::Error => ("badge bad", "error"),
        CaseStatus::Failed => ("badge bad", "failed"),
        _ if case.retried => ("badge warn", "flaky"),
        CaseStatus::Skipped => ("badge muted", "skipped"),
        CaseStatus::Passed => ("badge good", "passed"),
    };
    let owner = if case.classname.is_empty() {
        case.suite.clone()
    } else {
        case.classname.clone()
    };
    view! {
        <li class="case">
            <p>
                <span class=class>{label}</span> " "
                <a href=format!("/tests/{}", case.test_id) title="History of this test"><strong data-test-id=case.test_id.to_string()>{case.name.clone()}</strong></a>
                " " <span class="muted">{owner}</span>
                {case.duration_s.map(|d| view! { " " <span class="muted">"(" {format_duration_s(d)} ")"</span> })}
            </p>
            {case.message.clone().map(|m| view! { <pre class="message">{m}</pre> })}
        </li>
    }
}

/// The failure-risk score the run got when it started, and the features behind it.
#[component]
fn RunRiskPanel(risk: crate::model::RunRisk) -> impl IntoView {
    use crate::logic::predictor::FEATURES;
    let high = risk.score >= risk.threshold;
    view! {
        <section class="panel" id="run-risk">
            <h2>"Failure risk at start"</h2>
            <p>
                <strong class="risk-score">{format!("{:.2}", risk.score)}</strong>
                {format!(" by model v{} (alerts at {:.2}) ", risk.version, risk.threshold)}
                {if high { view! { <span class="pill bad">"high risk"</span> }.into_any() } else { view! { <span class="pill good">"below threshold"</span> }.into_any() }}
                {risk.alert.clone().map(|a| view! {
                    " · alert " {match a.acknowledged_by { Some(by) => format!("acknowledged by {by}"), None => "open".to_string() }}
                })}
                " · " <a href="/calibration">"calibration"</a>
            </p>
            <table class="data compact">
                <thead><tr><th scope="col">"Feature"</th><th scope="col" class="num">"Value"</th></tr></thead>
                <tbody>
                    {FEATURES.iter().map(|f| view! {
                        <tr><th scope="row" title=f.help>{f.label}</th><td class="num">{risk.features.get(f.key).map_or("unknown".to_string(), |v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.3}") })}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
