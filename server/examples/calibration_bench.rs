//! How fast the calibration report is: the pure computation over N scored runs, the threshold
//! figures the browser recomputes per slider step (native here; the browser figure comes from
//! the Playwright measurement), and the whole report from the store (SQLite) with N runs of
//! one project scored by one model, features included. Writes the scores and outcomes to
//! `$OUT` (default /tmp/calibration-bench.bin) so `scripts/calibration-bench.py` can time
//! scikit-learn on the same data. Medians of 5 runs.
//!
//!     cargo run --release -p gatehouse --example calibration_bench -- 1000000 [--no-store]
//!
//! The store part times the first view after a start (every row read, drift computed), views
//! with nothing new, and views while runs keep finishing (20 between views, pushed through the
//! store as CI does). With `KEEP_DB=path` it only loads that database and keeps it.

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
    // What a view meets: the store's copy is kept ordered by score.
    let mut ordered = runs.clone();
    ordered.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.run_id.cmp(&b.run_id)));
    let times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            build(&ordered, now - span, now + 1, 0.5, Binning::Quantile, 10);
            t.elapsed()
        })
        .collect();
    println!(
        "report computation from runs ordered by score (as the store's copy is), {n} runs: median {}",
        ms(median(times))
    );

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
    // KEEP_DB=path: load the database there, keep it and stop (scripts/slider-bench serves it).
    let keep = std::env::var("KEEP_DB").ok();
    let dir = std::env::temp_dir().join(format!("gh-calbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = match &keep {
        Some(path) => format!("sqlite://{path}"),
        None => format!("sqlite://{}", dir.join("bench.db").display()),
    };
    let db = Db::connect(&url, &PoolSettings::default()).await.unwrap();
    db.migrate().await.unwrap();
    let t = Instant::now();
    let model_id = load(&db, &runs).await;
    println!(
        "loaded {n} scored runs in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    if keep.is_some() {
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    let p = app::store::projects::require(&db, "bench").await.unwrap();
    let query = app::store::calibration::ReportQuery {
        version: None,
        from: now - span,
        to: now + 1,
        threshold: None,
        binning: Binning::Uniform,
        bins: 10,
        compare: None,
    };
    let view = |db: Db, query: app::store::calibration::ReportQuery| async move {
        let t = Instant::now();
        let view = app::store::calibration::calibration(&db, p.id, "bench", &query)
            .await
            .unwrap();
        (t.elapsed(), view.report.samples)
    };
    // First view after a start: every row read from SQLite, drift computed.
    let (cold, samples) = view(db.clone(), query.clone()).await;
    assert_eq!(samples, n);
    println!(
        "store: first view after a start (reads {n} rows, drift of 10 features): {}",
        ms(cold)
    );
    let t = Instant::now();
    let (drift, _, _) = app::store::calibration::drift_of(
        &db,
        p.id,
        &app::store::predictor::model(&db, model_id).await.unwrap(),
        now + 1,
    )
    .await
    .unwrap();
    println!(
        "store: drift of {} features alone: {}",
        drift.len(),
        ms(t.elapsed())
    );
    // Later views: nothing changed since.
    let warm: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..7 {
            v.push(view(db.clone(), query.clone()).await.0);
        }
        v
    };
    println!(
        "store: the whole calibration view, {n} predictions, nothing new: median {}",
        ms(median(warm))
    );
    let quantile: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..7 {
            let q = app::store::calibration::ReportQuery {
                binning: Binning::Quantile,
                ..query.clone()
            };
            v.push(view(db.clone(), q).await.0);
        }
        v
    };
    println!(
        "store: the whole calibration view with quantile bins, nothing new: median {}",
        ms(median(quantile))
    );
    // Later views while CI keeps pushing: 20 new runs finish between views.
    let mut busy = Vec::new();
    let mut next = n as i64 + 1;
    for _ in 0..7 {
        for _ in 0..20 {
            finish_one(&db, p.id, next, now).await;
            next += 1;
        }
        let (t, samples) = view(
            db.clone(),
            app::store::calibration::ReportQuery {
                to: now + span,
                ..query.clone()
            },
        )
        .await;
        assert!(samples > n);
        busy.push(t);
    }
    println!(
        "store: the whole calibration view, 20 runs finished since the last: median {}",
        ms(median(busy))
    );
    let t = Instant::now();
    let rows = app::store::predictor::scored_runs(&db, model_id, now - span, now + 1)
        .await
        .unwrap();
    assert_eq!(rows.len(), n + 140);
    println!(
        "store: the scored runs of one model, {} rows, current copy: {}",
        n + 140,
        ms(t.elapsed())
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
            "insert into risk_prediction (risk_model_id, ci_run_id, score, scored_at, run_at, outcome, rev) values ",
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
                "{sep}({model_id}, {}, {}, {}, {}, {}, 1)",
                r.run_id, r.score, r.at, r.at, r.failed as i64
            ));
        }
        for sql in [&runs_sql, &feats_sql, &preds_sql] {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
    }
    sqlx::query("update risk_model set rev = 1, scored = $2, scored_failed = $3, scored_passed = $4 where risk_model_id = $1")
        .bind(model_id)
        .bind(runs.len() as i64)
        .bind(runs.iter().filter(|r| r.failed).count() as i64)
        .bind(runs.iter().filter(|r| !r.failed).count() as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    model_id
}

/// A run pushed through the store as CI does: created running (features, score), then
/// finished by an update.
async fn finish_one(db: &Db, project_id: i64, n: i64, now: i64) {
    use app::model::{NewRun, Provider, RunStatus};
    let run = NewRun {
        provider: Provider::Generic,
        external_id: format!("late-{n}"),
        attempt: 1,
        workflow: "ci".into(),
        commit_sha: None,
        branch: Some("main".into()),
        author: Some(format!("dev{}", n % 7)),
        trigger: Some("push".into()),
        url: None,
        status: RunStatus::Running,
        started_at: Some(now - 60_000),
        finished_at: None,
        jobs: Vec::new(),
        performance: Default::default(),
        security: Default::default(),
        change: Default::default(),
    };
    let (run, _) = app::store::runs::create_or_get(db, project_id, &run)
        .await
        .unwrap();
    let update = app::store::runs::RunUpdate {
        status: Some(if n % 3 == 0 {
            RunStatus::Failure
        } else {
            RunStatus::Success
        }),
        finished_at: Some(now),
        ..Default::default()
    };
    app::store::runs::update(db, run.id, &update).await.unwrap();
}
