//! How fast the calibration report is: the pure computation over N scored runs, the threshold
//! figures the browser recomputes per slider step (native here; the browser figure comes from
//! the Playwright measurement), and the whole report from the store (SQLite) with N runs of
//! one project scored by one model, features included. Writes the scores and outcomes to
//! `$OUT` (default /tmp/calibration-bench.bin) so `scripts/calibration-bench.py` can time
//! scikit-learn on the same data. Medians of 5 runs.
//!
//!     cargo run --release -p gatehouse --example calibration_bench -- 1000000 [--no-store]

use app::logic::calibration::Binning;
use app::logic::report::{build, split_sorted, AtThreshold};
use app::model::ScoredRun;
use app::store::{Db, PoolSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let out = std::env::var("OUT").unwrap_or_else(|_| "/tmp/calibration-bench.bin".into());
    let mut rng = StdRng::seed_from_u64(5);
    let now = app::store::now_ms();
    let span = 365 * 86_400_000i64;
    let runs: Vec<ScoredRun> = (0..n)
        .map(|i| {
            let score: f64 = rng.gen::<f64>().powf(1.6);
            ScoredRun {
                run_id: i as i64 + 1,
                at: now - span + (i as i64) * span / n as i64,
                score,
                failed: rng.gen_bool((score * 0.9 + 0.03).min(1.0)),
            }
        })
        .collect();

    // The data for scikit-learn: n f64 scores, then n u8 outcomes.
    let mut bytes = Vec::with_capacity(n * 9);
    for r in &runs {
        bytes.extend_from_slice(&r.score.to_le_bytes());
    }
    for r in &runs {
        bytes.push(r.failed as u8);
    }
    std::fs::write(&out, bytes).expect("write the bench data");

    let times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let report = build(&runs, now - span, now + 1, 0.5, Binning::Quantile, 10);
            assert_eq!(report.samples, n);
            t.elapsed()
        })
        .collect();
    println!("report computation, {n} runs: median {}", ms(median(times)));

    let small = &runs[..runs.len().min(100_000)];
    let (f, p) = split_sorted(small);
    let steps = 1000;
    let t = Instant::now();
    let mut tp = 0;
    for i in 0..steps {
        tp += AtThreshold::compute(&f, &p, i as f64 / steps as f64, 52.0).tp;
    }
    let per = t.elapsed() / steps;
    println!(
        "threshold figures, {} runs: {:.2} µs a step (native; {tp} alerts summed)",
        small.len(),
        per.as_secs_f64() * 1e6
    );

    if std::env::args().any(|a| a == "--no-store") {
        return;
    }
    // The store: a fresh SQLite database with n runs, features and scores of one model.
    let dir = std::env::temp_dir().join(format!("gh-calbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let db = Db::connect(&url, &PoolSettings::default()).await.unwrap();
    db.migrate().await.unwrap();
    let t = Instant::now();
    let model_id = load(&db, &runs).await;
    println!(
        "loaded {n} scored runs in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let p = app::store::projects::require(&db, "bench").await.unwrap();
    let mut rows_t = Vec::new();
    let mut view_t = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows = app::store::predictor::scored_runs(&db, model_id, now - span, now + 1)
            .await
            .unwrap();
        assert_eq!(rows.len(), n);
        rows_t.push(t.elapsed());
        let t = Instant::now();
        let view = app::store::calibration::calibration(
            &db,
            p.id,
            "bench",
            &app::store::calibration::ReportQuery {
                version: None,
                from: now - span,
                to: now + 1,
                threshold: None,
                binning: Binning::Uniform,
                bins: 10,
                compare: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(view.report.samples, n);
        view_t.push(t.elapsed());
    }
    println!(
        "store: the scored runs of one model, {n} rows: median {}",
        ms(median(rows_t))
    );
    println!(
        "store: the whole calibration view (rows, report, drift of 10 features): median {}",
        ms(median(view_t))
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes a project, `runs` as finished CI runs with features, and one active model's scores.
async fn load(db: &Db, runs: &[ScoredRun]) -> i64 {
    use app::store::audit::Actor;
    use app::store::projects::{self, NewProject};
    let p = projects::create(
        db,
        &NewProject::named(app::model::Slug::parse("bench").unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap();
    let Db::Sqlite(pool) = db else {
        panic!("the bench loads SQLite")
    };
    let mut tx = pool.begin().await.unwrap();
    let params = serde_json::to_string(&app::logic::predictor::ModelParams::Rules(
        app::logic::predictor::RulesModel::seeds(),
    ))
    .unwrap();
    let (model_id,): (i64,) = sqlx::query_as(
        "insert into risk_model (project_id, version, kind, state, params, threshold, created_by, created_at) \
         values ($1, 1, 'rules', 'active', $2, 0.5, 'bench', 0) returning risk_model_id",
    )
    .bind(p.id)
    .bind(params)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    for chunk in runs.chunks(300) {
        let mut runs_sql = String::from(
            "insert into ci_run (ci_run_id, project_id, provider, external_id, status, started_at, \
             finished_at, created_at, updated_at) values ",
        );
        let mut feats_sql =
            String::from("insert into run_features (ci_run_id, features, computed_at) values ");
        let mut preds_sql = String::from(
            "insert into risk_prediction (risk_model_id, ci_run_id, score, scored_at) values ",
        );
        for (i, r) in chunk.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            runs_sql.push_str(&format!(
                "{sep}({id}, {p}, 'generic', '{id}', '{s}', {at}, {end}, {at}, {at})",
                id = r.run_id,
                p = p.id,
                s = if r.failed { "failure" } else { "success" },
                at = r.at,
                end = r.at + 600_000
            ));
            let f = format!(
                "{{\"pass_rate\":{:.3},\"avg_duration\":{:.2},\"change_lines\":{},\"default_branch\":{}}}",
                1.0 - r.score * 0.5,
                6.0 + r.score * 8.0,
                (r.run_id * 37) % 2000,
                r.run_id % 2
            );
            feats_sql.push_str(&format!("{sep}({}, '{f}', {})", r.run_id, r.at));
            preds_sql.push_str(&format!(
                "{sep}({model_id}, {}, {}, {})",
                r.run_id, r.score, r.at
            ));
        }
        for sql in [&runs_sql, &feats_sql, &preds_sql] {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    model_id
}
