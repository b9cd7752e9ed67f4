//! Rollout plans: the list with each plan's progress (`/plans`), one click to start from the
//! seeds' 10-phase roadmap, and a plan's page (`/plans/:id`) with its timeline and, per phase,
//! the status, deliverables, go-live checklist and success criteria judged live against KPIs
//! and quality gates.

use crate::api::plans::{
    plan_page, plans_page, AddPlanCriterion, AddPlanItem, ConfirmPlanCriterion, CreatePlan,
    DeletePlan, RemovePlanCriterion, RemovePlanItem, SavePlanPhase, SetPhaseStatus, TickPlanItem,
};
use crate::components::feedback::ErrorPanel;
use crate::logic::kpi::SPECS;
use crate::logic::plan::{Comparator, ItemKind, Link, PhaseStatus, Timeline, Verdict, TEMPLATES};
use crate::logic::time::{format_day, format_utc};
use crate::logic::url::encode_query_value;
use crate::model::{Plan, PlanCriterion, PlanItem, PlanPageData, PlanPhase, PlansPageData};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn status_class(s: PhaseStatus) -> &'static str {
    match s {
        PhaseStatus::NotStarted => "badge",
        PhaseStatus::InProgress => "badge busy",
        PhaseStatus::Done => "badge good",
        PhaseStatus::Blocked => "badge bad",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "badge good",
        Verdict::AtRisk => "badge warn",
        Verdict::Fails => "badge bad",
        Verdict::NoData | Verdict::Open => "badge",
    }
}

fn dates(starts_on: Option<i64>, due_on: Option<i64>) -> String {
    match (starts_on, due_on) {
        (Some(s), Some(d)) => format!("{} → {}", format_day(s), format_day(d)),
        (Some(s), None) => format!("from {} (ongoing)", format_day(s)),
        (None, Some(d)) => format!("due {}", format_day(d)),
        (None, None) => "no dates".into(),
    }
}

fn pct(f: f64) -> String {
    format!("{:.0}%", f * 100.0)
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let query = use_query_map();
    let project = query.read_untracked().get("project");
    let data = Resource::new(|| (), move |_| plans_page(project.clone()));
    view! {
        <Title text="Rollout plans"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading plans…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <PlansList data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PlansList(data: PlansPageData) -> impl IntoView {
    let chosen = data.project.clone().unwrap_or_default();
    let filter = data.projects.iter().map(|p| {
        let current = *p == chosen;
        view! {
            <a href=format!("/plans?project={}", encode_query_value(p)) class=if current { "chip current" } else { "chip" } aria-current=current.then_some("page")>{p.clone()}</a>
        }
    }).collect_view();
    let new_form = (data.can_edit && !data.projects.is_empty()).then(|| {
        let project = data.project.clone().or_else(|| data.projects.first().cloned()).unwrap_or_default();
        view! { <NewPlanForm projects=data.projects.clone() project=project today=format_day(data.today)/> }
    });
    view! {
        <header class="page-header">
            <h1>"Rollout plans"</h1>
            <p class="muted">"Phased roadmaps with deliverables, go-live checklists and success criteria that are checked live against the KPIs and quality gates."</p>
        </header>
        <nav class="chips" aria-label="Projects">
            <a href="/plans" class=if chosen.is_empty() { "chip current" } else { "chip" }>"All projects"</a>
            {filter}
        </nav>
        {new_form}
        <section class="panel" aria-labelledby="plans-h">
            <h2 id="plans-h">"Plans"</h2>
            {if data.plans.is_empty() {
                view! { <p class="muted" id="no-plans">"No plan yet. Approvers create one from the seeds' 10-phase roadmap in one click."</p> }.into_any()
            } else {
                view! {
                    <table class="data" id="plans">
                        <thead><tr><th>"Plan"</th><th>"Project"</th><th>"Phases done"</th><th>"Now"</th><th>"Items done"</th><th>"Dates"</th></tr></thead>
                        <tbody>
                            {data.plans.into_iter().map(|p| {
                                let share = if p.items > 0 { p.items_done as f64 / p.items as f64 } else { 0.0 };
                                view! {
                                    <tr>
                                        <td><a href=format!("/plans/{}", p.id)>{p.title.clone()}</a></td>
                                        <td>{p.project.clone()}</td>
                                        <td>{format!("{} of {}", p.done, p.phases)}{(p.blocked > 0).then(|| view! { " " <span class="badge bad">{format!("{} blocked", p.blocked)}</span> })}</td>
                                        <td>{p.current.clone().unwrap_or_else(|| "all done".into())}</td>
                                        <td>
                                            <span class="meter" role="img" aria-label=format!("{} of {} items done", p.items_done, p.items)><span style=format!("width:{}", pct(share))></span></span>
                                            " " {format!("{} / {}", p.items_done, p.items)}
                                        </td>
                                        <td class="nowrap">{dates(p.starts_on, p.due_on)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[island]
fn NewPlanForm(projects: Vec<String>, project: String, today: String) -> impl IntoView {
    let act = ServerAction::<CreatePlan>::new();
    Effect::new(move |_| {
        if let Some(Ok(_id)) = act.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href(&format!("/plans/{_id}"));
        }
    });
    view! {
        <section class="panel" id="new-plan" aria-labelledby="new-plan-h">
            <h2 id="new-plan-h">"New plan"</h2>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="inline-form">
                <label for="np-project">"Project"</label>
                <select id="np-project" name="project">
                    {projects.into_iter().map(|p| {
                        let selected = p == project;
                        view! { <option value=p.clone() selected=selected>{p.clone()}</option> }
                    }).collect_view()}
                </select>
                <label for="np-title">"Title"</label>
                <input id="np-title" name="title" value="Production roadmap" required=true maxlength="200"/>
                <label for="np-template">"From"</label>
                <select id="np-template" name="template">
                    {TEMPLATES.iter().map(|(id, name, about)| view! { <option value=*id title=*about>{*name}</option> }).collect_view()}
                </select>
                <label for="np-start">"Phase 1 starts"</label>
                <input type="date" id="np-start" name="starts_on" value=today/>
                <button type="submit" class="primary" id="plan-create">"Create plan"</button>
            </ActionForm>
            <p class="muted small">{TEMPLATES[0].2}</p>
        </section>
    }
}

#[component]
pub fn PlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = params
        .read_untracked()
        .get("id")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let data = Resource::new(|| (), move |_| plan_page(id));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Checking the plan's criteria…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Plan"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <PlanView data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PlanView(data: PlanPageData) -> impl IntoView {
    let plan = data.plan.clone();
    let today = data.today;
    let done = plan
        .phases
        .iter()
        .filter(|p| p.status == PhaseStatus::Done)
        .count();
    let blocked = plan
        .phases
        .iter()
        .filter(|p| p.status == PhaseStatus::Blocked)
        .count();
    let late = plan.phases.iter().filter(|p| p.late(today)).count();
    let criteria: Vec<&PlanCriterion> = plan.phases.iter().flat_map(|p| &p.criteria).collect();
    let holding = criteria
        .iter()
        .filter(|c| c.verdict == Verdict::Holds)
        .count();
    let failing = criteria
        .iter()
        .filter(|c| c.verdict == Verdict::Fails)
        .count();
    let progress = plan.progress();
    let trouble_class = if blocked + late > 0 {
        "panel stat bad"
    } else {
        "panel stat"
    };
    let criteria_class = if failing > 0 {
        "panel stat warn"
    } else {
        "panel stat good"
    };
    let phases = plan.phases.clone();
    let ctx = Ctx {
        plan: plan.id,
        can_edit: data.can_edit,
        environments: data.environments.clone(),
        today,
    };
    view! {
        <Title text=plan.title.clone()/>
        <header class="page-header">
            <p class="crumbs"><a href="/plans">"Rollout plans"</a> " / " <a href=format!("/plans?project={}", encode_query_value(&plan.project))>{plan.project.clone()}</a></p>
            <h1>{plan.title.clone()}</h1>
            <p class="muted">
                {format!("Created by {} on {}", plan.created_by, format_utc(plan.created_at))}
                {plan.template.as_ref().map(|_| " from the seeds' 10-phase roadmap")}
                {format!(" · KPI criteria are measured in {} over the last 30 days", plan.environment)}
            </p>
        </header>
        <section class="grid stats" id="plan-stats">
            <div class="panel stat"><p class="stat-label">"Progress"</p><p class="stat-value" id="plan-progress">{pct(progress)}</p></div>
            <div class="panel stat good"><p class="stat-label">"Phases done"</p><p class="stat-value">{format!("{done} / {}", plan.phases.len())}</p></div>
            <div class=trouble_class><p class="stat-label">"Blocked · late"</p><p class="stat-value">{format!("{blocked} · {late}")}</p></div>
            <div class=criteria_class><p class="stat-label">"Criteria holding"</p><p class="stat-value" id="criteria-holding">{format!("{holding} / {}", criteria.len())}</p></div>
        </section>
        {data.timeline.clone().map(|t| view! { <Gantt timeline=t plan=plan.clone() today=today/> })}
        {phases.into_iter().map(|p| view! { <PhasePanel phase=p ctx=ctx.clone()/> }).collect_view()}
        {data.can_edit.then(|| view! {
            <section class="panel no-print" id="add-phase">
                <details>
                    <summary>"Add a phase"</summary>
                    <PhaseForm plan=plan.id phase=None title=String::new() objective=String::new() starts_on=String::new() due_on=String::new()/>
                </details>
            </section>
        })}
        {data.can_delete.then(|| view! { <DeletePlanButton plan=plan.id/> })}
    }
}

#[derive(Clone)]
struct Ctx {
    plan: i64,
    can_edit: bool,
    environments: Vec<String>,
    today: i64,
}

#[component]
fn Gantt(timeline: Timeline, plan: Plan, today: i64) -> impl IntoView {
    let at = |f: f64| format!("{:.3}%", f * 100.0);
    let today_pos = timeline.today;
    view! {
        <section class="panel" id="timeline" aria-labelledby="timeline-h">
            <h2 id="timeline-h">"Timeline"</h2>
            <div class="gantt" role="table" aria-label="Phases on a timeline">
                <div class="gantt-row gantt-head" role="row">
                    <span class="gantt-label" role="columnheader">"Phase"</span>
                    <span class="gantt-track" role="columnheader">
                        {timeline.ticks.iter().map(|(f, d)| view! { <span class="gantt-tick" style=format!("left:{}", at(*f))>{format_day(*d)[5..].to_string()}</span> }).collect_view()}
                    </span>
                </div>
                {plan.phases.iter().zip(timeline.bars.iter()).map(|(p, bar)| {
                    let late = p.late(today);
                    let bar = bar.map(|b| {
                        let class = format!(
                            "gantt-bar status-{}{}{}",
                            p.status.as_str(),
                            if late { " late" } else { "" },
                            if b.open_ended { " open" } else { "" }
                        );
                        view! {
                            <a class=class style=format!("left:{};width:{}", at(b.left), at(b.width)) href=format!("#phase-{}", p.id)
                                title=format!("{}: {} · {} · {} done{}", p.title, dates(p.starts_on, p.due_on), p.status.label(), pct(p.progress()), if late { " · late" } else { "" })>
                                <span class="gantt-fill" style=format!("width:{}", pct(p.progress()))></span>
                            </a>
                        }
                    });
                    view! {
                        <div class="gantt-row" role="row">
                            <span class="gantt-label" role="cell"><span class=status_class(p.status)>{p.status.label()}</span> " " {p.title.clone()}</span>
                            <span class="gantt-track" role="cell">
                                {today_pos.map(|f| view! { <span class="gantt-today" style=format!("left:{}", at(f)) title=format!("today, {}", format_day(today))></span> })}
                                {bar}
                            </span>
                        </div>
                    }
                }).collect_view()}
            </div>
            <p class="muted small">"Bars run from each phase's start to its due day, filled by the share of its deliverables and checklist done; the vertical line is today. Red: past its due day and not done."</p>
        </section>
    }
}

#[component]
fn PhasePanel(phase: PlanPhase, ctx: Ctx) -> impl IntoView {
    let p = phase;
    let late = p.late(ctx.today);
    let deliverables: Vec<PlanItem> = p.deliverables().cloned().collect();
    let checklist: Vec<PlanItem> = p.checklist().cloned().collect();
    let (d_done, c_done) = (
        deliverables.iter().filter(|i| i.done_at.is_some()).count(),
        checklist.iter().filter(|i| i.done_at.is_some()).count(),
    );
    let (d_total, c_total) = (deliverables.len(), checklist.len());
    let locked = p.status == PhaseStatus::Done;
    view! {
        <section class=format!("panel phase status-{}", p.status.as_str()) id=format!("phase-{}", p.id) data-position=p.position.to_string() aria-labelledby=format!("phase-h-{}", p.id)>
            <h2 id=format!("phase-h-{}", p.id)>
                {p.title.clone()} " " <span class=status_class(p.status) data-status=p.status.as_str()>{p.status.label()}</span>
                {late.then(|| view! { " " <span class="badge bad">"late"</span> })}
            </h2>
            <p class="muted">{dates(p.starts_on, p.due_on)} {(!p.objective.is_empty()).then(|| format!(" · {}", p.objective))}</p>
            {p.status_at.map(|at| view! {
                <p class="small">
                    {format!("{} by {} on {}", p.status.label(), p.status_by.clone().unwrap_or_default(), format_utc(at))}
                    {(!p.status_note.is_empty()).then(|| view! { ": " <q>{p.status_note.clone()}</q> })}
                </p>
            })}
            {ctx.can_edit.then(|| view! { <StatusForm plan=ctx.plan phase=p.id current=p.status.as_str().to_string()/> })}
            <div class="phase-grid">
                <div>
                    <h3>{format!("Deliverables ({d_done} / {d_total})")}</h3>
                    <Items items=deliverables ctx=ctx.clone() locked=false/>
                    {ctx.can_edit.then(|| view! { <ItemForm plan=ctx.plan phase=p.id kind="deliverable".to_string()/> })}
                </div>
                <div>
                    <h3>{format!("Go-live checklist ({c_done} / {c_total})")}</h3>
                    {(c_total == 0).then(|| view! { <p class="muted small">"No checklist: the phase can be marked done at any time."</p> })}
                    {(c_total > 0 && !locked).then(|| view! { <p class="muted small">"Every item must be ticked before the phase can be marked done."</p> })}
                    <Items items=checklist ctx=ctx.clone() locked=locked/>
                    {(ctx.can_edit && !locked).then(|| view! { <ItemForm plan=ctx.plan phase=p.id kind="checklist".to_string()/> })}
                </div>
                <div>
                    <h3>"Success criteria"</h3>
                    <Criteria criteria=p.criteria.clone() ctx=ctx.clone()/>
                    {ctx.can_edit.then(|| view! { <CriterionForm plan=ctx.plan phase=p.id environments=ctx.environments.clone()/> })}
                </div>
            </div>
            {ctx.can_edit.then(|| view! {
                <details class="no-print">
                    <summary>"Edit phase"</summary>
                    <PhaseForm plan=ctx.plan phase=Some(p.id) title=p.title.clone() objective=p.objective.clone()
                        starts_on=p.starts_on.map(format_day).unwrap_or_default() due_on=p.due_on.map(format_day).unwrap_or_default()/>
                </details>
            })}
        </section>
    }
}

#[component]
fn Items(items: Vec<PlanItem>, ctx: Ctx, locked: bool) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted small">"None yet."</p> }.into_any();
    }
    view! {
        <ul class="plan-items">
            {items.into_iter().map(|i| {
                let done = i.done_at.is_some();
                let who = i.done_at.map(|at| format!("done by {} on {}", i.done_by.clone().unwrap_or_default(), format_utc(at)));
                view! {
                    <li class=if done { "done" } else { "" } data-item=i.id.to_string()>
                        {if ctx.can_edit && !(locked && done) {
                            view! { <TickButton plan=ctx.plan item=i.id done=done label=i.title.clone()/> }.into_any()
                        } else {
                            view! { <span class="tick-mark" aria-hidden="true">{if done { "☑" } else { "☐" }}</span> }.into_any()
                        }}
                        <span class="item-title">{i.title.clone()}</span>
                        {(!i.owner.is_empty()).then(|| view! { " " <span class="muted small">{format!("· {}", i.owner)}</span> })}
                        {who.map(|w| view! { <br/><span class="muted small">{w}</span> })}
                        {(ctx.can_edit && !locked).then(|| view! { <RemoveItemButton plan=ctx.plan item=i.id/> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Criteria(criteria: Vec<PlanCriterion>, ctx: Ctx) -> impl IntoView {
    if criteria.is_empty() {
        return view! { <p class="muted small">"None yet."</p> }.into_any();
    }
    view! {
        <ul class="plan-criteria">
            {criteria.into_iter().map(|c| {
                let manual = c.link == Link::Manual;
                view! {
                    <li data-criterion=c.id.to_string() data-verdict=c.verdict.as_str()>
                        <span class=verdict_class(c.verdict)>{c.verdict.label()}</span> " "
                        <strong>{c.title.clone()}</strong>
                        <br/><span class="muted small">
                            {if manual { "confirmed by a person".to_string() } else { c.link.describe() }}
                            {(!c.measured.is_empty()).then(|| format!(" · {}", c.measured))}
                        </span>
                        {c.href.clone().map(|h| view! { " " <a class="small" href=h>"see it"</a> })}
                        {(ctx.can_edit && manual).then(|| view! { <ConfirmButton plan=ctx.plan criterion=c.id met=c.met_at.is_some()/> })}
                        {ctx.can_edit.then(|| view! { <RemoveCriterionButton plan=ctx.plan criterion=c.id/> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[island]
fn StatusForm(plan: i64, phase: i64, current: String) -> impl IntoView {
    let act = ServerAction::<SetPhaseStatus>::new();
    reload_on_success(act.value().into());
    view! {
        <div class="no-print status-form">
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="inline-form">
                <input type="hidden" name="plan" value=plan.to_string()/>
                <input type="hidden" name="phase" value=phase.to_string()/>
                <label for=format!("status-{phase}")>"Status"</label>
                <select id=format!("status-{phase}") name="status">
                    {PhaseStatus::ALL.into_iter().map(|s| {
                        let selected = s.as_str() == current;
                        view! { <option value=s.as_str() selected=selected>{s.label()}</option> }
                    }).collect_view()}
                </select>
                <label for=format!("note-{phase}") class="visually-hidden">"Note"</label>
                <input id=format!("note-{phase}") name="note" maxlength="500" placeholder="Note (what blocks it)"/>
                <button type="submit" class="small" id=format!("status-save-{phase}")>"Set status"</button>
            </ActionForm>
        </div>
    }
}

#[island]
fn TickButton(plan: i64, item: i64, done: bool, label: String) -> impl IntoView {
    let act = ServerAction::<TickPlanItem>::new();
    reload_on_success(act.value().into());
    view! {
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="plan" value=plan.to_string()/>
            <input type="hidden" name="item" value=item.to_string()/>
            <input type="hidden" name="done" value=(!done).to_string()/>
            <button type="submit" class="tick" id=format!("tick-{item}") aria-pressed=done.to_string()
                aria-label=format!("{} {label}", if done { "Untick" } else { "Tick" })>{if done { "☑" } else { "☐" }}</button>
        </ActionForm>
        {action_error(act.value().into())}
    }
}

#[island]
fn RemoveItemButton(plan: i64, item: i64) -> impl IntoView {
    let act = ServerAction::<RemovePlanItem>::new();
    reload_on_success(act.value().into());
    view! {
        <ActionForm action=act attr:class="inline no-print">
            <input type="hidden" name="plan" value=plan.to_string()/>
            <input type="hidden" name="item" value=item.to_string()/>
            <button type="submit" class="link small" aria-label="Remove">"remove"</button>
        </ActionForm>
        {action_error(act.value().into())}
    }
}

#[island]
fn ItemForm(plan: i64, phase: i64, kind: String) -> impl IntoView {
    let act = ServerAction::<AddPlanItem>::new();
    reload_on_success(act.value().into());
    let checklist = kind == ItemKind::Checklist.as_str();
    let id = format!("add-{kind}-{phase}");
    view! {
        <details class="no-print">
            <summary>{if checklist { "Add a checklist item" } else { "Add a deliverable" }}</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stacked">
                <input type="hidden" name="plan" value=plan.to_string()/>
                <input type="hidden" name="phase" value=phase.to_string()/>
                <input type="hidden" name="kind" value=kind.clone()/>
                <label for=format!("{id}-title")>"Title"</label>
                <input id=format!("{id}-title") name="title" required=true maxlength="300"/>
                {if checklist {
                    view! { <input type="hidden" name="owner" value=""/> }.into_any()
                } else {
                    view! {
                        <label for=format!("{id}-owner")>"Owner"</label>
                        <input id=format!("{id}-owner") name="owner" maxlength="100" placeholder="DevOps engineer"/>
                    }.into_any()
                }}
                <button type="submit" class="small" id=format!("{id}-save")>"Add"</button>
            </ActionForm>
        </details>
    }
}

#[island]
fn CriterionForm(plan: i64, phase: i64, environments: Vec<String>) -> impl IntoView {
    let act = ServerAction::<AddPlanCriterion>::new();
    reload_on_success(act.value().into());
    let id = format!("crit-{phase}");
    view! {
        <details class="no-print">
            <summary>"Add a success criterion"</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stacked">
                <input type="hidden" name="plan" value=plan.to_string()/>
                <input type="hidden" name="phase" value=phase.to_string()/>
                <label for=format!("{id}-title")>"Criterion"</label>
                <input id=format!("{id}-title") name="title" required=true maxlength="300" placeholder="p99 < 200 ms"/>
                <label for=format!("{id}-link")>"Judged by"</label>
                <select id=format!("{id}-link") name="link">
                    <option value="kpi">"a KPI (last 30 days)"</option>
                    <option value="gate">"a quality gate (latest evaluation)"</option>
                    <option value="manual">"a person"</option>
                </select>
                <fieldset class="inline-form">
                    <legend>"KPI rule"</legend>
                    <label for=format!("{id}-kpi") class="visually-hidden">"KPI"</label>
                    <select id=format!("{id}-kpi") name="kpi">
                        {SPECS.iter().map(|s| view! { <option value=s.id>{s.label}</option> }).collect_view()}
                    </select>
                    <label for=format!("{id}-cmp") class="visually-hidden">"Comparator"</label>
                    <select id=format!("{id}-cmp") name="comparator">
                        {Comparator::ALL.into_iter().map(|c| view! { <option value=c.as_str()>{c.symbol()}</option> }).collect_view()}
                    </select>
                    <label for=format!("{id}-threshold") class="visually-hidden">"Threshold"</label>
                    <input id=format!("{id}-threshold") name="threshold" size="8" placeholder="200ms, 0.001, 5min"/>
                </fieldset>
                <label for=format!("{id}-gate")>"Gate"</label>
                <select id=format!("{id}-gate") name="gate">
                    <option value="">"—"</option>
                    {environments.iter().flat_map(|e| {
                        [
                            (e.clone(), format!("{e}: all gates")),
                            (format!("{e}/p99_ms"), format!("{e}: p99 latency")),
                            (format!("{e}/error_rate"), format!("{e}: error rate")),
                            (format!("{e}/test_pass_rate"), format!("{e}: test pass rate")),
                            (format!("{e}/critical_findings"), format!("{e}: critical findings")),
                        ]
                    }).map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                </select>
                <p class="muted small">"Thresholds in the KPI's unit: fractions as fractions (0.001 is 0.1%), latencies in ms, durations with a unit (5min, 30d)."</p>
                <button type="submit" class="small" id=format!("{id}-save")>"Add criterion"</button>
            </ActionForm>
        </details>
    }
}

#[island]
fn ConfirmButton(plan: i64, criterion: i64, met: bool) -> impl IntoView {
    let act = ServerAction::<ConfirmPlanCriterion>::new();
    reload_on_success(act.value().into());
    view! {
        <ActionForm action=act attr:class="inline no-print">
            <input type="hidden" name="plan" value=plan.to_string()/>
            <input type="hidden" name="criterion" value=criterion.to_string()/>
            <input type="hidden" name="met" value=(!met).to_string()/>
            <button type="submit" class="small" id=format!("confirm-{criterion}")>{if met { "Withdraw" } else { "Confirm it holds" }}</button>
        </ActionForm>
        {action_error(act.value().into())}
    }
}

#[island]
fn RemoveCriterionButton(plan: i64, criterion: i64) -> impl IntoView {
    let act = ServerAction::<RemovePlanCriterion>::new();
    reload_on_success(act.value().into());
    view! {
        <ActionForm action=act attr:class="inline no-print">
            <input type="hidden" name="plan" value=plan.to_string()/>
            <input type="hidden" name="criterion" value=criterion.to_string()/>
            <button type="submit" class="link small" aria-label="Remove criterion">"remove"</button>
        </ActionForm>
        {action_error(act.value().into())}
    }
}

#[island]
fn PhaseForm(
    plan: i64,
    phase: Option<i64>,
    title: String,
    objective: String,
    starts_on: String,
    due_on: String,
) -> impl IntoView {
    let act = ServerAction::<SavePlanPhase>::new();
    reload_on_success(act.value().into());
    let id = phase
        .map(|p| format!("phase-form-{p}"))
        .unwrap_or_else(|| "phase-form-new".into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stacked">
            <input type="hidden" name="plan" value=plan.to_string()/>
            {phase.map(|p| view! { <input type="hidden" name="phase" value=p.to_string()/> })}
            <label for=format!("{id}-title")>"Title"</label>
            <input id=format!("{id}-title") name="title" value=title required=true maxlength="200"/>
            <label for=format!("{id}-objective")>"Objective"</label>
            <input id=format!("{id}-objective") name="objective" value=objective maxlength="1000"/>
            <label for=format!("{id}-start")>"Starts"</label>
            <input type="date" id=format!("{id}-start") name="starts_on" value=starts_on/>
            <label for=format!("{id}-due")>"Due (included)"</label>
            <input type="date" id=format!("{id}-due") name="due_on" value=due_on/>
            <button type="submit" class="small" id=format!("{id}-save")>{if phase.is_some() { "Save phase" } else { "Add phase" }}</button>
        </ActionForm>
    }
}

#[island]
fn DeletePlanButton(plan: i64) -> impl IntoView {
    let act = ServerAction::<DeletePlan>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = act.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href("/plans");
        }
    });
    view! {
        <section class="panel no-print" id="delete-plan">
            <details>
                <summary>"Delete this plan"</summary>
                {action_error(act.value().into())}
                <ActionForm action=act attr:class="inline">
                    <input type="hidden" name="plan" value=plan.to_string()/>
                    <button type="submit" class="danger" id="plan-delete">"Delete plan and all its phases"</button>
                </ActionForm>
            </details>
        </section>
    }
}
