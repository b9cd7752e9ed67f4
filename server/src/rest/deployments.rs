//! `/api/v1/…/deployments`: deployers request deployments, read their gates and approvals,
//! report progress and health, and roll back. Token scope `deploy` writes; `read` or `deploy`
//! reads. Every write is idempotent (request keys, sample keys, repeated reports).

use super::auth::Caller;
use super::body;
use super::error::{ApiError, ApiResult};
use super::runs::{time_json, Time};
use app::logic::time::to_rfc3339;
use app::model::{CanaryStep, DeployState, DeploymentDetail, HealthSample, Scope, Strategy};
use app::state::AppState;
use app::store::deployments::{
    self, ListFilter, NewCommit, NewDeployment, NewSample, Report, Requester,
};
use app::store::Db;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    sha: String,
    message: String,
    author: Option<String>,
    committed_at: Option<Time>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArtifactBody {
    kind: String,
    name: String,
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    environment: String,
    version: String,
    #[serde(alias = "commit")]
    commit_sha: String,
    #[serde(alias = "ref")]
    git_ref: Option<String>,
    strategy: Option<Strategy>,
    canary_steps: Option<Vec<CanaryStep>>,
    request_key: Option<String>,
    ci_run_id: Option<i64>,
    #[serde(default)]
    commits: Vec<CommitBody>,
    #[serde(default)]
    artifacts: Vec<ArtifactBody>,
}

pub(super) fn requester(caller: &Caller) -> Requester {
    Requester {
        user_id: None,
        name: format!("token:{}", caller.0.name),
        ip: None,
    }
}

fn require_read(caller: &Caller) -> ApiResult<()> {
    if caller.0.allows(Scope::Read) || caller.0.allows(Scope::Deploy) {
        Ok(())
    } else {
        caller.require(Scope::Read)
    }
}

/// A deployment of the caller's project, or 404.
async fn owned(db: &Db, caller: &Caller, raw: &str) -> ApiResult<i64> {
    let id = super::plans::id_of(raw, "deployment")?;
    let d = deployments::get(db, id)
        .await
        .map_err(|_| not_found(caller, id))?;
    if d.summary.project != caller.0.project {
        return Err(not_found(caller, id));
    }
    Ok(id)
}

fn not_found(caller: &Caller, id: i64) -> ApiError {
    ApiError::NotFound(format!(
        "no deployment {id} in project `{}`",
        caller.0.project
    ))
}

/// A deployment as the API shows it: state, whether it may go, what holds it, the gate
/// evaluation with every measured value, approvals given and still needed.
pub fn deployment_json(d: &DeploymentDetail) -> Value {
    let s = &d.summary;
    let go = matches!(s.state, DeployState::InProgress | DeployState::Succeeded);
    let no_go = matches!(
        s.state,
        DeployState::Rejected
            | DeployState::Cancelled
            | DeployState::Failed
            | DeployState::RolledBack
    );
    json!({
        "id": s.id,
        "project": s.project,
        "environment": s.environment,
        "version": s.version,
        "commit_sha": s.commit_sha,
        "git_ref": d.release.git_ref,
        "state": s.state,
        "decision": if go { "go" } else if no_go { "no_go" } else { "pending" },
        "hold": d.hold,
        "strategy": s.strategy,
        "traffic": s.traffic,
        "canary": if d.canary_steps.is_empty() { Value::Null } else { json!({
            "steps": d.canary_steps,
            "step": d.canary_step,
            "step_since": time_json(d.step_since),
        })},
        "gates": d.evaluation.as_ref().map(|e| json!({
            "result": e.result,
            "score": e.score,
            "summary": e.summary,
            "evaluated_at": to_rfc3339(e.at),
            "ci_run_id": e.ci_run_id,
            "gates": e.gates.iter().map(|g| json!({
                "metric": g.metric,
                "value": g.value,
                "level": g.level,
                "higher_is_better": g.higher_is_better,
                "warn": g.warn,
                "fail": g.fail,
                "weight": g.weight,
                "key": g.key,
                "source": g.source,
            })).collect::<Vec<_>>(),
        })),
        "overrides": d.overrides.iter().map(|o| json!({"by": o.by, "reason": o.reason, "at": to_rfc3339(o.at)})).collect::<Vec<_>>(),
        "approvals": {
            "required": d.environment.protection.required_approvals,
            "needed": d.approvals_needed,
            "approvers": d.approvers,
            "given": d.approvals.iter().filter(|a| a.approve).map(|a| json!({"user": a.user, "comment": a.comment, "at": to_rfc3339(a.at)})).collect::<Vec<_>>(),
            "rejected": d.approvals.iter().filter(|a| !a.approve).map(|a| json!({"user": a.user, "comment": a.comment, "at": to_rfc3339(a.at)})).collect::<Vec<_>>(),
        },
        "checklist": d.environment.checklist.iter().map(|c| json!({"id": c.id, "title": c.title, "ticked_by": c.ticked_by, "ticked_at": time_json(c.ticked_at)})).collect::<Vec<_>>(),
        "frozen": d.frozen.as_ref().map(|(reason, until)| json!({"reason": reason, "until": to_rfc3339(*until)})),
        "requested_by": s.requested_by,
        "requested_at": to_rfc3339(s.requested_at),
        "started_at": time_json(s.started_at),
        "finished_at": time_json(s.finished_at),
        "monitor_until": time_json(d.monitor_until),
        "failure_reason": d.failure_reason,
        "rollback_of": s.rollback_of,
        "rolled_back_by": d.rolled_back_by,
        "rollback_targets": d.rollback_targets.iter().map(|r| json!({"version": r.version, "release_id": r.release_id})).collect::<Vec<_>>(),
        "transitions": d.transitions.iter().map(|x| json!({
            "from": x.from, "to": x.to, "actor": x.actor, "reason": x.reason, "at": to_rfc3339(x.at),
        })).collect::<Vec<_>>(),
        "url": format!("/deployments/{}", s.id),
    })
}

/// A deployment request as `POST …/deployments` reads it from its body (the fuzz target's
/// entry).
pub fn new_deployment(bytes: &[u8]) -> ApiResult<NewDeployment> {
    deployment_of(body::decode(bytes)?)
}

fn deployment_of(b: CreateBody) -> ApiResult<NewDeployment> {
    let mut commits = Vec::with_capacity(b.commits.len());
    for (i, c) in b.commits.iter().enumerate() {
        let sha = c.sha.trim().to_ascii_lowercase();
        if !(7..=64).contains(&sha.len()) || !sha.bytes().all(|x| x.is_ascii_hexdigit()) {
            return Err(ApiError::Unprocessable(format!(
                "`commits[{i}].sha` must be 7 to 64 hexadecimal characters"
            )));
        }
        if c.message.len() > 20_000 {
            return Err(ApiError::Unprocessable(format!(
                "`commits[{i}].message` is over 20,000 characters"
            )));
        }
        commits.push(NewCommit {
            sha,
            message: c.message.clone(),
            author: c.author.clone(),
            committed_at: c
                .committed_at
                .as_ref()
                .map(|t| t.ms(&format!("commits[{i}].committed_at")))
                .transpose()?,
        });
    }
    for (i, a) in b.artifacts.iter().enumerate() {
        if !(a.url.starts_with("https://") || a.url.starts_with("http://")) {
            return Err(ApiError::Unprocessable(format!(
                "`artifacts[{i}].url` must start with https:// or http://"
            )));
        }
    }
    Ok(NewDeployment {
        environment: b.environment.trim().to_string(),
        version: b.version,
        commit_sha: b.commit_sha,
        git_ref: b.git_ref,
        strategy: b.strategy.unwrap_or(Strategy::Rolling),
        canary_steps: b.canary_steps,
        request_key: b.request_key,
        ci_run_id: b.ci_run_id,
        commits,
        artifacts: b
            .artifacts
            .into_iter()
            .map(|a| (a.kind, a.name, a.url))
            .collect(),
    })
}

/// `POST /api/v1/projects/{project}/deployments`: 201 with the new deployment, 200 with the
/// one this request already made.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require(Scope::Deploy)?;
    caller.require_project(&project)?;
    let new = deployment_of(body::json(&headers, body).await?)?;
    let (id, created) =
        deployments::request(&state.db, &project, &new, &requester(&caller)).await?;
    let d = deployments::get(&state.db, id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(deployment_json(&d))))
}

/// `GET /api/v1/deployments/{id}`: moves a pending deployment on first (an elapsed timer, a
/// freeze that ended), so a deployer polling it sees the go at once.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_read(&caller)?;
    let id = owned(&state.db, &caller, &id).await?;
    let d = deployments::get(&state.db, id).await?;
    if d.summary.state.is_pending() {
        deployments::refresh(&state.db, id).await?;
        return Ok(Json(deployment_json(
            &deployments::get(&state.db, id).await?,
        )));
    }
    Ok(Json(deployment_json(&d)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    environment: Option<String>,
    state: Option<String>,
    before_id: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/projects/{project}/deployments`: newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    require_read(&caller)?;
    caller.require_project(&project)?;
    let st = q
        .state
        .as_deref()
        .map(str::parse::<DeployState>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("`state`: {e}")))?;
    let list = deployments::list(
        &state.db,
        &ListFilter {
            project: Some(project),
            environment: q.environment,
            state: st,
            pending: false,
            before_id: q.before_id,
            limit: q.limit.unwrap_or(50),
        },
    )
    .await?;
    Ok(Json(json!({
        "deployments": list.iter().map(|s| json!({
            "id": s.id,
            "environment": s.environment,
            "version": s.version,
            "commit_sha": s.commit_sha,
            "state": s.state,
            "strategy": s.strategy,
            "traffic": s.traffic,
            "requested_by": s.requested_by,
            "requested_at": to_rfc3339(s.requested_at),
            "started_at": time_json(s.started_at),
            "finished_at": time_json(s.finished_at),
            "rollback_of": s.rollback_of,
            "approvers": s.approvers,
        })).collect::<Vec<_>>(),
        "next_before_id": list.last().map(|s| s.id),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    /// progress, succeeded, failed, cancelled
    kind: String,
    step: Option<usize>,
    traffic: Option<f64>,
    reason: Option<String>,
}

/// `POST /api/v1/deployments/{id}/events`: progress (canary step, traffic), succeeded,
/// failed, cancelled. Repeating an event changes nothing.
pub async fn event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Deploy)?;
    let id = owned(&state.db, &caller, &id).await?;
    let b: EventBody = body::json(&headers, body).await?;
    let by = requester(&caller);
    let reason = b.reason.unwrap_or_default();
    if reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable(
            "`reason` is over 2000 characters".into(),
        ));
    }
    match b.kind.as_str() {
        "progress" => {
            deployments::report(
                &state.db,
                id,
                &Report::Progress {
                    step: b.step,
                    traffic: b.traffic,
                },
                &by,
            )
            .await?
        }
        "succeeded" => deployments::report(&state.db, id, &Report::Succeeded, &by).await?,
        "failed" => deployments::report(&state.db, id, &Report::Failed { reason }, &by).await?,
        "cancelled" => deployments::cancel(&state.db, id, &by, &reason).await?,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "`kind`: `{other}` is not an event (progress, succeeded, failed, cancelled)"
            )))
        }
    }
    Ok(Json(deployment_json(
        &deployments::get(&state.db, id).await?,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleBody {
    at: Option<Time>,
    key: Option<String>,
    error_rate: Option<f64>,
    p95_ms: Option<f64>,
    availability: Option<f64>,
    smoke_pass_rate: Option<f64>,
    healthy: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthBody {
    samples: Vec<SampleBody>,
}

/// Health samples as `POST …/health` reads them from its body (the fuzz target's entry).
pub fn health_samples(bytes: &[u8]) -> ApiResult<Vec<NewSample>> {
    samples_of(body::decode(bytes)?)
}

fn samples_of(b: HealthBody) -> ApiResult<Vec<NewSample>> {
    if b.samples.is_empty() || b.samples.len() > 1000 {
        return Err(ApiError::Unprocessable(
            "`samples`: 1 to 1000 samples".into(),
        ));
    }
    let mut samples = Vec::with_capacity(b.samples.len());
    for (i, s) in b.samples.into_iter().enumerate() {
        if s.key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > 200)
        {
            return Err(ApiError::Unprocessable(format!(
                "`samples[{i}].key`: 1 to 200 characters"
            )));
        }
        samples.push(NewSample {
            key: s.key,
            sample: HealthSample {
                at: s
                    .at
                    .as_ref()
                    .map(|t| t.ms(&format!("samples[{i}].at")))
                    .transpose()?
                    .unwrap_or(0),
                error_rate: s.error_rate,
                p95_ms: s.p95_ms,
                availability: s.availability,
                smoke_pass_rate: s.smoke_pass_rate,
                healthy: s.healthy,
            },
        });
    }
    Ok(samples)
}

/// `POST /api/v1/deployments/{id}/health`: samples of a running or watched deployment; an
/// automatic rollback trigger answers with the rollback's id.
pub async fn health(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Deploy)?;
    let id = owned(&state.db, &caller, &id).await?;
    let samples = samples_of(body::json(&headers, body).await?)?;
    let (stored, rollback) = deployments::add_health(&state.db, id, &samples).await?;
    Ok(Json(json!({
        "stored": stored,
        "rollback_id": rollback,
        "state": deployments::get(&state.db, id).await?.summary.state,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    to_version: Option<String>,
    reason: Option<String>,
}

/// `POST /api/v1/deployments/{id}/rollback`: to the previous successful release, or
/// `to_version` (one of the last three). A rollback under way is returned (200).
pub async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require(Scope::Deploy)?;
    let id = owned(&state.db, &caller, &id).await?;
    let b: RollbackBody = body::json(&headers, body).await?;
    let d = deployments::get(&state.db, id).await?;
    let to = match &b.to_version {
        Some(v) => Some(
            d.rollback_targets
                .iter()
                .find(|t| &t.version == v.trim().trim_start_matches('v'))
                .map(|t| t.release_id)
                .ok_or_else(|| {
                    ApiError::Unprocessable(format!(
                        "`to_version`: {v} is not one of the last releases that succeeded here ({})",
                        d.rollback_targets
                            .iter()
                            .map(|t| t.version.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        ),
        None => None,
    };
    let (new_id, created) = deployments::rollback(
        &state.db,
        id,
        to,
        &requester(&caller),
        b.reason.as_deref().unwrap_or_default(),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(deployment_json(&deployments::get(&state.db, new_id).await?)),
    ))
}
