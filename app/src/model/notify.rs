//! The notification hub as the browser and the API see it (kept in `store::notify`; the rules
//! are in `logic::notify`). Secrets never leave the server: a channel only says which of its
//! secret fields are set.

use crate::logic::notify::{ChannelKind, EventKind, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    /// What may be shown: URLs without credentials, chat ids, hosts, addresses, templates.
    pub settings: BTreeMap<String, String>,
    /// The names of the secret fields that hold a value.
    pub secrets_set: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub channel_id: i64,
    pub channel: String,
    /// None: every project.
    pub project: Option<String>,
    /// Empty: every kind.
    pub events: Vec<EventKind>,
    pub min_severity: Severity,
    /// Minutes of the UTC day.
    pub quiet_from: Option<i64>,
    pub quiet_to: Option<i64>,
    pub group_window_s: i64,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Delivered,
    Failed,
    Grouped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Grouped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Grouped => "grouped",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
    }
}

/// One notification to one channel, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEntry {
    pub id: i64,
    pub notification_id: i64,
    pub channel_id: i64,
    pub channel: String,
    pub project: Option<String>,
    pub kind: EventKind,
    pub severity: Severity,
    pub title: String,
    pub link: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// When it will be tried (pending), or was last taken (sending).
    pub next_at: i64,
    pub last_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub grouped_into: Option<i64>,
    /// Repeats this delivery carries.
    pub folded: i64,
    pub created_at: i64,
}

/// The notifications page (`/settings/notifications`): channels, routing rules and the
/// delivery log (filtered by channel and status, older than `before`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyPageData {
    pub channels: Vec<Channel>,
    pub rules: Vec<Rule>,
    pub projects: Vec<String>,
    pub log: Vec<DeliveryEntry>,
    pub channel: Option<i64>,
    pub status: Option<DeliveryStatus>,
    /// The id to page on from (the log's oldest shown), when there may be more.
    pub more: Option<i64>,
    pub now: i64,
}
