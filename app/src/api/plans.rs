//! Rollout plans: everyone signed in reads them; approvers (team leads) and admins create them
//! from a template, tick deliverables and checklists, set phase status and edit criteria;
//! admins delete them.

use crate::model::{PlanPageData, PlansPageData};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// A form's date (`2026-12-01`), or `None` when left empty.
#[cfg(feature = "ssr")]
fn form_day(text: &str, field: &str) -> Result<Option<i64>, crate::store::StoreError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    crate::logic::time::parse_day(t)
        .map(Some)
        .map_err(|e| crate::store::StoreError::Invalid(format!("{field}: {e}")))
}

#[cfg(feature = "ssr")]
fn today() -> i64 {
    crate::store::now_ms().div_euclid(crate::logic::dora::DAY_MS)
}

/// A form's `true` or `false`; anything else is refused rather than read as `false`.
#[cfg(feature = "ssr")]
fn flag(text: &str, field: &str) -> Result<bool, crate::store::StoreError> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(crate::store::StoreError::Invalid(format!(
            "{field}: true or false (got `{other}`)"
        ))),
    }
}

#[server(endpoint = "plans/list")]
pub async fn plans_page(project: Option<String>) -> Result<PlansPageData, AppError> {
    use super::guard::*;
    use crate::store::{kpis, plans, projects};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let all = kpis::project_slugs(&state.db).await?;
            let project = project.filter(|p| !p.trim().is_empty());
            let id = match &project {
                Some(p) => Some(projects::require(&state.db, p).await?.id),
                None => None,
            };
            Ok(PlansPageData {
                plans: plans::list(&state.db, id).await?,
                projects: all,
                project,
                today: today(),
                can_edit: user.role.allows(Role::Approver),
            })
        }
        .await,
    )
}

#[server(endpoint = "plans/page")]
pub async fn plan_page(id: i64) -> Result<PlanPageData, AppError> {
    use super::guard::*;
    use crate::logic::plan::{timeline, Span};
    use crate::store::{kpis, plans};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let mut plan = plans::get(&state.db, id).await?;
            let today = today();
            plans::evaluate(&state.db, &mut plan, today).await?;
            let spans: Vec<Span> = plan
                .phases
                .iter()
                .map(|p| Span {
                    starts_on: p.starts_on,
                    due_on: p.due_on,
                })
                .collect();
            let environments = kpis::scope(&state.db, &plan.project, None)
                .await
                .map(|s| s.environments)
                .unwrap_or_default();
            Ok(PlanPageData {
                timeline: timeline(&spans, today),
                plan,
                today,
                can_edit: user.role.allows(Role::Approver),
                can_delete: user.role.allows(Role::Admin),
                environments,
            })
        }
        .await,
    )
}

/// Creates a plan; `template` is `roadmap` (the seeds' 10 phases from `starts_on`, today when
/// empty) or `blank`. Returns the new plan's id.
#[server(endpoint = "plans/create")]
pub async fn create_plan(
    project: String,
    title: String,
    template: String,
    starts_on: String,
    environment: Option<String>,
) -> Result<i64, AppError> {
    use super::guard::*;
    use crate::logic::plan::roadmap;
    use crate::store::plans::{self, NewPlan};
    use crate::store::{kpis, StoreError};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let start = form_day(&starts_on, "starts on")?.unwrap_or_else(today);
            let phases = match template.as_str() {
                "roadmap" => {
                    let scope = kpis::scope(&state.db, &project, environment.as_deref()).await?;
                    roadmap(start, Some(&scope.environment))
                }
                "blank" => Vec::new(),
                other => {
                    return Err(StoreError::Invalid(format!(
                        "template: roadmap or blank (got `{other}`)"
                    ))
                    .into())
                }
            };
            let new = NewPlan {
                title,
                environment: environment.filter(|e| !e.trim().is_empty()),
                template: (template == "roadmap").then(|| template.clone()),
                plan_key: None,
                phases,
            };
            let by = super::deployments::requester(&user);
            Ok(plans::create(&state.db, &project, &new, &by).await?.0)
        }
        .await,
    )
}

#[server(endpoint = "plans/status")]
pub async fn set_phase_status(
    plan: i64,
    phase: i64,
    status: String,
    note: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::logic::plan::PhaseStatus;
    use crate::store::{plans, StoreError};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let status = PhaseStatus::parse(&status).map_err(StoreError::Invalid)?;
            let by = super::deployments::requester(&user);
            Ok(plans::set_status(&state.db, plan, phase, status, &note, &by).await?)
        }
        .await,
    )
}

#[server(endpoint = "plans/tick")]
pub async fn tick_plan_item(plan: i64, item: i64, done: String) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let by = super::deployments::requester(&user);
            Ok(plans::set_done(&state.db, plan, item, flag(&done, "done")?, &by).await?)
        }
        .await,
    )
}

#[server(endpoint = "plans/item")]
pub async fn add_plan_item(
    plan: i64,
    phase: i64,
    kind: String,
    title: String,
    owner: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::logic::plan::ItemKind;
    use crate::store::{plans, StoreError};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let kind = ItemKind::parse(&kind).map_err(StoreError::Invalid)?;
            let by = super::deployments::requester(&user);
            plans::add_item(&state.db, plan, phase, kind, &title, &owner, &by).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "plans/item/remove")]
pub async fn remove_plan_item(plan: i64, item: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let by = super::deployments::requester(&user);
            Ok(plans::remove_item(&state.db, plan, item, &by).await?)
        }
        .await,
    )
}

/// Adds a success criterion. `link` is `manual`, `kpi` (with `kpi`, `comparator` and
/// `threshold` in the KPI's unit) or `gate` (with `gate` as `environment` or
/// `environment/metric`).
#[server(endpoint = "plans/criterion")]
#[allow(clippy::too_many_arguments)]
pub async fn add_plan_criterion(
    plan: i64,
    phase: i64,
    title: String,
    link: String,
    kpi: String,
    comparator: String,
    threshold: String,
    gate: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::logic::kpi::Kpi;
    use crate::logic::plan::{parse_threshold, Comparator, Link};
    use crate::store::{plans, StoreError};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let link = match link.as_str() {
                "manual" => Link::Manual,
                "kpi" => {
                    let k = Kpi::parse(kpi.trim()).ok_or_else(|| {
                        StoreError::Invalid(format!("kpi: there is no KPI `{kpi}`"))
                    })?;
                    Link::Kpi {
                        kpi: k,
                        comparator: Comparator::parse(&comparator).map_err(StoreError::Invalid)?,
                        threshold: parse_threshold(k, &threshold).map_err(StoreError::Invalid)?,
                    }
                }
                "gate" => {
                    let (env, metric) = match gate.split_once('/') {
                        Some((e, m)) => (e.to_string(), Some(m.to_string())),
                        None => (gate.clone(), None),
                    };
                    if env.trim().is_empty() {
                        return Err(
                            StoreError::Invalid("gate: choose an environment".into()).into()
                        );
                    }
                    Link::Gate {
                        environment: env,
                        metric,
                    }
                }
                other => {
                    return Err(StoreError::Invalid(format!(
                        "link: manual, kpi or gate (got `{other}`)"
                    ))
                    .into())
                }
            };
            let by = super::deployments::requester(&user);
            plans::add_criterion(&state.db, plan, phase, &title, &link, &by).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "plans/criterion/remove")]
pub async fn remove_plan_criterion(plan: i64, criterion: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let by = super::deployments::requester(&user);
            Ok(plans::remove_criterion(&state.db, plan, criterion, &by).await?)
        }
        .await,
    )
}

#[server(endpoint = "plans/criterion/confirm")]
pub async fn confirm_plan_criterion(
    plan: i64,
    criterion: i64,
    met: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let by = super::deployments::requester(&user);
            Ok(plans::confirm(&state.db, plan, criterion, flag(&met, "met")?, &by).await?)
        }
        .await,
    )
}

/// Adds a phase at the end (`phase` empty) or edits the phase `phase`.
#[server(endpoint = "plans/phase")]
pub async fn save_plan_phase(
    plan: i64,
    phase: Option<i64>,
    title: String,
    objective: String,
    starts_on: String,
    due_on: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans::{self, PhaseEdit};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let edit = PhaseEdit {
                title,
                objective,
                starts_on: form_day(&starts_on, "starts on")?,
                due_on: form_day(&due_on, "due on")?,
            };
            let by = super::deployments::requester(&user);
            match phase {
                Some(p) => plans::edit_phase(&state.db, plan, p, &edit, &by).await?,
                None => {
                    plans::add_phase(&state.db, plan, &edit, &by).await?;
                }
            }
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "plans/delete")]
pub async fn delete_plan(plan: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::plans;
    let (state, user) = require(Role::Admin).await?;
    respond(
        async {
            let by = super::deployments::requester(&user);
            Ok(plans::delete(&state.db, plan, &by).await?)
        }
        .await,
    )
}
