//! Who is signed in, and changing one's own password.

use crate::model::User;
use crate::AppError;
use leptos::prelude::*;

/// The signed-in user, or `None` for an anonymous visitor.
#[server(endpoint = "session/me")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    use super::guard::*;
    let state = state()?;
    respond(signed_in(&state).await)
}

/// Changes the signed-in user's password after checking the current one. Other sessions of
/// the user end; this one stays signed in.
#[server(endpoint = "session/password")]
pub async fn change_own_password(
    current: String,
    new_password: String,
    confirm: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::model::{check_new_password, Role};
    use crate::store::users::{self, UserChange};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            if new_password != confirm {
                return Err(AppError::Invalid(
                    "the new password and its confirmation differ".into(),
                ));
            }
            check_new_password(&new_password).map_err(AppError::Invalid)?;
            let record = users::get(&state.db, user.id)
                .await?
                .ok_or(AppError::Unauthorized)?;
            if !crate::auth::verify_password(current, record.password_hash).await {
                return Err(AppError::Invalid("the current password is wrong".into()));
            }
            let hash = crate::auth::hash_password(new_password).await?;
            users::change(
                &state.db,
                user.id,
                &UserChange::Password(hash),
                &actor(&user),
            )
            .await?;
            let session = session().await?;
            crate::auth::refresh_session_credentials(&state, &session, user.id).await?;
            Ok(())
        }
        .await,
    )
}
