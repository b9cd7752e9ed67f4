//! A calibration report of one model version over a set of finished runs: every metric the
//! calibration page and `GET /api/v1/projects/{p}/calibration` show. The figures at a
//! threshold ([`AtThreshold`]) are computed from two sorted score lists, so the browser
//! recomputes them for every slider position in microseconds.

use super::calibration::{
    brier, counts_at_thresholds, ece, reliability, roc_auc, wilson, Bin, Binning,
};
use crate::model::ScoredRun;
use serde::{Deserialize, Serialize};

const WEEK_MS: i64 = 7 * 86_400_000;

/// The seeds' calibration targets.
pub mod targets {
    /// False-positive rate FP/(FP+TN) below 15 %.
    pub const FALSE_POSITIVE_RATE: f64 = 0.15;
    /// False-negative rate FN/(FN+TP) below 10 %.
    pub const FALSE_NEGATIVE_RATE: f64 = 0.10;
    /// Alert accuracy (precision) TP/(TP+FP) above 85 %.
    pub const ALERT_ACCURACY: f64 = 0.85;
    /// Failure detection (recall) TP/(TP+FN) at least 90 %.
    pub const FAILURE_DETECTION: f64 = 0.90;
    /// False alerts FP/(TP+FP) below 10 %.
    pub const FALSE_ALERTS: f64 = 0.10;
}

/// A rate with its 95 % Wilson interval and whether it meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// `None` when the denominator is zero.
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub numerator: usize,
    pub denominator: usize,
    pub target: f64,
    /// True when a higher value is better (the target is a floor).
    pub higher_is_better: bool,
    /// Whether the value meets the target; `None` without a value.
    pub meets: Option<bool>,
}

impl Rate {
    fn new(
        numerator: usize,
        denominator: usize,
        target: f64,
        higher_is_better: bool,
        strict: bool,
    ) -> Rate {
        let value = (denominator > 0).then(|| numerator as f64 / denominator as f64);
        let ci = wilson(numerator, denominator);
        Rate {
            value,
            low: ci.map(|c| c.0),
            high: ci.map(|c| c.1),
            numerator,
            denominator,
            target,
            higher_is_better,
            meets: value.map(|v| match (higher_is_better, strict) {
                (true, true) => v > target,
                (true, false) => v >= target,
                (false, _) => v < target,
            }),
        }
    }
}

/// The confusion matrix and the seeds' rates when alerting at `threshold` (score ≥ threshold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AtThreshold {
    pub threshold: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
    pub false_positive_rate: Rate,
    pub false_negative_rate: Rate,
    pub alert_accuracy: Rate,
    pub failure_detection: Rate,
    pub false_alerts: Rate,
    /// False alerts per week over the report's time range.
    pub false_alerts_per_week: Option<f64>,
}

impl AtThreshold {
    /// From the failed runs' and passed runs' scores, each sorted ascending.
    pub fn compute(
        failed_sorted: &[f64],
        passed_sorted: &[f64],
        threshold: f64,
        weeks: f64,
    ) -> AtThreshold {
        let at_or_above = |s: &[f64]| s.len() - s.partition_point(|v| *v < threshold);
        let tp = at_or_above(failed_sorted);
        let fp = at_or_above(passed_sorted);
        let fn_ = failed_sorted.len() - tp;
        let tn = passed_sorted.len() - fp;
        AtThreshold {
            threshold,
            tp,
            fp,
            tn,
            fn_,
            false_positive_rate: Rate::new(fp, fp + tn, targets::FALSE_POSITIVE_RATE, false, false),
            false_negative_rate: Rate::new(
                fn_,
                fn_ + tp,
                targets::FALSE_NEGATIVE_RATE,
                false,
                false,
            ),
            alert_accuracy: Rate::new(tp, tp + fp, targets::ALERT_ACCURACY, true, true),
            failure_detection: Rate::new(tp, tp + fn_, targets::FAILURE_DETECTION, true, false),
            false_alerts: Rate::new(fp, tp + fp, targets::FALSE_ALERTS, false, false),
            false_alerts_per_week: (weeks > 0.0).then(|| fp as f64 / weeks),
        }
    }

    /// Every target met (rates without a value do not count as met).
    pub fn all_met(&self) -> bool {
        [
            self.false_positive_rate,
            self.false_negative_rate,
            self.alert_accuracy,
            self.failure_detection,
            self.false_alerts,
        ]
        .iter()
        .all(|r| r.meets == Some(true))
    }
}

/// One bar pair of the score histogram: runs whose score falls in `[lo, lo + width)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    pub lo: f64,
    pub hi: f64,
    pub failed: usize,
    pub passed: usize,
}

/// A week's mean predicted failure probability against its observed failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Week {
    pub start: i64,
    pub runs: usize,
    pub predicted: f64,
    pub observed: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub samples: usize,
    pub failed: usize,
    pub passed: usize,
    pub from: i64,
    pub to: i64,
    pub weeks: f64,
    pub brier: Option<f64>,
    pub ece: Option<f64>,
    pub roc_auc: Option<f64>,
    /// Area under the precision–recall curve (average precision, as scikit-learn's).
    pub average_precision: Option<f64>,
    pub binning: Binning,
    pub reliability: Vec<Bin>,
    pub histogram: Vec<HistogramBin>,
    /// ROC points `(false-positive rate, true-positive rate)` from (0, 0) to (1, 1).
    pub roc: Vec<(f64, f64)>,
    /// Precision–recall points `(recall, precision)`.
    pub pr: Vec<(f64, f64)>,
    pub at_threshold: AtThreshold,
    pub weekly: Vec<Week>,
    /// Mean absolute percentage error of the weekly predicted against observed failure rate.
    pub weekly_mape: Option<f64>,
}

/// Curves are thinned to about this many points for drawing (metrics use every sample).
const CURVE_POINTS: usize = 400;

fn thin<T: Copy>(points: Vec<T>) -> Vec<T> {
    if points.len() <= CURVE_POINTS {
        return points;
    }
    let step = points.len() as f64 / CURVE_POINTS as f64;
    let mut out: Vec<T> = (0..CURVE_POINTS)
        .map(|i| points[(i as f64 * step) as usize])
        .collect();
    out.push(*points.last().expect("non-empty"));
    out
}

/// The report over `runs` (finished, any order) at `threshold` for the range `[from, to)`.
pub fn build(
    runs: &[ScoredRun],
    from: i64,
    to: i64,
    threshold: f64,
    binning: Binning,
    n_bins: usize,
) -> Report {
    // Sorted by score once: every sort below (quantiles, ranks, thresholds, the slider's lists)
    // then meets ordered input, which Rust's sorts finish in linear time.
    let mut by_score = runs.to_vec();
    by_score.sort_unstable_by(|a, b| a.score.total_cmp(&b.score));
    let runs = &by_score[..];
    let outcomes: Vec<bool> = runs.iter().map(|r| r.failed).collect();
    let scores: Vec<f64> = runs.iter().map(|r| r.score).collect();
    let failed = outcomes.iter().filter(|f| **f).count();
    let passed = runs.len() - failed;
    let bins = reliability(&outcomes, &scores, n_bins, binning);
    let weeks = ((to - from).max(0) as f64) / WEEK_MS as f64;
    let (failed_sorted, passed_sorted) = split_sorted(runs);
    // Histogram: 20 equal bins over [0, 1], the last one closed.
    let mut histogram: Vec<HistogramBin> = (0..20)
        .map(|i| HistogramBin {
            lo: i as f64 / 20.0,
            hi: (i + 1) as f64 / 20.0,
            failed: 0,
            passed: 0,
        })
        .collect();
    for r in runs {
        let i = ((r.score * 20.0).floor() as usize).min(19);
        if r.failed {
            histogram[i].failed += 1;
        } else {
            histogram[i].passed += 1;
        }
    }
    let points = counts_at_thresholds(&outcomes, &scores);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = Vec::new();
    let mut average_precision = None;
    if failed > 0 && passed > 0 {
        let mut ap = 0.0;
        let mut prev_recall = 0.0;
        for &(_, tp, fp) in &points {
            roc.push((fp as f64 / passed as f64, tp as f64 / failed as f64));
            let recall = tp as f64 / failed as f64;
            let precision = tp as f64 / (tp + fp) as f64;
            ap += (recall - prev_recall) * precision;
            prev_recall = recall;
            pr.push((recall, precision));
        }
        average_precision = Some(ap);
    }
    // Weekly predicted against observed, weeks counted from `from`.
    let mut weekly: Vec<Week> = Vec::new();
    if to > from {
        let n_weeks = ((to - from) as f64 / WEEK_MS as f64).ceil() as usize;
        let mut sums = vec![(0usize, 0.0f64, 0usize); n_weeks.max(1)];
        for r in runs {
            let w = (((r.at - from).max(0)) / WEEK_MS) as usize;
            if let Some(s) = sums.get_mut(w) {
                s.0 += 1;
                s.1 += r.score;
                s.2 += r.failed as usize;
            }
        }
        weekly = sums
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 > 0)
            .map(|(i, s)| Week {
                start: from + i as i64 * WEEK_MS,
                runs: s.0,
                predicted: s.1 / s.0 as f64,
                observed: s.2 as f64 / s.0 as f64,
            })
            .collect();
    }
    let pairs: Vec<(f64, f64)> = weekly.iter().map(|w| (w.predicted, w.observed)).collect();
    Report {
        samples: runs.len(),
        failed,
        passed,
        from,
        to,
        weeks,
        brier: brier(&outcomes, &scores),
        ece: ece(&bins),
        roc_auc: roc_auc(&outcomes, &scores),
        average_precision,
        binning,
        reliability: bins,
        histogram,
        roc: thin(roc),
        pr: thin(pr),
        at_threshold: AtThreshold::compute(&failed_sorted, &passed_sorted, threshold, weeks),
        weekly_mape: super::drift::mape(&pairs),
        weekly,
    }
}

/// The failed runs' and the passed runs' scores, each sorted ascending.
pub fn split_sorted(runs: &[ScoredRun]) -> (Vec<f64>, Vec<f64>) {
    let mut failed: Vec<f64> = runs.iter().filter(|r| r.failed).map(|r| r.score).collect();
    let mut passed: Vec<f64> = runs.iter().filter(|r| !r.failed).map(|r| r.score).collect();
    failed.sort_by(f64::total_cmp);
    passed.sort_by(f64::total_cmp);
    (failed, passed)
}

/// The report as one CSV table (`section,item,value,value2,count,low,high,target,meets`):
/// summary figures, the figures at the threshold with their intervals and targets, and every
/// point of the charts and of the drift table, so nothing on the page is missing from it.
pub fn to_csv(view: &crate::model::CalibrationView) -> String {
    const COLUMNS: usize = 9;
    let r = &view.report;
    let mut out = String::from("section,item,value,value2,count,low,high,target,meets\n");
    // One row; cells left out at the end are empty.
    let mut row = |cells: &[String]| {
        let mut quoted: Vec<String> = cells
            .iter()
            .map(|c| {
                if c.contains([',', '"', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        quoted.resize(COLUMNS, String::new());
        out.push_str(&quoted.join(","));
        out.push('\n');
    };
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let s = |v: &str| v.to_string();
    row(&[
        s("model"),
        s("version"),
        view.model.version.to_string(),
        s(view.model.kind()),
    ]);
    row(&[s("range"), s("from_ms"), r.from.to_string()]);
    row(&[s("range"), s("to_ms"), r.to.to_string()]);
    for (k, v) in [
        ("samples", Some(r.samples as f64)),
        ("failed", Some(r.failed as f64)),
        ("passed", Some(r.passed as f64)),
        ("brier", r.brier),
        ("ece", r.ece),
        ("roc_auc", r.roc_auc),
        ("average_precision", r.average_precision),
        ("weekly_mape", r.weekly_mape),
    ] {
        row(&[s("summary"), s(k), num(v)]);
    }
    let t = &r.at_threshold;
    row(&[s("threshold"), s("threshold"), t.threshold.to_string()]);
    for (k, v) in [("tp", t.tp), ("fp", t.fp), ("tn", t.tn), ("fn", t.fn_)] {
        row(&[s("threshold"), s(k), v.to_string()]);
    }
    for (k, rate) in [
        ("false_positive_rate", t.false_positive_rate),
        ("false_negative_rate", t.false_negative_rate),
        ("alert_accuracy", t.alert_accuracy),
        ("failure_detection", t.failure_detection),
        ("false_alerts", t.false_alerts),
    ] {
        row(&[
            s("threshold"),
            s(k),
            num(rate.value),
            rate.numerator.to_string(),
            rate.denominator.to_string(),
            num(rate.low),
            num(rate.high),
            rate.target.to_string(),
            rate.meets.map(|m| m.to_string()).unwrap_or_default(),
        ]);
    }
    row(&[
        s("threshold"),
        s("false_alerts_per_week"),
        num(t.false_alerts_per_week),
    ]);
    for (i, b) in r.reliability.iter().enumerate() {
        row(&[
            s("reliability"),
            i.to_string(),
            b.predicted.to_string(),
            b.observed.to_string(),
            b.count.to_string(),
        ]);
    }
    for h in &r.histogram {
        row(&[
            s("histogram"),
            format!("{}-{}", h.lo, h.hi),
            h.failed.to_string(),
            h.passed.to_string(),
            (h.failed + h.passed).to_string(),
        ]);
    }
    for (section, points) in [("roc", &r.roc), ("pr", &r.pr)] {
        for (i, p) in points.iter().enumerate() {
            row(&[s(section), i.to_string(), p.0.to_string(), p.1.to_string()]);
        }
    }
    for w in &r.weekly {
        row(&[
            s("weekly"),
            w.start.to_string(),
            w.predicted.to_string(),
            w.observed.to_string(),
            w.runs.to_string(),
        ]);
    }
    for d in &view.drift {
        row(&[
            s("drift"),
            d.feature.clone(),
            num(d.psi),
            num(d.ks.map(|k| k.statistic)),
            format!("{}/{}", d.baseline, d.recent),
            num(d.ks.and_then(|k| k.p_value)),
            String::new(),
            super::drift::PSI_ALERT.to_string(),
            (d.band < 2).to_string(),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(score: f64, failed: bool) -> ScoredRun {
        ScoredRun {
            run_id: 0,
            at: 0,
            score,
            failed,
        }
    }

    #[test]
    fn confusion_matrix_and_rates_by_hand() {
        // Failed: 0.9 0.8 0.4; passed: 0.7 0.3 0.2 0.1. At 0.5: TP 2, FN 1, FP 1, TN 3.
        let (f, p) = split_sorted(&[
            run(0.9, true),
            run(0.8, true),
            run(0.4, true),
            run(0.7, false),
            run(0.3, false),
            run(0.2, false),
            run(0.1, false),
        ]);
        let at = AtThreshold::compute(&f, &p, 0.5, 2.0);
        assert_eq!((at.tp, at.fp, at.tn, at.fn_), (2, 1, 3, 1));
        assert_eq!(at.false_positive_rate.value, Some(0.25));
        assert_eq!(at.false_negative_rate.value, Some(1.0 / 3.0));
        assert_eq!(at.alert_accuracy.value, Some(2.0 / 3.0));
        assert_eq!(at.failure_detection.value, Some(2.0 / 3.0));
        assert_eq!(at.false_alerts.value, Some(1.0 / 3.0));
        assert_eq!(at.false_alerts_per_week, Some(0.5));
        assert_eq!(at.failure_detection.meets, Some(false));
        assert!(!at.all_met());
        // A score equal to the threshold alerts.
        let at = AtThreshold::compute(&f, &p, 0.4, 2.0);
        assert_eq!(at.tp, 3);
        // Above every score: no alerts, precision undefined.
        let none = AtThreshold::compute(&f, &p, 0.95, 2.0);
        assert_eq!(none.alert_accuracy.value, None);
        assert_eq!(none.alert_accuracy.meets, None);
        assert_eq!(none.false_positive_rate.meets, Some(true));
    }

    #[test]
    fn perfect_separation_meets_every_target() {
        let runs: Vec<ScoredRun> = (0..100)
            .map(|i| run(if i < 30 { 0.9 } else { 0.1 }, i < 30))
            .collect();
        let r = build(&runs, 0, WEEK_MS * 2, 0.5, Binning::Uniform, 10);
        assert!(r.at_threshold.all_met());
        assert_eq!(r.roc_auc, Some(1.0));
        assert_eq!(r.average_precision, Some(1.0));
        assert_eq!(r.samples, 100);
        assert_eq!(
            r.histogram
                .iter()
                .map(|h| h.failed + h.passed)
                .sum::<usize>(),
            100
        );
        assert_eq!(r.histogram[18].failed, 30);
        assert_eq!(r.roc.last(), Some(&(1.0, 1.0)));
    }

    #[test]
    fn csv_rows_have_every_column_and_quote_commas() {
        use crate::logic::predictor::{ModelParams, RulesModel};
        use crate::model::{CalibrationView, ModelState, ModelVersion};
        let runs: Vec<ScoredRun> = (0..40)
            .map(|i| run((i % 10) as f64 / 10.0, i % 3 == 0))
            .collect();
        let view = CalibrationView {
            project: "shop".into(),
            model: ModelVersion {
                id: 1,
                project: "shop".into(),
                version: 3,
                state: ModelState::Active,
                params: ModelParams::Rules(RulesModel::seeds()),
                threshold: 0.5,
                calibration_runs: 14,
                train_from: None,
                train_to: None,
                held_out: None,
                note: String::new(),
                created_by: "x".into(),
                created_at: 0,
                promoted_at: None,
                retired_at: None,
                scored: 40,
                scored_failed: 14,
                scored_passed: 26,
            },
            report: build(&runs, 0, WEEK_MS, 0.5, Binning::Uniform, 10),
            compare: None,
            drift: vec![crate::logic::drift::FeatureDrift {
                feature: "a,b".into(),
                baseline: 5,
                recent: 6,
                ks: None,
                psi: Some(0.3),
                band: 2,
            }],
            drift_baseline: (0, 1),
            drift_recent: (1, 2),
        };
        let csv = to_csv(&view);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "model,version,3,rules,,,,,");
        assert!(lines.contains(&"summary,samples,40,,,,,,"));
        // Failed runs are i % 3 == 0; scoring ≥ 0.5 needs i % 10 ≥ 5: i = 6, 9, 15, 18, 27, 36, 39.
        assert!(lines.contains(&"threshold,tp,7,,,,,,"), "{csv}");
        assert!(csv.contains("drift,\"a,b\",0.3,,5/6,,,0.25,false"), "{csv}");
        // Every row has nine cells, counting a quoted comma as part of its cell.
        for l in &lines {
            let cells = l.replace("\"a,b\"", "ab").split(',').count();
            assert_eq!(cells, 9, "{l}");
        }
    }

    #[test]
    fn weekly_rates_and_mape() {
        let mut runs = Vec::new();
        for i in 0..10 {
            runs.push(ScoredRun {
                run_id: i,
                at: 1000,
                score: 0.2,
                failed: i < 4,
            }); // week 0: predicted 0.2, observed 0.4
        }
        for i in 0..10 {
            runs.push(ScoredRun {
                run_id: 10 + i,
                at: WEEK_MS + 5,
                score: 0.3,
                failed: i < 3,
            }); // week 1: predicted 0.3, observed 0.3
        }
        let r = build(&runs, 0, 2 * WEEK_MS, 0.5, Binning::Quantile, 10);
        assert_eq!(r.weekly.len(), 2);
        assert!((r.weekly[0].observed - 0.4).abs() < 1e-12);
        assert!((r.weekly_mape.unwrap() - 0.25).abs() < 1e-12);
        // One class only: no AUC, no curves, but the counts still add up.
        let one: Vec<ScoredRun> = (0..5).map(|_| run(0.3, false)).collect();
        let r = build(&one, 0, WEEK_MS, 0.5, Binning::Uniform, 10);
        assert_eq!(r.roc_auc, None);
        assert_eq!(r.at_threshold.tn, 5);
        assert!(build(&[], 0, WEEK_MS, 0.5, Binning::Uniform, 10)
            .brier
            .is_none());
    }
}
