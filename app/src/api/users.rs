//! User administration (admins only).

use crate::model::User;
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

#[server(endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<User>, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Admin).await?;
    respond(
        crate::store::users::list(&state.db)
            .await
            .map_err(AppError::from),
    )
}

/// Adds a user with the given role and initial password.
#[server(endpoint = "users/create")]
pub async fn create_user(
    username: String,
    display_name: String,
    role: String,
    password: String,
) -> Result<User, AppError> {
    use super::guard::*;
    use crate::model::{check_new_password, Username};
    use crate::store::users::{self, NewUser};
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let username = Username::parse(&username)
                .map_err(|e| AppError::Invalid(format!("username: {e}")))?;
            let role: Role = role
                .parse()
                .map_err(|e| AppError::Invalid(format!("role: {e}")))?;
            check_new_password(&password)
                .map_err(|e| AppError::Invalid(format!("password: {e}")))?;
            if display_name.chars().count() > 120 {
                return Err(AppError::Invalid(
                    "display name: at most 120 characters".into(),
                ));
            }
            let password_hash = crate::auth::hash_password(password).await?;
            let new = NewUser {
                username,
                display_name,
                role,
                password_hash,
            };
            Ok(users::create(&state.db, &new, &actor(&admin)).await?)
        }
        .await,
    )
}

#[server(endpoint = "users/role")]
pub async fn set_user_role(user_id: i64, role: String) -> Result<User, AppError> {
    use super::guard::*;
    use crate::model::UserId;
    use crate::store::users::{self, UserChange};
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let role: Role = role
                .parse()
                .map_err(|e| AppError::Invalid(format!("role: {e}")))?;
            Ok(users::change(
                &state.db,
                UserId(user_id),
                &UserChange::Role(role),
                &actor(&admin),
            )
            .await?)
        }
        .await,
    )
}

#[server(endpoint = "users/disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<User, AppError> {
    use super::guard::*;
    use crate::model::UserId;
    use crate::store::users::{self, UserChange};
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            if disabled && admin.id.0 == user_id {
                return Err(AppError::Invalid(
                    "you cannot disable your own account".into(),
                ));
            }
            Ok(users::change(
                &state.db,
                UserId(user_id),
                &UserChange::Disabled(disabled),
                &actor(&admin),
            )
            .await?)
        }
        .await,
    )
}

/// Sets a new random password, ends the user's sessions, and returns the password once so the
/// admin can hand it over.
#[server(endpoint = "users/reset_password")]
pub async fn reset_user_password(user_id: i64) -> Result<String, AppError> {
    use super::guard::*;
    use crate::model::UserId;
    use crate::store::users::{self, UserChange};
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let password = crate::auth::random_password(16);
            let hash = crate::auth::hash_password(password.clone()).await?;
            users::change(
                &state.db,
                UserId(user_id),
                &UserChange::Password(hash),
                &actor(&admin),
            )
            .await?;
            Ok(password)
        }
        .await,
    )
}
