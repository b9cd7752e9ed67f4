//! Feature flags as the browser and the API see them (kept in `store::flags`; the rules are in
//! `logic::flags`).

use crate::model::AuditEvent;
use serde::{Deserialize, Serialize};

/// How a ramp moves from its first share to its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RampShape {
    /// Evenly, all the time.
    Linear,
    /// In this many equal steps (the last one lands at the end).
    Steps(u32),
}

/// A schedule that moves a flag's rollout from `from` at `starts_at` to `to` at `ends_at`
/// (fractions of keys; epoch milliseconds UTC). Before the start the rollout is `from`, after
/// the end it stays at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ramp {
    pub shape: RampShape,
    pub from: f64,
    pub to: f64,
    pub starts_at: i64,
    pub ends_at: i64,
}

/// A flag in one environment. An environment the flag was never set in is off at 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagSetting {
    pub environment: String,
    pub enabled: bool,
    /// The share of keys that get the flag while no ramp is set, 0..1.
    pub rollout: f64,
    pub ramp: Option<Ramp>,
    /// Keys that always get the flag while it is on.
    pub allow: Vec<String>,
    /// Keys that never get it (deny wins over allow).
    pub deny: Vec<String>,
    pub updated_at: Option<i64>,
    pub updated_by: Option<String>,
}

impl FlagSetting {
    /// An environment the flag was never set in.
    pub fn unset(environment: &str) -> FlagSetting {
        FlagSetting {
            environment: environment.to_string(),
            enabled: false,
            rollout: 0.0,
            ramp: None,
            allow: Vec::new(),
            deny: Vec::new(),
            updated_at: None,
            updated_by: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub id: i64,
    pub project: String,
    pub key: String,
    pub description: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    /// One per environment of the project, in promotion order.
    pub settings: Vec<FlagSetting>,
}

/// The flag matrix: every flag of a project × every environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagsPageData {
    pub projects: Vec<String>,
    pub project: Option<String>,
    pub environments: Vec<String>,
    pub flags: Vec<Flag>,
    pub now: i64,
    pub can_edit: bool,
}

/// One flag: its settings per environment and its history of changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagPageData {
    pub flag: Flag,
    pub now: i64,
    pub can_edit: bool,
    pub history: Vec<AuditEvent>,
    /// What a key asked about on the page gets in each environment.
    pub check: Option<KeyCheck>,
}

/// Whether one key gets a flag, environment by environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyCheck {
    pub key: String,
    /// The key's bucket for this flag, in [0, 1).
    pub bucket: f64,
    pub environments: Vec<KeyVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyVerdict {
    pub environment: String,
    pub rollout: f64,
    pub on: bool,
    pub reason: crate::logic::flags::Reason,
}
