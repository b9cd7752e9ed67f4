//! The notification hub's storage: channels, routing rules, notifications and their
//! deliveries (the outbox).
//!
//! [`raise`] stores a notification and one delivery per channel its rules route it to, inside
//! the caller's transaction, so a notification exists exactly when the change that raised it
//! committed. [`claim`] hands due deliveries to one sender: on Postgres with `for update skip
//! locked`, so replicas never take the same row at once, with a lease after which a crashed
//! sender's delivery is taken again (a receiver may then see it twice: every message carries
//! its delivery id for that). [`finish`] records the answer: delivered, or tried again after a
//! backoff until a day has passed, then failed.

use super::audit::NewAuditEvent;
use super::deployments::Requester;
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::notify::{
    backoff, check_channel, parse_kinds, quiet_until, ChannelKind, EventKind, Severity, GIVE_UP_MS,
};
use crate::model::{Channel, DeliveryEntry, DeliveryStatus, Rule};
use crate::vals;
use std::collections::BTreeMap;

/// An event worth telling people about.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub project_id: Option<i64>,
    pub kind: EventKind,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    /// A path of the console (`/deployments/12`).
    pub link: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    notify_channel_id: i64,
    events: String,
    min_severity: String,
    quiet_from: Option<i64>,
    quiet_to: Option<i64>,
    group_window_s: i64,
}

/// Where one delivery goes, and when it may first be tried.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Route {
    channel: i64,
    next_at: i64,
    window_ms: i64,
}

fn routes(rules: Vec<RuleRow>, ev: &NewEvent, now: i64) -> Vec<Route> {
    let mut out: Vec<Route> = Vec::new();
    for r in rules {
        // A rule that cannot be read takes nothing (rather than everything).
        let (Ok(kinds), Ok(min)) = (parse_kinds(&r.events), Severity::parse(&r.min_severity))
        else {
            continue;
        };
        if ev.severity < min || !(kinds.is_empty() || kinds.contains(&ev.kind)) {
            continue;
        }
        let quiet = match (r.quiet_from, r.quiet_to) {
            (Some(f), Some(t)) if ev.severity < Severity::Critical => quiet_until(now, f, t),
            _ => None,
        };
        let route = Route {
            channel: r.notify_channel_id,
            next_at: quiet.unwrap_or(now),
            window_ms: r.group_window_s * 1000,
        };
        // Two rules to one channel: the one that lets it out sooner (then groups less) wins.
        match out.iter_mut().find(|o| o.channel == route.channel) {
            Some(o) if (route.next_at, route.window_ms) < (o.next_at, o.window_ms) => *o = route,
            Some(_) => {}
            None => out.push(route),
        }
    }
    out
}

async fn insert_notification(tx: &mut Tx, ev: &NewEvent, now: i64) -> StoreResult<i64> {
    let (id,): (i64,) = tx
        .one(
            "insert into notification (project_id, kind, severity, title, body, link, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning notification_id",
            vals![
                ev.project_id,
                ev.kind.as_str(),
                ev.severity.as_str(),
                ev.title.clone(),
                ev.body.clone(),
                ev.link.clone(),
                now
            ],
        )
        .await?;
    Ok(id)
}

async fn insert_delivery(
    tx: &mut Tx,
    notification: i64,
    channel: i64,
    status: DeliveryStatus,
    next_at: i64,
    group_key: Option<&str>,
    grouped_into: Option<i64>,
    now: i64,
) -> StoreResult<i64> {
    let (id,): (i64,) = tx
        .one(
            "insert into delivery (notification_id, notify_channel_id, status, next_at, \
             group_key, grouped_into, created_at, give_up_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) returning delivery_id",
            vals![
                notification,
                channel,
                status.as_str(),
                next_at,
                group_key,
                grouped_into,
                now,
                next_at + GIVE_UP_MS
            ],
        )
        .await?;
    Ok(id)
}

/// Stores `ev` and its deliveries in `tx`, the transaction of the change that raised it.
/// Returns the notification's id, or `None` when no rule takes it (nothing is stored then).
pub async fn raise(tx: &mut Tx, ev: &NewEvent, now: i64) -> StoreResult<Option<i64>> {
    let rules: Vec<RuleRow> = tx
        .all(
            "select r.notify_channel_id, r.events, r.min_severity, \
             cast(r.quiet_from as bigint) as quiet_from, cast(r.quiet_to as bigint) as quiet_to, \
             cast(r.group_window_s as bigint) as group_window_s \
             from notify_rule r join notify_channel c on c.notify_channel_id = r.notify_channel_id \
             where r.enabled = $1 and c.enabled = $1 \
             and (r.project_id is null or r.project_id = $2) order by r.notify_rule_id",
            vals![true, ev.project_id],
        )
        .await?;
    let routes = routes(rules, ev, now);
    if routes.is_empty() {
        return Ok(None);
    }
    let id = insert_notification(tx, ev, now).await?;
    for r in routes {
        if r.window_ms == 0 {
            insert_delivery(
                tx,
                id,
                r.channel,
                DeliveryStatus::Pending,
                r.next_at,
                None,
                None,
                now,
            )
            .await?;
            continue;
        }
        // Repeats of one kind and project to one channel within the window go out as one
        // message: the first at once, the rest folded into one that waits for the window's end.
        let key = format!(
            "{}/{}/{}",
            ev.kind.as_str(),
            ev.project_id.map(|p| p.to_string()).unwrap_or_default(),
            r.channel
        );
        let recent: Vec<(i64, String, i64)> = tx
            .all(
                "select delivery_id, status, created_at from delivery \
                 where group_key = $1 and created_at >= $2 and status <> 'grouped' \
                 order by delivery_id",
                vals![key.clone(), now - r.window_ms],
            )
            .await?;
        let waiting = recent
            .iter()
            .rev()
            .find(|(_, status, _)| status == DeliveryStatus::Pending.as_str());
        // The waiting carrier takes this one unless a sender took it meanwhile (it counts the
        // repeats it carries when it is claimed).
        let carried = match waiting {
            Some((carrier, _, _)) => {
                let n = tx
                    .execute(
                        "update delivery set folded = folded + 1 \
                         where delivery_id = $1 and status = 'pending'",
                        vals![*carrier],
                    )
                    .await?;
                (n > 0).then_some(*carrier)
            }
            None => None,
        };
        let (status, at) = match (carried, recent.first()) {
            (Some(_), _) => (DeliveryStatus::Grouped, r.next_at),
            (None, Some((_, _, first_at))) => (
                DeliveryStatus::Pending,
                r.next_at.max(first_at + r.window_ms),
            ),
            (None, None) => (DeliveryStatus::Pending, r.next_at),
        };
        insert_delivery(tx, id, r.channel, status, at, Some(&key), carried, now).await?;
    }
    Ok(Some(id))
}

/// [`raise`] in a transaction of its own.
pub async fn raise_now(db: &Db, ev: &NewEvent) -> StoreResult<Option<i64>> {
    let mut tx = Tx::write(db).await?;
    let id = raise(&mut tx, ev, now_ms()).await?;
    tx.commit().await?;
    Ok(id)
}

/// A test message to one channel, outside every rule (audited). Returns the delivery's id.
pub async fn send_test(db: &Db, channel_id: i64, by: &Requester) -> StoreResult<i64> {
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let found: Option<(String, bool)> = tx
        .opt(
            "select name, enabled from notify_channel where notify_channel_id = $1",
            vals![channel_id],
        )
        .await?;
    let Some((name, enabled)) = found else {
        return Err(StoreError::NotFound(format!("no channel {channel_id}")));
    };
    if !enabled {
        return Err(StoreError::Conflict(format!(
            "the channel {name} is disabled: enable it to send a test"
        )));
    }
    let ev = NewEvent {
        project_id: None,
        kind: EventKind::Test,
        severity: Severity::Info,
        title: format!("Test message to {name}"),
        body: format!("Sent by {} from Gatehouse to check this channel.", by.name),
        link: Some("/settings/notifications".into()),
    };
    let notification = insert_notification(&mut tx, &ev, now).await?;
    let id = insert_delivery(
        &mut tx,
        notification,
        channel_id,
        DeliveryStatus::Pending,
        now,
        None,
        None,
        now,
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.test",
        Some(&format!("channel:{name}")),
        None,
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A delivery handed to one sender, with what it needs to send.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery_id: i64,
    /// This try's number: [`finish`] only records a result for the try that holds the lease.
    pub attempt: i64,
    /// Tries since the last "retry now" (the wait before the next grows with it).
    pub tries: i64,
    pub folded: i64,
    pub notification_id: i64,
    pub give_up_at: i64,
    pub project: Option<String>,
    pub kind: EventKind,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub channel_id: i64,
    pub channel: String,
    pub channel_kind: ChannelKind,
    pub settings: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    delivery_id: i64,
    attempts: i64,
    retry_base: i64,
    folded: i64,
    notification_id: i64,
    give_up_at: i64,
    project: Option<String>,
    kind: String,
    severity: String,
    title: String,
    body: String,
    link: Option<String>,
    notify_channel_id: i64,
    channel: String,
    channel_kind: String,
    settings: String,
    secret: String,
}

fn map_of(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Takes up to `limit` due deliveries for `lease_ms`: pending ones whose time has come, and
/// those whose sender's lease ran out. A disabled channel's deliveries wait until it is
/// enabled again (their day of tries still runs).
pub async fn claim(db: &Db, now: i64, limit: i64, lease_ms: i64) -> StoreResult<Vec<Due>> {
    let mut tx = Tx::write(db).await?;
    // Waiting past its day (a channel disabled meanwhile): failed, not sent late.
    tx.execute(
        "update delivery set status = 'failed', lease_until = null, last_error = case \
         when last_error like 'not sent within a day%' then last_error \
         else substr('not sent within a day' || coalesce('; last answer: ' || last_error, ''), 1, 500) \
         end where give_up_at <= $1 \
         and (status = 'pending' or (status = 'sending' and lease_until < $1))",
        vals![now],
    )
    .await?;
    let skip = match tx.backend() {
        super::Backend::Postgres => " for update skip locked",
        super::Backend::Sqlite => "",
    };
    let taken: Vec<(i64,)> = tx
        .all(
            &format!(
                "update delivery set status = 'sending', attempts = attempts + 1, \
                 lease_until = $2 where delivery_id in (select delivery_id from delivery \
                 where ((status = 'pending' and next_at <= $1) \
                 or (status = 'sending' and lease_until < $1)) \
                 and notify_channel_id in (select notify_channel_id from notify_channel \
                 where enabled = $4) \
                 order by next_at limit $3{skip}) returning delivery_id"
            ),
            vals![now, now + lease_ms, limit, true],
        )
        .await?;
    let mut due = Vec::with_capacity(taken.len());
    for (id,) in taken {
        let r: DueRow = tx
            .one(
                "select d.delivery_id, cast(d.attempts as bigint) as attempts, \
                 cast(d.retry_base as bigint) as retry_base, \
                 cast(d.folded as bigint) as folded, n.notification_id, d.give_up_at, \
                 p.slug as project, n.kind, n.severity, n.title, n.body, n.link, \
                 c.notify_channel_id, c.name as channel, c.kind as channel_kind, c.settings, \
                 c.secret from delivery d \
                 join notification n on n.notification_id = d.notification_id \
                 join notify_channel c on c.notify_channel_id = d.notify_channel_id \
                 left join project p on p.project_id = n.project_id where d.delivery_id = $1",
                vals![id],
            )
            .await?;
        due.push(Due {
            delivery_id: r.delivery_id,
            attempt: r.attempts,
            tries: r.attempts - r.retry_base,
            folded: r.folded,
            notification_id: r.notification_id,
            give_up_at: r.give_up_at,
            project: r.project,
            kind: EventKind::parse(&r.kind).map_err(StoreError::Other)?,
            severity: Severity::parse(&r.severity).map_err(StoreError::Other)?,
            title: r.title,
            body: r.body,
            link: r.link,
            channel_id: r.notify_channel_id,
            channel: r.channel,
            channel_kind: ChannelKind::parse(&r.channel_kind).map_err(StoreError::Other)?,
            settings: map_of(&r.settings),
            secrets: map_of(&r.secret),
        });
    }
    tx.commit().await?;
    Ok(due)
}

/// What a receiver answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered {
        code: Option<i64>,
    },
    /// Worth another try (a 5xx, 429, a timeout, a refused connection).
    Retry {
        code: Option<i64>,
        error: String,
    },
    /// Not worth another try (a 4xx other than 408 and 429, a channel missing a field).
    Fail {
        code: Option<i64>,
        error: String,
    },
}

/// Records the answer to a claimed try. A try whose lease another sender has since taken
/// records nothing. Returns the delivery's status now.
pub async fn finish(
    db: &Db,
    due: &Due,
    outcome: &Outcome,
    now: i64,
) -> StoreResult<DeliveryStatus> {
    let (status, next_at, code, error, delivered_at) = match outcome {
        Outcome::Delivered { code } => (DeliveryStatus::Delivered, None, *code, None, Some(now)),
        Outcome::Retry { code, error } => {
            let next = now + backoff(due.tries);
            if next >= due.give_up_at {
                (
                    DeliveryStatus::Failed,
                    None,
                    *code,
                    Some(error.clone()),
                    None,
                )
            } else {
                (
                    DeliveryStatus::Pending,
                    Some(next),
                    *code,
                    Some(error.clone()),
                    None,
                )
            }
        }
        Outcome::Fail { code, error } => (
            DeliveryStatus::Failed,
            None,
            *code,
            Some(error.clone()),
            None,
        ),
    };
    let mut tx = Tx::write(db).await?;
    tx.execute(
        "update delivery set status = $1, next_at = coalesce($2, next_at), lease_until = null, \
         last_code = $3, last_error = $4, delivered_at = $5 \
         where delivery_id = $6 and status = 'sending' and attempts = $7",
        vals![
            status.as_str(),
            next_at,
            code,
            error.map(|e| e.chars().take(500).collect::<String>()),
            delivered_at,
            due.delivery_id,
            due.attempt
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(status)
}

/// Makes a pending or failed delivery due now, with a fresh day of tries (audited).
pub async fn retry_now(db: &Db, delivery_id: i64, by: &Requester) -> StoreResult<()> {
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let found: Option<(String, String, bool)> = tx
        .opt(
            "select d.status, c.name, c.enabled from delivery d join notify_channel c \
             on c.notify_channel_id = d.notify_channel_id where d.delivery_id = $1",
            vals![delivery_id],
        )
        .await?;
    let Some((status, channel, enabled)) = found else {
        return Err(StoreError::NotFound(format!("no delivery {delivery_id}")));
    };
    if !enabled {
        return Err(StoreError::Conflict(format!(
            "the channel {channel} is disabled: enable it, then retry"
        )));
    }
    // A fresh day of tries from now, only from a state no sender holds (a claim may have
    // committed since the read above).
    let changed = tx
        .execute(
            "update delivery set status = 'pending', next_at = $1, give_up_at = $2, \
             retry_base = attempts where delivery_id = $3 and status in ('pending', 'failed')",
            vals![now, now + GIVE_UP_MS, delivery_id],
        )
        .await?;
    if changed == 0 {
        let now_status = if matches!(status.as_str(), "pending" | "failed") {
            "being sent"
        } else {
            status.as_str()
        };
        return Err(StoreError::Conflict(format!(
            "delivery {delivery_id} is {now_status}: only a pending or failed one can be retried"
        )));
    }
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.retry",
        Some(&format!("channel:{channel}")),
        Some(format!("delivery {delivery_id} ({status})")),
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    notify_channel_id: i64,
    name: String,
    kind: String,
    settings: String,
    secret: String,
    enabled: bool,
    created_at: i64,
    created_by: Option<String>,
    updated_at: i64,
}

impl ChannelRow {
    fn into_channel(self) -> StoreResult<Channel> {
        Ok(Channel {
            id: self.notify_channel_id,
            name: self.name,
            kind: ChannelKind::parse(&self.kind).map_err(StoreError::Other)?,
            settings: map_of(&self.settings),
            // Names only: the values never leave the store through this type.
            secrets_set: map_of(&self.secret)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| k)
                .collect(),
            enabled: self.enabled,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
        })
    }
}

const CHANNEL_SELECT: &str = "select notify_channel_id, name, kind, settings, secret, enabled, \
     created_at, created_by, updated_at from notify_channel";

/// Every channel, by name (without secrets).
pub async fn channels(db: &Db) -> StoreResult<Vec<Channel>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<ChannelRow> = tx
        .all(&format!("{CHANNEL_SELECT} order by name"), vals![])
        .await?;
    tx.commit().await?;
    rows.into_iter().map(ChannelRow::into_channel).collect()
}

fn trimmed(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn json_of(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

/// Adds a channel (audited, without its secrets). A second channel of one name is a conflict.
pub async fn create_channel(
    db: &Db,
    name: &str,
    kind: ChannelKind,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    by: &Requester,
) -> StoreResult<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid("name: 1 to 100 characters".into()));
    }
    let (settings, secrets) = (trimmed(settings), trimmed(secrets));
    check_channel(kind, &settings, &secrets, &[]).map_err(StoreError::Invalid)?;
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let inserted: Option<(i64,)> = tx
        .opt(
            "insert into notify_channel (name, kind, settings, secret, enabled, created_at, \
             created_by, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $6) \
             on conflict (name) do nothing returning notify_channel_id",
            vals![
                name,
                kind.as_str(),
                json_of(&settings),
                json_of(&secrets),
                true,
                now,
                by.name.clone()
            ],
        )
        .await?;
    let Some((id,)) = inserted else {
        return Err(StoreError::Conflict(format!(
            "there is already a channel named `{name}`"
        )));
    };
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.channel_created",
        Some(&format!("channel:{name}")),
        Some(format!(
            "{} ({})",
            kind.as_str(),
            settings.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a channel's settings and state. A secret field sent empty keeps its stored value;
/// `clear` names secret fields to empty. Audited without values of secrets.
pub async fn update_channel(
    db: &Db,
    id: i64,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
    clear: &[String],
    enabled: bool,
    by: &Requester,
) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let row: Option<ChannelRow> = tx
        .opt(
            &format!(
                "{CHANNEL_SELECT} where notify_channel_id = $1{}",
                tx.for_update("notify_channel")
            ),
            vals![id],
        )
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("no channel {id}")));
    };
    let kind = ChannelKind::parse(&row.kind).map_err(StoreError::Other)?;
    let mut stored = map_of(&row.secret);
    for k in clear {
        stored.remove(k);
    }
    let given = trimmed(secrets);
    let kept: Vec<String> = stored
        .keys()
        .filter(|k| !given.contains_key(*k))
        .cloned()
        .collect();
    let settings = trimmed(settings);
    check_channel(kind, &settings, &given, &kept).map_err(StoreError::Invalid)?;
    stored.extend(given.clone());
    tx.execute(
        "update notify_channel set settings = $1, secret = $2, enabled = $3, updated_at = $4 \
         where notify_channel_id = $5",
        vals![json_of(&settings), json_of(&stored), enabled, now_ms(), id],
    )
    .await?;
    let mut changed: Vec<String> = given.keys().map(|k| format!("{k} replaced")).collect();
    changed.extend(clear.iter().map(|k| format!("{k} cleared")));
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.channel_updated",
        Some(&format!("channel:{}", row.name)),
        Some(format!(
            "{}{}",
            if enabled { "enabled" } else { "disabled" },
            if changed.is_empty() {
                String::new()
            } else {
                format!("; secrets: {}", changed.join(", "))
            }
        )),
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a channel with its rules and deliveries (audited).
pub async fn delete_channel(db: &Db, id: i64, by: &Requester) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let found: Option<(String,)> = tx
        .opt(
            "select name from notify_channel where notify_channel_id = $1",
            vals![id],
        )
        .await?;
    let Some((name,)) = found else {
        return Err(StoreError::NotFound(format!("no channel {id}")));
    };
    tx.execute(
        "delete from notify_channel where notify_channel_id = $1",
        vals![id],
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.channel_deleted",
        Some(&format!("channel:{name}")),
        None,
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A routing rule as entered.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    pub channel_id: i64,
    pub project: Option<String>,
    pub events: Vec<EventKind>,
    pub min_severity: Severity,
    pub quiet: Option<(i64, i64)>,
    pub group_window_s: i64,
}

/// Adds a routing rule (audited).
pub async fn create_rule(db: &Db, rule: &NewRule, by: &Requester) -> StoreResult<i64> {
    if !(0..=86_400).contains(&rule.group_window_s) {
        return Err(StoreError::Invalid(
            "group window: 0 to 86,400 seconds".into(),
        ));
    }
    if let Some((f, t)) = rule.quiet {
        if !(0..1440).contains(&f) || !(0..1440).contains(&t) {
            return Err(StoreError::Invalid(
                "quiet hours: times of day from 00:00 to 23:59".into(),
            ));
        }
    }
    let mut tx = Tx::write(db).await?;
    let channel: Option<(String,)> = tx
        .opt(
            "select name from notify_channel where notify_channel_id = $1",
            vals![rule.channel_id],
        )
        .await?;
    let Some((channel,)) = channel else {
        return Err(StoreError::NotFound(format!(
            "no channel {}",
            rule.channel_id
        )));
    };
    let project_id = match &rule.project {
        None => None,
        Some(slug) => {
            let found: Option<(i64,)> = tx
                .opt(
                    "select project_id from project where slug = $1",
                    vals![slug.clone()],
                )
                .await?;
            Some(
                found
                    .ok_or_else(|| StoreError::NotFound(format!("no project `{slug}`")))?
                    .0,
            )
        }
    };
    let events = if rule.events.is_empty() {
        "*".to_string()
    } else {
        rule.events
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (id,): (i64,) = tx
        .one(
            "insert into notify_rule (notify_channel_id, project_id, events, min_severity, \
             quiet_from, quiet_to, group_window_s, enabled, created_at, created_by) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning notify_rule_id",
            vals![
                rule.channel_id,
                project_id,
                events.clone(),
                rule.min_severity.as_str(),
                rule.quiet.map(|q| q.0),
                rule.quiet.map(|q| q.1),
                rule.group_window_s,
                true,
                now_ms(),
                by.name.clone()
            ],
        )
        .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.rule_created",
        Some(&format!("channel:{channel}")),
        Some(format!(
            "{events} ≥ {} of {}",
            rule.min_severity.as_str(),
            rule.project.as_deref().unwrap_or("every project")
        )),
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes a routing rule (audited).
pub async fn delete_rule(db: &Db, id: i64, by: &Requester) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let n = tx
        .execute(
            "delete from notify_rule where notify_rule_id = $1",
            vals![id],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("no rule {id}")));
    }
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "notify.rule_deleted",
        Some(&format!("rule:{id}")),
        None,
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RuleListRow {
    notify_rule_id: i64,
    notify_channel_id: i64,
    channel: String,
    project: Option<String>,
    events: String,
    min_severity: String,
    quiet_from: Option<i64>,
    quiet_to: Option<i64>,
    group_window_s: i64,
    enabled: bool,
}

/// Every routing rule, by channel.
pub async fn rules(db: &Db) -> StoreResult<Vec<Rule>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<RuleListRow> = tx
        .all(
            "select r.notify_rule_id, r.notify_channel_id, c.name as channel, p.slug as project, \
             r.events, r.min_severity, cast(r.quiet_from as bigint) as quiet_from, \
             cast(r.quiet_to as bigint) as quiet_to, \
             cast(r.group_window_s as bigint) as group_window_s, r.enabled \
             from notify_rule r join notify_channel c on c.notify_channel_id = r.notify_channel_id \
             left join project p on p.project_id = r.project_id \
             order by c.name, r.notify_rule_id",
            vals![],
        )
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Rule {
            id: r.notify_rule_id,
            channel_id: r.notify_channel_id,
            channel: r.channel,
            project: r.project,
            events: parse_kinds(&r.events).unwrap_or_default(),
            min_severity: Severity::parse(&r.min_severity).unwrap_or(Severity::Warning),
            quiet_from: r.quiet_from,
            quiet_to: r.quiet_to,
            group_window_s: r.group_window_s,
            enabled: r.enabled,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct LogRow {
    delivery_id: i64,
    notification_id: i64,
    notify_channel_id: i64,
    channel: String,
    project: Option<String>,
    kind: String,
    severity: String,
    title: String,
    link: Option<String>,
    status: String,
    attempts: i64,
    next_at: i64,
    last_code: Option<i64>,
    last_error: Option<String>,
    delivered_at: Option<i64>,
    grouped_into: Option<i64>,
    folded: i64,
    created_at: i64,
}

/// The delivery log, newest first: of one channel or all, of one status or all, before an id.
pub async fn log(
    db: &Db,
    channel: Option<i64>,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<DeliveryEntry>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<LogRow> = tx
        .all(
            "select d.delivery_id, d.notification_id, d.notify_channel_id, c.name as channel, \
             p.slug as project, n.kind, n.severity, n.title, n.link, d.status, \
             cast(d.attempts as bigint) as attempts, d.next_at, \
             cast(d.last_code as bigint) as last_code, d.last_error, d.delivered_at, \
             d.grouped_into, cast(d.folded as bigint) as folded, d.created_at from delivery d \
             join notification n on n.notification_id = d.notification_id \
             join notify_channel c on c.notify_channel_id = d.notify_channel_id \
             left join project p on p.project_id = n.project_id \
             where ($1 is null or d.notify_channel_id = $1) and ($2 is null or d.status = $2) \
             and d.delivery_id < $3 order by d.delivery_id desc limit $4",
            vals![
                channel,
                status.map(|s| s.as_str()),
                before.unwrap_or(i64::MAX),
                limit.clamp(1, 500)
            ],
        )
        .await?;
    tx.commit().await?;
    rows.into_iter()
        .map(|r| {
            Ok(DeliveryEntry {
                id: r.delivery_id,
                notification_id: r.notification_id,
                channel_id: r.notify_channel_id,
                channel: r.channel,
                project: r.project,
                kind: EventKind::parse(&r.kind).map_err(StoreError::Other)?,
                severity: Severity::parse(&r.severity).map_err(StoreError::Other)?,
                title: r.title,
                link: r.link,
                status: DeliveryStatus::parse(&r.status)
                    .ok_or_else(|| StoreError::Other(format!("delivery status `{}`", r.status)))?,
                attempts: r.attempts,
                next_at: r.next_at,
                last_code: r.last_code,
                last_error: r.last_error,
                delivered_at: r.delivered_at,
                grouped_into: r.grouped_into,
                folded: r.folded,
                created_at: r.created_at,
            })
        })
        .collect()
}
