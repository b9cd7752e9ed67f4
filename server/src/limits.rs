//! Limits every request passes before it reaches a handler: sign-in attempts and bad API
//! tokens per client address per minute (429 with `Retry-After`), the size of form and server
//! function bodies (413), and the security headers of every response.
//!
//! Counters live in this process: with N replicas an address gets N times the allowance,
//! which still stops spraying; the per-account lockout (in the database) is shared.

use app::state::ClientIp;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest body of a sign-in form or server function call (uploads go to the REST API,
/// which has its own limits per route).
pub const FORM_LIMIT: usize = 1024 * 1024;

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered before old windows are swept.
const SWEEP_AT: usize = 10_000;

/// Fixed one-minute windows of counts per (bucket, address).
#[derive(Clone)]
pub struct Limits {
    login_per_minute: u32,
    token_failures_per_minute: u32,
    windows: Arc<Mutex<HashMap<(&'static str, String), (Instant, u32)>>>,
    /// To let a valid token through from an address that also sent bad ones.
    db: app::store::Db,
}

impl Limits {
    pub fn new(
        db: app::store::Db,
        login_per_minute: u32,
        token_failures_per_minute: u32,
    ) -> Limits {
        Limits {
            login_per_minute,
            token_failures_per_minute,
            windows: Arc::default(),
            db,
        }
    }

    /// The count of `bucket` for `ip` in the current window and the seconds until it ends,
    /// without recording anything.
    fn peek(&self, bucket: &'static str, ip: &str) -> (u32, u64) {
        let now = Instant::now();
        let map = self.windows.lock().expect("rate limit lock");
        match map.get(&(bucket, ip.to_string())) {
            Some((start, n)) if now.duration_since(*start) < WINDOW => (
                *n,
                WINDOW.saturating_sub(now.duration_since(*start)).as_secs() + 1,
            ),
            _ => (0, 0),
        }
    }

    /// Whether `secret` is a valid token (from the token cache, mostly).
    async fn valid_token(&self, secret: Option<String>) -> bool {
        let Some(secret) = secret else {
            return false;
        };
        matches!(
            app::store::tokens::authenticate(&self.db, &secret).await,
            Ok(Some(_))
        )
    }

    /// The count of `bucket` for `ip` in the current window, after adding `add`, and the
    /// seconds until the window ends.
    fn count(&self, bucket: &'static str, ip: &str, add: u32) -> (u32, u64) {
        let now = Instant::now();
        let mut map = self.windows.lock().expect("rate limit lock");
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if map.len() >= SWEEP_AT {
                // A flood of addresses within one minute: forget them all rather than grow.
                map.clear();
            }
        }
        let entry = map.entry((bucket, ip.to_string())).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(add);
        let left = WINDOW.saturating_sub(now.duration_since(entry.0)).as_secs() + 1;
        (entry.1, left)
    }
}

fn too_many(what: &str, retry_after: u64) -> Response {
    let message = format!("Too many {what} from this address; try again in {retry_after} s.");
    let retry = [(header::RETRY_AFTER, retry_after.to_string())];
    if what.contains("token") {
        let body = axum::Json(serde_json::json!({ "error": message }));
        (StatusCode::TOO_MANY_REQUESTS, retry, body).into_response()
    } else {
        (StatusCode::TOO_MANY_REQUESTS, retry, message).into_response()
    }
}

/// Rate limits and body limits (see the module's notes).
pub async fn limit(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let path = req.uri().path();
    let api = path.starts_with("/api/v1/");
    if req.method() == Method::POST && path == "/login" {
        let (n, left) = limits.count("login", &ip, 1);
        if n > limits.login_per_minute {
            tracing::warn!(%ip, "sign-in attempts rate-limited");
            return too_many("sign-in attempts", left);
        }
    }
    if api {
        // GitHub's signature failures are not token failures: one project's wrong secret must
        // not shut out every webhook from GitHub's addresses.
        let webhook = path.ends_with("/webhooks/github");
        let (n, left) = limits.peek("token", &ip);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(|s| s.trim().to_string());
        if !webhook && n >= limits.token_failures_per_minute && !limits.valid_token(bearer).await {
            return too_many("requests with a bad API token", left);
        }
        let res = next.run(req).await;
        if !webhook && res.status() == StatusCode::UNAUTHORIZED {
            limits.count("token", &ip, 1);
        }
        return res;
    }
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let server_fn = path.starts_with("/api/");
    if declared.is_some_and(|n| n > FORM_LIMIT) {
        return body_too_large(server_fn);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(_) => body_too_large(server_fn),
    }
}

/// 413; a server function's answer is an `AppError`, as its caller decodes.
fn body_too_large(server_fn: bool) -> Response {
    let message = format!(
        "request body too large: forms and server functions take at most {} KB (reports go to the REST API)",
        FORM_LIMIT / 1024
    );
    if server_fn {
        let body = serde_json::to_string(&app::AppError::Invalid(message)).unwrap_or_default();
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    } else {
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    }
}

/// The policy of responses that are not pages (JSON, CSV, SVG, files): nothing may load.
/// Pages carry their own, with a nonce for their scripts (`app::shell`).
pub const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Security headers on every response; a response that set its own policy keeps it.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DEFAULT_CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_count_per_bucket_and_address() {
        let l = Limits {
            login_per_minute: 3,
            token_failures_per_minute: 3,
            windows: Arc::default(),
            db: app::store::Db::Sqlite(sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap()),
        };
        assert_eq!(l.count("login", "10.0.0.1", 1).0, 1);
        assert_eq!(l.count("login", "10.0.0.1", 1).0, 2);
        assert_eq!(l.count("login", "10.0.0.2", 1).0, 1);
        assert_eq!(l.count("token", "10.0.0.1", 0).0, 0);
        assert_eq!(l.peek("login", "10.0.0.1").0, 2);
        assert_eq!(l.peek("login", "10.0.0.9"), (0, 0));
        let (_, left) = l.count("login", "10.0.0.1", 0);
        assert!((1..=61).contains(&left));
    }
}
