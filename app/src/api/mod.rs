//! Server functions, one module per area. Each one first checks the session's role, then makes
//! one call into `store`/`logic`, and returns model types or an [`AppError`](crate::AppError).

pub mod audit;
pub mod deployments;
pub mod environments;
pub mod flags;
pub mod kpis;
pub mod notify;
pub mod plans;
pub mod predictor;
pub mod projects;
pub mod retention;
pub mod runs;
pub mod session;
pub mod test_history;
pub mod users;

#[cfg(feature = "ssr")]
pub(crate) mod guard {
    //! The checks every server function starts with.
    use crate::model::{Role, User};
    use crate::state::{AppState, ClientIp};
    use crate::store::audit::Actor;
    use crate::AppError;
    use leptos::prelude::*;
    use tower_sessions::Session;

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the server function context");
            AppError::Internal
        })
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer");
            AppError::Internal
        })
    }

    pub fn client_ip() -> String {
        use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<ClientIp>().map(|c| c.0.clone()))
            .unwrap_or_else(|| "unknown".into())
    }

    /// The signed-in user of this request: the one the page middleware found, else from the
    /// session.
    pub async fn signed_in(state: &AppState) -> Result<Option<User>, AppError> {
        let cached = use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<crate::state::SignedIn>().cloned());
        match cached {
            Some(crate::state::SignedIn(user)) => Ok(user),
            None => Ok(crate::auth::current_user(state, &session().await?).await?),
        }
    }

    /// The signed-in user if their role allows `needed`; 401 or 403 otherwise.
    pub async fn require(needed: Role) -> Result<(AppState, User), AppError> {
        let state = state()?;
        let user = signed_in(&state)
            .await?
            .ok_or(AppError::Unauthorized)
            .map_err(with_status)?;
        if !user.role.allows(needed) {
            return Err(with_status(AppError::forbidden_for(needed)));
        }
        Ok((state, user))
    }

    pub fn actor(user: &User) -> Actor {
        Actor {
            user_id: Some(user.id.0),
            username: Some(user.username.clone()),
            ip: Some(client_ip()),
        }
    }

    /// Sets the HTTP status of the server function's response to match the error.
    pub fn with_status(e: AppError) -> AppError {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(e.status());
        }
        e
    }

    /// Finishes a server function: errors carry their status.
    pub fn respond<T>(r: Result<T, AppError>) -> Result<T, AppError> {
        r.map_err(with_status)
    }
}
