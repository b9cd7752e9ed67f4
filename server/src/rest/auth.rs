//! Bearer tokens: who is calling, for which project, with which scopes.

use super::error::ApiError;
use app::model::Scope;
use app::state::AppState;
use app::store::tokens::{self, Grant};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The caller of an API route, authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Caller(pub Grant);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized("missing header `Authorization: Bearer <token>`".into())
            })?;
        let value = header.to_str().unwrap_or_default().trim();
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        match tokens::authenticate(&state.db, secret).await? {
            Some(grant) => Ok(Caller(grant)),
            None => Err(ApiError::Unauthorized("unknown or revoked token".into())),
        }
    }
}

impl Caller {
    /// Refuses unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token lacks the `{scope}` scope (it has: {})",
                Scope::join(&self.0.scopes)
            )))
        }
    }

    /// Refuses unless the token belongs to the project named in the path.
    pub fn require_project(&self, slug: &str) -> Result<(), ApiError> {
        if self.0.project == slug {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token belongs to project `{}`, not `{slug}`",
                self.0.project
            )))
        }
    }
}
