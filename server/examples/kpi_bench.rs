//! How fast the overview's KPIs are at the scale: one project with 1,000,000 runs over
//! a year, 50,000 deployments (with rollbacks and health samples), 100,000 alerts and 2,000
//! incidents, on SQLite (a temporary file) or Postgres (`DATABASE_URL=postgres://…`, which it
//! empties first). Times `store::kpis::overview` (every query and the computation of every KPI,
//! the previous period and the trends) for 7, 30 and 90 days; medians and p95 of 40 views.
//!
//!     cargo run --release -p gatehouse --example kpi_bench -- [runs] [deployments] [alerts]
//!
//! `KEEP_DB=/tmp/kpi.db` keeps the SQLite file; `KPI_BENCH_REUSE=1` with `DATABASE_URL` naming
//! a kept database (or the Postgres one) skips loading and only times the views.
//!
//! The data is written with multi-row inserts through the same triggers CI traffic goes
//! through, so the roll-ups are the ones a real database would have.

use app::store::{kpis, Db, PoolSettings};
use std::time::{Duration, Instant};

const DAY: i64 = 86_400_000;

fn arg(i: usize, default: i64) -> i64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

async fn exec(db: &Db, sql: &str) {
    app::on_pool!(db, pool => { sqlx::query(sql).execute(pool).await.unwrap(); });
}

/// Rows in chunks of `chunk`, each chunk one statement.
async fn insert_rows(db: &Db, head: &str, rows: impl Iterator<Item = String>, chunk: usize) {
    let mut batch: Vec<String> = Vec::with_capacity(chunk);
    let flush = |batch: &mut Vec<String>| {
        let sql = format!("{head} values {}", batch.join(","));
        batch.clear();
        sql
    };
    for r in rows {
        batch.push(r);
        if batch.len() == chunk {
            exec(db, &flush(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        exec(db, &flush(&mut batch)).await;
    }
}

fn pct(mut v: Vec<Duration>, q: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn load(db: &Db, runs: i64, deployments: i64, alerts: i64, backend: &str, now: i64) {
    let p = app::store::projects::create(
        &db,
        &app::store::projects::NewProject::named(app::model::Slug::parse("bench").unwrap()),
        &app::store::audit::Actor::system(),
    )
    .await
    .unwrap();
    let env = |name: &'static str| {
        let db = db.clone();
        async move {
            app::store::environments::find(&db, "bench", name)
                .await
                .unwrap()
                .id
        }
    };
    let (staging, production) = (env("staging").await, env("production").await);
    let start = now - 365 * DAY;
    let t = Instant::now();

    // Runs: 1 in 8 fails, 1 in 100 of those on infrastructure; tests, coverage, latency.
    let run_rows = (0..runs).map(|i| {
        let at = start + i * 365 * DAY / runs;
        let status = match i % 800 {
            0 => "error",
            x if x % 8 == 0 => "failure",
            _ => "success",
        };
        let failed = if status == "success" { 0 } else { 3 };
        format!(
            "({pid}, 'generic', 'r{i}', '{status}', {at}, {end}, 200, {passed}, {failed}, \
             {cov}, {p50}, {p99}, {at}, {at})",
            pid = p.id,
            end = at + 600_000,
            passed = 200 - failed,
            cov = 0.78 + (i % 10) as f64 / 100.0,
            p50 = 60 + i % 50,
            p99 = 150 + i % 120,
        )
    });
    insert_rows(
        &db,
        "insert into ci_run (project_id, provider, external_id, status, started_at, finished_at, \
         tests, passed, failed, line_rate, p50_ms, p99_ms, created_at, updated_at)",
        run_rows,
        500,
    )
    .await;
    let loaded_runs = t.elapsed();

    // Alerts on every (runs/alerts)-th run, most acknowledged within minutes.
    let every = (runs / alerts).max(1);
    exec(
        &db,
        &format!(
            "insert into risk_alert (project_id, kind, ci_run_id, dedup_key, score, threshold, message, \
             opened_at, acknowledged_at, acknowledged_by) \
             select project_id, 'risk', ci_run_id, 'run:' || ci_run_id, 0.7, 0.5, 'bench', started_at, \
             case when ci_run_id % 7 = 0 then null else started_at + 60000 + (ci_run_id % 9) * 60000 end, 'bench' \
             from ci_run where project_id = {} and ci_run_id % {every} = 1",
            p.id
        ),
    )
    .await;

    // Deployments: four in five to production; every 15th production one is rolled back by
    // the next, 1 in 12 fails; each has two health samples.
    let releases = (1..=deployments).map(|i| {
        format!(
            "({i}, {}, '1.0.{i}', '{:040x}', 'bench', {})",
            p.id,
            i,
            start + i * 365 * DAY / deployments
        )
    });
    insert_rows(
        &db,
        "insert into release (release_id, project_id, version, commit_sha, created_by, created_at)",
        releases,
        500,
    )
    .await;
    exec(
        &db,
        "update release set first_commit_at = created_at - 3 * 3600000 - (release_id % 48) * 3600000",
    )
    .await;
    let deployment_rows = (1..=deployments).map(|i| {
        let at = start + i * 365 * DAY / deployments + 1_800_000;
        let prod = i % 5 != 0;
        let env = if prod { production } else { staging };
        // One in 35 goes live and is rolled back by the next one (both to production).
        let (state, rollback_of, decided) = if i % 35 == 1 {
            ("rolled_back", "null".to_string(), "null".to_string())
        } else if i % 35 == 2 {
            (
                "succeeded",
                format!("{}", i - 1),
                format!("{}", at - 600_000),
            )
        } else if i % 12 == 0 {
            ("failed", "null".into(), "null".into())
        } else {
            ("succeeded", "null".into(), "null".into())
        };
        format!(
            "({i}, {pid}, {env}, {i}, '{state}', 'rolling', 1, 'bench', {req}, {at}, {at}, \
             {rollback_of}, {decided}, {at})",
            pid = p.id,
            req = at - 900_000,
        )
    });
    insert_rows(
        &db,
        "insert into deployment (deployment_id, project_id, environment_id, release_id, state, strategy, \
         traffic, requested_by, requested_at, started_at, finished_at, rollback_of, \
         rollback_decided_at, updated_at)",
        deployment_rows,
        500,
    )
    .await;
    exec(
        &db,
        "update deployment set rolled_back_by = deployment_id + 1 where state = 'rolled_back'",
    )
    .await;
    let samples = (1..=deployments).flat_map(|i| {
        let at = start + i * 365 * DAY / deployments + 2_400_000;
        [0, 1].map(|k| {
            format!(
                "({i}, {}, {}, {}, true)",
                at + k * 300_000,
                0.0005 + (i % 7) as f64 / 10_000.0,
                if i % 97 == 0 { 0.97 } else { 1.0 }
            )
        })
    });
    insert_rows(
        &db,
        "insert into health_sample (deployment_id, at, error_rate, availability, healthy)",
        samples,
        500,
    )
    .await;
    let incidents =
        (1..=2000i64).map(|i| {
            let at = start + i * 365 * DAY / 2000;
            let dep = (i * deployments / 2000).max(1);
            format!(
            "({}, {production}, {}, 'bench incident', 'warning', {at}, {}, 'bench', {at}, {at})",
            p.id,
            if i % 3 == 0 { format!("{dep}") } else { "null".into() },
            at + 600_000 + (i % 30) * 60_000
        )
        });
    insert_rows(
        &db,
        "insert into incident (project_id, environment_id, deployment_id, title, severity, \
         started_at, resolved_at, created_by, created_at, updated_at)",
        incidents,
        500,
    )
    .await;
    if matches!(db, Db::Postgres(_)) {
        exec(&db, "select setval(pg_get_serial_sequence('release', 'release_id'), (select max(release_id) from release))").await;
        exec(&db, "select setval(pg_get_serial_sequence('deployment', 'deployment_id'), (select max(deployment_id) from deployment))").await;
        exec(&db, "analyze").await;
    } else {
        exec(&db, "analyze").await;
    }
    println!(
        "{backend}: loaded {runs} runs ({:.0} s), {alerts} alerts, {deployments} deployments with {} health samples, 2000 incidents in {:.0} s",
        loaded_runs.as_secs_f64(),
        deployments * 2,
        t.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let runs = arg(1, 1_000_000);
    let deployments = arg(2, 50_000);
    let alerts = arg(3, 100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("kpi-bench.db").display()));
    let db = Db::connect(&url, &PoolSettings::default()).await.unwrap();
    if matches!(db, Db::Postgres(_)) && std::env::var("KPI_BENCH_REUSE").is_err() {
        exec(&db, "drop schema public cascade").await;
        exec(&db, "create schema public").await;
    }
    db.migrate().await.unwrap();
    let backend = if matches!(db, Db::Postgres(_)) {
        "Postgres"
    } else {
        "SQLite"
    };
    let now = app::store::now_ms();
    // With KPI_BENCH_REUSE set, DATABASE_URL names a database an earlier run kept (KEEP_DB, or
    // the Postgres one): only the views are timed, so a change can be measured in a minute.
    if std::env::var("KPI_BENCH_REUSE").is_err() {
        load(&db, runs, deployments, alerts, backend, now).await;
    }

    let today = now.div_euclid(DAY);
    for days in [7i64, 30, 90] {
        let scope = kpis::scope(&db, "bench", None).await.unwrap();
        let mut times = Vec::new();
        let mut check = None;
        for i in 0..43 {
            let t = Instant::now();
            let o = kpis::overview(&db, scope.clone(), today - days + 1, today + 1)
                .await
                .unwrap();
            if i >= 3 {
                times.push(t.elapsed());
            }
            check = Some(o);
        }
        // The same view in its two halves: reading the facts, and computing from them.
        let (mut read, mut compute) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let t = Instant::now();
            let facts = kpis::load_facts(&db, &scope, today - 2 * days + 1, today + 1)
                .await
                .unwrap();
            read.push(t.elapsed());
            let t = Instant::now();
            let r = app::logic::kpi::report(&facts, &[], today - days + 1, today + 1);
            compute.push(t.elapsed());
            std::hint::black_box(r);
        }
        println!(
            "  of which reading the facts: median {}; computing every KPI, the previous period and the trend: median {}",
            ms(pct(read, 0.5)),
            ms(pct(compute, 0.5))
        );
        let o = check.unwrap();
        let k = &o.report.dora.current;
        println!(
            "{backend} overview, {days:>2} days: median {}, p95 {} ({} deployments, {} alerts' KPIs, change failure rate {:.3})",
            ms(pct(times.clone(), 0.5)),
            ms(pct(times, 0.95)),
            k.finished.len(),
            o.report
                .cards
                .iter()
                .find(|c| c.kpi == app::logic::kpi::Kpi::AlertResponse)
                .map_or(0, |c| c.current.sources.alerts.len()),
            k.change_failure_rate.unwrap_or_default()
        );
    }
    if let Ok(keep) = std::env::var("KEEP_DB") {
        if let Db::Sqlite(_) = db {
            db.close().await;
            std::fs::copy(dir.path().join("kpi-bench.db"), &keep).unwrap();
            println!("kept the database at {keep}");
        }
    }
}
