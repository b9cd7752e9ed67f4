//! The failure-risk predictor as the pages and the API see it: model versions, alerts, and the
//! scored runs a calibration report is computed from. Scores and rates are fractions.

use crate::logic::predictor::{HeldOut, ModelParams};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a model version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelState {
    /// Scores every run and stores it; raises no alerts.
    Shadow,
    /// The project's one alerting model.
    Active,
    /// Replaced; it can be made active again in one click.
    Retired,
}

impl ModelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelState::Shadow => "shadow",
            ModelState::Active => "active",
            ModelState::Retired => "retired",
        }
    }
}

impl fmt::Display for ModelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shadow" => Ok(ModelState::Shadow),
            "active" => Ok(ModelState::Active),
            "retired" => Ok(ModelState::Retired),
            other => Err(format!("unknown model state `{other}`")),
        }
    }
}

/// Finished runs of each outcome a version must have scored before it may be promoted, so
/// that the intervals of its detection and false-positive rates rest on enough samples.
pub const PROMOTE_MIN_PER_CLASS: i64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub id: i64,
    pub project: String,
    pub version: i64,
    pub state: ModelState,
    pub params: ModelParams,
    /// Scores at or above this raise an alert (when active).
    pub threshold: f64,
    /// Runs it scores before it may alert or be promoted.
    pub calibration_runs: i64,
    pub train_from: Option<i64>,
    pub train_to: Option<i64>,
    pub held_out: Option<HeldOut>,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
    pub promoted_at: Option<i64>,
    pub retired_at: Option<i64>,
    /// Runs scored, and finished ones among them by outcome.
    pub scored: i64,
    pub scored_failed: i64,
    pub scored_passed: i64,
}

impl ModelVersion {
    pub fn kind(&self) -> &'static str {
        self.params.kind()
    }

    /// Why it may not be promoted yet, if it may not.
    pub fn not_ready(&self) -> Option<String> {
        if self.state == ModelState::Active {
            return Some("it is already active".into());
        }
        if self.promoted_at.is_some() {
            return None; // it was active before: one click brings it back
        }
        let finished = self.scored_failed + self.scored_passed;
        if finished < self.calibration_runs {
            return Some(format!(
                "its calibration period is {} finished runs; it has scored {finished}",
                self.calibration_runs
            ));
        }
        if self.scored_failed < PROMOTE_MIN_PER_CLASS || self.scored_passed < PROMOTE_MIN_PER_CLASS
        {
            return Some(format!(
                "its report needs at least {PROMOTE_MIN_PER_CLASS} failed and {PROMOTE_MIN_PER_CLASS} green runs for confidence intervals; it has {} and {}",
                self.scored_failed, self.scored_passed
            ));
        }
        None
    }

    pub fn label(&self) -> String {
        format!("v{} {} ({})", self.version, self.kind(), self.state)
    }
}

/// A run a model scored, with its outcome once known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredRun {
    pub run_id: i64,
    /// When the run started (or was reported).
    pub at: i64,
    pub score: f64,
    pub failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Risk,
    Drift,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAlert {
    pub id: i64,
    pub project: String,
    pub kind: AlertKind,
    pub run_id: Option<i64>,
    pub run_external_id: Option<String>,
    pub model_version: Option<i64>,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
}

/// Two versions' reports over the same runs (those both scored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub other: ModelVersion,
    pub this_report: crate::logic::report::Report,
    pub other_report: crate::logic::report::Report,
}

/// Everything the calibration page and the calibration API show for one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationView {
    pub project: String,
    pub model: ModelVersion,
    pub report: crate::logic::report::Report,
    pub compare: Option<Comparison>,
    /// Feature drift between the baseline window (the training window of a learned version,
    /// else the eight weeks before the recent window) and the recent two weeks.
    pub drift: Vec<crate::logic::drift::FeatureDrift>,
    pub drift_baseline: (i64, i64),
    pub drift_recent: (i64, i64),
}

/// The calibration page: the filters as chosen, the report, its charts and what the signed-in
/// person may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPageData {
    pub projects: Vec<String>,
    pub project: String,
    pub days: i64,
    pub binning: crate::logic::calibration::Binning,
    pub models: Vec<ModelVersion>,
    /// `None` when the project has no scored run yet.
    pub view: Option<CalibrationView>,
    /// The scores of failed and of passed runs, each ascending, for the threshold slider.
    pub failed_scores: Vec<f64>,
    pub passed_scores: Vec<f64>,
    /// SVG charts: reliability, histogram, roc, pr, weekly.
    pub charts: Vec<(String, String)>,
    pub alerts: Vec<RiskAlert>,
    /// The lines of the newest rules version (or the seeds'), for the editor.
    pub rules_lines: String,
    pub last_retrain: Option<(i64, String)>,
    /// Reviewers and above tune thresholds, promote versions, retrain and acknowledge alerts.
    pub can_tune: bool,
    pub now: i64,
}

/// The active version's score of one run, as the run and deployment pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRisk {
    pub run_id: i64,
    pub score: f64,
    pub version: i64,
    pub threshold: f64,
    pub features: crate::logic::predictor::FeatureValues,
    pub alert: Option<RiskAlert>,
}
