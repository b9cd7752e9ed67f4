//! The Gatehouse server: configuration, start-up, the HTTP stack around the Leptos app,
//! background jobs and graceful shutdown. `main.rs` only parses the command line.

#![recursion_limit = "256"]

pub mod backup;
pub mod cli;
pub mod config;
pub mod demo;
pub mod demo_ci;
pub mod demo_deploy;
pub mod demo_flags;
pub mod demo_kpis;
pub mod demo_notify;
pub mod demo_plans;
pub mod fuzzing;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod push;
pub mod rest;
pub mod routes;
pub mod telemetry;
pub mod web;

use app::auth::SessionPolicy;
use app::state::AppState;
use app::store::sessions::SessionStore;
use app::store::{Db, PoolSettings};
use app::{shell, App};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Extension, Router};
use config::Settings;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "gatehouse_session";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Store(#[from] app::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Connects to the database and applies migrations.
pub async fn connect(settings: &Settings) -> Result<Db, StartError> {
    let pool = PoolSettings {
        max_connections: settings.db_max_connections,
        acquire_timeout: settings.db_acquire_timeout,
    };
    let db = Db::connect(settings.database_url.expose(), &pool).await?;
    db.migrate().await?;
    Ok(db)
}

/// Leptos options for the built site at `site_root`. File hashing is on when cargo-leptos
/// wrote `hash.txt` beside the binary (release builds).
pub fn leptos_options(site_root: &Path, addr: SocketAddr) -> LeptosOptions {
    let hashed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("hash.txt")))
        .is_some_and(|p| p.exists());
    LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .hash_files(hashed)
        .build()
}

/// Builds the application state: database, Leptos options, session policy.
pub async fn build_state(settings: &Settings, db: Db) -> AppState {
    AppState::new(app::state::AppStateInner {
        db,
        leptos_options: leptos_options(&settings.resolved_site_root(), settings.addr),
        sessions: SessionPolicy {
            idle: settings.session_idle,
            absolute: settings.session_absolute,
            cookie_secure: settings.cookie_secure,
        },
        dummy_hash: Arc::from(app::auth::dummy_hash().await),
    })
}

/// The routes outside Leptos and the REST API, with the methods they answer: sign-in and
/// sign-out, the theme toggle, report exports, probes.
pub fn browser_routes() -> Vec<routes::Route> {
    browser_table().routes().to_vec()
}

fn browser_table() -> routes::Table<AppState> {
    routes::Table::default()
        .route(&["POST"], "/login", post(web::login))
        .route(&["POST"], "/logout", post(web::logout))
        .route(&["POST"], "/theme", post(web::toggle_theme))
        .route(&["GET"], "/calibration/export", get(web::calibration_csv))
        .route(&["GET"], "/overview/export", get(web::overview_csv))
        .route(
            &["GET"],
            "/calibration/chart/{name}",
            get(web::calibration_svg),
        )
        .route(&["GET"], "/healthz", get(ops::healthz))
        .route(&["GET"], "/readyz", get(ops::readyz))
        .route(&["GET"], "/metrics", get(ops::metrics))
}

/// The whole HTTP stack: Leptos pages and server functions, sign-in routes, probes, static
/// files, and the middleware around them.
pub fn router(state: AppState, settings: &Settings) -> Router {
    router_with(state, settings, ops::DbWatch::default())
}

/// [`router`] with the database watch whose prober the caller runs.
pub fn router_with(state: AppState, settings: &Settings, watch: ops::DbWatch) -> Router {
    let leptos_options = state.leptos_options.clone();
    let site_root = leptos_options.site_root.to_string();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let context = move || provide_context(context_state.clone());
    let pkg_cache = if leptos_options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let pkg = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(pkg_cache),
        ))
        .service(
            ServeDir::new(Path::new(&site_root).join("pkg"))
                .precompressed_br()
                .precompressed_gzip(),
        );
    let session_layer = SessionManagerLayer::new(SessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.sessions.cookie_secure)
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(state.sessions.idle).unwrap_or(time::Duration::hours(8)),
        ));
    let metrics = metrics::Metrics::default();

    browser_table().into_router()
        .nest_service("/pkg", pkg)
        .merge(rest::router(settings.max_upload_bytes))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(axum::middleware::from_fn(web::server_fn_status))
        .layer(from_fn_with_state(state.clone(), web::require_sign_in))
        .layer(session_layer)
        .layer(from_fn_with_state(settings.public_url.clone(), web::refuse_cross_site))
        .layer(from_fn_with_state(
            limits::Limits::new(
                state.db.clone(),
                settings.login_per_minute,
                settings.token_failures_per_minute,
            ),
            limits::limit,
        ))
        .layer(from_fn_with_state(settings.trust_proxy_headers, web::client_ip))
        .layer(from_fn_with_state(watch, ops::db_gate))
        .layer(from_fn_with_state(metrics.clone(), metrics::record))
        .layer(Extension(metrics))
        .layer(Extension(ops::PoolMax(settings.db_max_connections)))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
                tracing::info_span!("request", method = %req.method(), route = route.as_deref().unwrap_or("unmatched"))
            }),
        )
        .layer(CatchPanicLayer::custom(internal_error_page))
        .layer(axum::middleware::from_fn(limits::security_headers))
        .with_state(state)
}

fn internal_error_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error · Gatehouse</title></head>\
              <body><main><p>500</p><h1>Something went wrong</h1><p>The error is in the server log. \
              <a href=\"/\">Back to the overview</a>.</p></main></body></html>"),
    )
        .into_response()
}

/// On a new database: the first admin (printed once unless given by the environment) and,
/// unless turned off, the demo data.
pub async fn first_start(settings: &Settings, db: &Db) -> Result<(), StartError> {
    let fresh = app::store::users::count(db).await? == 0;
    let admin = app::auth::ensure_first_admin(
        db,
        settings.admin_user.as_deref(),
        settings.admin_password.as_ref().map(|p| p.expose()),
    )
    .await?;
    if let Some((name, generated)) = admin {
        match generated {
            Some(password) => println!(
                "\n  First admin created. Sign in with\n    username: {name}\n    password: {password}\n  \
                 (shown once; change it under Your account)\n"
            ),
            None => println!("\n  First admin `{name}` created from GATEHOUSE_ADMIN_USER/GATEHOUSE_ADMIN_PASSWORD.\n"),
        }
    }
    if fresh && settings.demo_data {
        let summary = demo::generate(db, 1, None).await?;
        println!("{summary}");
    }
    Ok(())
}

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests.
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    // Held while serving: `gatehouse restore` refuses to replace a SQLite file in use.
    let _lock = backup::hold_serve_lock(settings.database_url.expose());
    let db = connect(&settings).await?;
    first_start(&settings, &db).await?;
    let state = build_state(&settings, db.clone()).await;
    tracing::info!(site_root = %state.leptos_options.site_root, backend = ?db.backend(), "starting");
    let _cleanup = jobs::spawn_session_cleanup(SessionStore::new(db.clone()));
    let _timers = jobs::spawn_deployment_timers(db.clone());
    let _predictor = jobs::spawn_predictor(db.clone());
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.addr));
    let _outbox = notify::spawn_outbox(
        db.clone(),
        public_url,
        std::time::Duration::from_secs(settings.notify_lease_secs),
    );
    let _retention = jobs::spawn_retention(db.clone(), jobs::instance_name(settings.addr));
    let watch = ops::DbWatch::default();
    let _prober = watch.spawn_prober(db.clone());
    let app = router_with(state, &settings, watch);
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: settings.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    println!("Gatehouse is serving on http://{addr}");
    tracing::info!(%addr, "listening");
    // Streamed pages arrive in several writes: without TCP_NODELAY, Nagle's algorithm and
    // delayed ACKs hold the last chunk of each response on a kept-alive connection for ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(StartError::Serve)?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
