//! Delivery KPIs and incidents for tools: `GET /api/v1/projects/{project}/kpis` (scope
//! `read`: every KPI's value, target, band, trend and the ids of the deployments, alerts and
//! incidents it was computed from, with DORA's four keys), and incidents reported by
//! monitoring (`POST /api/v1/projects/{project}/incidents`, `POST
//! /api/v1/incidents/{id}/resolve`, scope `deploy`, idempotent).

use super::auth::Caller;
use super::body;
use super::deployments::requester;
use super::error::{ApiError, ApiResult};
use super::runs::{time_json, Time};
use app::api::kpis::{load, OverviewQuery};
use app::logic::dora::FourKeys;
use app::logic::kpi::{Report, DORA_KEYS};
use app::logic::time::format_day;
use app::model::{IncidentRecord, Scope};
use app::state::AppState;
use app::store::kpis::{self, NewIncident};
use app::store::{now_ms, projects};
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    environment: Option<String>,
    days: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

fn four_keys_json(k: &FourKeys) -> Value {
    let band = |b: Option<app::logic::dora::Performance>| b.map(|b| b.as_str());
    json!({
        "deployment_frequency_per_day": {
            "value": k.deployment_frequency,
            "band": band(k.bands.deployment_frequency),
            "deployments": k.successful,
        },
        "lead_time_ms": {
            "value": k.lead_time_ms,
            "band": band(k.bands.lead_time),
            "samples": k.lead_time_samples,
        },
        "change_failure_rate": {
            "value": k.change_failure_rate,
            "band": band(k.bands.change_failure_rate),
            "failed_deployments": k.failed_changes,
            "deployments": k.finished,
        },
        "recovery_time_ms": {
            "value": k.recovery_ms,
            "band": band(k.bands.recovery),
            "recovered": k.recovered,
            "still_failing": k.still_failing,
            "deployments": k.failure_deployments,
            "incidents": k.failure_incidents,
        },
    })
}

/// The report as the API shows it: one entry per KPI, the four keys, and the definitions.
pub fn report_json(r: &Report, project: &str, environment: &str) -> Value {
    let bucket = |i: usize| {
        json!({
            "from": format_day(r.buckets[i]),
            "to": format_day(r.buckets.get(i + 1).copied().unwrap_or(r.to_day) - 1),
        })
    };
    let kpis: Vec<Value> = r
        .cards
        .iter()
        .map(|c| {
            let s = c.kpi.spec();
            json!({
                "kpi": s.id,
                "label": s.label,
                "unit": s.unit,
                "higher_is_better": s.higher_is_better,
                "value": c.current.value,
                "at_least": c.current.at_least,
                "secondary": c.current.secondary,
                "basis": c.current.basis,
                "target": c.target.target,
                "at_risk": c.target.at_risk,
                "target_is_default": !c.target.custom,
                "band": c.band.as_str(),
                "previous": c.previous,
                "series": c.series.iter().enumerate().map(|(i, v)| {
                    let mut b = bucket(i);
                    b["value"] = json!(v);
                    b
                }).collect::<Vec<_>>(),
                "deployments": c.current.sources.deployments,
                "alerts": c.current.sources.alerts,
                "incidents": c.current.sources.incidents,
                "definition": s.definition,
            })
        })
        .collect();
    let definitions: serde_json::Map<String, Value> = DORA_KEYS
        .iter()
        .map(|(id, _, d)| (id.to_string(), json!(d)))
        .collect();
    json!({
        "project": project,
        "environment": environment,
        "range": {"from": format_day(r.from_day), "to": format_day(r.to_day - 1), "days": r.to_day - r.from_day},
        "kpis": kpis,
        "dora": {
            "current": four_keys_json(&r.dora.current),
            "previous": four_keys_json(&r.dora.previous),
            "definitions": definitions,
        },
        "units": "fractions are 0..1, durations and latencies milliseconds; days are UTC and `to` is included",
    })
}

/// `GET /api/v1/projects/{project}/kpis?environment=&days=` (or `from`/`to` dates).
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    q: Result<Query<KpiQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Read)?;
    caller.require_project(&project)?;
    let Query(q) =
        q.map_err(|e| ApiError::Unprocessable(format!("query string: {}", e.body_text())))?;
    let l = load::overview(
        &state.db,
        &OverviewQuery {
            project: Some(project),
            environment: q.environment,
            days: q.days,
            from: q.from,
            to: q.to,
        },
    )
    .await?;
    let s = &l.overview.scope;
    Ok(Json(report_json(
        &l.overview.report,
        &s.project,
        &s.environment,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentBody {
    environment: String,
    title: String,
    severity: Option<String>,
    started_at: Time,
    resolved_at: Option<Time>,
    deployment_id: Option<i64>,
    incident_key: Option<String>,
}

fn incident_json(i: &IncidentRecord) -> Value {
    json!({
        "id": i.id,
        "project": i.project,
        "environment": i.environment,
        "deployment_id": i.deployment_id,
        "title": i.title,
        "severity": i.severity,
        "started_at": time_json(Some(i.started_at)),
        "resolved_at": time_json(i.resolved_at),
        "incident_key": i.incident_key,
        "created_by": i.created_by,
    })
}

/// `POST /api/v1/projects/{project}/incidents`: 201 with the incident, or 200 with the one
/// first recorded under the same `incident_key`.
pub async fn create_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require(Scope::Deploy)?;
    caller.require_project(&project)?;
    let b: IncidentBody = body::json(&headers, body).await?;
    let new = NewIncident {
        environment: b.environment.trim().to_string(),
        title: b.title,
        severity: b.severity.unwrap_or_else(|| "warning".into()),
        started_at: b.started_at.ms("started_at")?,
        resolved_at: b
            .resolved_at
            .as_ref()
            .map(|t| t.ms("resolved_at"))
            .transpose()?,
        deployment_id: b.deployment_id,
        incident_key: b.incident_key,
    };
    let (incident, created) =
        kpis::record_incident(&state.db, &project, &new, &requester(&caller)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(incident_json(&incident))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    resolved_at: Option<Time>,
}

/// `POST /api/v1/incidents/{id}/resolve` with an optional `resolved_at` (now by default);
/// resolving again keeps the first resolution.
pub async fn resolve_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Deploy)?;
    let id = super::plans::id_of(&raw, "incident")?;
    let found = kpis::incident(&state.db, id)
        .await?
        .filter(|i| i.project == caller.0.project)
        .ok_or_else(|| ApiError::NotFound(format!("there is no incident {id}")))?;
    // No body at all (`curl -X POST …/resolve`) means now.
    let bytes = axum::body::to_bytes(body, body::JSON_LIMIT)
        .await
        .map_err(|_| ApiError::TooLarge("the JSON body is over 2 MB".into()))?;
    let b: ResolveBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ResolveBody::default()
    } else {
        body::json(&headers, Body::from(bytes)).await?
    };
    let at = match &b.resolved_at {
        Some(t) => t.ms("resolved_at")?,
        None => now_ms(),
    };
    let p = projects::require(&state.db, &found.project).await?;
    let i = kpis::resolve_incident(&state.db, p.id, id, at, &requester(&caller)).await?;
    Ok(Json(incident_json(&i)))
}
