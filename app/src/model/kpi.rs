//! Delivery KPIs as the browser and the API see them (computed in `store::kpis`).

use serde::{Deserialize, Serialize};

/// The project and environment a KPI view is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiScope {
    pub project_id: i64,
    pub project: String,
    pub environment_id: i64,
    pub environment: String,
    /// The project's environments in promotion order.
    pub environments: Vec<String>,
}

/// The KPIs of one project and environment over `[from_day, to_day)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiOverview {
    pub scope: KpiScope,
    pub report: crate::logic::kpi::Report,
    pub computed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: i64,
    pub project: String,
    pub environment: String,
    pub deployment_id: Option<i64>,
    pub title: String,
    pub severity: String,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    pub incident_key: Option<String>,
    pub created_by: String,
}

/// One deployment, alert or incident a KPI was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceItem {
    pub kind: String,
    pub id: i64,
    pub at: i64,
    pub title: String,
    pub detail: String,
    pub href: String,
}

/// The overview page: the KPIs of the chosen project, environment and range, with what the
/// signed-in person may do there (worked out by the server, checked again on every action).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewPageData {
    pub projects: Vec<String>,
    pub overview: KpiOverview,
    /// One of the offered ranges in days, or `None` for a custom range.
    pub days: Option<i64>,
    /// The range's first and last day, as dates (both inclusive).
    pub from: String,
    pub to: String,
    /// Incidents of the environment in the range (and those still open).
    pub incidents: Vec<IncidentRecord>,
    /// `(at, rating, comment)` given with ratings of the project in the range.
    pub comments: Vec<(i64, i64, String)>,
    /// The targets editor's text.
    pub targets_text: String,
    /// The person has not rated Gatehouse this month.
    pub ask_rating: bool,
    /// Admins set a project's targets.
    pub can_edit_targets: bool,
    /// Approvers and admins record and resolve incidents.
    pub can_record_incidents: bool,
    /// The environment's recent deployments `(id, label)`, to link an incident to.
    pub recent_deployments: Vec<(i64, String)>,
    /// The project's rollout plans.
    pub plans: Vec<crate::model::PlanSummary>,
}

/// One number of the overview and the items it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiDetailData {
    pub overview: KpiOverview,
    /// A KPI id (`mttr`) or a DORA key (`dora_change_failure_rate`).
    pub id: String,
    pub days: Option<i64>,
    pub from: String,
    pub to: String,
    pub items: Vec<SourceItem>,
    /// Items the sources held beyond those listed.
    pub more: usize,
}
