//! The managers' overview: KPIs and DORA's four keys per project, environment and range, the
//! items behind each number, incidents, satisfaction ratings and per-project targets. Reading
//! is for everyone signed in; approvers record incidents; admins set targets.

use crate::model::{IncidentRecord, KpiDetailData, OverviewPageData};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// The filters of the overview, as the URL carries them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OverviewQuery {
    pub project: Option<String>,
    pub environment: Option<String>,
    pub days: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[cfg(feature = "ssr")]
pub mod load {
    //! Shared by the page, its drill-down and the CSV export.
    use super::OverviewQuery;
    use crate::logic::kpi::resolve_range;
    use crate::logic::time::format_day;
    use crate::model::KpiOverview;
    use crate::store::{kpis, now_ms, Db, StoreError, StoreResult};

    pub struct Loaded {
        pub projects: Vec<String>,
        pub overview: KpiOverview,
        pub days: Option<i64>,
        pub from: String,
        pub to: String,
    }

    pub async fn overview(db: &Db, q: &OverviewQuery) -> StoreResult<Loaded> {
        let projects = kpis::project_slugs(db).await?;
        let project = match q.project.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => p.to_string(),
            None => projects.first().cloned().ok_or_else(|| {
                StoreError::NotFound("no project yet: create one under Projects".into())
            })?,
        };
        let today = now_ms().div_euclid(crate::logic::dora::DAY_MS);
        let (from_day, to_day) = resolve_range(q.days, q.from.as_deref(), q.to.as_deref(), today)
            .map_err(StoreError::Invalid)?;
        let custom = q.days.is_none() && q.from.as_deref().is_some_and(|f| !f.trim().is_empty());
        let days = (!custom).then(|| q.days.unwrap_or(30));
        let scope = kpis::scope(db, &project, q.environment.as_deref()).await?;
        let overview = kpis::overview(db, scope, from_day, to_day).await?;
        Ok(Loaded {
            projects,
            overview,
            days,
            from: format_day(from_day),
            to: format_day(to_day - 1),
        })
    }
}

/// The overview's data; `None` before the first project exists.
#[server(endpoint = "overview/page")]
pub async fn overview_page(query: OverviewQuery) -> Result<Option<OverviewPageData>, AppError> {
    use super::guard::*;
    use crate::logic::dora::DAY_MS;
    use crate::logic::kpi::{format_targets, targets_with_defaults};
    use crate::store::kpis;
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            if kpis::project_slugs(&state.db).await?.is_empty() {
                return Ok(None);
            }
            let l = load::overview(&state.db, &query).await?;
            let scope = &l.overview.scope;
            let (from, to) = (
                l.overview.report.from_day * DAY_MS,
                l.overview.report.to_day * DAY_MS,
            );
            let custom: Vec<_> = kpis::targets(&state.db, scope.project_id)
                .await?
                .into_iter()
                .filter(|t| t.custom)
                .collect();
            Ok(Some(OverviewPageData {
                incidents: kpis::incidents(&state.db, scope.environment_id, from, to).await?,
                comments: kpis::rating_comments(&state.db, scope.project_id, from, to).await?,
                targets_text: format_targets(&targets_with_defaults(&custom)),
                ask_rating: !kpis::rated_this_month(&state.db, user.id.0).await?,
                can_edit_targets: user.role.allows(Role::Admin),
                can_record_incidents: user.role.allows(Role::Approver),
                recent_deployments: kpis::recent_deployments(&state.db, scope.environment_id, 20)
                    .await?,
                plans: crate::store::plans::list(&state.db, Some(scope.project_id)).await?,
                projects: l.projects,
                overview: l.overview,
                days: l.days,
                from: l.from,
                to: l.to,
            }))
        }
        .await,
    )
}

/// Items listed on a drill-down page, per kind.
pub const DETAIL_ITEMS: usize = 500;

#[server(endpoint = "overview/detail")]
pub async fn kpi_detail(query: OverviewQuery, id: String) -> Result<KpiDetailData, AppError> {
    use super::guard::*;
    use crate::logic::kpi::sources_of;
    use crate::store::{kpis, StoreError};
    let (state, _) = require(Role::Viewer).await?;
    respond(
        async {
            let l = load::overview(&state.db, &query).await?;
            let (_, _, sources) = sources_of(&l.overview.report, &id)
                .ok_or_else(|| StoreError::NotFound(format!("there is no KPI `{id}`")))?;
            let total = sources.deployments.len() + sources.alerts.len() + sources.incidents.len();
            let items = kpis::source_items(&state.db, &sources, DETAIL_ITEMS).await?;
            Ok(KpiDetailData {
                more: total.saturating_sub(items.len()),
                items,
                overview: l.overview,
                id,
                days: l.days,
                from: l.from,
                to: l.to,
            })
        }
        .await,
    )
}

#[server(endpoint = "overview/rate")]
pub async fn rate_gatehouse(project: String, rating: i64, comment: String) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::{kpis, now_ms, projects};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let p = projects::require(&state.db, &project).await?;
            kpis::rate(&state.db, user.id.0, p.id, rating, &comment, now_ms()).await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "overview/targets")]
pub async fn save_kpi_targets(project: String, text: String) -> Result<(), AppError> {
    use super::guard::*;
    use crate::logic::kpi::{parse_targets, SPECS};
    use crate::store::{kpis, projects, StoreError};
    let (state, user) = require(Role::Admin).await?;
    respond(
        async {
            let p = projects::require(&state.db, &project).await?;
            let set = parse_targets(&text).map_err(StoreError::Invalid)?;
            let reset: Vec<_> = SPECS
                .iter()
                .map(|s| s.kpi)
                .filter(|k| !set.iter().any(|t| t.kpi == *k))
                .collect();
            kpis::save_targets(&state.db, p.id, &set, &reset, &actor(&user)).await?;
            Ok(())
        }
        .await,
    )
}

/// `2026-11-22T14:03` (a `datetime-local` input, read as UTC) or RFC 3339, to epoch ms.
#[cfg(feature = "ssr")]
fn form_time(text: &str, field: &str) -> Result<i64, crate::store::StoreError> {
    let t = text.trim();
    let full = if t.len() == 16 {
        format!("{t}:00Z")
    } else {
        t.to_string()
    };
    crate::logic::time::parse_rfc3339(&full)
        .map_err(|e| crate::store::StoreError::Invalid(format!("{field}: {e}")))
}

#[server(endpoint = "overview/incident")]
pub async fn record_incident(
    project: String,
    environment: String,
    title: String,
    severity: String,
    started_at: String,
    deployment_id: Option<String>,
) -> Result<IncidentRecord, AppError> {
    use super::guard::*;
    use crate::store::kpis::{self, NewIncident};
    use crate::store::StoreError;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let deployment_id = match deployment_id.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(d) => Some(d.parse::<i64>().map_err(|_| {
                    StoreError::Invalid(format!("deployment: `{d}` is not a deployment id"))
                })?),
            };
            let new = NewIncident {
                environment,
                title,
                severity,
                started_at: form_time(&started_at, "started at")?,
                resolved_at: None,
                deployment_id,
                incident_key: None,
            };
            let by = super::deployments::requester(&user);
            Ok(kpis::record_incident(&state.db, &project, &new, &by)
                .await?
                .0)
        }
        .await,
    )
}

#[server(endpoint = "overview/resolve")]
pub async fn resolve_incident(id: i64) -> Result<IncidentRecord, AppError> {
    use super::guard::*;
    use crate::store::{kpis, now_ms, StoreError};
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            let found = kpis::incident(&state.db, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("there is no incident {id}")))?;
            let p = crate::store::projects::require(&state.db, &found.project).await?;
            let by = super::deployments::requester(&user);
            Ok(kpis::resolve_incident(&state.db, p.id, id, now_ms(), &by).await?)
        }
        .await,
    )
}
