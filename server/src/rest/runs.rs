//! `/api/v1/…/runs`: CI systems report runs, upload JUnit and coverage reports, and read runs.

use super::auth::Caller;
use super::body::{self, Spooled};
use super::error::{ApiError, ApiResult};
use super::UploadLimit;
use crate::ingest::{self, IngestError};
use app::logic::time::{parse_rfc3339, to_rfc3339};
use app::model::{Job, NewRun, Performance, Provider, Run, RunStatus, Scope, Security};
use app::state::AppState;
use app::store::runs::{self, Ingested, RunUpdate};
use app::store::{projects, Db};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

/// A time as RFC 3339 text or epoch milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Time {
    Millis(i64),
    Text(String),
}

impl Time {
    pub(crate) fn ms(&self, field: &str) -> ApiResult<i64> {
        match self {
            Time::Millis(ms) => Ok(*ms),
            Time::Text(t) => {
                parse_rfc3339(t).map_err(|e| ApiError::Unprocessable(format!("`{field}`: {e}")))
            }
        }
    }
}

fn opt_ms(t: &Option<Time>, field: &str) -> ApiResult<Option<i64>> {
    t.as_ref().map(|t| t.ms(field)).transpose()
}

/// An id as text or number (GitHub's run ids are numbers).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum IdText {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobBody {
    name: String,
    status: RunStatus,
    started_at: Option<Time>,
    finished_at: Option<Time>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    provider: Provider,
    external_id: IdText,
    attempt: Option<i64>,
    workflow: Option<String>,
    commit_sha: Option<String>,
    branch: Option<String>,
    author: Option<String>,
    trigger: Option<String>,
    url: Option<String>,
    status: RunStatus,
    started_at: Option<Time>,
    finished_at: Option<Time>,
    #[serde(default)]
    jobs: Vec<JobBody>,
    performance: Option<Performance>,
    security: Option<Security>,
    /// Lines added plus deleted, and files touched, by the change under test.
    change_lines: Option<i64>,
    change_files: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<RunStatus>,
    started_at: Option<Time>,
    finished_at: Option<Time>,
    #[serde(default)]
    jobs: Vec<JobBody>,
    performance: Option<Performance>,
    security: Option<Security>,
}

fn text(value: &Option<String>, field: &str, max: usize) -> ApiResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(ApiError::Unprocessable(format!(
            "`{field}` is longer than {max} characters"
        ))),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn jobs(list: &[JobBody]) -> ApiResult<Vec<Job>> {
    if list.len() > 1000 {
        return Err(ApiError::Unprocessable(
            "`jobs`: at most 1000 jobs per run".into(),
        ));
    }
    let mut out: Vec<Job> = Vec::with_capacity(list.len());
    for (i, j) in list.iter().enumerate() {
        let name = text(&Some(j.name.clone()), &format!("jobs[{i}].name"), 200)?
            .ok_or_else(|| ApiError::Unprocessable(format!("`jobs[{i}].name` is empty")))?;
        if out.iter().any(|o| o.name == name) {
            return Err(ApiError::Unprocessable(format!(
                "`jobs[{i}].name`: `{name}` appears twice"
            )));
        }
        let started_at = opt_ms(&j.started_at, &format!("jobs[{i}].started_at"))?;
        let finished_at = opt_ms(&j.finished_at, &format!("jobs[{i}].finished_at"))?;
        check_order(started_at, finished_at, &format!("jobs[{i}]"))?;
        out.push(Job {
            name,
            status: j.status,
            started_at,
            finished_at,
        });
    }
    Ok(out)
}

fn check_order(start: Option<i64>, finish: Option<i64>, what: &str) -> ApiResult<()> {
    match (start, finish) {
        (Some(s), Some(f)) if f < s => Err(ApiError::Unprocessable(format!(
            "`{what}`: finished_at is before started_at"
        ))),
        _ => Ok(()),
    }
}

/// Fractions are fractions: an `error_rate` of 5 is a percent sent by mistake.
fn check_figures(p: &Performance, s: &Security) -> ApiResult<()> {
    for (name, v) in [
        ("p50_ms", p.p50_ms),
        ("p95_ms", p.p95_ms),
        ("p99_ms", p.p99_ms),
        ("throughput_rps", p.throughput_rps),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                return Err(ApiError::Unprocessable(format!(
                    "`performance.{name}` must be a number ≥ 0 (got {v})"
                )));
            }
        }
    }
    if let Some(r) = p.error_rate {
        if !(0.0..=1.0).contains(&r) {
            return Err(ApiError::Unprocessable(format!(
                "`performance.error_rate` is a fraction in [0, 1] (0.05 for 5%), got {r}"
            )));
        }
    }
    for (name, v) in [
        ("critical", s.critical),
        ("high", s.high),
        ("medium", s.medium),
        ("low", s.low),
    ] {
        if let Some(v) = v {
            if !(0..=1_000_000).contains(&v) {
                return Err(ApiError::Unprocessable(format!(
                    "`security.{name}` must be a count ≥ 0 (got {v})"
                )));
            }
        }
    }
    Ok(())
}

/// A run as `POST …/runs` reads it from its body (the fuzz target's entry).
pub fn new_run(bytes: &[u8]) -> ApiResult<NewRun> {
    validate(body::decode(bytes)?)
}

fn validate(b: RunBody) -> ApiResult<NewRun> {
    let external_id = match b.external_id {
        IdText::Number(n) => n.to_string(),
        IdText::Text(t) => t.trim().to_string(),
    };
    if external_id.is_empty() || external_id.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "`external_id` must have 1 to 200 characters".into(),
        ));
    }
    let attempt = b.attempt.unwrap_or(1);
    if !(1..=10_000).contains(&attempt) {
        return Err(ApiError::Unprocessable(format!(
            "`attempt` must be 1 or more (got {attempt})"
        )));
    }
    let commit_sha = text(&b.commit_sha, "commit_sha", 64)?.map(|s| s.to_ascii_lowercase());
    if let Some(sha) = &commit_sha {
        if sha.len() < 4 || !sha.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::Unprocessable(format!(
                "`commit_sha` must be 4 to 64 hexadecimal characters (got `{sha}`)"
            )));
        }
    }
    let url = text(&b.url, "url", 2000)?;
    if let Some(u) = &url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(ApiError::Unprocessable(
                "`url` must start with https:// or http://".into(),
            ));
        }
    }
    let started_at = opt_ms(&b.started_at, "started_at")?;
    let finished_at = opt_ms(&b.finished_at, "finished_at")?;
    check_order(started_at, finished_at, "run")?;
    let performance = b.performance.unwrap_or_default();
    let security = b.security.unwrap_or_default();
    check_figures(&performance, &security)?;
    for (name, v) in [
        ("change_lines", b.change_lines),
        ("change_files", b.change_files),
    ] {
        if let Some(v) = v {
            if !(0..=100_000_000).contains(&v) {
                return Err(ApiError::Unprocessable(format!(
                    "`{name}` must be a count ≥ 0 (got {v})"
                )));
            }
        }
    }
    Ok(NewRun {
        provider: b.provider,
        external_id,
        attempt,
        workflow: text(&b.workflow, "workflow", 200)?.unwrap_or_default(),
        commit_sha,
        branch: text(&b.branch, "branch", 255)?,
        author: text(&b.author, "author", 200)?,
        trigger: text(&b.trigger, "trigger", 100)?,
        url,
        status: b.status,
        started_at,
        finished_at,
        jobs: jobs(&b.jobs)?,
        performance,
        security,
        change: app::model::ChangeSize {
            lines: b.change_lines,
            files: b.change_files,
        },
    })
}

pub(crate) fn time_json(ms: Option<i64>) -> Value {
    ms.map(|m| Value::String(to_rfc3339(m)))
        .unwrap_or(Value::Null)
}

/// A run as the API shows it: flat totals, coverage rates when present, RFC 3339 times.
pub fn run_json(run: &Run) -> Value {
    let t = &run.tests;
    let c = run.coverage;
    json!({
        "id": run.id,
        "project": run.project,
        "provider": run.provider,
        "external_id": run.external_id,
        "attempt": run.attempt,
        "workflow": run.workflow,
        "commit_sha": run.commit_sha,
        "branch": run.branch,
        "author": run.author,
        "trigger": run.trigger,
        "url": run.url,
        "status": run.status,
        "started_at": time_json(run.started_at),
        "finished_at": time_json(run.finished_at),
        "duration_s": run.duration_s(),
        "tests": t.tests,
        "passed": t.passed,
        "failed": t.failed,
        "errors": t.errors,
        "skipped": t.skipped,
        "flaky": t.flaky,
        "test_time_s": t.time_s,
        "pass_rate": t.pass_rate(),
        "line_rate": c.and_then(|c| c.line_rate),
        "branch_rate": c.and_then(|c| c.branch_rate),
        "performance": run.performance,
        "security": run.security,
        "jobs": run.jobs.iter().map(|j| json!({
            "name": j.name,
            "status": j.status,
            "started_at": time_json(j.started_at),
            "finished_at": time_json(j.finished_at),
        })).collect::<Vec<_>>(),
        "created_at": to_rfc3339(run.created_at),
    })
}

/// `POST /api/v1/projects/{project}/runs`: 201 with the new run, 200 with the existing one.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require(Scope::Ingest)?;
    caller.require_project(&project)?;
    let project = projects::require(&state.db, &project).await?;
    let new = validate(body::json::<RunBody>(&headers, body).await?)?;
    let (run, created) = runs::create_or_get(&state.db, project.id, &new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(run_json(&run))))
}

/// Loads a run for a caller: a run of another project is reported as missing.
async fn run_for(db: &Db, caller: &Caller, id: i64) -> ApiResult<Run> {
    match runs::project_of(db, id).await? {
        Some(project_id) if project_id == caller.0.project_id => Ok(runs::require(db, id).await?),
        _ => Err(ApiError::NotFound(format!(
            "no run {id} in project `{}`",
            caller.0.project
        ))),
    }
}

fn run_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("no run `{raw}`: run ids are numbers")))
}

/// `GET /api/v1/runs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Read)?;
    let run = run_for(&state.db, &caller, run_id(&id)?).await?;
    Ok(Json(run_json(&run)))
}

/// `PATCH /api/v1/runs/{id}`: a run's later state (status, end, jobs, figures).
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    caller.require(Scope::Ingest)?;
    let run = run_for(&state.db, &caller, run_id(&id)?).await?;
    let b: UpdateBody = body::json(&headers, body).await?;
    let started_at = opt_ms(&b.started_at, "started_at")?;
    let finished_at = opt_ms(&b.finished_at, "finished_at")?;
    check_order(
        started_at.or(run.started_at),
        finished_at.or(run.finished_at),
        "run",
    )?;
    let performance = b.performance.unwrap_or_default();
    let security = b.security.unwrap_or_default();
    check_figures(&performance, &security)?;
    let change = RunUpdate {
        status: b.status,
        started_at,
        finished_at,
        jobs: jobs(&b.jobs)?,
        performance,
        security,
    };
    let run = runs::update(&state.db, run.id, &change).await?;
    Ok(Json(run_json(&run)))
}

/// The two kinds of report a run takes.
#[derive(Clone, Copy)]
enum Report {
    Junit,
    Coverage,
}

/// Receives a report of run `id`: spooled, read, stored; answers 201 with the report's
/// figures, or 200 when the same bytes were stored before.
async fn receive(
    state: &AppState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    kind: Report,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(Scope::Ingest)?;
    let run = run_for(&state.db, caller, run_id(id)?).await?;
    let spooled: Spooled = body::spool(headers, body, limit).await?;
    let path = spooled.path.to_path_buf();
    let (repeated, figures) = match kind {
        Report::Junit => {
            let outcome =
                ingest::junit_file(&state.db, run.id, path, spooled.gzip, &spooled.digest)
                    .await
                    .map_err(ingest_error)?;
            let t = *outcome.totals();
            let figures = json!({
                "tests": t.tests, "passed": t.passed, "failed": t.failed, "errors": t.errors,
                "skipped": t.skipped, "flaky": t.flaky, "time_s": t.time_s,
            });
            (matches!(outcome, Ingested::Repeated(_)), figures)
        }
        Report::Coverage => {
            let stored =
                ingest::coverage_file(&state.db, run.id, path, spooled.gzip, &spooled.digest)
                    .await
                    .map_err(ingest_error)?;
            let t = stored.totals;
            let figures = json!({
                "line_rate": t.line_rate, "branch_rate": t.branch_rate,
                "lines_covered": t.lines_covered, "lines_valid": t.lines_valid,
                "branches_covered": t.branches_covered, "branches_valid": t.branches_valid,
            });
            (stored.repeated, figures)
        }
    };
    drop(spooled);
    let mut body = json!({"run_id": run.id, "repeated": repeated});
    if let (Some(b), Some(f)) = (body.as_object_mut(), figures.as_object()) {
        b.extend(f.clone());
    }
    let status = if repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)))
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Refused(m) => ApiError::Unprocessable(m),
        IngestError::Store(e) => e.into(),
    }
}

/// `POST /api/v1/runs/{id}/junit`: a JUnit XML report (plain or gzip) → that report's totals.
pub async fn junit(
    State(state): State<AppState>,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    receive(&state, &caller, &id, &headers, body, limit, Report::Junit).await
}

/// `POST /api/v1/runs/{id}/coverage`: Cobertura XML or LCOV (detected) → line and branch rate.
pub async fn coverage(
    State(state): State<AppState>,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    receive(
        &state,
        &caller,
        &id,
        &headers,
        body,
        limit,
        Report::Coverage,
    )
    .await
}
