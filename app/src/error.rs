//! The error every server function returns, shared by browser and server.

use serde::{Deserialize, Serialize};

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// What went wrong, in words a user can act on. Internals stay in the server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("sign in to continue")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("something went wrong on the server; the details are in its log")]
    Internal,
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("the server's disk is full: nothing was saved; an operator must free space")]
    StorageFull,
    #[error("the server could not be reached: {0}")]
    Transport(String),
}

impl AppError {
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            AppError::Unauthorized => S::UNAUTHORIZED,
            AppError::Forbidden(_) => S::FORBIDDEN,
            AppError::NotFound(_) => S::NOT_FOUND,
            AppError::Invalid(_) => S::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => S::CONFLICT,
            AppError::TooManyRequests(_) => S::TOO_MANY_REQUESTS,
            AppError::Unavailable => S::SERVICE_UNAVAILABLE,
            AppError::StorageFull => S::INSUFFICIENT_STORAGE,
            AppError::Internal | AppError::Transport(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn forbidden_for(needed: crate::model::Role) -> AppError {
        AppError::Forbidden(format!("this needs the {needed} role"))
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::Deserialization(msg) => {
                AppError::Invalid(format!("bad request: {msg}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::Invalid(what) => AppError::Invalid(what),
            StoreError::Forbidden(what) => AppError::Forbidden(what),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "server function refused: database unavailable");
                AppError::Unavailable
            }
            StoreError::Full(_) => {
                tracing::error!(error = %e, "server function refused: the database's disk is full");
                AppError::StorageFull
            }
            StoreError::Other(_) => {
                tracing::error!(error = %e, "store error in a server function");
                AppError::Internal
            }
        }
    }
}
