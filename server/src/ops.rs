//! Probes and metrics for operators: `/healthz`, `/readyz`, `/metrics`.

use crate::metrics::Metrics;
use app::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::json;
use std::time::Duration;

/// The process is alive and serving.
pub async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n")
}

/// The database answers within two seconds.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let backend = format!("{:?}", state.db.backend()).to_lowercase();
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": backend})),
        ),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": backend, "error": e.to_string()})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "database": backend, "error": "database did not answer within 2 s"}),
            ),
        ),
    }
}

pub async fn metrics(
    State(state): State<AppState>,
    Extension(metrics): Extension<Metrics>,
    Extension(max): Extension<PoolMax>,
) -> impl IntoResponse {
    let (open, idle) = state.db.pool_state();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render((open, idle, max.0)),
    )
}

/// The configured pool size, for the gauge.
#[derive(Clone, Copy)]
pub struct PoolMax(pub u32);
