//! Environment rules (admins): per environment of a project, its protection, quality gates,
//! freeze windows and pre-release checklist. Each form saves one part, audited; the server
//! validates everything and says what is wrong and where.

use super::deployment::{action_error, reload_on_success};
use crate::api::environments::{
    environment_rules, AddFreeze, RemoveFreeze, SaveChecklist, SaveGates, SaveProtection,
};
use crate::api::projects::list_projects;
use crate::components::feedback::ErrorPanel;
use crate::logic::deploy::week_minute_words;
use crate::logic::gates::gate_line;
use crate::logic::time::format_utc;
use crate::model::{Environment, FreezeKind};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn RulesPage() -> impl IntoView {
    let query = use_query_map();
    let project = query
        .read_untracked()
        .get("project")
        .filter(|p| !p.is_empty());
    let data = Resource::new(
        || (),
        move |_| {
            let project = project.clone();
            async move {
                let projects = list_projects().await?;
                let Some(project) = project.or_else(|| projects.first().map(|p| p.slug.clone()))
                else {
                    return Ok((projects, String::new(), Vec::new()));
                };
                let envs = environment_rules(project.clone()).await?;
                Ok::<_, crate::AppError>((projects, project, envs))
            }
        },
    );
    view! {
        <Title text="Environment rules"/>
        <header class="page-header">
            <p class="crumbs"><a href="/settings">"Settings"</a></p>
            <h1>"Environment rules"</h1>
            <p class="muted">"What a release must pass in each environment before it goes: approvals, gates, freezes, checklist. Changes apply to deployments still waiting, and are in the audit log."</p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading rules…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok((projects, project, envs)) => view! {
                        <form method="get" action="/settings/environments" class="filters panel" id="rules-project">
                            <label for="rules-p">"Project"</label>
                            <select id="rules-p" name="project">
                                {projects.iter().map(|p| view! { <option value=p.slug.clone() selected=p.slug == project>{p.slug.clone()}</option> }).collect_view()}
                            </select>
                            <button type="submit">"Show"</button>
                        </form>
                        {envs.into_iter().map(|env| view! { <EnvironmentRules env/> }).collect_view()}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[island]
fn EnvironmentRules(env: Environment) -> impl IntoView {
    let protection = ServerAction::<SaveProtection>::new();
    let gates = ServerAction::<SaveGates>::new();
    let checklist = ServerAction::<SaveChecklist>::new();
    let freeze = ServerAction::<AddFreeze>::new();
    let unfreeze = ServerAction::<RemoveFreeze>::new();
    reload_on_success(protection.value().into());
    reload_on_success(gates.value().into());
    reload_on_success(checklist.value().into());
    reload_on_success(freeze.value().into());
    reload_on_success(unfreeze.value().into());
    let p = env.protection.clone();
    let id = env.id.to_string();
    let name = env.name.clone();
    let gates_text = env
        .gates
        .iter()
        .map(gate_line)
        .collect::<Vec<_>>()
        .join("\n");
    let checklist_text = env
        .checklist
        .iter()
        .map(|c| c.title.clone())
        .collect::<Vec<_>>()
        .join("\n");
    let eid = env.id;
    let field = move |part: &str| format!("env{eid}-{part}");
    let freezes = env.freezes.clone();
    let no_freezes = freezes.is_empty();
    let (id1, id2, id3, id4) = (id.clone(), id.clone(), id.clone(), id);
    view! {
        <section class="panel env-rules" data-environment=name.clone() aria-label=format!("Rules of {name}")>
            <h2>{name.clone()} " " <span class="muted small">"position " {env.position + 1}</span></h2>
            <div class="rules-grid">
                <div>
                    <h3>"Protection"</h3>
                    {action_error(protection.value().into())}
                    <ActionForm action=protection attr:class="stack" attr:id=field("protection")>
                        <input type="hidden" name="environment_id" value=id1/>
                        <label for=field("approvals")>"Required approvals"</label>
                        <input id=field("approvals") name="required_approvals" type="number" min="0" max="10" value=p.required_approvals.to_string()/>
                        <label for=field("roles")>"Roles that approve (comma-separated; empty: approvers and admins)"</label>
                        <input id=field("roles") name="approver_roles" value=p.approver_roles.join(", ") placeholder="approver, admin"/>
                        <label for=field("users")>"Named approvers (usernames)"</label>
                        <input id=field("users") name="approver_users" value=p.approver_users.join(", ") placeholder="maya.lead"/>
                        <label><input type="checkbox" name="allow_self_approval" value="on" checked=p.allow_self_approval/>" The requester and commit authors may approve"</label>
                        <label for=field("timer")>"Wait timer after approval (seconds)"</label>
                        <input id=field("timer") name="wait_timer_s" type="number" min="0" max="86400" value=p.wait_timer_s.to_string()/>
                        <label for=field("refs")>"Allowed branches and tags (globs, comma-separated; empty: any)"</label>
                        <input id=field("refs") name="ref_pattern" value=p.ref_pattern.clone() placeholder="main, release/*, v*"/>
                        <label><input type="checkbox" name="require_previous" value="on" checked=p.require_previous/>" Must succeed in the previous environment first"</label>
                        <label for=field("soak")>"Minimum soak in the previous environment (seconds)"</label>
                        <input id=field("soak") name="min_soak_s" type="number" min="0" value=p.min_soak_s.to_string()/>
                        <label for=field("window")>"Monitoring window after success (seconds)"</label>
                        <input id=field("window") name="monitoring_window_s" type="number" min="0" value=p.monitoring_window_s.to_string()/>
                        <label><input type="checkbox" name="auto_rollback" value="on" checked=p.auto_rollback/>" Roll back on its own when health crosses a trigger"</label>
                        <button type="submit" class="primary">"Save protection"</button>
                    </ActionForm>
                </div>
                <div>
                    <h3>"Quality gates"</h3>
                    {action_error(gates.value().into())}
                    <ActionForm action=gates attr:class="stack" attr:id=field("gates")>
                        <input type="hidden" name="environment_id" value=id2/>
                        <label for=field("gates-text")>"One per line: " <code>"metric higher|lower warn fail weight [key]"</code></label>
                        <textarea id=field("gates-text") name="gates" rows="8" spellcheck="false" class="mono" placeholder="test_pass_rate higher 0.98 0.95 2 key">{gates_text}</textarea>
                        <p class="muted small">"Metrics: test_pass_rate, line_coverage, branch_coverage, p95_ms, p99_ms, error_rate, critical_findings, high_findings, flaky_tests, soak_hours, custom:<name>. Fractions, not percents. A failing key gate fails the evaluation."</p>
                        <button type="submit" class="primary">"Save gates"</button>
                    </ActionForm>
                    <h3>"Pre-release checklist"</h3>
                    {action_error(checklist.value().into())}
                    <ActionForm action=checklist attr:class="stack" attr:id=field("checklist")>
                        <input type="hidden" name="environment_id" value=id3/>
                        <label for=field("checklist-text")>"One item per line"</label>
                        <textarea id=field("checklist-text") name="items" rows="4" placeholder="Runbook prepared">{checklist_text}</textarea>
                        <button type="submit" class="primary">"Save checklist"</button>
                    </ActionForm>
                </div>
                <div>
                    <h3>"Freeze windows"</h3>
                    {action_error(unfreeze.value().into())}
                    <ul class="freezes">
                        {no_freezes.then(|| view! { <li class="muted">"None."</li> })}
                        {freezes.into_iter().map(|f| {
                            let when = match f.kind {
                                FreezeKind::Once { starts_at, ends_at } => format!("{} → {}", format_utc(starts_at), format_utc(ends_at)),
                                FreezeKind::Weekly { start, end } => format!("every week {} → {} UTC", week_minute_words(start), week_minute_words(end)),
                            };
                            view! {
                                <li>{when} ": " {f.reason.clone()}
                                    <ActionForm action=unfreeze attr:class="inline">
                                        <input type="hidden" name="freeze_id" value=f.id.to_string()/>
                                        <button type="submit" class="small">"Remove"</button>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    {action_error(freeze.value().into())}
                    <ActionForm action=freeze attr:class="stack" attr:id=field("freeze")>
                        <input type="hidden" name="environment_id" value=id4/>
                        <label for=field("freeze-kind")>"Kind"</label>
                        <select id=field("freeze-kind") name="kind">
                            <option value="weekly">"weekly (e.g. Fri 18:00 → Mon 06:00)"</option>
                            <option value="once">"once (dates, UTC)"</option>
                        </select>
                        <label for=field("freeze-starts")>"Starts (UTC)"</label>
                        <input id=field("freeze-starts") name="starts" required placeholder="Fri 18:00 or 2026-12-24T00:00"/>
                        <label for=field("freeze-ends")>"Ends (UTC)"</label>
                        <input id=field("freeze-ends") name="ends" required placeholder="Mon 06:00 or 2026-12-27T00:00"/>
                        <label for=field("freeze-reason")>"Reason (shown to whoever is blocked)"</label>
                        <input id=field("freeze-reason") name="reason" required maxlength="300" placeholder="Weekend: nobody on call"/>
                        <button type="submit">"Add freeze"</button>
                    </ActionForm>
                </div>
            </div>
        </section>
    }
}
