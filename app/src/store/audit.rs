//! The append-only audit log (the database refuses updates and deletes).

use super::{now_ms, Db, StoreResult};
use crate::model::{AuditEvent, AuditFilter, AuditPage};
use crate::on_pool;

/// Who is acting, as recorded in the audit log.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    /// The server itself (start-up, CLI, demo data).
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// An audit entry about to be written, usually inside the transaction of the change it records.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at: i64,
    pub actor_user_id: Option<i64>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

impl NewAuditEvent {
    pub fn new(actor: &Actor, action: &str, target: Option<&str>, detail: Option<String>) -> Self {
        NewAuditEvent {
            at: now_ms(),
            actor_user_id: actor.user_id,
            actor: actor.username.clone(),
            action: action.to_string(),
            target: target.map(str::to_string),
            detail,
            ip: actor.ip.clone(),
        }
    }
}

/// Inserts a [`NewAuditEvent`] through any executor of either backend (a pool or a transaction).
#[macro_export]
macro_rules! insert_audit_event {
    ($executor:expr, $event:expr) => {{
        let ev: &$crate::store::audit::NewAuditEvent = $event;
        sqlx::query(
            "insert into audit_event (at, actor_user_id, actor, action, target, detail, ip) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ev.at)
        .bind(ev.actor_user_id)
        .bind(ev.actor.clone())
        .bind(ev.action.clone())
        .bind(ev.target.clone())
        .bind(ev.detail.clone())
        .bind(ev.ip.clone())
        .execute($executor)
        .await
    }};
}

/// Records an event on its own (for events with no other write, such as a failed login).
pub async fn record(db: &Db, event: &NewAuditEvent) -> StoreResult<()> {
    on_pool!(db, pool => { insert_audit_event!(pool, event)?; });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    audit_event_id: i64,
    at: i64,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
}

impl Row {
    fn into_event(self) -> AuditEvent {
        AuditEvent {
            id: self.audit_event_id,
            at: self.at,
            actor: self.actor,
            action: self.action,
            target: self.target,
            detail: self.detail,
            ip: self.ip,
        }
    }
}

/// The latest `limit` events about `target`, newest first.
pub async fn for_target(db: &Db, target: &str, limit: i64) -> StoreResult<Vec<AuditEvent>> {
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(
            "select audit_event_id, at, actor, action, target, detail, ip from audit_event \
             where target = $1 order by audit_event_id desc limit $2",
        )
        .bind(target)
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(Row::into_event).collect())
}

/// A page of events, newest first, filtered by actor and action.
pub async fn list(db: &Db, filter: &AuditFilter) -> StoreResult<AuditPage> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let actor = filter.actor.clone().filter(|s| !s.trim().is_empty());
    let action = filter.action.clone().filter(|s| !s.trim().is_empty());
    let before = filter.before_id.unwrap_or(i64::MAX);
    let sql = "select audit_event_id, at, actor, action, target, detail, ip from audit_event \
               where audit_event_id < $1 \
               and ($2 is null or actor = $2) \
               and ($3 is null or action = $3) \
               order by audit_event_id desc limit $4";
    let (rows, actions) = on_pool!(db, pool => {
        let rows: Vec<Row> = sqlx::query_as(sql)
            .bind(before)
            .bind(actor.clone())
            .bind(action.clone())
            .bind(limit + 1)
            .fetch_all(pool)
            .await?;
        let actions: Vec<(String,)> =
            sqlx::query_as("select distinct action from audit_event order by action")
                .fetch_all(pool)
                .await?;
        (rows, actions)
    });
    let has_more = rows.len() as i64 > limit;
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .take(limit as usize)
        .map(Row::into_event)
        .collect();
    let next_before_id = if has_more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage {
        events,
        next_before_id,
        actions: actions.into_iter().map(|a| a.0).collect(),
    })
}
