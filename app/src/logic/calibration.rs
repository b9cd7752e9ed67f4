//! Calibration metrics of the failure-risk predictor, pure so the browser computes them too:
//! the reliability curve (uniform or quantile bins, as scikit-learn's `calibration_curve`),
//! Brier score, expected calibration error, ROC AUC, the precision–recall curve (as
//! `precision_recall_curve`) and Wilson intervals. `outcomes` are `true` for a failed run (the
//! positive class); `scores` are in [0, 1]. The reference numbers in
//! `server/tests/it/calibration_reference.json` come from scikit-learn
//! (`scripts/calibration-reference.py`) and are matched to 1e-9.

use serde::{Deserialize, Serialize};

/// How the reliability diagram bins scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binning {
    /// Equal-width bins over [0, 1].
    Uniform,
    /// Bins holding about as many samples each (edges at the scores' quantiles).
    Quantile,
}

/// One non-empty bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// The observed failure rate of the bin's runs.
    pub observed: f64,
    /// The mean score of the bin's runs.
    pub predicted: f64,
    pub count: usize,
}

/// `n + 1` evenly spaced values from 0 to 1, computed as NumPy's `linspace` does.
fn linspace01(n: usize) -> Vec<f64> {
    let step = 1.0 / n as f64;
    let mut v: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
    v[n] = 1.0;
    v
}

/// The `q`-th fraction quantile of sorted `a`, linear interpolation (NumPy's default).
pub(crate) fn quantile_sorted(a: &[f64], q: f64) -> f64 {
    let last = a.len() - 1;
    let at = q * last as f64;
    let lo = (at.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let t = at - lo as f64;
    let (x, y) = (a[lo], a[hi]);
    let d = y - x;
    // NumPy's `_lerp`: from the nearer end, so the ends are exact.
    if t >= 0.5 {
        y - d * (1.0 - t)
    } else {
        x + d * t
    }
}

/// The reliability curve: the non-empty bins in order. Empty input gives no bins.
pub fn reliability(outcomes: &[bool], scores: &[f64], n_bins: usize, binning: Binning) -> Vec<Bin> {
    if scores.is_empty() || n_bins == 0 {
        return Vec::new();
    }
    let edges = match binning {
        Binning::Uniform => linspace01(n_bins),
        Binning::Quantile => {
            let mut sorted = scores.to_vec();
            sorted.sort_by(f64::total_cmp);
            linspace01(n_bins)
                .into_iter()
                .map(|q| quantile_sorted(&sorted, q))
                .collect()
        }
    };
    let inner = &edges[1..n_bins];
    let mut sums = vec![0.0; n_bins];
    let mut trues = vec![0.0; n_bins];
    let mut totals = vec![0usize; n_bins];
    for (&s, &y) in scores.iter().zip(outcomes) {
        // NumPy's `searchsorted(inner, s)` (left): the number of inner edges below s.
        let bin = inner.partition_point(|&e| e < s);
        sums[bin] += s;
        if y {
            trues[bin] += 1.0;
        }
        totals[bin] += 1;
    }
    (0..n_bins)
        .filter(|&b| totals[b] > 0)
        .map(|b| Bin {
            observed: trues[b] / totals[b] as f64,
            predicted: sums[b] / totals[b] as f64,
            count: totals[b],
        })
        .collect()
}

/// Mean squared difference between score and outcome; `None` without samples.
pub fn brier(outcomes: &[bool], scores: &[f64]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let sum: f64 = scores
        .iter()
        .zip(outcomes)
        .map(|(&s, &y)| {
            let d = s - if y { 1.0 } else { 0.0 };
            d * d
        })
        .sum();
    Some(sum / scores.len() as f64)
}

/// Expected calibration error: the bins' |observed − predicted| weighted by their share of
/// samples.
pub fn ece(bins: &[Bin]) -> Option<f64> {
    let n: usize = bins.iter().map(|b| b.count).sum();
    (n > 0).then(|| {
        bins.iter()
            .map(|b| (b.observed - b.predicted).abs() * b.count as f64)
            .sum::<f64>()
            / n as f64
    })
}

/// Area under the ROC curve: the chance a failed run scores above a passed one, ties counting
/// half (midranks). `None` unless both outcomes occur.
pub fn roc_auc(outcomes: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = outcomes.iter().filter(|&&y| y).count();
    let neg = outcomes.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * idx[i..=j].iter().filter(|&&k| outcomes[k]).count() as f64;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// True and false positives when alerting at each distinct score, highest first:
/// `(threshold, tp, fp)`.
pub fn counts_at_thresholds(outcomes: &[bool], scores: &[f64]) -> Vec<(f64, usize, usize)> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (k, &i) in idx.iter().enumerate() {
        if outcomes[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_value = idx.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_value {
            out.push((scores[i], tp, fp));
        }
    }
    out
}

/// The precision–recall curve as scikit-learn's `precision_recall_curve`: precision and recall
/// per threshold (thresholds ascending), then the point (recall 0, precision 1) that has no
/// threshold. Without failed runs, recall is 1 throughout.
pub fn precision_recall(outcomes: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let points = counts_at_thresholds(outcomes, scores);
    let total_pos = points.last().map(|p| p.1).unwrap_or(0);
    let mut precision = Vec::with_capacity(points.len() + 1);
    let mut recall = Vec::with_capacity(points.len() + 1);
    let mut thresholds = Vec::with_capacity(points.len());
    for &(t, tp, fp) in points.iter().rev() {
        let ps = tp + fp;
        precision.push(if ps == 0 { 0.0 } else { tp as f64 / ps as f64 });
        recall.push(if total_pos == 0 {
            1.0
        } else {
            tp as f64 / total_pos as f64
        });
        thresholds.push(t);
    }
    precision.push(1.0);
    recall.push(0.0);
    (precision, recall, thresholds)
}

/// The Wilson score interval of `successes` out of `n` at 95% (z = 1.959964), `None` for n = 0.
pub fn wilson(successes: usize, n: usize) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
    let half = Z / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_examples_by_hand() {
        let y = [false, false, true, true];
        let s = [0.1, 0.4, 0.35, 0.8];
        assert_eq!(roc_auc(&y, &s), Some(0.75));
        assert!((brier(&y, &s).unwrap() - (0.01 + 0.16 + 0.4225 + 0.04) / 4.0).abs() < 1e-15);
        let bins = reliability(&y, &s, 2, Binning::Uniform);
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].count, bins[1].count), (3, 1));
        assert!((bins[0].observed - 1.0 / 3.0).abs() < 1e-15);
        let (p, r, t) = precision_recall(&y, &s);
        assert_eq!(t, vec![0.1, 0.35, 0.4, 0.8]);
        assert_eq!(r, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
        assert_eq!(p, vec![0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            roc_auc(&[true, true], &[0.2, 0.9]),
            None,
            "one class has no AUC"
        );
        assert_eq!(
            roc_auc(&[false, true], &[0.5, 0.5]),
            Some(0.5),
            "a tie counts half"
        );
        assert_eq!(brier(&[], &[]), None);
        assert!(reliability(&[], &[], 10, Binning::Quantile).is_empty());
        // A score on an edge goes to the lower bin, as NumPy's searchsorted puts it.
        let bins = reliability(&[true, false], &[0.5, 0.5000001], 2, Binning::Uniform);
        assert_eq!(bins.iter().map(|b| b.count).collect::<Vec<_>>(), vec![1, 1]);
        let (_, r, _) = precision_recall(&[false, false], &[0.3, 0.6]);
        assert_eq!(r, vec![1.0, 1.0, 0.0], "no failures: recall is 1");
        assert_eq!(wilson(0, 0), None);
        let (lo, hi) = wilson(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_532_799_862_747_4).abs() < 1e-12, "{hi}");
        let (lo, hi) = wilson(5, 10).unwrap();
        assert!(
            (lo - 0.236_593_090_512_564_7).abs() < 1e-12
                && (hi - 0.763_406_909_487_435_3).abs() < 1e-12
        );
        assert_eq!(ece(&[]), None);
    }
}
