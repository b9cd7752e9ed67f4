//! The notification hub's settings: admins add channels (whose secrets are write-only), send
//! each a test, route events to them with rules, and read the delivery log, where a pending or
//! failed delivery can be retried now. Every change is audited.

use crate::model::NotifyPageData;
use crate::AppError;
use leptos::prelude::*;
use std::collections::BTreeMap;

#[cfg(feature = "ssr")]
use crate::model::Role;
#[cfg(feature = "ssr")]
use crate::store::StoreError;

/// Rows of the delivery log per page.
pub const LOG_PAGE: i64 = 50;

#[server(endpoint = "notify/page")]
pub async fn notify_page(
    channel: Option<i64>,
    status: Option<String>,
    before: Option<i64>,
) -> Result<NotifyPageData, AppError> {
    use super::guard::*;
    use crate::model::DeliveryStatus;
    use crate::store::{kpis, notify, now_ms};
    let (state, _) = require(Role::Admin).await?;
    respond(
        async {
            let status = match status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "status: pending, sending, delivered, failed or grouped (got `{s}`)"
                    ))
                })?),
            };
            let log = notify::log(&state.db, channel, status, before, LOG_PAGE).await?;
            let more = (log.len() as i64 == LOG_PAGE)
                .then(|| log.last().map(|e| e.id))
                .flatten();
            Ok(NotifyPageData {
                channels: notify::channels(&state.db).await?,
                rules: notify::rules(&state.db).await?,
                projects: kpis::project_slugs(&state.db).await?,
                log,
                channel,
                status,
                more,
                now: now_ms(),
            })
        }
        .await,
    )
}

/// Adds a channel. `settings` and `secrets` come from the form as `settings[url]=…`; empty
/// fields are left out. Returns its id.
#[server(endpoint = "notify/channel-create")]
pub async fn create_channel(
    name: String,
    kind: String,
    #[server(default)] settings: BTreeMap<String, String>,
    #[server(default)] secrets: BTreeMap<String, String>,
) -> Result<i64, AppError> {
    use super::guard::*;
    use crate::logic::notify::ChannelKind;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        async {
            let kind = ChannelKind::parse(&kind).map_err(StoreError::Invalid)?;
            Ok(notify::create_channel(&state.db, &name, kind, &settings, &secrets, &by).await?)
        }
        .await,
    )
}

/// Changes a channel. A secret left empty keeps its value; `clear[field]=on` empties one.
#[server(endpoint = "notify/channel-update")]
pub async fn update_channel(
    id: i64,
    #[server(default)] settings: BTreeMap<String, String>,
    #[server(default)] secrets: BTreeMap<String, String>,
    #[server(default)] clear: BTreeMap<String, String>,
    #[server(default)] enabled: Option<String>,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    let clear: Vec<String> = clear.into_keys().collect();
    let enabled = enabled.is_some_and(|e| matches!(e.trim(), "on" | "true"));
    respond(
        notify::update_channel(&state.db, id, &settings, &secrets, &clear, enabled, &by)
            .await
            .map_err(AppError::from),
    )
}

/// Deletes a channel with its rules and its deliveries.
#[server(endpoint = "notify/channel-delete")]
pub async fn delete_channel(id: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        notify::delete_channel(&state.db, id, &by)
            .await
            .map_err(AppError::from),
    )
}

/// Queues a test message to a channel; returns the delivery's id.
#[server(endpoint = "notify/channel-test")]
pub async fn test_channel(id: i64) -> Result<i64, AppError> {
    use super::guard::*;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        notify::send_test(&state.db, id, &by)
            .await
            .map_err(AppError::from),
    )
}

/// A time of day typed in a form (`22:00`) as minutes of the UTC day; empty is none.
#[cfg(feature = "ssr")]
fn minute_of_day(text: &str, field: &str) -> Result<Option<i64>, StoreError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || StoreError::Invalid(format!("{field}: a time of day like 22:00 (got `{t}`)"));
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(Some(h * 60 + m))
}

/// Adds a routing rule: events (`events[approval.requested]=on`; none ticked is every kind)
/// at or above a severity, of a project or all, to a channel, with optional quiet hours
/// (UTC) and a grouping window in minutes.
#[server(endpoint = "notify/rule-create")]
#[allow(clippy::too_many_arguments)]
pub async fn create_rule(
    channel_id: i64,
    project: String,
    #[server(default)] events: BTreeMap<String, String>,
    min_severity: String,
    #[server(default)] quiet_from: String,
    #[server(default)] quiet_to: String,
    #[server(default)] group_minutes: String,
) -> Result<i64, AppError> {
    use super::guard::*;
    use crate::logic::notify::{EventKind, Severity};
    use crate::store::notify::{self, NewRule};
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        async {
            let events = events
                .keys()
                .map(|k| {
                    EventKind::parse(k).map_err(|e| StoreError::Invalid(format!("events: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let quiet = match (
                minute_of_day(&quiet_from, "quiet from")?,
                minute_of_day(&quiet_to, "quiet until")?,
            ) {
                (None, None) => None,
                (Some(f), Some(t)) if f == t => {
                    return Err(StoreError::Invalid(
                        "quiet hours: the start and the end are the same time".into(),
                    )
                    .into())
                }
                (Some(f), Some(t)) => Some((f, t)),
                _ => {
                    return Err(StoreError::Invalid(
                        "quiet hours: give both the start and the end, or neither".into(),
                    )
                    .into())
                }
            };
            let g = group_minutes.trim();
            let group_window_s = if g.is_empty() {
                0
            } else {
                let minutes: i64 = g.parse().map_err(|_| {
                    StoreError::Invalid(format!(
                        "group window: a whole number of minutes from 0 to 1440 (got `{g}`)"
                    ))
                })?;
                if !(0..=1440).contains(&minutes) {
                    return Err(StoreError::Invalid(format!(
                        "group window: a whole number of minutes from 0 to 1440 (got `{g}`)"
                    ))
                    .into());
                }
                minutes * 60
            };
            let rule = NewRule {
                channel_id,
                project: Some(project.trim().to_string()).filter(|p| !p.is_empty()),
                events,
                min_severity: Severity::parse(&min_severity).map_err(StoreError::Invalid)?,
                quiet,
                group_window_s,
            };
            Ok(notify::create_rule(&state.db, &rule, &by).await?)
        }
        .await,
    )
}

/// Deletes a routing rule.
#[server(endpoint = "notify/rule-delete")]
pub async fn delete_rule(id: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        notify::delete_rule(&state.db, id, &by)
            .await
            .map_err(AppError::from),
    )
}

/// Makes a pending or failed delivery due now, with a fresh day of tries.
#[server(endpoint = "notify/retry")]
pub async fn retry_delivery(id: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::notify;
    let (state, user) = require(Role::Admin).await?;
    let by = super::deployments::requester(&user);
    respond(
        notify::retry_now(&state.db, id, &by)
            .await
            .map_err(AppError::from),
    )
}
