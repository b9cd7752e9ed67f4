//! Rollout plans as the browser and the API see them (kept in `store::plans`; the rules are in
//! `logic::plan`).

use crate::logic::plan::{ItemKind, Link, PhaseStatus, Timeline, Verdict};
use serde::{Deserialize, Serialize};

/// A deliverable or an item of a phase's go-live checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanItem {
    pub id: i64,
    pub kind: ItemKind,
    pub title: String,
    pub owner: String,
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
}

/// A success criterion and whether it holds now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanCriterion {
    pub id: i64,
    pub title: String,
    pub link: Link,
    /// When a person confirmed a manual criterion.
    pub met_at: Option<i64>,
    pub met_by: Option<String>,
    pub verdict: Verdict,
    /// What was measured, in words.
    pub measured: String,
    /// Where the measurement can be looked at (`/kpis/…`, `/deployments/…`).
    pub href: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPhase {
    pub id: i64,
    pub position: i64,
    pub title: String,
    pub objective: String,
    /// UTC day numbers; the due day is included.
    pub starts_on: Option<i64>,
    pub due_on: Option<i64>,
    pub status: PhaseStatus,
    pub status_note: String,
    pub status_at: Option<i64>,
    pub status_by: Option<String>,
    pub items: Vec<PlanItem>,
    pub criteria: Vec<PlanCriterion>,
}

impl PlanPhase {
    pub fn deliverables(&self) -> impl Iterator<Item = &PlanItem> {
        self.items
            .iter()
            .filter(|i| i.kind == ItemKind::Deliverable)
    }

    pub fn checklist(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.kind == ItemKind::Checklist)
    }

    /// Items done and all items.
    pub fn done_count(&self) -> (usize, usize) {
        (
            self.items.iter().filter(|i| i.done_at.is_some()).count(),
            self.items.len(),
        )
    }

    pub fn progress(&self) -> f64 {
        let (d, t) = self.done_count();
        crate::logic::plan::progress(self.status, d, t)
    }

    /// Past its due day and not done.
    pub fn late(&self, today: i64) -> bool {
        self.status != PhaseStatus::Done && self.due_on.is_some_and(|d| d < today)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: i64,
    pub project: String,
    /// Where KPI criteria are measured.
    pub environment: String,
    pub title: String,
    pub template: Option<String>,
    pub plan_key: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub phases: Vec<PlanPhase>,
}

impl Plan {
    /// The share of the phases' progress, each phase weighing the same.
    pub fn progress(&self) -> f64 {
        if self.phases.is_empty() {
            return 0.0;
        }
        self.phases.iter().map(PlanPhase::progress).sum::<f64>() / self.phases.len() as f64
    }
}

/// A plan in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub id: i64,
    pub project: String,
    pub title: String,
    pub phases: i64,
    pub done: i64,
    pub blocked: i64,
    pub items: i64,
    pub items_done: i64,
    pub starts_on: Option<i64>,
    pub due_on: Option<i64>,
    /// The first phase not done, if any.
    pub current: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlansPageData {
    pub projects: Vec<String>,
    pub project: Option<String>,
    pub plans: Vec<PlanSummary>,
    pub today: i64,
    /// Approvers and admins create and edit plans.
    pub can_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPageData {
    pub plan: Plan,
    pub timeline: Option<Timeline>,
    pub today: i64,
    pub can_edit: bool,
    /// Admins delete plans.
    pub can_delete: bool,
    /// The project's environments, for gate criteria.
    pub environments: Vec<String>,
}
