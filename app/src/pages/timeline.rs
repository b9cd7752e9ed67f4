//! Where releases are: the approvals queue, the environments timeline (what is live where and
//! the history of every deployment, with filters in the URL) and releases with a comparison
//! of any two.

use super::deployment::{notes_view, short_sha, state_class};
use crate::api::deployments::{
    approval_queue, compare_releases, deployments_timeline, list_releases,
};
use crate::api::projects::list_projects;
use crate::components::feedback::ErrorPanel;
use crate::logic::deploy::duration_words;
use crate::logic::time::format_utc;
use crate::logic::url::encode_query_value;
use crate::model::{
    DeployState, DeploymentFilter, DeploymentSummary, LiveEnvironment, ReleaseComparison,
    ReleaseSummary, Timeline,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn took(d: &DeploymentSummary) -> String {
    match (d.started_at, d.finished_at) {
        (Some(s), Some(f)) if f >= s => duration_words((f - s) / 1000),
        _ => "–".into(),
    }
}

/// The state of a deployment with its markers: override (red), rollback.
#[component]
fn StateCell(d: DeploymentSummary) -> impl IntoView {
    view! {
        <span class=state_class(d.state)>{d.state.label()}</span>
        {d.overridden.then(|| view! { " " <span class="pill bad" title="an admin let it past failing gates">"gates overridden"</span> })}
        {d.rollback_of.map(|of| view! { <br/><span class="muted small">"rollback of " <a href=format!("/deployments/{of}")>"#" {of}</a></span> })}
    }
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let queue = Resource::new(|| (), |_| approval_queue());
    view! {
        <Title text="Approvals"/>
        <header class="page-header">
            <h1>"Approvals"</h1>
            <p class="muted">"Deployments waiting for your decision, newest first: you may approve them under their environment's rules and have not decided yet. "
                <a href="/deployments">"All deployments"</a></p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading your queue…"</p> }>
            {move || Suspend::new(async move {
                match queue.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) => view! {
                        <section class="panel table-panel">
                            <table class="data" id="queue-table">
                                <thead><tr>
                                    <th scope="col">"Release"</th>
                                    <th scope="col">"To"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Approved by"</th>
                                    <th scope="col">"Requested"</th>
                                </tr></thead>
                                <tbody>
                                    {list.is_empty().then(|| view! { <tr><td colspan="5" class="empty">"Nothing waits for you."</td></tr> })}
                                    {list.into_iter().map(|d| view! {
                                        <tr data-deployment=d.id.to_string()>
                                            <td><a href=format!("/deployments/{}", d.id)><strong>{d.project.clone()} " " {d.version.clone()}</strong></a>
                                                <br/><code class="muted">{short_sha(&d.commit_sha)}</code></td>
                                            <td>{d.environment.clone()} <br/><span class="muted small">{d.strategy.label()}</span></td>
                                            <td><StateCell d=d.clone()/></td>
                                            <td>{if d.approvers.is_empty() { "nobody yet".to_string() } else { d.approvers.join(", ") }}</td>
                                            <td class="nowrap">{d.requested_by.clone()} <br/><span class="muted small">{format_utc(d.requested_at)}</span></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let text = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
    let filter = DeploymentFilter {
        project: text("project"),
        environment: text("environment"),
        state: text("state"),
        before_id: q.get("before").and_then(|b| b.parse().ok()),
    };
    let projects = Resource::new(|| (), |_| list_projects());
    let timeline = Resource::new(|| (), {
        let f = filter.clone();
        move |_| deployments_timeline(f.clone())
    });
    let sel_project = filter.project.clone().unwrap_or_default();
    let sel_state = filter.state.clone().unwrap_or_default();
    let environment = filter.environment.clone().unwrap_or_default();
    view! {
        <Title text="Deployments"/>
        <header class="page-header">
            <h1>"Deployments"</h1>
            <p class="muted">"What is live in each environment, and every deployment: who asked, who approved, how long it took, how it ended. "
                <a href="/releases">"Releases and comparisons"</a> " · " <a href="/approvals">"Your approvals"</a></p>
        </header>
        <form method="get" action="/deployments" class="filters panel" id="deploy-filters">
            <label for="d-project">"Project"</label>
            <select id="d-project" name="project">
                <option value="">"all"</option>
                <Suspense fallback=|| ()>
                    {move || {
                        let sel = sel_project.clone();
                        Suspend::new(async move {
                            projects.await.unwrap_or_default().into_iter().map(|p| {
                                let selected = p.slug == sel;
                                view! { <option value=p.slug.clone() selected=selected>{p.slug.clone()}</option> }
                            }).collect_view()
                        })
                    }}
                </Suspense>
            </select>
            <label for="d-env">"Environment"</label>
            <input id="d-env" name="environment" value=environment placeholder="any"/>
            <label for="d-state">"State"</label>
            <select id="d-state" name="state">
                <option value="">"any"</option>
                {DeployState::ALL.iter().map(|s| view! {
                    <option value=s.as_str() selected=s.as_str() == sel_state>{s.label()}</option>
                }).collect_view()}
            </select>
            <button type="submit">"Filter"</button>
            <a href="/deployments">"Clear"</a>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Loading deployments…"</p> }>
            {move || {
                let f = filter.clone();
                Suspend::new(async move {
                    match timeline.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(t) => view! { <TimelineView timeline=t filter=f/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn TimelineView(timeline: Timeline, filter: DeploymentFilter) -> impl IntoView {
    let Timeline {
        live,
        history,
        next_before_id,
    } = timeline;
    // One row of environment cards per project, in promotion order.
    let mut projects: Vec<(String, Vec<LiveEnvironment>)> = Vec::new();
    for env in live {
        match projects.iter_mut().find(|(p, _)| *p == env.project) {
            Some((_, envs)) => envs.push(env),
            None => projects.push((env.project.clone(), vec![env])),
        }
    }
    let next = next_before_id.map(|id| {
        let mut q = vec![format!("before={id}")];
        for (k, v) in [
            ("project", &filter.project),
            ("environment", &filter.environment),
            ("state", &filter.state),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", encode_query_value(v)));
            }
        }
        format!("/deployments?{}", q.join("&"))
    });
    let empty = history.is_empty();
    view! {
        <section id="live" aria-labelledby="live-h">
            <h2 id="live-h">"Live now"</h2>
            {projects.into_iter().map(|(project, envs)| view! {
                <div class="env-row" data-project=project.clone()>
                    <h3><a href=format!("/deployments?project={}", encode_query_value(&project))>{project.clone()}</a></h3>
                    <ol class="envs">
                        {envs.into_iter().map(|e| view! { <EnvCard env=e/> }).collect_view()}
                    </ol>
                </div>
            }).collect_view()}
        </section>
        <section class="panel table-panel" aria-labelledby="history-h">
            <h2 id="history-h">"History"</h2>
            <table class="data" id="deployments-table">
                <thead><tr>
                    <th scope="col">"Deployment"</th>
                    <th scope="col">"Environment"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Requested by"</th>
                    <th scope="col">"Approved by"</th>
                    <th scope="col">"Requested (UTC)"</th>
                    <th scope="col" class="num">"Took"</th>
                </tr></thead>
                <tbody>
                    {empty.then(|| view! { <tr><td colspan="7" class="empty">"No deployments match. CI systems request them with a deploy token: see the API reference."</td></tr> })}
                    {history.into_iter().map(|d| view! {
                        <tr data-deployment=d.id.to_string() data-state=d.state.as_str()>
                            <td><a href=format!("/deployments/{}", d.id)><strong>{d.project.clone()} " " {d.version.clone()}</strong></a>
                                <br/><span class="muted small">"#" {d.id} " · " {d.strategy.label()} " · " <code>{short_sha(&d.commit_sha)}</code></span></td>
                            <td>{d.environment.clone()}</td>
                            <td><StateCell d=d.clone()/></td>
                            <td>{d.requested_by.clone()}</td>
                            <td>{if d.approvers.is_empty() { "–".to_string() } else { d.approvers.join(", ") }}</td>
                            <td class="nowrap">{format_utc(d.requested_at).trim_end_matches(" UTC").to_string()}</td>
                            <td class="num">{took(&d)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {next.map(|href| view! { <p><a href=href>"Older deployments →"</a></p> })}
    }
}

#[component]
fn EnvCard(env: LiveEnvironment) -> impl IntoView {
    view! {
        <li class="panel env-card" data-environment=env.environment.clone()>
            <p class="env-name"><strong>{env.environment.clone()}</strong></p>
            {match env.live.clone() {
                Some(l) => view! {
                    <p class="env-live"><a href=format!("/deployments/{}", l.id)><strong class="version">{l.version.clone()}</strong></a></p>
                    <p class="muted small">"live since " {l.finished_at.map(format_utc).unwrap_or_default()}</p>
                }.into_any(),
                None => view! { <p class="muted env-live">"nothing live"</p> }.into_any(),
            }}
            {env.open.into_iter().map(|o| view! {
                <p class="small"><a href=format!("/deployments/{}", o.id)>{o.version.clone()}</a> " " <span class=state_class(o.state)>{o.state.label()}</span></p>
            }).collect_view()}
            <p class="muted small">{env.rules.clone()}</p>
        </li>
    }
}

#[component]
pub fn ReleasesPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let text = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
    let (project, from, to) = (text("project"), text("from"), text("to"));
    let data = Resource::new(|| (), {
        let (project, from, to) = (project.clone(), from.clone(), to.clone());
        move |_| {
            let (project, from, to) = (project.clone(), from.clone(), to.clone());
            async move {
                let projects = list_projects().await?;
                let Some(project) = project.or_else(|| projects.first().map(|p| p.slug.clone()))
                else {
                    return Ok((projects, String::new(), Vec::new(), None));
                };
                let releases = list_releases(project.clone()).await?;
                let comparison = match (from, to) {
                    (Some(f), Some(t)) => Some(compare_releases(project.clone(), f, t).await),
                    _ => None,
                };
                Ok::<_, crate::AppError>((projects, project, releases, comparison))
            }
        }
    });
    view! {
        <Title text="Releases"/>
        <header class="page-header">
            <h1>"Releases"</h1>
            <p class="muted">"Each release, where it has gone, and what changed between any two. "
                <a href="/deployments">"Deployments"</a></p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading releases…"</p> }>
            {move || {
                let (from, to) = (from.clone().unwrap_or_default(), to.clone().unwrap_or_default());
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok((projects, project, releases, comparison)) => view! {
                            <form method="get" action="/releases" class="filters panel" id="compare-form">
                                <label for="r-project">"Project"</label>
                                <select id="r-project" name="project">
                                    {projects.iter().map(|p| view! { <option value=p.slug.clone() selected=p.slug == project>{p.slug.clone()}</option> }).collect_view()}
                                </select>
                                <label for="r-from">"Compare"</label>
                                <select id="r-from" name="from">
                                    <option value="">"–"</option>
                                    {releases.iter().map(|r| { let v = r.release.version.clone(); view! { <option value=v.clone() selected=v == from>{v.clone()}</option> } }).collect_view()}
                                </select>
                                <label for="r-to">"with"</label>
                                <select id="r-to" name="to">
                                    <option value="">"–"</option>
                                    {releases.iter().map(|r| { let v = r.release.version.clone(); view! { <option value=v.clone() selected=v == to>{v.clone()}</option> } }).collect_view()}
                                </select>
                                <button type="submit">"Show"</button>
                            </form>
                            {comparison.map(|c| match c {
                                Ok(c) => view! { <Comparison comparison=c/> }.into_any(),
                                Err(e) => view! { <p class="alert error" role="alert">{e.to_string()}</p> }.into_any(),
                            })}
                            <ReleasesTable releases/>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn Comparison(comparison: ReleaseComparison) -> impl IntoView {
    let c = comparison;
    view! {
        <section class="panel" id="comparison" aria-labelledby="comparison-h">
            <h2 id="comparison-h">{c.from.version.clone()} " → " {c.to.version.clone()}</h2>
            <p class="muted">{c.commits} {if c.commits == 1 { " commit · " } else { " commits · " }} <code>{short_sha(&c.from.commit_sha)}</code> " → " <code>{short_sha(&c.to.commit_sha)}</code>
                " · " {format_utc(c.from.created_at)} " → " {format_utc(c.to.created_at)}</p>
            {(c.commits == 0).then(|| view! { <p class="empty">"No commits are known between these releases."</p> })}
            {notes_view(c.notes)}
        </section>
    }
}

#[component]
fn ReleasesTable(releases: Vec<ReleaseSummary>) -> impl IntoView {
    let empty = releases.is_empty();
    view! {
        <section class="panel table-panel">
            <table class="data" id="releases-table">
                <thead><tr>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Commit"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Environments"</th>
                </tr></thead>
                <tbody>
                    {empty.then(|| view! { <tr><td colspan="4" class="empty">"No releases yet: a release is created with its first deployment request."</td></tr> })}
                    {releases.into_iter().map(|r| view! {
                        <tr data-version=r.release.version.clone()>
                            <td><strong>{r.release.version.clone()}</strong>{r.release.git_ref.clone().map(|g| view! { <br/><code class="muted small">{g}</code> })}</td>
                            <td><code>{short_sha(&r.release.commit_sha)}</code></td>
                            <td class="nowrap">{format_utc(r.release.created_at)} <br/><span class="muted small">{r.release.created_by.clone()}</span></td>
                            <td>{r.environments.into_iter().map(|(env, state, id)| view! {
                                <a href=format!("/deployments/{id}") class=state_class(state) title=state.label()>{env}</a> " "
                            }).collect_view()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
