//! Rollout plans for tools: list and read a project's plans with their criteria judged live
//! (scope `read`), create one from the seeds' roadmap or from explicit phases, tick items and
//! set a phase's status (scope `deploy`; a pipeline ticks "CI/CD pipeline green" itself).
//! Creation is idempotent by `plan_key`; ticking and setting a status again change nothing.

use super::auth::Caller;
use super::body;
use super::deployments::requester;
use super::error::{ApiError, ApiResult};
use super::runs::time_json;
use app::logic::dora::DAY_MS;
use app::logic::kpi::Kpi;
use app::logic::plan::{roadmap, Comparator, Link, PhaseDraft, PhaseStatus};
use app::logic::time::{format_day, parse_day};
use app::model::{Plan, PlanSummary, Scope};
use app::state::AppState;
use app::store::plans::{self, NewPlan};
use app::store::{kpis, now_ms, projects};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

fn day_json(d: Option<i64>) -> Value {
    d.map(|d| Value::String(format_day(d)))
        .unwrap_or(Value::Null)
}

/// A numeric id from a path, or 404 naming what was asked for.
pub(super) fn id_of(raw: &str, what: &str) -> ApiResult<i64> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no {what} `{raw}`: ids are numbers")))
}

fn summary_json(p: &PlanSummary) -> Value {
    json!({
        "id": p.id,
        "project": p.project,
        "title": p.title,
        "phases": p.phases,
        "phases_done": p.done,
        "phases_blocked": p.blocked,
        "items": p.items,
        "items_done": p.items_done,
        "starts_on": day_json(p.starts_on),
        "due_on": day_json(p.due_on),
        "current_phase": p.current,
        "created_at": time_json(Some(p.created_at)),
    })
}

fn link_json(l: &Link) -> Value {
    match l {
        Link::Manual => json!({"kind": "manual"}),
        Link::Kpi {
            kpi,
            comparator,
            threshold,
        } => {
            json!({"kind": "kpi", "kpi": kpi.id(), "comparator": comparator.as_str(), "threshold": threshold})
        }
        Link::Gate {
            environment,
            metric,
        } => json!({"kind": "gate", "environment": environment, "metric": metric}),
    }
}

/// A plan as the API shows it: phases with their items and criteria (and each criterion's
/// verdict when judged).
pub fn plan_json(p: &Plan) -> Value {
    json!({
        "id": p.id,
        "project": p.project,
        "environment": p.environment,
        "title": p.title,
        "template": p.template,
        "plan_key": p.plan_key,
        "created_by": p.created_by,
        "created_at": time_json(Some(p.created_at)),
        "progress": p.progress(),
        "phases": p.phases.iter().map(|f| json!({
            "id": f.id,
            "position": f.position,
            "title": f.title,
            "objective": f.objective,
            "starts_on": day_json(f.starts_on),
            "due_on": day_json(f.due_on),
            "status": f.status.as_str(),
            "status_note": f.status_note,
            "status_at": time_json(f.status_at),
            "status_by": f.status_by,
            "progress": f.progress(),
            "items": f.items.iter().map(|i| json!({
                "id": i.id,
                "kind": i.kind.as_str(),
                "title": i.title,
                "owner": i.owner,
                "done": i.done_at.is_some(),
                "done_at": time_json(i.done_at),
                "done_by": i.done_by,
            })).collect::<Vec<_>>(),
            "criteria": f.criteria.iter().map(|c| json!({
                "id": c.id,
                "title": c.title,
                "link": link_json(&c.link),
                "rule": c.link.describe(),
                "verdict": c.verdict.as_str(),
                "measured": c.measured,
                "confirmed_at": time_json(c.met_at),
                "confirmed_by": c.met_by,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The entry with id `id` among what `within` picks from each phase of a plan's JSON.
fn find(plan: &Value, within: impl Fn(&Value) -> Option<Vec<Value>>, id: i64) -> Value {
    plan["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| within(p).unwrap_or_default())
        .find(|v| v["id"] == json!(id))
        .unwrap_or(Value::Null)
}

/// `GET /api/v1/projects/{project}/plans`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Read)?;
    caller.require_project(&project)?;
    let p = projects::require(&state.db, &project).await?;
    let plans = plans::list(&state.db, Some(p.id)).await?;
    Ok(Json(
        json!({"plans": plans.iter().map(summary_json).collect::<Vec<_>>()}),
    ))
}

/// The plan `raw` if it belongs to the caller's project.
async fn owned(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<i64> {
    let id = id_of(raw, "plan")?;
    let project = plans::project_of(&state.db, id).await?;
    if project != caller.0.project {
        return Err(ApiError::NotFound(format!("there is no plan {id}")));
    }
    Ok(id)
}

/// `GET /api/v1/plans/{id}`: with every criterion judged now.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Read)?;
    let id = owned(&state, &caller, &raw).await?;
    let mut plan = plans::get(&state.db, id).await?;
    plans::evaluate(&state.db, &mut plan, now_ms().div_euclid(DAY_MS)).await?;
    Ok(Json(plan_json(&plan)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GateBody {
    environment: String,
    metric: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionBody {
    title: String,
    kpi: Option<String>,
    comparator: Option<String>,
    threshold: Option<f64>,
    gate: Option<GateBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverableBody {
    title: String,
    owner: Option<String>,
    #[serde(default)]
    done: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseBody {
    title: String,
    objective: Option<String>,
    starts_on: Option<String>,
    due_on: Option<String>,
    status: Option<String>,
    note: Option<String>,
    #[serde(default)]
    deliverables: Vec<DeliverableBody>,
    #[serde(default)]
    checklist: Vec<String>,
    #[serde(default)]
    criteria: Vec<CriterionBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    title: String,
    template: Option<String>,
    starts_on: Option<String>,
    environment: Option<String>,
    plan_key: Option<String>,
    phases: Option<Vec<PhaseBody>>,
}

fn day(v: &Option<String>, field: &str) -> ApiResult<Option<i64>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_day(s)
            .map(Some)
            .map_err(|e| ApiError::Unprocessable(format!("{field}: {e}"))),
    }
}

fn criterion(c: CriterionBody, at: &str) -> ApiResult<(String, Link)> {
    let bad = |m: String| ApiError::Unprocessable(format!("{at}.{m}"));
    let link = match (c.kpi, c.gate) {
        (Some(_), Some(_)) => {
            return Err(bad("kpi, gate: link to a KPI or a gate, not both".into()))
        }
        (Some(k), None) => {
            let kpi =
                Kpi::parse(k.trim()).ok_or_else(|| bad(format!("kpi: there is no KPI `{k}`")))?;
            let comparator =
                Comparator::parse(c.comparator.as_deref().unwrap_or("")).map_err(|e| bad(e))?;
            let threshold = c
                .threshold
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| {
                    bad(
                        "threshold: a number ≥ 0 in the KPI's unit (fractions, milliseconds)"
                            .into(),
                    )
                })?;
            if kpi.spec().unit == app::logic::kpi::Unit::Fraction && threshold > 1.0 {
                return Err(bad(format!(
                    "threshold: {threshold} is above 1; write fractions, not percents"
                )));
            }
            Link::Kpi {
                kpi,
                comparator,
                threshold,
            }
        }
        (None, Some(g)) => Link::Gate {
            environment: g.environment,
            metric: g.metric,
        },
        (None, None) => {
            if c.comparator.is_some() || c.threshold.is_some() {
                return Err(bad("kpi: a comparator and threshold need a kpi".into()));
            }
            Link::Manual
        }
    };
    Ok((c.title, link))
}

/// The explicit phases of a plan body, checked as `POST …/plans` checks them (the fuzz
/// target's entry).
pub fn plan_phases(bytes: &[u8]) -> ApiResult<Vec<PhaseDraft>> {
    let b: PlanBody = body::decode(bytes)?;
    b.phases
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(n, p)| phase(p, n))
        .collect()
}

fn phase(p: PhaseBody, n: usize) -> ApiResult<PhaseDraft> {
    let at = format!("phases[{n}]");
    let status = match &p.status {
        None => PhaseStatus::NotStarted,
        Some(s) => {
            PhaseStatus::parse(s).map_err(|e| ApiError::Unprocessable(format!("{at}.{e}")))?
        }
    };
    Ok(PhaseDraft {
        title: p.title,
        objective: p.objective.unwrap_or_default(),
        starts_on: day(&p.starts_on, &format!("{at}.starts_on"))?,
        due_on: day(&p.due_on, &format!("{at}.due_on"))?,
        status,
        note: p.note.unwrap_or_default(),
        deliverables: p
            .deliverables
            .into_iter()
            .map(|d| (d.title, d.owner.unwrap_or_default(), d.done))
            .collect(),
        checklist: p.checklist,
        criteria: p
            .criteria
            .into_iter()
            .enumerate()
            .map(|(i, c)| criterion(c, &format!("{at}.criteria[{i}]")))
            .collect::<ApiResult<_>>()?,
    })
}

/// `POST /api/v1/projects/{project}/plans`: `template: "roadmap"` (from `starts_on`, today by
/// default) or explicit `phases`. 201 with the plan, 200 with the plan first created under
/// the same `plan_key`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require(Scope::Deploy)?;
    caller.require_project(&project)?;
    let b: PlanBody = body::json(&headers, body).await?;
    let phases = match (b.template.as_deref(), b.phases) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "template, phases: give a template or phases, not both".into(),
            ))
        }
        (Some("roadmap"), None) => {
            let start = day(&b.starts_on, "starts_on")?.unwrap_or(now_ms().div_euclid(DAY_MS));
            let scope = kpis::scope(&state.db, &project, b.environment.as_deref()).await?;
            roadmap(start, Some(&scope.environment))
        }
        (Some(other), None) => {
            return Err(ApiError::Unprocessable(format!(
                "template: `roadmap` is the one template (got `{other}`)"
            )))
        }
        (None, phases) => {
            if b.starts_on.is_some() {
                return Err(ApiError::Unprocessable(
                    "starts_on: only with a template; give each phase its dates".into(),
                ));
            }
            phases
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(n, p)| phase(p, n))
                .collect::<ApiResult<_>>()?
        }
    };
    let new = NewPlan {
        title: b.title,
        environment: b.environment,
        template: b.template,
        plan_key: b.plan_key,
        phases,
    };
    let (id, created) = plans::create(&state.db, &project, &new, &requester(&caller)).await?;
    let mut plan = plans::get(&state.db, id).await?;
    plans::evaluate(&state.db, &mut plan, now_ms().div_euclid(DAY_MS)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(plan_json(&plan))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    done: bool,
}

/// `PUT /api/v1/plans/{id}/items/{item}` with `{"done": true}`.
pub async fn set_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, raw_item)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Deploy)?;
    let id = owned(&state, &caller, &raw).await?;
    let item = id_of(&raw_item, "item")?;
    let b: ItemBody = body::json(&headers, body).await?;
    plans::set_done(&state.db, id, item, b.done, &requester(&caller)).await?;
    let v = plan_json(&plans::get(&state.db, id).await?);
    Ok(Json(find(&v, |p| p["items"].as_array().cloned(), item)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    note: Option<String>,
}

/// `PUT /api/v1/plans/{id}/phases/{phase}/status` with `{"status": "done"}`: 409 while the
/// phase's go-live checklist is open.
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, raw_phase)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Deploy)?;
    let id = owned(&state, &caller, &raw).await?;
    let phase = id_of(&raw_phase, "phase")?;
    let b: StatusBody = body::json(&headers, body).await?;
    let status = PhaseStatus::parse(&b.status).map_err(ApiError::Unprocessable)?;
    plans::set_status(
        &state.db,
        id,
        phase,
        status,
        b.note.as_deref().unwrap_or(""),
        &requester(&caller),
    )
    .await?;
    let v = plan_json(&plans::get(&state.db, id).await?);
    Ok(Json(find(&v, |p| Some(vec![p.clone()]), phase)))
}
