//! Retention settings: admins read and change how long each kind of data is kept, and may run
//! the purge now (the background job runs it hourly). Changes are audited.

use crate::model::{PurgeReport, RetentionPageData};
use crate::AppError;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// The name of the purge job's lease (see `store::retention::claim_lease`).
pub const PURGE_JOB: &str = "retention.purge";

#[server(endpoint = "retention/page")]
pub async fn retention_page() -> Result<RetentionPageData, AppError> {
    use super::guard::*;
    use crate::store::{now_ms, retention};
    let (state, _) = require(Role::Admin).await?;
    respond(
        async {
            Ok(RetentionPageData {
                policies: retention::policies(&state.db).await?,
                last_job: retention::last_lease(&state.db, PURGE_JOB).await?,
                now: now_ms(),
            })
        }
        .await,
    )
}

/// Sets the days of the kinds sent as `days[kind]=N`; an empty value keeps that kind forever.
/// Returns how many kinds changed.
#[server(endpoint = "retention/save")]
pub async fn save_retention(
    #[server(default)] days: BTreeMap<String, String>,
) -> Result<usize, AppError> {
    use super::guard::*;
    use crate::model::RetentionKind;
    use crate::store::{now_ms, retention, StoreError};
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        async {
            let mut changes = Vec::new();
            for (key, value) in &days {
                let kind = RetentionKind::parse(key).ok_or_else(|| {
                    StoreError::Invalid(format!("days[{key}]: no such kind of data"))
                })?;
                let v = value.trim();
                let d = if v.is_empty() {
                    None
                } else {
                    Some(v.parse::<i64>().map_err(|_| {
                        StoreError::Invalid(format!(
                            "days[{key}]: a whole number of days, or empty to keep forever (got `{v}`)"
                        ))
                    })?)
                };
                changes.push((kind, d));
            }
            Ok(retention::set_days(&state.db, &changes, &by, now_ms()).await?)
        }
        .await,
    )
}

/// Runs the purge now, as the hourly job would.
#[server(endpoint = "retention/purge")]
pub async fn purge_now() -> Result<PurgeReport, AppError> {
    use super::guard::*;
    use crate::store::{now_ms, retention};
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        retention::purge(&state.db, now_ms(), retention::PurgePace::default(), &by)
            .await
            .map_err(AppError::from),
    )
}
