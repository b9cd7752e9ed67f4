//! Gatehouse's learned model against scikit-learn's `LogisticRegression` (+ Platt sigmoid) on
//! the same runs and features: a predictions export of the demo history
//! (`model_dataset.csv`), with scikit-learn's numbers written by `scripts/model-reference.py`
//! (`model_reference.json`). Held-out AUC and Brier score must agree within 0.01.

use app::logic::predictor::{train, FeatureValues, Sample};
use serde_json::Value;

#[test]
fn learned_model_matches_scikit_learn_on_held_out_runs() {
    let reference: Value =
        serde_json::from_str(include_str!("model_reference.json")).expect("reference JSON");
    let text = include_str!("model_dataset.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (run, outcome) = (col("run_id"), col("outcome"));
    let features: Vec<&str> = reference["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut rows: Vec<(i64, Sample)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[outcome] != "failed" && cells[outcome] != "passed" {
            continue;
        }
        let id: i64 = cells[run].parse().unwrap();
        if !seen.insert(id) {
            continue;
        }
        let mut values = FeatureValues::new();
        for f in &features {
            let cell = cells[col(f)];
            if !cell.is_empty() {
                values.insert(f.to_string(), cell.parse().unwrap());
            }
        }
        rows.push((
            id,
            Sample {
                features: values,
                failed: cells[outcome] == "failed",
            },
        ));
    }
    rows.sort_by_key(|r| r.0);
    let samples: Vec<Sample> = rows.into_iter().map(|r| r.1).collect();
    assert_eq!(samples.len() as u64, reference["runs"].as_u64().unwrap());
    let (model, held) = train(&samples, &features).expect("trains");
    let want = |k: &str, m: &str| reference[k][m].as_f64().unwrap();
    let report = format!(
        "Gatehouse AUC {:.4} Brier {:.4} (raw {:.4} / {:.4}); scikit-learn AUC {:.4} Brier {:.4} (raw {:.4} / {:.4})",
        held.auc.unwrap(),
        held.brier.unwrap(),
        held.raw_auc.unwrap(),
        held.raw_brier.unwrap(),
        want("calibrated", "auc"),
        want("calibrated", "brier"),
        want("raw", "auc"),
        want("raw", "brier"),
    );
    eprintln!("{report}");
    assert!(
        (held.auc.unwrap() - want("calibrated", "auc")).abs() <= 0.01,
        "{report}"
    );
    assert!(
        (held.brier.unwrap() - want("calibrated", "brier")).abs() <= 0.01,
        "{report}"
    );
    assert!(
        (held.raw_auc.unwrap() - want("raw", "auc")).abs() <= 0.01,
        "{report}"
    );
    assert!(
        (held.raw_brier.unwrap() - want("raw", "brier")).abs() <= 0.01,
        "{report}"
    );
    // Newton's method reaches the optimum lbfgs approaches: the coefficients agree closely.
    let coef = reference["coef"].as_array().unwrap();
    for (i, c) in coef.iter().enumerate() {
        let c = c.as_f64().unwrap();
        assert!(
            (model.coef[i] - c).abs() < 1e-3,
            "coefficient {} ({}): {} vs {c}",
            i,
            features[i],
            model.coef[i]
        );
    }
}
