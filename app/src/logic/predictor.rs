//! The CI failure-risk predictor: the features known when a run starts, and the two kinds of
//! model that turn them into a score in [0, 1].
//!
//! - **Rules**: thresholds and weights that reviewers edit, the seeds' form
//!   (`pass_rate < 0.85 → +0.3`, `avg_duration > 10 → +0.2`, capped at 1). A missing feature
//!   fires no rule, as the seeds' defaults (pass rate 100 %, duration 0) do.
//! - **Learned**: L2-regularised logistic regression (C = 1, as scikit-learn's default) on
//!   standardised features, fitted by Newton's method to the same optimum scikit-learn's
//!   `LogisticRegression` reaches, then calibrated on later runs disjoint from training: Platt's
//!   sigmoid, or isotonic regression once at least [`ISOTONIC_MIN`] calibration samples exist.
//!   A missing feature takes its training mean.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a run's features are: name → value. A feature that could not be known is absent.
pub type FeatureValues = BTreeMap<String, f64>;

/// One feature: its key, its label on the page, and what it measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
}

/// Every feature, in the order of CSV columns and model coefficients.
pub const FEATURES: [FeatureSpec; 10] = [
    FeatureSpec {
        key: "pass_rate",
        label: "Project pass rate",
        help: "share of the project's last 50 finished runs that succeeded",
    },
    FeatureSpec {
        key: "branch_pass_rate",
        label: "Branch pass rate",
        help: "share of the branch's last 20 finished runs that succeeded",
    },
    FeatureSpec {
        key: "avg_duration",
        label: "Average duration (min)",
        help: "mean duration in minutes of the project's last 20 finished runs",
    },
    FeatureSpec {
        key: "duration_trend",
        label: "Duration trend",
        help: "mean duration of the project's last 5 finished runs ÷ that of its last 20",
    },
    FeatureSpec {
        key: "author_failures",
        label: "Author's recent failures",
        help: "failed runs among the author's last 10 runs in the project",
    },
    FeatureSpec {
        key: "flaky_tests",
        label: "Flaky results",
        help: "tests that passed only on retry, over the project's last 20 runs",
    },
    FeatureSpec {
        key: "hours_since_green",
        label: "Hours since green",
        help: "hours since the branch's last successful run (capped at 720)",
    },
    FeatureSpec {
        key: "failure_streak",
        label: "Failure streak",
        help: "consecutive failed runs on the branch just before this one",
    },
    FeatureSpec {
        key: "change_lines",
        label: "Lines changed",
        help: "lines added and deleted by the change, when the CI system sends it",
    },
    FeatureSpec {
        key: "default_branch",
        label: "Default branch",
        help: "1 when the run is on the project's default branch, else 0",
    },
];

pub fn feature_spec(key: &str) -> Option<&'static FeatureSpec> {
    FEATURES.iter().find(|f| f.key == key)
}

/// Samples needed before isotonic calibration replaces Platt's sigmoid.
pub const ISOTONIC_MIN: usize = 1000;
/// Fewest finished runs a learned model trains on.
pub const TRAIN_MIN: usize = 50;

/// How a rule compares its feature with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Lt => value < threshold,
            Cmp::Le => value <= threshold,
            Cmp::Gt => value > threshold,
            Cmp::Ge => value >= threshold,
        }
    }
}

/// `feature cmp threshold → +weight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub feature: String,
    pub cmp: Cmp,
    pub threshold: f64,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesModel {
    pub rules: Vec<Rule>,
}

impl RulesModel {
    /// The seeds' hand-tuned predictor, in fractions and minutes.
    pub fn seeds() -> RulesModel {
        RulesModel {
            rules: vec![
                Rule {
                    feature: "pass_rate".into(),
                    cmp: Cmp::Lt,
                    threshold: 0.85,
                    weight: 0.3,
                },
                Rule {
                    feature: "avg_duration".into(),
                    cmp: Cmp::Gt,
                    threshold: 10.0,
                    weight: 0.2,
                },
            ],
        }
    }

    pub fn score(&self, features: &FeatureValues) -> f64 {
        let sum: f64 = self
            .rules
            .iter()
            .filter(|r| {
                features
                    .get(&r.feature)
                    .is_some_and(|v| r.cmp.holds(*v, r.threshold))
            })
            .map(|r| r.weight)
            .sum();
        sum.clamp(0.0, 1.0)
    }

    /// One rule per line, as the editor shows them: `pass_rate < 0.85 +0.3`.
    pub fn to_lines(&self) -> String {
        self.rules
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {:+}",
                    r.feature,
                    r.cmp.as_str(),
                    r.threshold,
                    r.weight
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Parses the editor's lines; an error names the line and what is wrong with it.
    pub fn parse_lines(text: &str) -> Result<RulesModel, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = |e: String| format!("rules line {}: {e}", n + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() != 4 {
                return Err(at(format!(
                    "`{line}`: write `feature < or > threshold +weight`, like `pass_rate < 0.85 +0.3`"
                )));
            }
            if feature_spec(words[0]).is_none() {
                let known: Vec<&str> = FEATURES.iter().map(|f| f.key).collect();
                return Err(at(format!(
                    "`{}` is not a feature; the features are {}",
                    words[0],
                    known.join(", ")
                )));
            }
            let cmp = match words[1] {
                "<" => Cmp::Lt,
                "<=" => Cmp::Le,
                ">" => Cmp::Gt,
                ">=" => Cmp::Ge,
                other => return Err(at(format!("`{other}`: compare with <, <=, > or >="))),
            };
            let num = |w: &str, what: &str| {
                w.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| at(format!("{what} `{w}` is not a number")))
            };
            let threshold = num(words[2], "threshold")?;
            let weight = num(words[3], "weight")?;
            if !(-1.0..=1.0).contains(&weight) {
                return Err(at(format!(
                    "weight {weight} is outside -1 to +1 (the score is capped at 1)"
                )));
            }
            rules.push(Rule {
                feature: words[0].to_string(),
                cmp,
                threshold,
                weight,
            });
        }
        if rules.is_empty() {
            return Err("rules: write at least one rule".into());
        }
        Ok(RulesModel { rules })
    }
}

/// Maps the regression's logit to a calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Calibrator {
    /// `1 / (1 + exp(a·f + b))`.
    Platt { a: f64, b: f64 },
    /// Piecewise-linear through the points, clipped at both ends.
    Isotonic { x: Vec<f64>, y: Vec<f64> },
}

impl Calibrator {
    pub fn apply(&self, f: f64) -> f64 {
        match self {
            Calibrator::Platt { a, b } => sigmoid(-(a * f + b)),
            Calibrator::Isotonic { x, y } => interpolate(x, y, f),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Calibrator::Platt { .. } => "Platt sigmoid",
            Calibrator::Isotonic { .. } => "isotonic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedModel {
    pub features: Vec<String>,
    /// Training means (also the value of a missing feature) and standard deviations.
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    /// Coefficients on the standardised features.
    pub coef: Vec<f64>,
    pub intercept: f64,
    pub calibrator: Calibrator,
}

impl LearnedModel {
    /// The regression's logit for `features` (before calibration).
    pub fn logit(&self, features: &FeatureValues) -> f64 {
        let mut z = self.intercept;
        for (i, name) in self.features.iter().enumerate() {
            let v = features.get(name).copied().unwrap_or(self.means[i]);
            z += self.coef[i] * (v - self.means[i]) / self.scales[i];
        }
        z
    }

    pub fn score(&self, features: &FeatureValues) -> f64 {
        self.calibrator.apply(self.logit(features)).clamp(0.0, 1.0)
    }
}

/// A model version's parameters, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelParams {
    Rules(RulesModel),
    Learned(LearnedModel),
}

impl ModelParams {
    pub fn score(&self, features: &FeatureValues) -> f64 {
        match self {
            ModelParams::Rules(m) => m.score(features),
            ModelParams::Learned(m) => m.score(features),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ModelParams::Rules(_) => "rules",
            ModelParams::Learned(_) => "learned",
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn interpolate(x: &[f64], y: &[f64], at: f64) -> f64 {
    if x.is_empty() {
        return 0.5;
    }
    if at <= x[0] {
        return y[0];
    }
    if at >= x[x.len() - 1] {
        return y[y.len() - 1];
    }
    let i = x.partition_point(|v| *v <= at);
    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
    if x1 == x0 {
        y1
    } else {
        y0 + (y1 - y0) * (at - x0) / (x1 - x0)
    }
}

/// A finished run as training sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub features: FeatureValues,
    pub failed: bool,
}

/// How well a model did on the newest runs, which it never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub train: usize,
    pub calibration: usize,
    pub test: usize,
    pub auc: Option<f64>,
    pub brier: Option<f64>,
    /// The same before calibration (the regression's own probabilities).
    pub raw_auc: Option<f64>,
    pub raw_brier: Option<f64>,
}

/// The oldest 60 % of `samples` (in time order) train, the next 20 % calibrate, the newest
/// 20 % test. Returns the three ranges.
pub fn split(
    n: usize,
) -> (
    std::ops::Range<usize>,
    std::ops::Range<usize>,
    std::ops::Range<usize>,
) {
    let train_end = n * 6 / 10;
    let calib_end = n * 8 / 10;
    (0..train_end, train_end..calib_end, calib_end..n)
}

/// Trains a learned model on `samples`, oldest first.
pub fn train(samples: &[Sample], features: &[&str]) -> Result<(LearnedModel, HeldOut), String> {
    if samples.len() < TRAIN_MIN {
        return Err(format!(
            "a learned model needs at least {TRAIN_MIN} finished runs with features; the window has {}",
            samples.len()
        ));
    }
    let (tr, ca, te) = split(samples.len());
    for (what, range) in [("training", &tr), ("calibration", &ca)] {
        let failed = samples[range.clone()].iter().filter(|s| s.failed).count();
        if failed == 0 || failed == range.len() {
            return Err(format!(
                "the {what} runs are all {}: a model needs both outcomes to learn from",
                if failed == 0 { "green" } else { "red" }
            ));
        }
    }
    let d = features.len();
    // Means over the present values; missing values take the mean.
    let mut means = vec![0.0; d];
    let mut scales = vec![1.0; d];
    for (j, name) in features.iter().enumerate() {
        let present: Vec<f64> = samples[tr.clone()]
            .iter()
            .filter_map(|s| s.features.get(*name).copied())
            .collect();
        if present.is_empty() {
            continue;
        }
        let n = samples[tr.clone()].len() as f64;
        // The mean-imputed column's mean is the present mean; its variance shrinks accordingly.
        let mean = present.iter().sum::<f64>() / present.len() as f64;
        let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        means[j] = mean;
        scales[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
    }
    let row = |s: &Sample| -> Vec<f64> {
        features
            .iter()
            .enumerate()
            .map(|(j, name)| {
                (s.features.get(*name).copied().unwrap_or(means[j]) - means[j]) / scales[j]
            })
            .collect()
    };
    let x: Vec<Vec<f64>> = samples[tr.clone()].iter().map(row).collect();
    let y: Vec<bool> = samples[tr.clone()].iter().map(|s| s.failed).collect();
    let (coef, intercept) = logistic_regression(&x, &y, 1.0);
    let mut model = LearnedModel {
        features: features.iter().map(|s| s.to_string()).collect(),
        means,
        scales,
        coef,
        intercept,
        calibrator: Calibrator::Platt { a: -1.0, b: 0.0 },
    };
    let calib_f: Vec<f64> = samples[ca.clone()]
        .iter()
        .map(|s| model.logit(&s.features))
        .collect();
    let calib_y: Vec<bool> = samples[ca.clone()].iter().map(|s| s.failed).collect();
    model.calibrator = if calib_f.len() >= ISOTONIC_MIN {
        isotonic(&calib_f, &calib_y)
    } else {
        platt(&calib_f, &calib_y)
    };
    let test = &samples[te.clone()];
    let test_y: Vec<bool> = test.iter().map(|s| s.failed).collect();
    let scores: Vec<f64> = test.iter().map(|s| model.score(&s.features)).collect();
    let raw: Vec<f64> = test
        .iter()
        .map(|s| sigmoid(model.logit(&s.features)))
        .collect();
    use super::calibration::{brier, roc_auc};
    let held = HeldOut {
        train: tr.len(),
        calibration: ca.len(),
        test: te.len(),
        auc: roc_auc(&test_y, &scores),
        brier: brier(&test_y, &scores),
        raw_auc: roc_auc(&test_y, &raw),
        raw_brier: brier(&test_y, &raw),
    };
    Ok((model, held))
}

/// Minimises `C·Σ log-loss + ½‖w‖²` (the intercept unpenalised) by Newton's method.
pub fn logistic_regression(x: &[Vec<f64>], y: &[bool], c: f64) -> (Vec<f64>, f64) {
    let d = x.first().map_or(0, Vec::len);
    let p = d + 1; // the intercept is the last parameter
    let mut beta = vec![0.0; p];
    for _ in 0..100 {
        let mut grad = vec![0.0; p];
        let mut hess = vec![0.0; p * p];
        for (xi, &yi) in x.iter().zip(y) {
            let z = beta[d] + xi.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>();
            let pr = sigmoid(z);
            let r = pr - if yi { 1.0 } else { 0.0 };
            let w = pr * (1.0 - pr);
            for j in 0..p {
                let xj = if j < d { xi[j] } else { 1.0 };
                grad[j] += c * r * xj;
                for k in j..p {
                    let xk = if k < d { xi[k] } else { 1.0 };
                    hess[j * p + k] += c * w * xj * xk;
                }
            }
        }
        for j in 0..p {
            for k in 0..j {
                hess[j * p + k] = hess[k * p + j];
            }
        }
        for j in 0..d {
            grad[j] += beta[j];
            hess[j * p + j] += 1.0;
        }
        let Some(step) = solve(&mut hess, &mut grad, p) else {
            break;
        };
        let mut biggest = 0f64;
        for j in 0..p {
            beta[j] -= step[j];
            biggest = biggest.max(step[j].abs());
        }
        if biggest < 1e-10 {
            break;
        }
    }
    let intercept = beta[d];
    beta.truncate(d);
    (beta, intercept)
}

/// Solves `a·x = b` (a is `n×n`, symmetric positive definite here) by Gaussian elimination with
/// partial pivoting; `None` when singular.
fn solve(a: &mut [f64], b: &mut [f64], n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-300 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        for i in col + 1..n {
            let f = a[i * n + col] / a[col * n + col];
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[i * n + k] -= f * a[col * n + k];
            }
            b[i] -= f * b[col];
        }
    }
    let mut out = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i * n + k] * out[k]).sum();
        out[i] = (b[i] - s) / a[i * n + i];
    }
    Some(out)
}

/// Platt's sigmoid fitted to `(f, y)` with his smoothed targets
/// `(N₊ + 1)/(N₊ + 2)` and `1/(N₋ + 2)`, by Newton's method on `(a, b)`.
pub fn platt(f: &[f64], y: &[bool]) -> Calibrator {
    let pos = y.iter().filter(|v| **v).count() as f64;
    let neg = y.len() as f64 - pos;
    let hi = (pos + 1.0) / (pos + 2.0);
    let lo = 1.0 / (neg + 2.0);
    let t: Vec<f64> = y.iter().map(|v| if *v { hi } else { lo }).collect();
    let (mut a, mut b) = (0.0, ((neg + 1.0) / (pos + 1.0)).ln());
    for _ in 0..100 {
        // p = σ(−(a f + b)); d loss / d(a f + b) = t − p.
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (fi, ti) in f.iter().zip(&t) {
            let p = sigmoid(-(a * fi + b));
            let r = ti - p;
            let w = p * (1.0 - p);
            ga += r * fi;
            gb += r;
            haa += w * fi * fi;
            hab += w * fi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs().max(db.abs()) < 1e-12 {
            break;
        }
    }
    Calibrator::Platt { a, b }
}

/// Isotonic regression of `y` on `f` (pool-adjacent-violators, increasing, ties averaged).
pub fn isotonic(f: &[f64], y: &[bool]) -> Calibrator {
    let mut pairs: Vec<(f64, f64)> = f
        .iter()
        .zip(y)
        .map(|(a, b)| (*a, if *b { 1.0 } else { 0.0 }))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks of (x values, weighted mean, weight); equal x start in one block.
    let mut xs: Vec<f64> = Vec::new();
    let mut blocks: Vec<(usize, f64, f64)> = Vec::new(); // (first x index, mean, weight)
    for (x, v) in pairs {
        if xs.last() == Some(&x) {
            let last = blocks.last_mut().expect("a block for the last x");
            last.1 = (last.1 * last.2 + v) / (last.2 + 1.0);
            last.2 += 1.0;
        } else {
            xs.push(x);
            blocks.push((xs.len() - 1, v, 1.0));
        }
        while blocks.len() >= 2 {
            let (b2, b1) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if b1.1 <= b2.1 {
                break;
            }
            let w = b1.2 + b2.2;
            let merged = (b1.0, (b1.1 * b1.2 + b2.1 * b2.2) / w, w);
            blocks.pop();
            *blocks.last_mut().expect("two blocks") = merged;
        }
    }
    let mut fitted = vec![0.0; xs.len()];
    for (i, b) in blocks.iter().enumerate() {
        let end = blocks.get(i + 1).map_or(xs.len(), |n| n.0);
        for v in &mut fitted[b.0..end] {
            *v = b.1;
        }
    }
    Calibrator::Isotonic { x: xs, y: fitted }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(pairs: &[(&str, f64)]) -> FeatureValues {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn seeds_rules_score_as_the_seed_code_does() {
        let m = RulesModel::seeds();
        assert_eq!(
            m.score(&fv(&[("pass_rate", 0.8), ("avg_duration", 12.0)])),
            0.5
        );
        assert_eq!(
            m.score(&fv(&[("pass_rate", 0.9), ("avg_duration", 12.0)])),
            0.2
        );
        assert_eq!(m.score(&fv(&[("pass_rate", 0.85)])), 0.0);
        // Missing features fire nothing, like the seeds' defaults.
        assert_eq!(m.score(&FeatureValues::new()), 0.0);
        let capped =
            RulesModel::parse_lines("pass_rate < 1 +0.8\nfailure_streak >= 0 +0.7").unwrap();
        assert_eq!(
            capped.score(&fv(&[("pass_rate", 0.5), ("failure_streak", 0.0)])),
            1.0
        );
    }

    #[test]
    fn rules_lines_round_trip_and_errors_name_the_line() {
        let m = RulesModel::seeds();
        assert_eq!(
            m.to_lines(),
            "pass_rate < 0.85 +0.3\navg_duration > 10 +0.2"
        );
        assert_eq!(RulesModel::parse_lines(&m.to_lines()).unwrap(), m);
        let e = RulesModel::parse_lines("pass_rate < 0.85 +0.3\nspeed > 3 +0.1").unwrap_err();
        assert!(
            e.starts_with("rules line 2: `speed` is not a feature"),
            "{e}"
        );
        let e = RulesModel::parse_lines("pass_rate ~ 0.85 +0.3").unwrap_err();
        assert!(e.contains("compare with"), "{e}");
        let e = RulesModel::parse_lines("pass_rate < 0.85 +3").unwrap_err();
        assert!(e.contains("outside -1 to +1"), "{e}");
        assert!(RulesModel::parse_lines("# nothing").is_err());
    }

    #[test]
    fn newton_finds_the_regularised_optimum() {
        // One feature, symmetric data: the optimum has zero intercept; the gradient vanishes.
        let x: Vec<Vec<f64>> = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]
            .iter()
            .map(|v| vec![*v])
            .collect();
        let y = [false, false, true, false, true, true];
        let (w, b) = logistic_regression(&x, &y, 1.0);
        let grad_w: f64 = x
            .iter()
            .zip(&y)
            .map(|(xi, yi)| (sigmoid(w[0] * xi[0] + b) - if *yi { 1.0 } else { 0.0 }) * xi[0])
            .sum::<f64>()
            + w[0];
        assert!(grad_w.abs() < 1e-9, "{grad_w}");
        assert!(b.abs() < 1e-9);
        assert!(w[0] > 0.0);
    }

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        let cal = isotonic(&[1.0, 2.0, 3.0, 4.0], &[false, true, false, true]);
        let Calibrator::Isotonic { x, y } = &cal else {
            panic!("isotonic")
        };
        assert_eq!(x, &vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y, &vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(cal.apply(0.0), 0.0);
        assert_eq!(cal.apply(3.5), 0.75);
        assert_eq!(cal.apply(9.0), 1.0);
    }

    #[test]
    fn training_refuses_too_little_or_one_sided_history() {
        let few: Vec<Sample> = (0..10)
            .map(|i| Sample {
                features: fv(&[("pass_rate", i as f64)]),
                failed: i % 2 == 0,
            })
            .collect();
        assert!(train(&few, &["pass_rate"])
            .unwrap_err()
            .contains("at least 50"));
        let green: Vec<Sample> = (0..100)
            .map(|i| Sample {
                features: fv(&[("pass_rate", i as f64)]),
                failed: false,
            })
            .collect();
        assert!(train(&green, &["pass_rate"])
            .unwrap_err()
            .contains("all green"));
    }

    #[test]
    fn a_learned_model_ranks_an_informative_feature() {
        // Failures when the streak is long, with noise; the model must rank them well.
        let samples: Vec<Sample> = (0..400)
            .map(|i| {
                let streak = (i * 7 % 5) as f64;
                let failed = streak >= 3.0 || i % 11 == 0;
                Sample {
                    features: fv(&[
                        ("failure_streak", streak),
                        ("default_branch", (i % 2) as f64),
                    ]),
                    failed,
                }
            })
            .collect();
        let (model, held) = train(&samples, &["failure_streak", "default_branch"]).unwrap();
        assert!(held.auc.unwrap() > 0.8, "{held:?}");
        assert!(model.coef[0] > 0.0);
        assert_eq!(held.train + held.calibration + held.test, 400);
        let hi = model.score(&fv(&[("failure_streak", 4.0)]));
        let lo = model.score(&fv(&[("failure_streak", 0.0)]));
        assert!(hi > lo);
    }
}
