//! The versioned REST API for CI systems (`/api/v1/`): bearer tokens scoped to one project,
//! JSON errors `{"error": …}` that say what and where, idempotent writes.

pub mod auth;
pub mod body;
pub mod calibration;
pub mod deployments;
pub mod error;
pub mod flags;
pub mod kpis;
pub mod openapi;
pub mod plans;
pub mod runs;
pub mod tests;
pub mod webhooks;

use crate::routes::{Route, Table};
use app::state::AppState;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Extension, Router};
use error::ApiError;

/// The largest upload accepted, in bytes as sent.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub u64);

/// Every route of the API with the methods it answers, as the router is built from them.
pub fn routes() -> Vec<Route> {
    table().routes().to_vec()
}

pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    table()
        .into_router()
        .layer(Extension(UploadLimit(max_upload_bytes)))
        .layer(axum::middleware::from_fn(json_method_not_allowed))
}

fn table() -> Table<AppState> {
    Table::default()
        .route(&["GET"], "/api/v1/openapi.json", get(openapi::document))
        .route(
            &["POST"],
            "/api/v1/projects/{project}/runs",
            post(runs::create),
        )
        .route(
            &["GET", "PATCH"],
            "/api/v1/runs/{id}",
            get(runs::show).patch(runs::update),
        )
        .route(&["POST"], "/api/v1/runs/{id}/junit", post(runs::junit))
        .route(
            &["POST"],
            "/api/v1/runs/{id}/coverage",
            post(runs::coverage),
        )
        .route(
            &["POST"],
            "/api/v1/projects/{project}/webhooks/github",
            post(webhooks::github),
        )
        .route(
            &["GET"],
            "/api/v1/projects/{project}/flaky-tests",
            get(tests::flaky),
        )
        .route(
            &["GET"],
            "/api/v1/projects/{project}/calibration",
            get(calibration::calibration),
        )
        .route(&["GET"], "/api/v1/projects/{project}/kpis", get(kpis::show))
        .route(
            &["POST"],
            "/api/v1/projects/{project}/incidents",
            post(kpis::create_incident),
        )
        .route(
            &["POST"],
            "/api/v1/incidents/{id}/resolve",
            post(kpis::resolve_incident),
        )
        .route(
            &["GET", "POST"],
            "/api/v1/projects/{project}/plans",
            get(plans::list).post(plans::create),
        )
        .route(&["GET"], "/api/v1/plans/{id}", get(plans::show))
        .route(
            &["PUT"],
            "/api/v1/plans/{id}/items/{item}",
            put(plans::set_item),
        )
        .route(
            &["PUT"],
            "/api/v1/plans/{id}/phases/{phase}/status",
            put(plans::set_status),
        )
        .route(
            &["GET"],
            "/api/v1/projects/{project}/predictions",
            get(calibration::predictions),
        )
        .route(
            &["POST", "GET"],
            "/api/v1/projects/{project}/deployments",
            post(deployments::create).get(deployments::list),
        )
        .route(&["GET"], "/api/v1/deployments/{id}", get(deployments::show))
        .route(
            &["POST"],
            "/api/v1/deployments/{id}/events",
            post(deployments::event),
        )
        .route(
            &["POST"],
            "/api/v1/deployments/{id}/health",
            post(deployments::health),
        )
        .route(
            &["POST"],
            "/api/v1/deployments/{id}/rollback",
            post(deployments::rollback),
        )
        .route(
            &["GET"],
            "/api/v1/projects/{project}/flags/{environment}",
            get(flags::evaluate),
        )
        .route(
            &["PUT"],
            "/api/v1/projects/{project}/flags/{environment}/{flag}",
            put(flags::set),
        )
        .route(&["*"], "/api/v1", any(not_found))
        .route(&["*"], "/api/v1/", any(not_found))
        .route(&["*"], "/api/v1/{*rest}", any(not_found))
}

/// A known path called with the wrong method: axum answers 405 with an empty body; CI
/// scripts get the same JSON error shape as everywhere else.
async fn json_method_not_allowed(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let response = next.run(req).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let message = format!(
        "{method} is not allowed on `{path}`; the methods are listed at /api/v1/openapi.json"
    );
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no API route `{}`; the routes are listed at /api/v1/openapi.json",
        uri.path()
    ))
}
