//! The audit log: who did what, when, from where.

use serde::{Deserialize, Serialize};

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    /// Epoch milliseconds, UTC.
    pub at: i64,
    /// Username of whoever acted; `None` for the system itself.
    pub actor: Option<String>,
    /// A dotted verb such as `user.login`, `user.login_failed`, `user.role_changed`.
    pub action: String,
    /// What the action was done to (e.g. a username).
    pub target: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// Filters for browsing the audit log; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Only events strictly older than this id (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before_id` to see the next (older) page.
    pub next_before_id: Option<i64>,
    /// All distinct actions recorded, for the filter menu.
    pub actions: Vec<String>,
}
