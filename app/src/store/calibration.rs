//! Calibration reports and drift, computed from the store's rows for the page, the API and
//! the background job alike (one function, so every view agrees).

use super::predictor::{model, model_by_version, models, samples, scored_runs};
use super::{Db, StoreError, StoreResult};
use crate::logic::calibration::Binning;
use crate::logic::drift::features_drift;
use crate::logic::predictor::{FeatureValues, ModelParams, FEATURES};
use crate::logic::report::{build, Report};
use crate::model::{CalibrationView, Comparison, ModelState, ModelVersion, ScoredRun};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, Weak};

const DAY: i64 = 86_400_000;
/// The recent window drift looks at.
pub const RECENT_DAYS: i64 = 14;
/// The baseline of a rules version (which has no training window), before the recent window.
pub const BASELINE_DAYS: i64 = 56;
/// How long a view reuses a version's drift: two weeks of runs against their baseline move
/// little in ten minutes, and the job checks drift for alerts on its own schedule.
pub const DRIFT_REUSE_MS: i64 = 10 * 60_000;

type Drift = (
    Vec<crate::logic::drift::FeatureDrift>,
    (i64, i64),
    (i64, i64),
);

/// The drift views computed last, per database and version: the pool's handle, `to`, result.
#[allow(clippy::type_complexity)]
static DRIFT_SEEN: LazyLock<
    Mutex<HashMap<(usize, i64), (Weak<dyn std::any::Any + Send + Sync>, i64, Drift)>>,
> = LazyLock::new(|| Mutex::new(HashMap::new()));

#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    /// A version number of the project; the active version when `None`.
    pub version: Option<i64>,
    pub from: i64,
    pub to: i64,
    /// The version's own threshold when `None`.
    pub threshold: Option<f64>,
    pub binning: Binning,
    pub bins: usize,
    /// Another version to compare with on the runs both scored.
    pub compare: Option<i64>,
}

/// The version a query names, or the active one.
pub async fn pick_model(
    db: &Db,
    project_id: i64,
    version: Option<i64>,
) -> StoreResult<ModelVersion> {
    match version {
        Some(v) => model_by_version(db, project_id, v).await,
        None => models(db, project_id)
            .await?
            .into_iter()
            .find(|m| m.state == ModelState::Active)
            .ok_or_else(|| StoreError::NotFound("the project has no active model yet".into())),
    }
}

pub async fn calibration(
    db: &Db,
    project_id: i64,
    slug: &str,
    q: &ReportQuery,
) -> StoreResult<CalibrationView> {
    if q.to <= q.from {
        return Err(StoreError::Invalid(
            "the range ends before it starts".into(),
        ));
    }
    if !(2..=50).contains(&q.bins) {
        return Err(StoreError::Invalid(format!(
            "bins: 2 to 50 (got {})",
            q.bins
        )));
    }
    if let Some(t) = q.threshold {
        if !(0.0..=1.0).contains(&t) || t.is_nan() {
            return Err(StoreError::Invalid(format!(
                "threshold: a score between 0 and 1 (got {t})"
            )));
        }
    }
    let m = pick_model(db, project_id, q.version).await?;
    let threshold = q.threshold.unwrap_or(m.threshold);
    let runs = scored_runs(db, m.id, q.from, q.to).await?;
    let report = build(&runs, q.from, q.to, threshold, q.binning, q.bins);
    let compare = match q.compare {
        Some(v) if v != m.version => {
            let other = model_by_version(db, project_id, v).await?;
            let theirs = scored_runs(db, other.id, q.from, q.to).await?;
            let by_run: HashMap<i64, ScoredRun> =
                theirs.into_iter().map(|r| (r.run_id, r)).collect();
            let (mine, theirs): (Vec<ScoredRun>, Vec<ScoredRun>) = runs
                .iter()
                .filter_map(|r| by_run.get(&r.run_id).map(|o| (*r, *o)))
                .unzip();
            Some(Comparison {
                this_report: build(&mine, q.from, q.to, threshold, q.binning, q.bins),
                other_report: build(&theirs, q.from, q.to, other.threshold, q.binning, q.bins),
                other,
            })
        }
        _ => None,
    };
    let (drift, baseline, recent) = drift_cached(db, project_id, &m, q.to).await?;
    Ok(CalibrationView {
        project: slug.to_string(),
        model: m,
        report,
        compare,
        drift,
        drift_baseline: baseline,
        drift_recent: recent,
    })
}

/// [`drift_of`] as of `to`, or as of up to [`DRIFT_REUSE_MS`] before it when a view or the
/// drift job computed that already (the view shows the windows it used).
pub async fn drift_cached(
    db: &Db,
    project_id: i64,
    m: &ModelVersion,
    to: i64,
) -> StoreResult<Drift> {
    let (id, handle) = db.identity();
    let key = (id, m.id);
    {
        let mut seen = DRIFT_SEEN.lock().expect("drift lock");
        seen.retain(|_, e| e.0.strong_count() > 0);
        if let Some((_, at, drift)) = seen.get(&key) {
            if *at <= to && to - *at < DRIFT_REUSE_MS {
                return Ok(drift.clone());
            }
        }
    }
    let drift = drift_of(db, project_id, m, to).await?;
    let mut seen = DRIFT_SEEN.lock().expect("drift lock");
    if seen.len() >= 256 {
        seen.clear();
    }
    seen.insert(key, (handle, to, drift.clone()));
    Ok(drift)
}

/// Per-feature drift of the project's runs for `m`, as of `to`.
pub async fn drift_of(db: &Db, project_id: i64, m: &ModelVersion, to: i64) -> StoreResult<Drift> {
    let recent = (to - RECENT_DAYS * DAY, to);
    let baseline = match (&m.params, m.train_from, m.train_to) {
        (ModelParams::Learned(_), Some(a), Some(b)) => (a, b),
        _ => (recent.0 - BASELINE_DAYS * DAY, recent.0),
    };
    let base_rows = samples(db, project_id, baseline.0, baseline.1).await?;
    let recent_rows = samples(db, project_id, recent.0, recent.1).await?;
    let base: Vec<&FeatureValues> = base_rows.iter().map(|r| &r.2.features).collect();
    let rec: Vec<&FeatureValues> = recent_rows.iter().map(|r| &r.2.features).collect();
    let keys: Vec<&str> = FEATURES.iter().map(|f| f.key).collect();
    Ok((features_drift(&keys, &base, &rec), baseline, recent))
}

/// A version's report with default settings (for the job's alert checks).
pub async fn quick_report(db: &Db, model_id: i64, from: i64, to: i64) -> StoreResult<Report> {
    let m = model(db, model_id).await?;
    let runs = scored_runs(db, m.id, from, to).await?;
    Ok(build(&runs, from, to, m.threshold, Binning::Uniform, 10))
}
