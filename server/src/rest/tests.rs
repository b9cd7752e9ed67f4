//! `/api/v1/projects/{project}/flaky-tests`: the project's flaky tests over a window, as JSON
//! or CSV (the same numbers the flaky-tests page shows).

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use app::logic::flaky::to_csv;
use app::logic::time::to_rfc3339;
use app::model::Scope;
use app::state::AppState;
use app::store::{now_ms, projects, runs};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The window when none is asked for, in days.
pub const DEFAULT_DAYS: i64 = 14;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakyQuery {
    days: Option<i64>,
    format: Option<String>,
}

pub async fn flaky(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    query: Result<Query<FlakyQuery>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    caller.require_project(&project)?;
    let Query(q) =
        query.map_err(|e| ApiError::Unprocessable(format!("query string: {}", e.body_text())))?;
    let days = q.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=365).contains(&days) {
        return Err(ApiError::Unprocessable(format!(
            "`days` must be 1 to 365 (got {days})"
        )));
    }
    let wants_csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "`format` is json or csv (got `{other}`)"
            )))
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    let p = projects::require(&state.db, &project).await?;
    let since = now_ms() - days * 86_400_000;
    let tests = runs::flaky_tests(&state.db, p.id, since).await?;
    if wants_csv {
        let disposition = format!("attachment; filename=\"{project}-flaky-tests-{days}d.csv\"");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            to_csv(&tests),
        )
            .into_response());
    }
    let list: Vec<_> = tests
        .iter()
        .map(|t| {
            json!({
                "test_id": t.test_id, "suite": t.suite, "classname": t.classname, "name": t.name,
                "executions": t.executions, "flakes": t.flakes, "flake_rate": t.flake_rate,
                "first_flaked": to_rfc3339(t.first_flaked), "last_flaked": to_rfc3339(t.last_flaked),
                "commits": t.commits, "time_lost_s": t.time_lost_s, "quarantined": t.quarantined,
            })
        })
        .collect();
    Ok(Json(json!({
        "project": project,
        "days": days,
        "since": to_rfc3339(since),
        "rules": "flaky: passed on a retry within a run, or passed and failed on the same commit; runs with more than 80% of tests failing are infrastructure failures and not counted",
        "tests": list,
    }))
    .into_response())
}
