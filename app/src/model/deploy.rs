//! Releases, environments and their protection rules, quality gates, deployments and the
//! health samples that watch them. Fractions are in `[0, 1]`; times are epoch ms UTC.

use crate::logic::bands::Level;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a deployment is. Forward-only until a terminal state; see `logic::deploy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// Recorded, not yet evaluated.
    Requested,
    /// Gates or promotion rules do not hold yet (a new run or an override moves it on).
    Evaluating,
    AwaitingApproval,
    /// Approved; the wait timer runs or a freeze window holds it.
    Waiting,
    /// Go: the deployer rolls it out (canary steps are reported as progress).
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
    Rejected,
    /// A rollback to an earlier release replaced it.
    RolledBack,
}

impl DeployState {
    pub const ALL: [DeployState; 10] = [
        DeployState::Requested,
        DeployState::Evaluating,
        DeployState::AwaitingApproval,
        DeployState::Waiting,
        DeployState::InProgress,
        DeployState::Succeeded,
        DeployState::Failed,
        DeployState::Cancelled,
        DeployState::Rejected,
        DeployState::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::Requested => "requested",
            DeployState::Evaluating => "evaluating",
            DeployState::AwaitingApproval => "awaiting_approval",
            DeployState::Waiting => "waiting",
            DeployState::InProgress => "in_progress",
            DeployState::Succeeded => "succeeded",
            DeployState::Failed => "failed",
            DeployState::Cancelled => "cancelled",
            DeployState::Rejected => "rejected",
            DeployState::RolledBack => "rolled_back",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeployState::Requested => "Requested",
            DeployState::Evaluating => "Held at checks",
            DeployState::AwaitingApproval => "Awaiting approval",
            DeployState::Waiting => "Waiting",
            DeployState::InProgress => "In progress",
            DeployState::Succeeded => "Succeeded",
            DeployState::Failed => "Failed",
            DeployState::Cancelled => "Cancelled",
            DeployState::Rejected => "Rejected",
            DeployState::RolledBack => "Rolled back",
        }
    }

    /// No transition leaves a terminal state, except `succeeded` → `rolled_back`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeployState::Succeeded
                | DeployState::Failed
                | DeployState::Cancelled
                | DeployState::Rejected
                | DeployState::RolledBack
        )
    }

    /// Before the go: gates, approvals, timer and freezes still decide.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            DeployState::Requested
                | DeployState::Evaluating
                | DeployState::AwaitingApproval
                | DeployState::Waiting
        )
    }

    /// A position along the happy path, to keep transitions forward-only.
    pub fn rank(self) -> u8 {
        match self {
            DeployState::Requested => 0,
            DeployState::Evaluating => 1,
            DeployState::AwaitingApproval => 2,
            DeployState::Waiting => 3,
            DeployState::InProgress => 4,
            _ => 5,
        }
    }
}

impl fmt::Display for DeployState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeployState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DeployState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown deployment state `{s}` (one of: {})",
                    DeployState::ALL.map(|x| x.as_str()).join(", ")
                )
            })
    }
}

/// How a release reaches an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Canary,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Rolling, Strategy::BlueGreen, Strategy::Canary];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::BlueGreen => "blue_green",
            Strategy::Canary => "canary",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Strategy::Rolling => "Rolling",
            Strategy::BlueGreen => "Blue-green",
            Strategy::Canary => "Canary",
        }
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown strategy `{s}` (one of: rolling, blue_green, canary)"))
    }
}

/// One canary step: send `traffic` (a fraction) to the new release, then hold `pause_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CanaryStep {
    pub traffic: f64,
    #[serde(default)]
    pub pause_s: i64,
}

/// The seeds' canary: 10% → 25% → 50% → 100%, five minutes at each step before the last.
pub fn default_canary_steps() -> Vec<CanaryStep> {
    [(0.10, 300), (0.25, 300), (0.50, 300), (1.0, 0)]
        .into_iter()
        .map(|(traffic, pause_s)| CanaryStep { traffic, pause_s })
        .collect()
}

/// Checks canary steps: 1–20 steps, traffic rising strictly within (0, 1], ending at 1.
pub fn validate_canary_steps(steps: &[CanaryStep]) -> Result<(), String> {
    if steps.is_empty() || steps.len() > 20 {
        return Err("a canary has 1 to 20 steps".into());
    }
    let mut last = 0.0;
    for (i, s) in steps.iter().enumerate() {
        if !(s.traffic > last && s.traffic <= 1.0) {
            return Err(format!(
                "canary_steps[{i}].traffic must rise above the previous step and be at most 1 (a fraction, not a percent); got {}",
                s.traffic
            ));
        }
        if !(0..=86_400).contains(&s.pause_s) {
            return Err(format!(
                "canary_steps[{i}].pause_s must be 0 to 86400 seconds; got {}",
                s.pause_s
            ));
        }
        last = s.traffic;
    }
    if (last - 1.0).abs() > f64::EPSILON {
        return Err("the last canary step must send all traffic (traffic 1.0)".into());
    }
    Ok(())
}

/// What a quality gate measures. The list stays open: later areas (the failure-risk predictor)
/// add metrics; `Custom` reads a named figure the CI attached to the run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum GateMetric {
    TestPassRate,
    LineCoverage,
    BranchCoverage,
    P95Ms,
    P99Ms,
    ErrorRate,
    CriticalFindings,
    HighFindings,
    /// Tests that flaked in the run (quarantined tests excluded).
    FlakyTests,
    /// Hours since the release succeeded in the previous environment.
    SoakHours,
    Custom(String),
}

impl GateMetric {
    pub const BUILT_IN: [GateMetric; 10] = [
        GateMetric::TestPassRate,
        GateMetric::LineCoverage,
        GateMetric::BranchCoverage,
        GateMetric::P95Ms,
        GateMetric::P99Ms,
        GateMetric::ErrorRate,
        GateMetric::CriticalFindings,
        GateMetric::HighFindings,
        GateMetric::FlakyTests,
        GateMetric::SoakHours,
    ];

    pub fn key(&self) -> String {
        match self {
            GateMetric::TestPassRate => "test_pass_rate".into(),
            GateMetric::LineCoverage => "line_coverage".into(),
            GateMetric::BranchCoverage => "branch_coverage".into(),
            GateMetric::P95Ms => "p95_ms".into(),
            GateMetric::P99Ms => "p99_ms".into(),
            GateMetric::ErrorRate => "error_rate".into(),
            GateMetric::CriticalFindings => "critical_findings".into(),
            GateMetric::HighFindings => "high_findings".into(),
            GateMetric::FlakyTests => "flaky_tests".into(),
            GateMetric::SoakHours => "soak_hours".into(),
            GateMetric::Custom(name) => format!("custom:{name}"),
        }
    }

    pub fn label(&self) -> String {
        match self {
            GateMetric::TestPassRate => "Test pass rate".into(),
            GateMetric::LineCoverage => "Line coverage".into(),
            GateMetric::BranchCoverage => "Branch coverage".into(),
            GateMetric::P95Ms => "p95 latency".into(),
            GateMetric::P99Ms => "p99 latency".into(),
            GateMetric::ErrorRate => "Error rate".into(),
            GateMetric::CriticalFindings => "Critical findings".into(),
            GateMetric::HighFindings => "High findings".into(),
            GateMetric::FlakyTests => "Flaky tests".into(),
            GateMetric::SoakHours => "Soak time".into(),
            GateMetric::Custom(name) => name.clone(),
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            GateMetric::TestPassRate
            | GateMetric::LineCoverage
            | GateMetric::BranchCoverage
            | GateMetric::ErrorRate => Unit::Fraction,
            GateMetric::P95Ms | GateMetric::P99Ms => Unit::Millis,
            GateMetric::SoakHours => Unit::Hours,
            GateMetric::CriticalFindings | GateMetric::HighFindings | GateMetric::FlakyTests => {
                Unit::Count
            }
            GateMetric::Custom(_) => Unit::Number,
        }
    }

    /// Whether higher values are better, for a new gate's default comparator.
    pub fn higher_is_better(&self) -> bool {
        matches!(
            self,
            GateMetric::TestPassRate
                | GateMetric::LineCoverage
                | GateMetric::BranchCoverage
                | GateMetric::SoakHours
        )
    }
}

impl From<GateMetric> for String {
    fn from(m: GateMetric) -> String {
        m.key()
    }
}

impl TryFrom<String> for GateMetric {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl FromStr for GateMetric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(name) = s.strip_prefix("custom:") {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            return if ok {
                Ok(GateMetric::Custom(name.to_string()))
            } else {
                Err(format!(
                    "`{s}`: a custom metric is `custom:<name>`, the name 1–64 letters, digits, _ - ."
                ))
            };
        }
        GateMetric::BUILT_IN
            .into_iter()
            .find(|m| m.key() == s)
            .ok_or_else(|| {
                format!(
                    "unknown gate metric `{s}` (one of: {}, custom:<name>)",
                    GateMetric::BUILT_IN.map(|m| m.key()).join(", ")
                )
            })
    }
}

/// How a measured value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Fraction,
    Millis,
    Hours,
    Count,
    Number,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Fraction => {
                let pct = v * 100.0;
                if pct != 0.0 && pct.abs() < 1.0 {
                    format!("{pct:.2}%")
                } else {
                    format!("{pct:.1}%")
                }
            }
            Unit::Millis => format!("{v:.0} ms"),
            Unit::Hours => format!("{v:.1} h"),
            Unit::Count => format!("{v:.0}"),
            Unit::Number => {
                if v.fract() == 0.0 && v.abs() < 1e12 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.3}")
                }
            }
        }
    }
}

/// A quality gate of an environment: a band (warn and fail thresholds), a weight, and whether
/// it is a key gate (failing it fails the whole evaluation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub id: i64,
    pub metric: GateMetric,
    pub higher_is_better: bool,
    pub warn: f64,
    pub fail: f64,
    pub weight: f64,
    pub key: bool,
}

/// One gate's outcome in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate_id: i64,
    pub metric: GateMetric,
    pub higher_is_better: bool,
    pub warn: f64,
    pub fail: f64,
    pub weight: f64,
    pub key: bool,
    /// `None`: nothing measured it (counts as a failure).
    pub value: Option<f64>,
    pub level: Level,
    /// Where the value came from, e.g. "run #1234 (a1b2c3d)".
    pub source: String,
}

/// A whole evaluation: each gate, the weighted score (pass = 1, warn = 0.5, fail = 0) and the
/// result: fail when a key gate fails or the score is below the fail score, warn below the pass
/// score, else pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub id: i64,
    pub at: i64,
    pub score: f64,
    pub result: Level,
    pub ci_run_id: Option<i64>,
    pub gates: Vec<GateResult>,
    pub summary: String,
}

/// Who may approve in an environment, and what else must hold before a deployment starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    pub required_approvals: i64,
    /// Roles whose members may approve (empty with no users: approvers and admins).
    pub approver_roles: Vec<String>,
    /// Usernames that may approve whatever their role.
    pub approver_users: Vec<String>,
    /// The requester and the commit authors may approve their own deployment.
    pub allow_self_approval: bool,
    pub wait_timer_s: i64,
    /// Comma-separated glob patterns of allowed branches or tags (`main, release/*, v*`);
    /// empty allows any.
    pub ref_pattern: String,
    /// The release must have succeeded in the previous environment first.
    pub require_previous: bool,
    /// …and stayed there this long.
    pub min_soak_s: i64,
    /// How long health is watched after a success.
    pub monitoring_window_s: i64,
    /// Health samples beyond the rollback triggers roll back on their own.
    pub auto_rollback: bool,
}

impl Default for Protection {
    fn default() -> Self {
        Protection {
            required_approvals: 0,
            approver_roles: Vec::new(),
            approver_users: Vec::new(),
            allow_self_approval: false,
            wait_timer_s: 0,
            ref_pattern: String::new(),
            require_previous: false,
            min_soak_s: 0,
            monitoring_window_s: 3_600,
            auto_rollback: true,
        }
    }
}

/// A time when deployments to an environment do not start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freeze {
    pub id: i64,
    pub kind: FreezeKind,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FreezeKind {
    /// From `starts_at` to `ends_at` (epoch ms).
    Once { starts_at: i64, ends_at: i64 },
    /// Every week, from minute `start` to minute `end` of the week (0 = Monday 00:00 UTC);
    /// `end < start` wraps over the week's end.
    Weekly { start: i64, end: i64 },
}

/// A checklist item of an environment and, on a deployment, who ticked it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub id: i64,
    pub title: String,
    pub ticked_by: Option<String>,
    pub ticked_at: Option<i64>,
}

/// An environment with everything that guards it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub id: i64,
    pub project: String,
    pub name: String,
    pub position: i64,
    pub protection: Protection,
    pub gates: Vec<Gate>,
    pub freezes: Vec<Freeze>,
    pub checklist: Vec<ChecklistItem>,
}

/// A recorded approval or rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub user: String,
    pub display_name: String,
    pub approve: bool,
    pub comment: Option<String>,
    pub at: i64,
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Option<DeployState>,
    pub to: DeployState,
    pub actor: String,
    pub reason: String,
    pub at: i64,
}

/// An admin's override of a failing gate evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub by: String,
    pub reason: String,
    pub at: i64,
}

/// One health sample of a deployment (fractions; latency in ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthSample {
    pub at: i64,
    pub error_rate: Option<f64>,
    pub p95_ms: Option<f64>,
    pub availability: Option<f64>,
    pub smoke_pass_rate: Option<f64>,
    /// Whether the deployer's health check passed.
    pub healthy: Option<bool>,
}

/// A release: a version of a project at a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub project: String,
    pub version: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub ci_run_id: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
}

/// A deployment as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSummary {
    pub id: i64,
    pub project: String,
    pub environment: String,
    pub version: String,
    pub commit_sha: String,
    pub state: DeployState,
    pub strategy: Strategy,
    pub traffic: f64,
    pub requested_by: String,
    pub requested_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The deployment this one rolls back.
    pub rollback_of: Option<i64>,
    pub approvers: Vec<String>,
    pub overridden: bool,
}

/// An earlier release a rollback can return to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackTarget {
    pub release_id: i64,
    pub version: String,
    pub deployment_id: i64,
    pub finished_at: Option<i64>,
}

/// Everything the approval screen shows about one deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub summary: DeploymentSummary,
    pub environment: Environment,
    pub release: Release,
    pub canary_steps: Vec<CanaryStep>,
    pub canary_step: Option<i64>,
    pub step_since: Option<i64>,
    /// Why it is held, in words (`None` when nothing holds it).
    pub hold: Option<String>,
    pub evaluation: Option<Evaluation>,
    pub overrides: Vec<Override>,
    pub approvals: Vec<Approval>,
    /// Approvals still needed.
    pub approvals_needed: i64,
    /// Who may approve, in words.
    pub approvers: String,
    pub transitions: Vec<Transition>,
    pub health: Vec<HealthSample>,
    pub monitor_until: Option<i64>,
    pub waiting_since: Option<i64>,
    /// What is live in the environment (the last success other than this one).
    pub live: Option<DeploymentSummary>,
    /// Release notes of the commits since what is live.
    pub notes: Vec<crate::logic::release::NotesSection>,
    pub rollback_targets: Vec<RollbackTarget>,
    pub rolled_back_by: Option<i64>,
    /// For a rollback: when someone decided to roll back, and when service was restored.
    pub rollback_decided_at: Option<i64>,
    pub failure_reason: Option<String>,
    /// A freeze window in force now: reason and end.
    pub frozen: Option<(String, i64)>,
}

/// An environment of a project on the timeline: what is live there and what is on its way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEnvironment {
    pub project: String,
    pub environment: String,
    pub position: i64,
    /// The latest successful deployment: what users get now.
    pub live: Option<DeploymentSummary>,
    /// Deployments requested or running there, newest first.
    pub open: Vec<DeploymentSummary>,
    /// The rules in a few words (`2 approvals · 5 min timer · 7 gates`).
    pub rules: String,
}

/// A release and where it has gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub release: Release,
    /// `(environment, latest state there, deployment id)`, in promotion order.
    pub environments: Vec<(String, DeployState, i64)>,
}

/// What changed between two releases of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseComparison {
    pub from: Release,
    pub to: Release,
    pub commits: usize,
    pub notes: Vec<crate::logic::release::NotesSection>,
}

/// A finished deployment from elsewhere (demo history, GitHub deployments): written with its
/// own times in one go, as its transitions happened.
#[derive(Debug, Clone, PartialEq)]
pub struct PastDeployment {
    pub environment: String,
    pub version: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub strategy: Strategy,
    pub requested_by: String,
    pub requested_at: i64,
    /// `(username, at)` of approvals given.
    pub approvals: Vec<(String, i64)>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Succeeded, Failed, Cancelled, Rejected or (for a later rollback) RolledBack.
    pub outcome: DeployState,
    pub failure_reason: Option<String>,
    pub health: Vec<HealthSample>,
    /// The deployment it rolls back, with when the rollback was decided.
    pub rollback_of: Option<(i64, i64)>,
    pub github_deployment_id: Option<i64>,
    /// Commits the release brings, for its notes: `(sha, message, author, committed at)`.
    pub commits: Vec<(String, String, Option<String>, i64)>,
}

/// What the signed-in person may do on a deployment page, worked out by the server (the
/// buttons follow it; the server checks again on every action). `None` allows; `Some` says why
/// not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRights {
    pub approve: Option<String>,
    pub reject: Option<String>,
    pub is_admin: bool,
    /// Approvers and admins tick checklist items and may roll back.
    pub can_operate: bool,
}

/// Filters of the deployments timeline; `None` means any. Kept in the page's URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFilter {
    pub project: Option<String>,
    pub environment: Option<String>,
    pub state: Option<String>,
    /// Only deployments older than this id (paging backwards).
    pub before_id: Option<i64>,
}

/// The deployments timeline: what is live where, then the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub live: Vec<LiveEnvironment>,
    pub history: Vec<DeploymentSummary>,
    pub next_before_id: Option<i64>,
}

/// Everything a deployment's page shows, with what the viewer may do and the health chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentPageData {
    pub detail: DeploymentDetail,
    pub rights: DecisionRights,
    /// The monitoring chart (SVG drawn on the server), empty without samples.
    pub health_svg: String,
    /// The server's clock when the page was read (timers count from it).
    pub now: i64,
    pub stamp: String,
    pub repository_url: Option<String>,
    /// The failure-risk score of the run that built the release, by the active version.
    pub risk: Option<crate::model::RunRisk>,
}
