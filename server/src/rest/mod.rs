//! The versioned REST API for CI systems (`/api/v1/`): bearer tokens scoped to one project,
//! JSON errors `{"error": …}` that say what and where, idempotent writes.

pub mod auth;
pub mod body;
pub mod error;
pub mod openapi;
pub mod runs;
pub mod tests;
pub mod webhooks;

use app::state::AppState;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use error::ApiError;

/// The largest upload accepted, in bytes as sent.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub u64);

pub fn router(max_upload_bytes: u64) -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/projects/{project}/runs", post(runs::create))
        .route("/api/v1/runs/{id}", get(runs::show).patch(runs::update))
        .route("/api/v1/runs/{id}/junit", post(runs::junit))
        .route("/api/v1/runs/{id}/coverage", post(runs::coverage))
        .route(
            "/api/v1/projects/{project}/webhooks/github",
            post(webhooks::github),
        )
        .route("/api/v1/projects/{project}/flaky-tests", get(tests::flaky))
        .route("/api/v1", any(not_found))
        .route("/api/v1/", any(not_found))
        .route("/api/v1/{*rest}", any(not_found))
        .layer(Extension(UploadLimit(max_upload_bytes)))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no API route `{}`; the routes are listed at /api/v1/openapi.json",
        uri.path()
    ))
}
