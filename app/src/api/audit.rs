//! Browsing the audit log (admins only).

use crate::model::{AuditFilter, AuditPage};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

#[server(endpoint = "audit/list")]
pub async fn list_audit(#[server(default)] filter: AuditFilter) -> Result<AuditPage, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Admin).await?;
    respond(
        crate::store::audit::list(&state.db, &filter)
            .await
            .map_err(AppError::from),
    )
}
