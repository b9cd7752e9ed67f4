//! The browser-facing routes outside Leptos (sign-in, sign-out, theme) and the middleware
//! every request passes: client address, cross-site request refusal, sign-in guard for pages.

use app::components::theme::{theme_from_cookie_header, THEME_COOKIE};
use app::logic::url::encode_query_value;
use app::state::{AppState, ClientIp};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after sign-in (no open redirects).
fn safe_next(next: &str) -> &str {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.starts_with("/login")
    {
        next
    } else {
        "/"
    }
}

/// `POST /login`: a plain form post, answered with a redirect either way.
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    axum::Extension(ip): axum::Extension<ClientIp>,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    if form.username.trim().is_empty() || form.password.is_empty() {
        let to = format!(
            "/login?error=credentials&next={}",
            encode_query_value(&next)
        );
        return Redirect::to(&to).into_response();
    }
    match app::auth::login(&state, &session, &form.username, &form.password, &ip.0).await {
        Ok(user) => {
            tracing::info!(user = %user.username, "signed in");
            Redirect::to(&next).into_response()
        }
        Err(refusal) => {
            tracing::info!(ip = %ip.0, ?refusal, "sign-in refused");
            let to = format!(
                "/login?{}&next={}",
                refusal.to_query(),
                encode_query_value(&next)
            );
            Redirect::to(&to).into_response()
        }
    }
}

/// `POST /logout`: ends the session and returns to the sign-in page.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    axum::Extension(ip): axum::Extension<ClientIp>,
) -> Response {
    if let Err(e) = app::auth::logout(&state, &session, &ip.0).await {
        tracing::error!(error = %e, "logout failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Signing out failed: the database is unavailable.",
        )
            .into_response();
    }
    Redirect::to("/login?signed_out=1").into_response()
}

/// `POST /theme`: the no-JavaScript path of the theme toggle; flips the cookie and goes back.
pub async fn toggle_theme(headers: HeaderMap) -> Response {
    let current = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .find_map(theme_from_cookie_header);
    let next = if current == Some("dark") {
        "light"
    } else {
        "dark"
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| same_origin_path(r, &headers))
        .unwrap_or_else(|| "/".to_string());
    let cookie = format!("{THEME_COOKIE}={next}; Path=/; Max-Age=31536000; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

/// The path of `url` if it points at this host.
fn same_origin_path(url: &str, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = url.split_once("://")?.1;
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    (authority == host).then_some(path)
}

/// Decides the client address (the socket peer, or `X-Forwarded-For` when the server is
/// configured to sit behind a trusted proxy) and stores it as a [`ClientIp`] extension. The
/// last address of `X-Forwarded-For` is the one the trusted proxy saw; those before it are
/// whatever the client sent.
pub async fn client_ip(State(trust_proxy): State<bool>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let forwarded = trust_proxy
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".into());
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

/// Refuses state-changing requests that come from another site: their `Origin` (or, when a
/// browser sends none, `Referer`) must name this host or the configured public URL. The
/// token-authenticated REST API carries no cookies and is exempt.
pub async fn refuse_cross_site(
    State(public_url): State<Option<String>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let allowed = match source {
        Some(src) => origin_matches(src, host, public_url.as_deref()),
        // A request without Origin and Referer is not from a browser page; it is refused only
        // when it carries a session cookie (the ambient credential a forged request would use).
        None => !headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .any(|c| c.contains(crate::SESSION_COOKIE)),
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), origin = ?source, "refused a cross-site request");
        (
            StatusCode::FORBIDDEN,
            "Refused: this request came from another site (Origin check).",
        )
            .into_response()
    }
}

fn origin_matches(source: &str, host: &str, public_url: Option<&str>) -> bool {
    let authority = source
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or_default());
    if authority.is_some_and(|a| !host.is_empty() && a == host) {
        return true;
    }
    public_url.is_some_and(|p| source == p || source.starts_with(&format!("{p}/")))
}

/// Paths a visitor may open without signing in.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path.starts_with("/pkg/")
        || path.starts_with("/api/")
        || matches!(
            path,
            "/healthz" | "/readyz" | "/metrics" | "/theme" | "/logout"
        )
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// Sends anonymous visitors of any page to the sign-in page (and signed-in visitors of the
/// sign-in page to the overview). Server functions check roles themselves.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD);
    if !is_page || (is_public(&path) && path != "/login") {
        return next.run(req).await;
    }
    let user = match app::auth::current_user(&state, &session).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "could not read the session");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            )
                .into_response();
        }
    };
    match (user, path.as_str()) {
        (Some(_), "/login") => Redirect::to("/").into_response(),
        (user @ None, "/login") | (user @ Some(_), _) => {
            let mut req = req;
            req.extensions_mut().insert(app::state::SignedIn(user));
            next.run(req).await
        }
        (None, _) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let to = if target == "/" {
                "/login".to_string()
            } else {
                format!("/login?next={}", encode_query_value(target))
            };
            Redirect::to(&to).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/settings/users"), "/settings/users");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn origins_must_name_this_host_or_the_public_url() {
        assert!(origin_matches(
            "http://127.0.0.1:3000",
            "127.0.0.1:3000",
            None
        ));
        assert!(origin_matches(
            "http://127.0.0.1:3000/login",
            "127.0.0.1:3000",
            None
        ));
        assert!(!origin_matches(
            "http://evil.example",
            "127.0.0.1:3000",
            None
        ));
        assert!(!origin_matches("null", "127.0.0.1:3000", None));
        assert!(origin_matches(
            "https://gate.example.com",
            "10.0.0.5:3000",
            Some("https://gate.example.com")
        ));
        assert!(!origin_matches(
            "https://gate.example.com.evil",
            "10.0.0.5:3000",
            Some("https://gate.example.com")
        ));
    }

    #[test]
    fn static_files_and_probes_are_public_but_pages_are_not() {
        assert!(is_public("/pkg/gatehouse.wasm"));
        assert!(is_public("/favicon.svg"));
        assert!(is_public("/healthz"));
        assert!(!is_public("/"));
        assert!(!is_public("/settings/users"));
    }
}

/// Server functions answer every error with 500; this gives errors the status they carry
/// (422 for bad arguments, 403 for a missing role, …) by reading the error body back.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let is_server_fn =
        req.uri().path().starts_with("/api/") && !req.uri().path().starts_with("/api/v1/");
    let res = next.run(req).await;
    if !is_server_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "error body too large").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<app::AppError>(&bytes) {
        parts.status = err.status();
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The calibration page's filters, as its export links carry them.
#[derive(Debug, serde::Deserialize)]
pub struct CalibrationExport {
    project: String,
    version: Option<i64>,
    compare: Option<i64>,
    days: Option<i64>,
    binning: Option<String>,
}

/// The signed-in user of an export, checked here and not only by the page middleware: a file
/// download must never be served to an anonymous caller.
async fn export_user(state: &AppState, session: &Session) -> Result<(), Response> {
    match app::auth::current_user(state, session).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err((StatusCode::UNAUTHORIZED, "sign in to export reports").into_response()),
        Err(e) => {
            tracing::error!(error = %e, "could not read the session");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            )
                .into_response())
        }
    }
}

async fn calibration_view(
    state: &AppState,
    session: &Session,
    q: &CalibrationExport,
) -> Result<app::model::CalibrationView, Response> {
    use app::logic::calibration::Binning;
    use app::store::calibration::{calibration, ReportQuery};
    export_user(state, session).await?;
    let bad = |m: String| (StatusCode::UNPROCESSABLE_ENTITY, m).into_response();
    let days = q.days.unwrap_or(30);
    if !(1..=730).contains(&days) {
        return Err(bad(format!("days: 1 to 730 (got {days})")));
    }
    let binning = match q.binning.as_deref() {
        None | Some("") | Some("uniform") => Binning::Uniform,
        Some("quantile") => Binning::Quantile,
        Some(other) => return Err(bad(format!("binning: uniform or quantile (got `{other}`)"))),
    };
    let store_error = |e: app::store::StoreError| match e {
        app::store::StoreError::NotFound(m) => (StatusCode::NOT_FOUND, m).into_response(),
        app::store::StoreError::Invalid(m) => bad(m),
        other => {
            tracing::error!(error = %other, "calibration export failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the report could not be computed",
            )
                .into_response()
        }
    };
    let p = app::store::projects::require(&state.db, &q.project)
        .await
        .map_err(store_error)?;
    let now = app::store::now_ms();
    calibration(
        &state.db,
        p.id,
        &q.project,
        &ReportQuery {
            version: q.version,
            from: now - days * 86_400_000,
            to: now,
            threshold: None,
            binning,
            bins: 10,
            compare: q.compare,
        },
    )
    .await
    .map_err(store_error)
}

/// `GET /calibration/export`: the calibration report as the page shows it, as CSV (signed in).
pub async fn calibration_csv(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<CalibrationExport>,
) -> Response {
    match calibration_view(&state, &session, &q).await {
        Ok(view) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-calibration-v{}.csv\"",
                        q.project, view.model.version
                    ),
                ),
            ],
            app::logic::report::to_csv(&view),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// `GET /overview/export`: every KPI and DORA key of the overview's view, with its trend, as
/// CSV (signed in).
pub async fn overview_csv(
    State(state): State<AppState>,
    session: Session,
    q: Result<
        axum::extract::Query<app::api::kpis::OverviewQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    if let Err(r) = export_user(&state, &session).await {
        return r;
    }
    let q = match q {
        Ok(axum::extract::Query(q)) => q,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("query string: {}", e.body_text()),
            )
                .into_response()
        }
    };
    match app::api::kpis::load::overview(&state.db, &q).await {
        Ok(l) => {
            let s = &l.overview.scope;
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!(
                            "attachment; filename=\"{}-{}-kpis-{}-{}.csv\"",
                            s.project, s.environment, l.from, l.to
                        ),
                    ),
                ],
                app::logic::kpi::to_csv(&l.overview.report, &s.project, &s.environment),
            )
                .into_response()
        }
        Err(app::store::StoreError::NotFound(m)) => (StatusCode::NOT_FOUND, m).into_response(),
        Err(app::store::StoreError::Invalid(m)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, m).into_response()
        }
        Err(other) => {
            tracing::error!(error = %other, "KPI export failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the KPIs could not be computed",
            )
                .into_response()
        }
    }
}

/// `GET /calibration/chart/{name}`: one of the page's charts as a standalone SVG file (signed
/// in).
pub async fn calibration_svg(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Path(name): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<CalibrationExport>,
) -> Response {
    let view = match calibration_view(&state, &session, &q).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let charts = app::charts::calibration::all(&view);
    match charts.iter().find(|c| c.0 == name) {
        Some((_, svg)) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{name}-v{}.svg\"",
                        q.project, view.model.version
                    ),
                ),
            ],
            app::charts::calibration::standalone(svg),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!(
                "no chart `{name}` for this report; the charts are {}",
                charts
                    .iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
            .into_response(),
    }
}
