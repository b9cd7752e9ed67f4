//! `POST /api/v1/projects/{project}/webhooks/github`: GitHub deliveries, authenticated by their
//! HMAC signature under the project's webhook secret, each handled once.

use super::error::{ApiError, ApiResult};
use crate::ingest::github::{self, Event};
use app::model::{Job, NewRun, Performance, Provider, RunStatus, Security};
use app::state::AppState;
use app::store::deploy_views::{self, GithubDeployment, GithubStatus};
use app::store::runs::{self, RunUpdate};
use app::store::webhooks::{self, Delivery, PushedCommit};
use app::store::{projects, Db};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

/// GitHub sends at most 25 MB per delivery.
const GITHUB_LIMIT: usize = 25 * 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub async fn github(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let project = projects::require(&state.db, &slug).await?;
    let secret = projects::webhook_secret(&state.db, project.id).await?.ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "project `{slug}` has no webhook secret: an admin sets one under Settings → Projects and tokens"
        ))
    })?;
    let bytes = axum::body::to_bytes(body, GITHUB_LIMIT)
        .await
        .map_err(|_| ApiError::TooLarge("a webhook delivery is at most 25 MB".into()))?;
    if !github::verify_signature(
        secret.as_bytes(),
        &bytes,
        header(&headers, "x-hub-signature-256"),
    ) {
        return Err(ApiError::Unauthorized(
            "X-Hub-Signature-256 is missing or does not match the project's webhook secret".into(),
        ));
    }
    let event = header(&headers, "x-github-event")
        .ok_or_else(|| ApiError::BadRequest("missing header X-GitHub-Event".into()))?;
    let delivery_id = header(&headers, "x-github-delivery")
        .ok_or_else(|| ApiError::BadRequest("missing header X-GitHub-Delivery".into()))?;
    if delivery_id.len() > 100 {
        return Err(ApiError::BadRequest(
            "X-GitHub-Delivery is longer than 100 characters".into(),
        ));
    }
    if webhooks::seen(&state.db, project.id, delivery_id).await? {
        return Ok((
            StatusCode::OK,
            Json(json!({"delivery": delivery_id, "duplicate": true, "outcome": "already handled"})),
        ));
    }
    let parsed = github::parse(event, &bytes).map_err(ApiError::Unprocessable)?;
    let (status, action, outcome, keep_payload) = handle(&state.db, project.id, parsed).await?;
    let payload = keep_payload.then(|| String::from_utf8_lossy(&bytes).into_owned());
    webhooks::record(
        &state.db,
        &Delivery {
            project_id: project.id,
            delivery_id,
            event,
            action: action.as_deref(),
            outcome: &outcome,
            payload: payload.as_deref(),
        },
    )
    .await?;
    Ok((
        status,
        Json(json!({"delivery": delivery_id, "duplicate": false, "outcome": outcome})),
    ))
}

/// A GitHub run with only its identity and status; callers fill in what they know.
fn github_run(external_id: String, attempt: Option<i64>, status: RunStatus) -> NewRun {
    NewRun {
        provider: Provider::Github,
        external_id,
        attempt: attempt.unwrap_or(1).max(1),
        workflow: String::new(),
        commit_sha: None,
        branch: None,
        author: None,
        trigger: None,
        url: None,
        status,
        started_at: None,
        finished_at: None,
        jobs: Vec::new(),
        performance: Performance::default(),
        security: Security::default(),
        change: Default::default(),
    }
}

/// Stores a run reported by GitHub, or brings the stored one to its new status.
async fn upsert_run(db: &Db, project_id: i64, new: &NewRun) -> ApiResult<i64> {
    let (stored, created) = runs::create_or_get(db, project_id, new).await?;
    if !created {
        let change = RunUpdate {
            status: Some(new.status),
            finished_at: new.finished_at,
            ..RunUpdate::default()
        };
        runs::update(db, stored.id, &change).await?;
    }
    Ok(stored.id)
}

/// Records a GitHub deployment (and its status) in the environment of the same name.
async fn github_deployment(
    db: &Db,
    project_id: i64,
    action: Option<String>,
    d: &github::GhDeployment,
    status: Option<&GithubStatus>,
) -> ApiResult<(StatusCode, Option<String>, String, bool)> {
    let record = GithubDeployment {
        github_id: d.id,
        environment: d.environment.clone(),
        commit_sha: d.sha.clone(),
        git_ref: d.git_ref.clone(),
        creator: d.creator.as_ref().and_then(|c| c.login.clone()),
        created_at: github::time(&d.created_at).unwrap_or_else(app::store::now_ms),
    };
    Ok(
        match deploy_views::github_deployment(db, project_id, &record, status).await? {
            Some((id, state)) => (
                StatusCode::OK,
                action,
                format!("deployment {id} {state}"),
                false,
            ),
            None => (
                StatusCode::ACCEPTED,
                action,
                format!(
                    "ignored: the project has no environment `{}` (add it to record GitHub's deployments there)",
                    d.environment
                ),
                false,
            ),
        },
    )
}

/// Applies an event; returns the status to answer, its action, what was done, and whether the
/// payload is kept.
async fn handle(
    db: &Db,
    project_id: i64,
    event: Event,
) -> ApiResult<(StatusCode, Option<String>, String, bool)> {
    Ok(match event {
        Event::Ping => (StatusCode::OK, None, "pong".into(), false),
        Event::WorkflowRun { action, run } => {
            let status = github::run_status(run.status.as_deref(), run.conclusion.as_deref());
            let finished = status
                .is_final()
                .then(|| github::time(&run.updated_at))
                .flatten();
            let new = NewRun {
                workflow: run.name.clone().unwrap_or_default(),
                commit_sha: run.head_sha.clone(),
                branch: run.head_branch.clone(),
                author: run
                    .triggering_actor
                    .as_ref()
                    .or(run.actor.as_ref())
                    .and_then(|a| a.login.clone()),
                trigger: run.event.clone(),
                url: run.html_url.clone(),
                started_at: github::time(&run.run_started_at).or(github::time(&run.created_at)),
                finished_at: finished,
                ..github_run(run.id.to_string(), run.run_attempt, status)
            };
            let id = upsert_run(db, project_id, &new).await?;
            (StatusCode::OK, action, format!("run {id} {status}"), false)
        }
        Event::WorkflowJob { action, job } => {
            let status = github::run_status(job.status.as_deref(), job.conclusion.as_deref());
            let new = NewRun {
                workflow: job.workflow_name.clone().unwrap_or_default(),
                commit_sha: job.head_sha.clone(),
                branch: job.head_branch.clone(),
                started_at: github::time(&job.started_at),
                ..github_run(job.run_id.to_string(), job.run_attempt, RunStatus::Running)
            };
            let (stored, _) = runs::create_or_get(db, project_id, &new).await?;
            let change = RunUpdate {
                jobs: vec![Job {
                    name: job.name.clone(),
                    status,
                    started_at: github::time(&job.started_at),
                    finished_at: github::time(&job.completed_at),
                }],
                ..RunUpdate::default()
            };
            runs::update(db, stored.id, &change).await?;
            let outcome = format!("job `{}` of run {} {status}", job.name, stored.id);
            (StatusCode::OK, action, outcome, false)
        }
        Event::CheckSuite { action, suite } => {
            let app = suite.app.clone().unwrap_or_default();
            if app.slug.as_deref() == Some("github-actions") {
                let outcome = "ignored: GitHub Actions suites arrive as workflow_run".to_string();
                return Ok((StatusCode::ACCEPTED, action, outcome, false));
            }
            let status = github::run_status(suite.status.as_deref(), suite.conclusion.as_deref());
            let finished = status
                .is_final()
                .then(|| github::time(&suite.updated_at))
                .flatten();
            let new = NewRun {
                workflow: app
                    .name
                    .or(app.slug)
                    .unwrap_or_else(|| "check suite".into()),
                commit_sha: suite.head_sha.clone(),
                branch: suite.head_branch.clone(),
                trigger: Some("check_suite".into()),
                started_at: github::time(&suite.created_at),
                finished_at: finished,
                ..github_run(format!("check-suite-{}", suite.id), Some(1), status)
            };
            let id = upsert_run(db, project_id, &new).await?;
            (StatusCode::OK, action, format!("run {id} {status}"), false)
        }
        Event::Push(push) => {
            let commits: Vec<PushedCommit> = push
                .commits
                .iter()
                .map(|c| PushedCommit {
                    sha: c.id.clone(),
                    message: c.message.clone(),
                    author: c
                        .author
                        .as_ref()
                        .and_then(|a| a.username.clone().or(a.name.clone())),
                    committed_at: github::time(&c.timestamp),
                    url: c.url.clone(),
                })
                .collect();
            let added = webhooks::store_commits(db, project_id, push.branch(), &commits).await?;
            (
                StatusCode::OK,
                None,
                format!("{added} new commit(s) of {}", commits.len()),
                false,
            )
        }
        Event::Deployment { action, deployment } => {
            github_deployment(db, project_id, action, &deployment, None).await?
        }
        Event::DeploymentStatus {
            action,
            status,
            deployment,
        } => {
            let st = GithubStatus {
                at: github::time(&status.created_at)
                    .or_else(|| github::time(&deployment.created_at))
                    .unwrap_or_else(app::store::now_ms),
                state: status.state,
                description: status.description,
            };
            github_deployment(db, project_id, action, &deployment, Some(&st)).await?
        }
        Event::Ignored(kind) => (
            StatusCode::ACCEPTED,
            None,
            format!("ignored: `{kind}` events are not read"),
            false,
        ),
    })
}
