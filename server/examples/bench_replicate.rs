//! Grows a generated SQLite demo database for the scale benchmark (`scripts/bench-scale`):
//! shifts the original history back by `copies × 90` days, then appends `copies` copies of
//! every run with its jobs, test reports, test cases and coverage, each copy 90 days later
//! than the one before, so run ids still follow time and the newest copy ends now. Copies get
//! new ids and an external id suffix (`~1`, `~2`, …); they reuse the tests, so the per-test
//! histories grow too.
//!
//! `cargo run --release -p gatehouse --example bench_replicate -- sqlite://path.db COPIES`

use app::store::{Db, PoolSettings};
use std::time::Instant;

const PERIOD_MS: i64 = 90 * 86_400_000;

/// (table, id column, insert columns, select expressions); `$1` id offset, `$2` time shift,
/// `$3` run id offset, `$4` copy number, `$5` report offset (test cases), the last bound value
/// the highest original id.
const TABLES: &[(&str, &str, &str, &str)] = &[
    (
        "ci_run",
        "ci_run_id",
        "ci_run_id, project_id, provider, external_id, attempt, workflow, commit_sha, branch, \
         author, trigger, url, status, started_at, finished_at, tests, passed, failed, errors, \
         skipped, flaky, test_time_s, line_rate, branch_rate, lines_covered, lines_valid, \
         branches_covered, branches_valid, p50_ms, p95_ms, p99_ms, error_rate, throughput_rps, \
         vuln_critical, vuln_high, vuln_medium, vuln_low, created_at, updated_at",
        "ci_run_id + $1, project_id, provider, external_id || '~' || $4, attempt, workflow, \
         commit_sha, branch, author, trigger, url, status, started_at + $2, finished_at + $2, \
         tests, passed, failed, errors, skipped, flaky, test_time_s, line_rate, branch_rate, \
         lines_covered, lines_valid, branches_covered, branches_valid, p50_ms, p95_ms, p99_ms, \
         error_rate, throughput_rps, vuln_critical, vuln_high, vuln_medium, vuln_low, \
         created_at + $2, updated_at + $2",
    ),
    (
        "ci_job",
        "ci_job_id",
        "ci_job_id, ci_run_id, position, name, status, started_at, finished_at",
        "ci_job_id + $1, ci_run_id + $3, position, name, status, started_at + $2, finished_at + $2",
    ),
    (
        "test_report",
        "test_report_id",
        "test_report_id, ci_run_id, digest, tests, passed, failed, errors, skipped, flaky, time_s, \
         received_at",
        "test_report_id + $1, ci_run_id + $3, digest, tests, passed, failed, errors, skipped, \
         flaky, time_s, received_at + $2",
    ),
    (
        "test_case",
        "test_case_id",
        "test_case_id, ci_run_id, test_report_id, test_id, status, retried, duration_s, message",
        "test_case_id + $1, ci_run_id + $3, test_report_id + $5, test_id, status, retried, \
         duration_s, message",
    ),
    (
        "coverage_report",
        "coverage_report_id",
        "coverage_report_id, ci_run_id, digest, format, line_rate, branch_rate, lines_covered, \
         lines_valid, branches_covered, branches_valid, received_at",
        "coverage_report_id + $1, ci_run_id + $3, digest, format, line_rate, branch_rate, \
         lines_covered, lines_valid, branches_covered, branches_valid, received_at + $2",
    ),
];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: bench_replicate sqlite://path.db COPIES");
    let copies: i64 = args.next().and_then(|c| c.parse().ok()).expect("COPIES");
    let db = Db::connect(&url, &PoolSettings::default())
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let Db::Sqlite(pool) = &db else {
        panic!("SQLite only")
    };
    let max = |table: &str, id: &str| {
        let sql = format!("select coalesce(max({id}), 0) from {table}");
        async move {
            let (m,): (i64,) = sqlx::query_as(&sql).fetch_one(pool).await.expect("max");
            m
        }
    };
    // The highest original id of each table: copy `c` adds `c × that` to every id.
    let mut originals = std::collections::HashMap::new();
    for (table, id, ..) in TABLES {
        originals.insert(*table, max(table, id).await);
    }
    let (runs, reports) = (originals["ci_run"], originals["test_report"]);
    let coverage = originals["coverage_report"];
    let files = max("coverage_file", "coverage_file_id").await;
    let started = Instant::now();
    // The original history moves back, the copies fill the periods up to now.
    let shift = -copies * PERIOD_MS;
    for sql in [
        "update ci_run set started_at = started_at + $1, finished_at = finished_at + $1, \
         created_at = created_at + $1, updated_at = updated_at + $1",
        "update ci_job set started_at = started_at + $1, finished_at = finished_at + $1",
        "update test_report set received_at = received_at + $1",
        "update coverage_report set received_at = received_at + $1",
    ] {
        sqlx::query(sql).bind(shift).execute(pool).await.expect(sql);
    }
    for c in 1..=copies {
        for (table, id, columns, select) in TABLES {
            let original = originals[table];
            let sql = format!(
                "insert into {table} ({columns}) select {select} from {table} where {id} <= $6 order by {id}"
            );
            let t = Instant::now();
            sqlx::query(&sql)
                .bind(original * c)
                .bind(c * PERIOD_MS)
                .bind(runs * c)
                .bind(c.to_string())
                .bind(reports * c)
                .bind(original)
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{table}: {e}"));
            eprintln!("copy {c}: {table} in {:.1} s", t.elapsed().as_secs_f64());
        }
        let sql = "insert into coverage_file (coverage_file_id, coverage_report_id, path, \
                   lines_covered, lines_valid, branches_covered, branches_valid) \
                   select coverage_file_id + $1, coverage_report_id + $2, path, lines_covered, \
                   lines_valid, branches_covered, branches_valid from coverage_file \
                   where coverage_file_id <= $3";
        sqlx::query(sql)
            .bind(files * c)
            .bind(coverage * c)
            .bind(files)
            .execute(pool)
            .await
            .expect("coverage_file");
    }
    sqlx::query("pragma wal_checkpoint(truncate)")
        .execute(pool)
        .await
        .expect("checkpoint");
    println!(
        "replicated {runs} runs {copies} times in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
