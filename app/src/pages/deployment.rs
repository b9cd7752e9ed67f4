//! A deployment's page, the approval screen: the release notes and commits since what is live,
//! every gate against its band, the score, the checklist, approvals given and still needed,
//! the wait timer and freezes, Approve / Reject, an admin's override (in red, forever), the
//! canary's steps, the health of the monitoring window against its thresholds, rollback within
//! the SLA and every transition. The page is drawn on the server; the forms are islands that
//! reload it after an action, and an open page reloads itself when the deployment changes.

use crate::api::deployments::{
    deployment_stamp, load_deployment, CancelDeployment, DecideDeployment, OverrideDeploymentGates,
    RollbackDeployment, TickChecklistItem,
};
use crate::components::feedback::ErrorPanel;
use crate::logic::bands::{Band, Level};
use crate::logic::deploy::{
    duration_words, ROLLBACK_AVAILABILITY, ROLLBACK_ERROR_RATE, ROLLBACK_FAILED_CHECKS,
    ROLLBACK_SLA_MS,
};
use crate::logic::gates::{PASS_SCORE, WARN_SCORE};
use crate::logic::time::{format_utc, humanize_ms};
use crate::logic::url::encode_query_value;
use crate::model::{
    ChecklistItem, DecisionRights, DeployState, DeploymentDetail, DeploymentPageData, Evaluation,
    RollbackTarget, Strategy, Unit,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Seconds between checks whether an open deployment page changed.
const POLL_SECONDS: u64 = 4;

pub(crate) fn state_class(state: DeployState) -> &'static str {
    match state {
        DeployState::Succeeded => "badge good",
        DeployState::Failed | DeployState::Rejected | DeployState::RolledBack => "badge bad",
        DeployState::InProgress => "badge busy",
        DeployState::Cancelled => "badge muted",
        DeployState::Requested
        | DeployState::Evaluating
        | DeployState::AwaitingApproval
        | DeployState::Waiting => "badge warn",
    }
}

pub(crate) fn level_pill(level: Level) -> impl IntoView {
    let class = match level {
        Level::Pass => "pill good",
        Level::Warn => "pill warn",
        Level::Fail => "pill bad",
    };
    view! { <span class=class>{level.as_str()}</span> }
}

/// The failure-risk score of the release's build run, against the active version's threshold.
fn risk_line(risk: Option<crate::model::RunRisk>, run: Option<i64>) -> impl IntoView {
    match (risk, run) {
        (Some(r), _) => {
            let high = r.score >= r.threshold;
            view! {
                <p class="small" id="risk" data-high=high.to_string()>
                    "Failure-risk score of build run " <a href=format!("/runs/{}", r.run_id)>{r.run_id}</a> ": "
                    <strong>{format!("{:.2}", r.score)}</strong>
                    {format!(" (model v{}, alerts at {:.2}) ", r.version, r.threshold)}
                    {if high { view! { <span class="pill bad">"high risk"</span> }.into_any() } else { view! { <span class="pill good">"below threshold"</span> }.into_any() }}
                    " · " <a href="/calibration">"calibration"</a>
                </p>
            }
            .into_any()
        }
        (None, Some(_)) => view! { <p class="muted small" id="risk">"Failure-risk score: the build run was not scored (it was reported before the predictor ran)."</p> }.into_any(),
        (None, None) => view! { <p class="muted small" id="risk">"Failure-risk score: no build run is linked to this release."</p> }.into_any(),
    }
}

pub(crate) fn short_sha(sha: &str) -> String {
    sha.chars().take(8).collect()
}

#[component]
pub fn DeploymentPage() -> impl IntoView {
    let params = use_params_map();
    let id = params
        .read_untracked()
        .get("id")
        .and_then(|i| i.parse::<i64>().ok())
        .unwrap_or(-1);
    let data = Resource::new(move || id, load_deployment);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the deployment…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Deployment"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <DeploymentView data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DeploymentView(data: DeploymentPageData) -> impl IntoView {
    let DeploymentPageData {
        detail: d,
        rights,
        health_svg,
        now,
        stamp,
        repository_url,
        risk,
    } = data;
    let s = d.summary.clone();
    let title = format!("{} {} → {}", s.project, s.version, s.environment);
    let commit = match &repository_url {
        Some(repo) => view! {
            <a href=format!("{repo}/commit/{}", s.commit_sha) rel="noopener noreferrer"><code>{short_sha(&s.commit_sha)}</code></a>
        }
        .into_any(),
        None => view! { <code>{short_sha(&s.commit_sha)}</code> }.into_any(),
    };
    let pending = s.state.is_pending();
    let may_roll_back = rights.can_operate
        && matches!(
            s.state,
            DeployState::Succeeded | DeployState::InProgress | DeployState::Failed
        )
        && d.rolled_back_by.is_none();
    let approved: Vec<String> = d
        .approvals
        .iter()
        .filter(|a| a.approve)
        .map(|a| a.user.clone())
        .collect();
    view! {
        <Title text=title.clone()/>
        <header class="page-header">
            <p class="crumbs">
                <a href="/deployments">"Deployments"</a> " / "
                <a href=format!("/deployments?project={}", encode_query_value(&s.project))>{s.project.clone()}</a> " / "
                <a href=format!("/deployments?project={}&environment={}", encode_query_value(&s.project), encode_query_value(&s.environment))>{s.environment.clone()}</a>
            </p>
            <h1>{title} " " <span class=state_class(s.state) id="deploy-state" data-state=s.state.as_str()>{s.state.label()}</span></h1>
            <p class="muted">
                "Deployment #" {s.id} " · " {s.strategy.label()} " · commit " {commit}
                {d.release.git_ref.clone().map(|r| view! { " · " <code>{r}</code> })}
                " · requested by " <strong>{s.requested_by.clone()}</strong> " " {format_utc(s.requested_at)}
                {d.release.ci_run_id.map(|r| view! { " · built by " <a href=format!("/runs/{r}")>"run " {r}</a> })}
            </p>
        </header>
        <Banners detail=d.clone() now/>
        <div class="deploy-grid">
            <section class="panel" id="gates" aria-labelledby="gates-h">
                <h2 id="gates-h">"Quality gates"</h2>
                {match d.evaluation.clone() {
                    Some(e) => view! { <GatesTable evaluation=e/> }.into_any(),
                    None if d.environment.gates.is_empty() => view! { <p class="muted">{format!("{} has no quality gates.", s.environment)}</p> }.into_any(),
                    None if pending => view! { <p class="muted">"Not evaluated yet."</p> }.into_any(),
                    None => view! { <p class="muted">"No gate evaluation is recorded for this deployment (it was recorded after the fact)."</p> }.into_any(),
                }}
                {risk_line(risk.clone(), d.release.ci_run_id)}
                {(!d.overrides.is_empty()).then(|| view! {
                    <div class="override" id="overrides" role="note">
                        {d.overrides.iter().map(|o| view! {
                            <p><strong>"Gates overridden by " {o.by.clone()}</strong> " " {format_utc(o.at)} ": " {o.reason.clone()}</p>
                        }).collect_view()}
                    </div>
                })}
                {(rights.is_admin && pending && d.evaluation.as_ref().is_some_and(|e| e.result == Level::Fail) && d.overrides.is_empty())
                    .then(|| view! { <OverrideGates id=s.id/> })}
            </section>
            <section class="panel" id="decision" aria-labelledby="decision-h">
                <h2 id="decision-h">"Approvals"</h2>
                <Approvals detail=d.clone() approved=approved.clone()/>
                {pending.then(|| view! { <Decide id=s.id rights=rights.clone()/> })}
                {(!d.environment.checklist.is_empty() && s.rollback_of.is_none()).then(|| view! {
                    <h3>"Pre-release checklist"</h3>
                    <Checklist id=s.id items=d.environment.checklist.clone() can_tick=rights.can_operate && pending/>
                })}
            </section>
        </div>
        {(s.strategy == Strategy::Canary).then(|| view! { <Canary detail=d.clone() now/> })}
        <Monitoring detail=d.clone() svg=health_svg now/>
        {may_roll_back.then(|| view! {
            <section class="panel" id="rollback" aria-labelledby="rollback-h">
                <h2 id="rollback-h">"Roll back"</h2>
                {if d.rollback_targets.is_empty() {
                    view! { <p class="muted">{format!("No earlier release has succeeded in {}: there is nothing to roll back to.", s.environment)}</p> }.into_any()
                } else {
                    view! {
                        <p class="muted">"Starts at once (no gates, approvals or freezes) and is measured against the "
                            {duration_words(ROLLBACK_SLA_MS / 1000)} " rollback SLA."</p>
                        <Rollback id=s.id targets=d.rollback_targets.clone()/>
                    }.into_any()
                }}
            </section>
        })}
        <Notes detail=d.clone()/>
        <Transitions detail=d.clone()/>
        {(pending && rights.can_operate).then(|| view! { <CancelForm id=s.id/> })}
        <LiveRefresh id=s.id stamp/>
    }
}

/// Why the deployment is where it is: what holds it, freezes, timers, failures, rollbacks.
#[component]
fn Banners(detail: DeploymentDetail, now: i64) -> impl IntoView {
    let d = detail;
    let s = &d.summary;
    let mut out: Vec<AnyView> = Vec::new();
    if s.state.is_pending() {
        if let Some(h) = d.hold.clone() {
            out.push(view! { <p class="alert warn" id="deploy-hold" role="status"><strong>"On hold: "</strong>{h}</p> }.into_any());
        }
    }
    if let Some((reason, until)) = d.frozen.clone() {
        out.push(view! {
            <p class="alert warn" id="deploy-freeze"><strong>{format!("{} is frozen", s.environment)}</strong>
                " until " {format_utc(until)} ": " {reason}</p>
        }.into_any());
    }
    if s.state == DeployState::Waiting {
        if let Some(since) = d.waiting_since {
            let goes = since + d.environment.protection.wait_timer_s * 1000;
            out.push(view! {
                <p class="alert info" id="deploy-timer">"Wait timer: goes at " {format_utc(goes)}
                    {(goes > now).then(|| format!(" ({} left)", duration_words((goes - now + 999) / 1000)))}</p>
            }.into_any());
        }
    }
    if let Some(reason) = d.failure_reason.clone() {
        out.push(view! { <p class="alert error" id="deploy-failure" role="alert"><strong>"Failed: "</strong>{reason}</p> }.into_any());
    }
    if let Some(by) = d.rolled_back_by {
        out.push(view! {
            <p class="alert error" id="deploy-rolled-back">"Rolled back by " <a href=format!("/deployments/{by}")>"deployment #" {by}</a> "."</p>
        }.into_any());
    }
    if let Some(of) = s.rollback_of {
        let decided = d.rollback_decided_at.unwrap_or(s.requested_at);
        let sla = match s.finished_at.filter(|_| s.state == DeployState::Succeeded) {
            Some(done) => {
                let took = done - decided;
                let within = took <= ROLLBACK_SLA_MS;
                view! {
                    " Service restored " <strong class=if within { "good" } else { "bad" } id="rollback-sla">
                        {duration_words(took / 1000)} " after the decision"</strong>
                    {format!(" — {} the {} SLA.", if within { "within" } else { "over" }, duration_words(ROLLBACK_SLA_MS / 1000))}
                }.into_any()
            }
            None => view! {
                {format!(" Decided {}; {} of the {} SLA used so far.", format_utc(decided),
                    duration_words(((now - decided).max(0)) / 1000), duration_words(ROLLBACK_SLA_MS / 1000))}
            }.into_any(),
        };
        out.push(view! {
            <p class="alert info" id="deploy-rollback-of">"Rollback of " <a href=format!("/deployments/{of}")>"deployment #" {of}</a> "." {sla}</p>
        }.into_any());
    }
    out.collect_view()
}

#[component]
fn GatesTable(evaluation: Evaluation) -> impl IntoView {
    let e = evaluation;
    let verdict = match e.result {
        Level::Pass => "may go",
        Level::Warn => "may go, with a warning",
        Level::Fail => "blocks the deployment",
    };
    view! {
        <p class="score" id="gate-score">
            "Score " <strong>{format!("{:.0}%", e.score * 100.0)}</strong> " " {level_pill(e.result)} " " {verdict}
        </p>
        <p class="muted small">{e.summary.clone()} " · evaluated " {format_utc(e.at)}
            {e.ci_run_id.map(|r| view! { " on " <a href=format!("/runs/{r}")>"run " {r}</a> })}</p>
        <table class="data gates" id="gates-table">
            <thead><tr>
                <th scope="col">"Gate"</th>
                <th scope="col" class="num">"Measured"</th>
                <th scope="col">"Band"</th>
                <th scope="col">"Result"</th>
                <th scope="col" class="num">"Weight"</th>
            </tr></thead>
            <tbody>
                {e.gates.into_iter().map(|g| {
                    let unit: Unit = g.metric.unit();
                    let band = Band { warn: g.warn, fail: g.fail, higher_is_better: g.higher_is_better };
                    let class = match g.level { Level::Pass => "good", Level::Warn => "warn", Level::Fail => "bad" };
                    view! {
                        <tr data-gate=g.metric.key() data-level=g.level.as_str()>
                            <td>{g.metric.label()} {g.key.then(|| view! { " " <span class="pill key" title="a failing key gate fails the whole evaluation">"key"</span> })}</td>
                            <td class=format!("num {class}")>{g.value.map(|v| unit.format(v)).unwrap_or_else(|| "not measured".into())}</td>
                            <td class="muted">{band.describe(|v| unit.format(v))}</td>
                            <td>{level_pill(g.level)}</td>
                            <td class="num">{format!("{}", g.weight)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <p class="muted small">"Pass counts 1, warn ½, fail 0, weighted. The total passes at "
            {format!("{:.0}%", PASS_SCORE * 100.0)} ", warns at " {format!("{:.0}%", WARN_SCORE * 100.0)} "; a failing key gate fails it."</p>
    }
}

#[component]
fn Approvals(detail: DeploymentDetail, approved: Vec<String>) -> impl IntoView {
    let d = detail;
    let required = d.environment.protection.required_approvals;
    if let Some(of) = d.summary.rollback_of {
        return view! {
            <p class="muted" id="approval-count">"A rollback of deployment #" {of}
                " skips gates, approvals and freezes: it restores what worked before, within the SLA."</p>
        }
        .into_any();
    }
    view! {
        {if required == 0 {
            view! { <p class="muted">{format!("{} needs no approval.", d.summary.environment)}</p> }.into_any()
        } else {
            view! {
                <p id="approval-count"><strong>{approved.len()} " of " {required}</strong> " approvals"
                    {(d.approvals_needed > 0).then(|| view! { " · " <span class="warn" id="approvals-needed">{d.approvals_needed} " more needed from " {d.approvers.clone()}</span> })}
                </p>
                {(!d.environment.protection.allow_self_approval).then(|| view! {
                    <p class="muted small">"The requester and the commits' authors cannot approve."</p>
                })}
            }.into_any()
        }}
        <ul class="approvals" id="approvals-list">
            {d.approvals.iter().map(|a| view! {
                <li class=if a.approve { "good" } else { "bad" } data-user=a.user.clone()>
                    <strong>{if a.approve { "✓ approved" } else { "✗ rejected" }}</strong> " by " {a.display_name.clone()}
                    " (" <code>{a.user.clone()}</code> ") " <span class="muted">{format_utc(a.at)}</span>
                    {a.comment.clone().map(|c| view! { <br/><q>{c}</q> })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Reloads the page once an action succeeded, so everything on it is current.
pub(crate) fn reload_on_success<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, crate::AppError>>>,
) {
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().reload();
        }
    });
}

pub(crate) fn action_error<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, crate::AppError>>>,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) => Some(view! { <p class="alert error" role="alert">{e.to_string()}</p> }),
        _ => None,
    }
}

#[island]
fn Decide(id: i64, rights: DecisionRights) -> impl IntoView {
    let decide = ServerAction::<DecideDeployment>::new();
    reload_on_success(decide.value().into());
    let (id1, id2) = (id.to_string(), id.to_string());
    let approve_why = rights.approve.clone();
    let reject_why = rights
        .reject
        .clone()
        .filter(|_| rights.approve != rights.reject);
    let (no_approve, no_reject) = (rights.approve.is_some(), rights.reject.is_some());
    view! {
        <div class="decide" id="decide">
            {action_error(decide.value().into())}
            <ActionForm action=decide attr:class="stack" attr:id="approve-form">
                <input type="hidden" name="id" value=id1/>
                <input type="hidden" name="decision" value="approve"/>
                <label for="approve-comment">"Comment (optional)"</label>
                <textarea id="approve-comment" name="comment" rows="2" maxlength="2000" placeholder="What you checked"></textarea>
                <button type="submit" class="primary" id="approve" disabled=no_approve>"Approve"</button>
                {approve_why.map(|why| view! { <p class="muted small" id="approve-why">"You cannot approve: " {why}</p> })}
            </ActionForm>
            <ActionForm action=decide attr:class="stack" attr:id="reject-form">
                <input type="hidden" name="id" value=id2/>
                <input type="hidden" name="decision" value="reject"/>
                <label for="reject-comment">"Reason for rejecting (required)"</label>
                <textarea id="reject-comment" name="comment" rows="2" maxlength="2000" required placeholder="What must change first"></textarea>
                <button type="submit" class="danger" id="reject" disabled=no_reject>"Reject"</button>
                {reject_why.map(|why| view! { <p class="muted small">"You cannot reject: " {why}</p> })}
            </ActionForm>
        </div>
    }
}

#[island]
fn OverrideGates(id: i64) -> impl IntoView {
    let act = ServerAction::<OverrideDeploymentGates>::new();
    reload_on_success(act.value().into());
    view! {
        <details class="override-form">
            <summary>"Override the failing gates (admin)"</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stack" attr:id="override-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <label for="override-reason">"Why this release may go despite its gates (shown in red on this deployment forever)"</label>
                <textarea id="override-reason" name="reason" rows="2" minlength="10" maxlength="2000" required placeholder="Incident, ticket, who agreed"></textarea>
                <button type="submit" class="danger">"Override gates"</button>
            </ActionForm>
        </details>
    }
}

#[island]
fn Checklist(id: i64, items: Vec<ChecklistItem>, can_tick: bool) -> impl IntoView {
    let tick = ServerAction::<TickChecklistItem>::new();
    reload_on_success(tick.value().into());
    view! {
        {action_error(tick.value().into())}
        <ul class="checklist" id="checklist">
            {items.into_iter().map(|item| {
                let done = item.ticked_by.is_some();
                view! {
                    <li class:done=done data-item=item.id.to_string()>
                        <span aria-hidden="true">{if done { "☑" } else { "☐" }}</span> " " {item.title.clone()}
                        {item.ticked_by.clone().map(|by| view! {
                            " " <span class="muted small">"— " {by} " " {item.ticked_at.map(format_utc)}</span>
                        })}
                        {can_tick.then(|| view! {
                            <ActionForm action=tick attr:class="inline">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <input type="hidden" name="item_id" value=item.id.to_string()/>
                                <input type="hidden" name="ticked" value=(!done).to_string()/>
                                <button type="submit" class="small">{if done { "Untick" } else { "Tick" }}</button>
                            </ActionForm>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[island]
fn Rollback(id: i64, targets: Vec<RollbackTarget>) -> impl IntoView {
    let act = ServerAction::<RollbackDeployment>::new();
    Effect::new(move |_| {
        if let Some(Ok(_new_id)) = act.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window()
                .location()
                .set_href(&format!("/deployments/{_new_id}"));
        }
    });
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stack" attr:id="rollback-form">
            <input type="hidden" name="id" value=id.to_string()/>
            <label for="rollback-to">"Back to"</label>
            <select id="rollback-to" name="to_release">
                {targets.into_iter().map(|t| view! {
                    <option value=t.release_id.to_string()>
                        {t.version.clone()} {t.finished_at.map(|f| format!(" (live from {})", format_utc(f)))}
                    </option>
                }).collect_view()}
            </select>
            <label for="rollback-reason">"Reason (optional)"</label>
            <input id="rollback-reason" name="reason" maxlength="500" placeholder="Error rate after the release"/>
            <button type="submit" class="danger" id="rollback-button">"Roll back now"</button>
        </ActionForm>
    }
}

#[island]
fn CancelForm(id: i64) -> impl IntoView {
    let act = ServerAction::<CancelDeployment>::new();
    reload_on_success(act.value().into());
    view! {
        <details class="panel narrow">
            <summary>"Cancel this deployment"</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stack" attr:id="cancel-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <label for="cancel-reason">"Reason"</label>
                <input id="cancel-reason" name="reason" required maxlength="500" placeholder="Superseded by a newer release"/>
                <button type="submit" class="danger">"Cancel deployment"</button>
            </ActionForm>
        </details>
    }
}

/// Reloads the page unless someone has typed into one of its forms.
fn reload_unless_typing() {
    #[cfg(feature = "hydrate")]
    {
        let typing = document()
            .query_selector(
                "textarea:not(:placeholder-shown), input[name=reason]:not(:placeholder-shown)",
            )
            .ok()
            .flatten()
            .is_some();
        if !typing {
            let _ = window().location().reload();
        }
    }
}

/// Reloads the page when the deployment changes (a decision, a step, a health sample), unless
/// someone is typing in one of its forms.
#[island]
fn LiveRefresh(id: i64, stamp: String) -> impl IntoView {
    Effect::new(move |_| {
        let stamp = stamp.clone();
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let stamp = stamp.clone();
                leptos::task::spawn_local(async move {
                    let Ok(fresh) = deployment_stamp(id).await else {
                        return;
                    };
                    if fresh != stamp {
                        reload_unless_typing();
                    }
                });
            },
            std::time::Duration::from_secs(POLL_SECONDS),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    view! { <span class="visually-hidden" aria-live="polite">"This page updates itself."</span> }
}

#[component]
fn Canary(detail: DeploymentDetail, now: i64) -> impl IntoView {
    let d = detail;
    let current = d.canary_step;
    view! {
        <section class="panel" id="canary" aria-labelledby="canary-h">
            <h2 id="canary-h">"Canary"</h2>
            <p>"Traffic on the release: " <strong id="canary-traffic">{format!("{:.0}%", d.summary.traffic * 100.0)}</strong>
                <span class="meter"><span style=format!("width: {:.1}%", d.summary.traffic * 100.0)></span></span></p>
            <ol class="steps" id="canary-steps">
                {d.canary_steps.iter().enumerate().map(|(i, step)| {
                    let reached = current.is_some_and(|c| c >= i as i64);
                    let here = current == Some(i as i64);
                    let pause_left = here.then(|| d.step_since.map(|since| since + step.pause_s * 1000 - now)).flatten().filter(|l| *l > 0);
                    view! {
                        <li class:reached=reached class:current=here data-step=i.to_string()>
                            <strong>{format!("{:.0}%", step.traffic * 100.0)}</strong>
                            {(step.pause_s > 0).then(|| format!(" · pause {}", duration_words(step.pause_s)))}
                            {pause_left.map(|l| view! { <span class="muted">{format!(" ({} left)", duration_words((l + 999) / 1000))}</span> })}
                            {reached.then_some(" ✓")}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn Monitoring(detail: DeploymentDetail, svg: String, now: i64) -> impl IntoView {
    let d = detail;
    let latest = d.health.last().copied();
    let watching = d.monitor_until.filter(|u| *u > now);
    view! {
        <section class="panel" id="monitoring" aria-labelledby="monitoring-h">
            <h2 id="monitoring-h">"Health"</h2>
            <p class="muted">
                {match (d.monitor_until, watching) {
                    (_, Some(until)) => format!("Monitoring window open until {} ({} left). ", format_utc(until), duration_words((until - now) / 1000)),
                    (Some(until), None) => format!("Monitoring window closed {}. ", format_utc(until)),
                    _ => format!("Monitored for {} after it succeeds. ", duration_words(d.environment.protection.monitoring_window_s)),
                }}
                {d.health.len()} " samples"
                {latest.map(|l| format!(", the latest {}", if now - l.at < 86_400_000 { format!("{} ago", humanize_ms(now - l.at)) } else { format!("at {}", format_utc(l.at)) }))} ". "
                {if d.environment.protection.auto_rollback {
                    format!("Rolls back on its own when the error rate exceeds {}, availability drops below {}, or {} health checks fail in a row.",
                        Unit::Fraction.format(ROLLBACK_ERROR_RATE), Unit::Fraction.format(ROLLBACK_AVAILABILITY), ROLLBACK_FAILED_CHECKS)
                } else {
                    "Automatic rollback is off for this environment.".to_string()
                }}
            </p>
            {if svg.is_empty() {
                view! { <p class="empty">"No health samples yet: deployers post them to " <code>{format!("/api/v1/deployments/{}/health", d.summary.id)}</code> "."</p> }.into_any()
            } else {
                view! { <div class="chart-box" inner_html=svg></div> }.into_any()
            }}
        </section>
    }
}

/// Release notes: a heading per kind of change, then each commit's subject, sha and author.
pub(crate) fn notes_view(sections: Vec<crate::logic::release::NotesSection>) -> impl IntoView {
    sections
        .into_iter()
        .map(|section| {
            view! {
                <h3>{section.title.clone()}</h3>
                <ul class="notes">
                    {section.entries.into_iter().map(|e| view! {
                        <li>{e.text.clone()} " " <code class="muted">{short_sha(&e.sha)}</code>
                            {e.author.clone().map(|a| view! { " " <span class="muted">"— " {a}</span> })}</li>
                    }).collect_view()}
                </ul>
            }
        })
        .collect_view()
}

#[component]
fn Notes(detail: DeploymentDetail) -> impl IntoView {
    let d = detail;
    let since = match &d.live {
        Some(l) => view! {
            "Changes since " <a href=format!("/deployments/{}", l.id)>{l.version.clone()}</a>
            {format!(", live in {} from {}", l.environment, l.finished_at.map(format_utc).unwrap_or_default())}
        }
        .into_any(),
        None => view! { {format!("Nothing was live in {} when this was requested: changes of the 30 days up to this release.", d.summary.environment)} }.into_any(),
    };
    let count: usize = d.notes.iter().map(|s| s.entries.len()).sum();
    view! {
        <section class="panel" id="notes" aria-labelledby="notes-h">
            <h2 id="notes-h">"Release notes"</h2>
            <p class="muted">{since} " · " {count} " commits"</p>
            {(count == 0).then(|| view! { <p class="empty">"No commits are known for this range. CI systems send them with the deployment request or through the GitHub webhook."</p> })}
            {notes_view(d.notes)}
        </section>
    }
}

#[component]
fn Transitions(detail: DeploymentDetail) -> impl IntoView {
    view! {
        <section class="panel table-panel" id="transitions" aria-labelledby="transitions-h">
            <h2 id="transitions-h">"History"</h2>
            <table class="data">
                <thead><tr>
                    <th scope="col">"When (UTC)"</th>
                    <th scope="col">"Change"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Why"</th>
                </tr></thead>
                <tbody>
                    {detail.transitions.into_iter().map(|t| view! {
                        <tr data-to=t.to.as_str()>
                            <td class="nowrap">{format_utc(t.at)}</td>
                            <td class="nowrap">{t.from.map(|f| format!("{} → ", f.label()))}<span class=state_class(t.to)>{t.to.label()}</span></td>
                            <td><code>{t.actor.clone()}</code></td>
                            <td>{t.reason.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
