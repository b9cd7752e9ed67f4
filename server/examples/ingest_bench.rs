//! JUnit ingestion benchmark: writes a large synthetic report (realistic case names, 2% failures
//! with stack traces, 1% skipped, some flaky retries), then measures parse-only throughput and
//! parse + store into a fresh SQLite database, with the peak resident memory of each phase.
//!
//! `cargo run --release -p gatehouse --example ingest_bench -- [cases]` (default 500,000).
//! With `INGEST_BENCH_REPORT=path` the report is written there and kept; with
//! `INGEST_BENCH_WRITE_ONLY=1` as well, the report is all it does.

use app::model::{NewRun, Performance, Provider, RunStatus, Security, Slug};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::runs;
use app::store::{Db, PoolSettings};
use gatehouse_server::ingest;
use std::io::{BufWriter, Write};
use std::time::Instant;

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn current_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn write_report(path: &std::path::Path, cases: usize) -> std::io::Result<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="bench" tests="{cases}">"#)?;
    let per_suite = 500;
    for i in 0..cases {
        if i % per_suite == 0 {
            if i > 0 {
                writeln!(out, "  </testsuite>")?;
            }
            writeln!(
                out,
                r#"  <testsuite name="com.acme.module{}.Suite{}" tests="{per_suite}">"#,
                i / 5000,
                i / per_suite
            )?;
        }
        let class = format!("com.acme.module{}.Feature{}Test", i / 5000, (i / 50) % 100);
        let name = format!("should_handle_case_{i}_with_a_descriptive_name");
        let time = (i % 997) as f64 / 1000.0;
        if i % 50 == 7 {
            writeln!(
                out,
                r#"    <testcase classname="{class}" name="{name}" time="{time}">"#
            )?;
            writeln!(
                out,
                r#"      <failure message="expected: &lt;{i}&gt; but was: &lt;0&gt;" type="org.opentest4j.AssertionFailedError">org.opentest4j.AssertionFailedError: expected &lt;{i}&gt;"#
            )?;
            for depth in 0..20 {
                writeln!(
                    out,
                    "\tat com.acme.module.Frame{depth}.call(Frame{depth}.java:{})",
                    depth * 7 + 3
                )?;
            }
            writeln!(out, "      </failure>\n      <system-out>log line one\nlog line two</system-out>\n    </testcase>")?;
        } else if i % 100 == 13 {
            writeln!(
                out,
                r#"    <testcase classname="{class}" name="{name}" time="{time}"><skipped message="disabled"/></testcase>"#
            )?;
        } else if i % 200 == 17 {
            writeln!(
                out,
                r#"    <testcase classname="{class}" name="{name}" time="{time}"><flakyFailure message="timeout" type="java.util.concurrent.TimeoutException"><stackTrace>at x</stackTrace></flakyFailure></testcase>"#
            )?;
        } else {
            writeln!(
                out,
                r#"    <testcase classname="{class}" name="{name}" time="{time}"/>"#
            )?;
        }
    }
    writeln!(out, "  </testsuite>\n</testsuites>")?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cases: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let dir = tempfile::tempdir().expect("temp dir");
    // `INGEST_BENCH_REPORT=path` keeps the report there (scripts/junitparser-compare reads it).
    let report = std::env::var_os("INGEST_BENCH_REPORT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("report.xml"));
    let bytes = write_report(&report, cases).expect("write report");
    println!("report: {cases} cases, {:.1} MB", bytes as f64 / 1e6);
    if std::env::var_os("INGEST_BENCH_WRITE_ONLY").is_some() {
        return;
    }

    let base_rss = current_rss_kb();
    let t = Instant::now();
    let (parsed, totals) = {
        let input = ingest::open_upload(&report, false).expect("open");
        let mut reader = ingest::junit::JunitReader::new(input);
        let mut n = 0u64;
        while reader.next_case().expect("parse").is_some() {
            n += 1;
        }
        (n, *reader.totals())
    };
    let parse_s = t.elapsed().as_secs_f64();
    println!(
        "parse only: {parsed} cases in {parse_s:.2} s = {:.0} cases/s ({:.0} MB/s); totals {totals:?}",
        parsed as f64 / parse_s,
        bytes as f64 / 1e6 / parse_s
    );

    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = Db::connect(&url, &PoolSettings::default())
        .await
        .expect("db");
    db.migrate().await.expect("migrate");
    let project = projects::create(
        &db,
        &NewProject::named(Slug::parse("bench").unwrap()),
        &Actor::system(),
    )
    .await
    .expect("project");
    let new = NewRun {
        provider: Provider::Generic,
        external_id: "1".into(),
        attempt: 1,
        workflow: "bench".into(),
        commit_sha: None,
        branch: Some("main".into()),
        author: None,
        trigger: None,
        url: None,
        status: RunStatus::Running,
        started_at: None,
        finished_at: None,
        jobs: Vec::new(),
        performance: Performance::default(),
        security: Security::default(),
        change: Default::default(),
    };
    let (run, _) = runs::create_or_get(&db, project.id, &new)
        .await
        .expect("run");
    let before_store = current_rss_kb();
    let digest = ingest::file_digest(&report).expect("digest");
    let t = Instant::now();
    let stored = ingest::junit_file(&db, run.id, report.clone(), false, &digest)
        .await
        .expect("ingest");
    let store_s = t.elapsed().as_secs_f64();
    let peak = peak_rss_kb();
    println!(
        "parse + store (SQLite): {} cases in {store_s:.2} s = {:.0} cases/s",
        stored.totals().tests,
        stored.totals().tests as f64 / store_s
    );
    println!(
        "memory: resident {:.0} MB before ingestion, peak {:.0} MB (+{:.0} MB over the process before parsing)",
        before_store as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(base_rss)) as f64 / 1024.0
    );
}
