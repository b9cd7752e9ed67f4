//! Probes and metrics for operators: `/healthz`, `/readyz`, `/metrics`; and the database
//! watch, which lets requests fail at once with 503 while the database is away instead of
//! each waiting out the pool's acquire timeout.

use crate::metrics::Metrics;
use app::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether the database answered the last probe: 0 when it did, else when it stopped (epoch
/// ms). Shared by the prober, the gate and `/readyz`.
#[derive(Clone, Default)]
pub struct DbWatch(Arc<AtomicI64>);

impl DbWatch {
    pub fn down_since(&self) -> Option<i64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            at => Some(at),
        }
    }

    pub(crate) fn set(&self, up: bool) {
        let was = self.0.load(Ordering::Relaxed);
        if up && was != 0 {
            let secs = (app::store::now_ms() - was) / 1000;
            tracing::warn!(down_s = secs, "the database answers again");
            self.0.store(0, Ordering::Relaxed);
        } else if !up && was == 0 {
            tracing::error!("the database does not answer: requests get 503 until it does");
            self.0.store(app::store::now_ms().max(1), Ordering::Relaxed);
        }
    }

    /// Pings Postgres every second over a connection of its own, outside the pool (a pool
    /// busy with slow requests is not a database that went away), and marks it down after two
    /// failed pings in a row, up after one answer. SQLite is a file in this process: it cannot
    /// go away, so nothing watches it.
    pub fn spawn_prober(&self, db: app::store::Db) -> Option<crate::jobs::JobHandle> {
        use sqlx::Connection;
        let app::store::Db::Postgres(pool) = db else {
            return None;
        };
        let options = pool.connect_options();
        let watch = self.clone();
        Some(crate::jobs::JobHandle::spawn(async move {
            let second = Duration::from_secs(1);
            let mut tick = tokio::time::interval(second);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut conn: Option<sqlx::PgConnection> = None;
            let mut failures = 0;
            loop {
                tick.tick().await;
                if conn.is_none() {
                    conn = tokio::time::timeout(second, sqlx::PgConnection::connect_with(&options))
                        .await
                        .ok()
                        .and_then(Result::ok);
                }
                let answered = match conn.as_mut() {
                    Some(c) => matches!(tokio::time::timeout(second, c.ping()).await, Ok(Ok(()))),
                    None => false,
                };
                if answered {
                    failures = 0;
                    watch.set(true);
                } else {
                    conn = None;
                    failures += 1;
                    if failures >= 2 {
                        watch.set(false);
                    }
                }
            }
        }))
    }
}

/// Paths served without the database.
fn needs_no_database(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/pkg/")
}

/// While the watch says the database is away, answers at once: 503 with `Retry-After`; an
/// `AppError` to server functions (as their callers decode), `{"error": …}` on the REST API,
/// words elsewhere.
pub async fn db_gate(
    axum::extract::State(watch): axum::extract::State<DbWatch>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    if watch.down_since().is_none() || needs_no_database(path) {
        return next.run(req).await;
    }
    let message = "the database is unavailable; try again shortly";
    let retry = [(header::RETRY_AFTER, "2")];
    if path.starts_with("/api/v1/") {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            retry,
            Json(json!({ "error": message })),
        )
            .into_response()
    } else if path.starts_with("/api/") {
        let body = serde_json::to_string(&app::AppError::Unavailable).unwrap_or_default();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::RETRY_AFTER, "2"),
                (header::CONTENT_TYPE, "application/json"),
            ],
            body,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            retry,
            format!("{message}\n"),
        )
            .into_response()
    }
}

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
