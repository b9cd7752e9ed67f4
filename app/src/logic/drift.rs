//! Drift between two samples of one feature (the training window against the recent window):
//! the Kolmogorov–Smirnov two-sample test and the population stability index.
//!
//! The KS p-value is the asymptotic two-sided one SciPy's `ks_2samp(method="asymp")` reports:
//! the distribution of the one-sample statistic `D_n` with `n = round(m·k / (m + k))`, chosen
//! among exact and approximate methods by the cut-offs of Simard & L'Ecuyer (2011) that SciPy
//! uses, so the numbers agree to 1e-9 (`server/tests/it/calibration_reference.json`).
//! Methods: Ruben–Gambino closed forms at the ends, the Durbin matrix in the form of Marsaglia,
//! Tsang & Wang (2003), Smirnov's one-sided sum (Birnbaum & Tingey 1951) doubled, and the
//! Pelz–Good (1976) expansion for large `n`.

use serde::{Deserialize, Serialize};

/// A two-sample Kolmogorov–Smirnov result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ks {
    /// The largest distance between the two empirical distribution functions.
    pub statistic: f64,
    /// Two-sided asymptotic p-value; `None` when the samples are too small to have one.
    pub p_value: Option<f64>,
}

/// The KS two-sample test of `a` against `b`; `None` when either is empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<Ks> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    // Walk the merged values; at each distinct value both CDFs count the values ≤ it.
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    let (m, n) = if na >= nb { (na, nb) } else { (nb, na) };
    let en = (m * n / (m + n)).round_ties_even();
    let p_value = (en >= 1.0).then(|| kolmogorov_sf(en as u64, d));
    Some(Ks {
        statistic: d,
        p_value,
    })
}

/// `P(D_n ≥ x)` for the two-sided one-sample KS statistic with `n` samples.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    let clip = |p: f64| p.clamp(0.0, 1.0);
    if x.is_nan() || n == 0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: P(D_n ≤ x) = n!/n^n · (2t − 1)^n for 1/2n ≤ x ≤ 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0)))
        } else {
            (ln_factorial_over_power(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let nx2 = t * x;
    if n <= 140 {
        if nx2 <= 4.0 {
            // Exact; SciPy reaches the same value through Pomeranz's recursion above 0.754693.
            return clip(1.0 - durbin_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if nx2 >= 370.0 {
        return 0.0;
    }
    if nx2 >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if nx2 >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    clip(1.0 - cdf)
}

/// `ln(n! / n^n)` by Stirling's series (accurate to double precision for n > 140).
fn ln_factorial_over_power(n: f64) -> f64 {
    // ln n! = n ln n − n + ½ ln(2πn) + Σ B_2j / (2j (2j − 1) n^(2j−1)).
    const B: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360360.0,
        1.0 / 156.0,
        -3617.0 / 122400.0,
    ];
    let inv = 1.0 / n;
    let inv2 = inv * inv;
    let mut series = 0.0;
    for c in B.iter().rev() {
        series = series * inv2 + c;
    }
    n.ln() / 2.0 - n + (2.0 * std::f64::consts::PI).ln() / 2.0 + inv * series
}

/// Scale factor for keeping matrix powers inside the double range.
const SCALE_BITS: i32 = 128;

fn scale_up() -> f64 {
    2f64.powi(SCALE_BITS)
}

/// `P(D_n ≤ x)` exactly, by the Durbin matrix: with `nx = k − h`, the `(k, k)` entry of `H^n`
/// times `n!/n^n`, where `H` is the `(2k − 1)`-square matrix of Marsaglia, Tsang & Wang.
fn durbin_cdf(n: u64, x: f64) -> f64 {
    if x >= 1.0 {
        return 1.0;
    }
    let nx = n as f64 * x;
    if nx <= 0.5 {
        return 0.0;
    }
    let k = nx.ceil() as usize;
    let h = k as f64 - nx;
    let m = 2 * k - 1;
    // inv_fact[j] = 1/j!
    let mut inv_fact = vec![1.0f64; m + 2];
    for j in 1..m + 2 {
        inv_fact[j] = inv_fact[j - 1] / j as f64;
    }
    let mut hm = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            if i + 1 >= j {
                hm[i * m + j] = inv_fact[i + 1 - j];
            }
        }
    }
    for i in 0..m {
        let edge = (1.0 - h.powi(i as i32 + 1)) * inv_fact[i + 1];
        hm[i * m] = edge; // first column
        hm[(m - 1) * m + (m - 1 - i)] = edge; // last row, mirrored
    }
    let corner = 1.0 - 2.0 * h.powi(m as i32) + (2.0 * h - 1.0).max(0.0).powi(m as i32);
    hm[(m - 1) * m] = corner * inv_fact[m];

    let mul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut c = vec![0.0f64; m * m];
        for i in 0..m {
            for l in 0..m {
                let ail = a[i * m + l];
                if ail == 0.0 {
                    continue;
                }
                for j in 0..m {
                    c[i * m + j] += ail * b[l * m + j];
                }
            }
        }
        c
    };
    // H^n by squaring, each factor carrying a power-of-two exponent.
    let mut result: Vec<f64> = (0..m * m)
        .map(|i| if i / m == i % m { 1.0 } else { 0.0 })
        .collect();
    let (mut result_exp, mut base_exp) = (0i64, 0i64);
    let mut base = hm;
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            result = mul(&result, &base);
            result_exp += base_exp;
        }
        base = mul(&base, &base);
        base_exp *= 2;
        if base[(k - 1) * m + (k - 1)].abs() > scale_up() {
            for v in base.iter_mut() {
                *v /= scale_up();
            }
            base_exp += SCALE_BITS as i64;
        }
        e >>= 1;
    }
    let mut p = result[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < 1.0 / scale_up() {
            p *= scale_up();
            result_exp -= SCALE_BITS as i64;
        }
    }
    p * 2f64.powi(result_exp as i32)
}

/// The Pelz–Good approximation of `P(D_n ≤ x)`: the Li-Chien/Korolyuk expansion
/// `K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5` at `z = x√n`, with each term written through
/// Jacobi's theta functions so that it converges quickly for small `z`.
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI * PI / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    // Coefficients of the odd-index sums, as polynomials in m = 2k − 1.
    let k1 = (-z2, pi2 / 4.0);
    let k2 = (
        6.0 * z6 + 2.0 * z4,
        (2.0 * z4 - 5.0 * z2) * pi2 / 4.0,
        pi4 * (1.0 - 2.0 * z2) / 16.0,
    );
    let k3 = (
        -30.0 * z6 - 90.0 * z.powi(8),
        pi2 * (135.0 * z4 - 96.0 * z6) / 4.0,
        pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0,
        pi6 * (5.0 - 30.0 * z2) / 64.0,
    );
    let max_k = (16.0 * z / PI).ceil() as i64;
    // Σ c(m) q^(m²) over odd m, by Horner's scheme in q^8k.
    let mut terms = [0.0f64; 4];
    for kk in (1..=max_k).rev() {
        let mo = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (mo * mo, mo.powi(4), mo.powi(6));
        let qp = q.powf(8.0 * kk as f64);
        let c = [
            1.0,
            k1.0 + k1.1 * m2,
            k2.0 + k2.1 * m2 + k2.2 * m4,
            k3.0 + k3.1 * m2 + k3.2 * m4 + k3.3 * m6,
        ];
        for (t, ci) in terms.iter_mut().zip(c) {
            *t = *t * qp + ci;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let denominators = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (t, den) in terms.iter_mut().zip(denominators) {
        *t = *t * q * sqrt2pi / den;
    }
    // The sums over all integers k in K2 and K3.
    let q2 = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut extra2, mut extra3) = (0.0, 0.0);
    for kk in (1..=max_k).rev() {
        let kf = kk as f64;
        let k2f = kf * kf;
        let qk = q2.powf(k2f);
        extra2 += k2f * qk;
        let kpi = PI * kf;
        extra3 += (sqrt3z + kpi) * (sqrt3z - kpi) * k2f * qk;
    }
    terms[2] += extra2 * pi2 * sqrt2pi / (-36.0 * z3);
    terms[3] += extra3 * pi2 * sqrt2pi / (216.0 * z6);
    terms
        .iter()
        .enumerate()
        .map(|(i, t)| t / n.powf(i as f64 / 2.0))
        .sum()
}

/// `P(D⁺_n ≥ x)` for the one-sided statistic: Smirnov's sum
/// `x Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v)`, every term positive, in
/// logarithms; beyond a million samples, the approximation `exp(−(6nx + 1)² / 18n)`.
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if x.is_nan() || n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    let nf = n as f64;
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nx = nf * x;
    if nx <= 1.0 {
        // P(D⁺_n < x) = x (1 + x)^(n−1) for x ≤ 1/n.
        return (1.0 - x * (1.0 + x).powf(nf - 1.0)).clamp(0.0, 1.0);
    }
    if -2.0 * nf * x * x < -708.396_418_532_264_1 {
        return 0.0;
    }
    if nx.floor() >= nf - 1.0 {
        return (1.0 - x).powf(nf).clamp(0.0, 1.0);
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nx + 1.0).powi(2) / 18.0 / nf;
        return logp.exp().clamp(0.0, 1.0);
    }
    let mut sum = 0.0f64;
    let mut ln_binom = 0.0f64; // ln C(n, v)
    let mut v = 0u64;
    loop {
        let vf = v as f64;
        let rest = 1.0 - x - vf / nf;
        if rest <= 0.0 {
            break;
        }
        let ln_term = ln_binom + (vf - 1.0) * (x + vf / nf).ln() + (nf - vf) * rest.ln();
        sum += ln_term.exp();
        v += 1;
        if v > n {
            break;
        }
        ln_binom += ((nf - vf) / (vf + 1.0)).ln();
    }
    (x * sum).clamp(0.0, 1.0)
}

/// Population stability index of `actual` against `expected` over `bins` bins whose edges are
/// the quantiles of `expected` (repeated edges merged, so a feature with few distinct values
/// gets fewer bins). Each bin's count gets half a run added (Jeffreys smoothing), so an empty
/// bin in a small recent window counts without dominating: a plain floor such as 0.0001 turns
/// one empty bin of 70 runs into a "large shift". Below 0.1 is stable, 0.1–0.25 a moderate
/// shift, above 0.25 a large one.
pub fn psi(expected: &[f64], actual: &[f64], bins: usize) -> Option<f64> {
    if expected.is_empty() || actual.is_empty() || bins < 2 {
        return None;
    }
    let mut sorted = expected.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| super::calibration::quantile_sorted(&sorted, i as f64 / bins as f64))
        .collect();
    edges.dedup();
    let shares = |values: &[f64]| -> Vec<f64> {
        let mut counts = vec![0usize; edges.len() + 1];
        for v in values {
            counts[edges.partition_point(|e| e < v)] += 1;
        }
        let total = values.len() as f64 + 0.5 * counts.len() as f64;
        counts.iter().map(|&c| (c as f64 + 0.5) / total).collect()
    };
    let (e, a) = (shares(expected), shares(actual));
    Some(e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum())
}

/// The band of a PSI value: 0 stable (< 0.1), 1 moderate shift (< 0.25), 2 large shift.
pub fn psi_band(value: f64) -> u8 {
    if value < 0.1 {
        0
    } else if value < 0.25 {
        1
    } else {
        2
    }
}

/// Mean absolute percentage error of predicted against observed rates, over the periods whose
/// observed rate is not zero (a zero cannot be a denominator). `None` when none is left.
pub fn mape(pairs: &[(f64, f64)]) -> Option<f64> {
    let used: Vec<f64> = pairs
        .iter()
        .filter(|(_, observed)| *observed != 0.0)
        .map(|(predicted, observed)| ((observed - predicted) / observed).abs())
        .collect();
    (!used.is_empty()).then(|| used.iter().sum::<f64>() / used.len() as f64)
}

/// How far one feature moved between the baseline and the recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    /// Runs with a value in each window.
    pub baseline: usize,
    pub recent: usize,
    pub ks: Option<Ks>,
    pub psi: Option<f64>,
    /// 0 stable, 1 moderate shift, 2 large shift (by PSI).
    pub band: u8,
}

/// PSI at or above this raises a drift alert (the conventional "large shift").
pub const PSI_ALERT: f64 = 0.25;
/// Weekly MAPE of predicted against observed failure rate at or above this raises an alert.
pub const MAPE_ALERT: f64 = 0.5;

/// Drift of every feature in `keys` between two windows of feature maps.
pub fn features_drift(
    keys: &[&str],
    baseline: &[&std::collections::BTreeMap<String, f64>],
    recent: &[&std::collections::BTreeMap<String, f64>],
) -> Vec<FeatureDrift> {
    keys.iter()
        .map(|key| {
            let pick = |rows: &[&std::collections::BTreeMap<String, f64>]| -> Vec<f64> {
                rows.iter().filter_map(|r| r.get(*key).copied()).collect()
            };
            let (a, b) = (pick(baseline), pick(recent));
            let psi = psi(&a, &b, 10);
            FeatureDrift {
                feature: key.to_string(),
                baseline: a.len(),
                recent: b.len(),
                ks: ks_2samp(&a, &b),
                psi,
                band: psi.map_or(0, psi_band),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_statistic_of_disjoint_and_equal_samples() {
        let a = [1.0, 2.0, 3.0];
        let b = [4.0, 5.0, 6.0, 7.0];
        assert_eq!(ks_2samp(&a, &b).unwrap().statistic, 1.0);
        let same = ks_2samp(&a, &a).unwrap();
        assert_eq!(same.statistic, 0.0);
        assert_eq!(same.p_value, Some(1.0));
        assert_eq!(ks_2samp(&a, &[]), None);
    }

    #[test]
    fn one_sided_smirnov_matches_closed_forms() {
        // n = 2: P(D⁺ ≥ x) = 1 − x(1 + x) for x ≤ 1/2 and (1 − x)² above.
        assert!((smirnov_sf(2, 0.3) - (1.0 - 0.3 * 1.3)).abs() < 1e-15);
        assert!((smirnov_sf(2, 0.7) - 0.09).abs() < 1e-15);
        // n = 3, x = 0.4: by the sum, 0.4·[0.6³/0.4 + 3·(0.6 − 1/3)²] = 0.301333….
        assert!(
            (smirnov_sf(3, 0.4) - 0.4 * (0.216 / 0.4 + 3.0 * (0.6f64 - 1.0 / 3.0).powi(2))).abs()
                < 1e-12
        );
    }

    #[test]
    fn durbin_and_pelz_good_agree_where_both_hold() {
        // Pelz–Good is an approximation for large n; the exact matrix agrees closely there.
        let exact = durbin_cdf(2000, 0.02);
        let approx = pelz_good_cdf(2000.0, 0.02);
        assert!((exact - approx).abs() < 1e-6, "{exact} vs {approx}");
    }

    #[test]
    fn psi_of_the_same_sample_is_zero_and_grows_with_shift() {
        let base: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        assert!(psi(&base, &base, 10).unwrap().abs() < 1e-12);
        let shifted: Vec<f64> = base.iter().map(|v| v + 0.2).collect();
        let moved = psi(&base, &shifted, 10).unwrap();
        assert!(moved > 0.25, "{moved}");
        // Hand-computed: two bins split at the median; counts 3/1 against 2/2, each plus half
        // a run: shares 0.7/0.3 against 0.5/0.5.
        let actual = [0.0, 0.1, 0.2, 0.9];
        let two = psi(&[0.0, 0.1, 0.8, 0.9], &actual, 2).unwrap();
        let want = (0.7 - 0.5) * (0.7f64 / 0.5).ln() + (0.3 - 0.5) * (0.3f64 / 0.5).ln();
        assert!((two - want).abs() < 1e-12);
        assert_eq!(psi_band(0.05), 0);
        assert_eq!(psi_band(0.2), 1);
        assert_eq!(psi_band(0.3), 2);
    }

    #[test]
    fn mape_skips_zero_periods() {
        assert_eq!(mape(&[(0.1, 0.0)]), None);
        let m = mape(&[(0.1, 0.2), (0.3, 0.3), (0.5, 0.0)]).unwrap();
        assert!((m - 0.25).abs() < 1e-12);
    }
}
