//! The calibration metrics against scikit-learn's numbers for the same data
//! (`scripts/calibration-reference.py` wrote `calibration_reference.json`), to 1e-9.

use app::logic::calibration::{brier, precision_recall, reliability, roc_auc, Binning};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn close(case: &str, what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{case} {what}: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-9, "{case} {what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn metrics_match_scikit_learn() {
    let text = include_str!("calibration_reference.json");
    let reference: Value = serde_json::from_str(text).expect("reference JSON");
    let cases = reference["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let y: Vec<bool> = case["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        let s = floats(&case["s"]);
        close(
            name,
            "brier",
            &[brier(&y, &s).unwrap()],
            &[case["brier"].as_f64().unwrap()],
        );
        match case["auc"].as_f64() {
            Some(want) => close(name, "auc", &[roc_auc(&y, &s).unwrap()], &[want]),
            None => assert_eq!(roc_auc(&y, &s), None, "{name}: one class has no AUC"),
        }
        for (binning, key) in [
            (Binning::Uniform, "uniform"),
            (Binning::Quantile, "quantile"),
        ] {
            for n in [5, 10] {
                let bins = reliability(&y, &s, n, binning);
                let want = &case[format!("{key}-{n}")];
                let observed: Vec<f64> = bins.iter().map(|b| b.observed).collect();
                let predicted: Vec<f64> = bins.iter().map(|b| b.predicted).collect();
                close(
                    name,
                    &format!("{key}-{n} observed"),
                    &observed,
                    &floats(&want["observed"]),
                );
                close(
                    name,
                    &format!("{key}-{n} predicted"),
                    &predicted,
                    &floats(&want["predicted"]),
                );
                assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), y.len());
            }
        }
        if case["pr"].is_object() {
            let (p, r, t) = precision_recall(&y, &s);
            close(name, "precision", &p, &floats(&case["pr"]["precision"]));
            close(name, "recall", &r, &floats(&case["pr"]["recall"]));
            close(name, "thresholds", &t, &floats(&case["pr"]["thresholds"]));
        }
    }
}

#[test]
fn ks_matches_scipy() {
    use app::logic::drift::{kolmogorov_sf, ks_2samp, smirnov_sf};
    let text = include_str!("calibration_reference.json");
    let reference: Value = serde_json::from_str(text).expect("reference JSON");
    let pairs = reference["ks"].as_array().expect("ks pairs");
    assert!(pairs.len() >= 10);
    for pair in pairs {
        let name = pair["name"].as_str().unwrap();
        let got = ks_2samp(&floats(&pair["a"]), &floats(&pair["b"])).unwrap();
        close(
            name,
            "ks statistic",
            &[got.statistic],
            &[pair["statistic"].as_f64().unwrap()],
        );
        match pair["pvalue"].as_f64() {
            Some(want) => close(name, "ks p-value", &[got.p_value.unwrap()], &[want]),
            None => assert_eq!(got.p_value, None, "{name}: no p-value"),
        }
    }
    for (key, f) in [
        ("kstwo", kolmogorov_sf as fn(u64, f64) -> f64),
        ("smirnov", smirnov_sf as fn(u64, f64) -> f64),
    ] {
        let grid = reference[key].as_array().expect("grid");
        assert!(grid.len() > 200);
        for point in grid {
            let n = point[0].as_u64().unwrap();
            let x = point[1].as_f64().unwrap();
            let want = point[2].as_f64().unwrap();
            close(&format!("{key}(n={n}, x={x})"), "p", &[f(n, x)], &[want]);
        }
    }
}
