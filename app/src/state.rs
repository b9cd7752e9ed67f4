//! What every request handler and server function can reach: the database and settings.

use crate::auth::SessionPolicy;
use crate::store::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Cloned for every request and server function, so it is one shared allocation.
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

#[derive(Debug)]
pub struct AppStateInner {
    pub db: Db,
    pub leptos_options: LeptosOptions,
    pub sessions: SessionPolicy,
    /// See [`crate::auth::dummy_hash`].
    pub dummy_hash: Arc<str>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The client's address as the server decided it (socket peer, or a trusted proxy's header).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The user the sign-in middleware found for this request, so server functions rendered in
/// the same request do not look the session up again.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Option<crate::model::User>);
