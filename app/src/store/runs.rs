//! CI runs with their jobs, test reports, test cases and coverage.
//!
//! Every write is idempotent: a run by (project, provider, external id, attempt), a report by
//! the SHA-256 of its bytes within its run. A retried request changes nothing.

use super::{now_ms, Backend, Db, StoreError, StoreResult};
use crate::model::{
    CaseStatus, CoverageReport, CoverageTotals, Job, NewRun, NewTestCase, Performance, Run,
    RunStatus, Security, TestTotals,
};
use crate::on_pool;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Test cases are written this many to a statement.
pub const CASE_BATCH: usize = 500;

const RUN_COLUMNS: &str = "r.ci_run_id, p.slug as project, r.provider, r.external_id, r.attempt, \
    r.workflow, r.commit_sha, r.branch, r.author, r.trigger, r.url, r.status, r.started_at, \
    r.finished_at, r.tests, r.passed, r.failed, r.errors, r.skipped, r.flaky, r.test_time_s, \
    r.line_rate, r.branch_rate, r.lines_covered, r.lines_valid, r.branches_covered, \
    r.branches_valid, r.p50_ms, r.p95_ms, r.p99_ms, r.error_rate, r.throughput_rps, \
    r.vuln_critical, r.vuln_high, r.vuln_medium, r.vuln_low, r.created_at";

#[derive(sqlx::FromRow)]
struct RunRow {
    ci_run_id: i64,
    project: String,
    provider: String,
    external_id: String,
    attempt: i32,
    workflow: String,
    commit_sha: Option<String>,
    branch: Option<String>,
    author: Option<String>,
    trigger: Option<String>,
    url: Option<String>,
    status: String,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    tests: i32,
    passed: i32,
    failed: i32,
    errors: i32,
    skipped: i32,
    flaky: i32,
    test_time_s: f64,
    line_rate: Option<f64>,
    branch_rate: Option<f64>,
    lines_covered: Option<i64>,
    lines_valid: Option<i64>,
    branches_covered: Option<i64>,
    branches_valid: Option<i64>,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    error_rate: Option<f64>,
    throughput_rps: Option<f64>,
    vuln_critical: Option<i32>,
    vuln_high: Option<i32>,
    vuln_medium: Option<i32>,
    vuln_low: Option<i32>,
    created_at: i64,
}

impl RunRow {
    fn into_run(self, jobs: Vec<Job>) -> StoreResult<Run> {
        let coverage = self.lines_valid.map(|lines_valid| CoverageTotals {
            line_rate: self.line_rate,
            branch_rate: self.branch_rate,
            lines_covered: self.lines_covered.unwrap_or(0),
            lines_valid,
            branches_covered: self.branches_covered.unwrap_or(0),
            branches_valid: self.branches_valid.unwrap_or(0),
        });
        Ok(Run {
            id: self.ci_run_id,
            project: self.project,
            provider: self.provider.parse().map_err(StoreError::Other)?,
            external_id: self.external_id,
            attempt: self.attempt.into(),
            workflow: self.workflow,
            commit_sha: self.commit_sha,
            branch: self.branch,
            author: self.author,
            trigger: self.trigger,
            url: self.url,
            status: self.status.parse().map_err(StoreError::Other)?,
            started_at: self.started_at,
            finished_at: self.finished_at,
            tests: TestTotals {
                tests: self.tests.into(),
                passed: self.passed.into(),
                failed: self.failed.into(),
                errors: self.errors.into(),
                skipped: self.skipped.into(),
                flaky: self.flaky.into(),
                time_s: self.test_time_s,
            },
            coverage,
            performance: Performance {
                p50_ms: self.p50_ms,
                p95_ms: self.p95_ms,
                p99_ms: self.p99_ms,
                error_rate: self.error_rate,
                throughput_rps: self.throughput_rps,
            },
            security: Security {
                critical: self.vuln_critical.map(i64::from),
                high: self.vuln_high.map(i64::from),
                medium: self.vuln_medium.map(i64::from),
                low: self.vuln_low.map(i64::from),
            },
            jobs,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    name: String,
    status: String,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

/// Inserts a job of a run, or updates the one of the same name (its position stays).
macro_rules! upsert_job {
    ($executor:expr, $run_id:expr, $position:expr, $job:expr) => {{
        let job: &Job = $job;
        sqlx::query(
            "insert into ci_job (ci_run_id, position, name, status, started_at, finished_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (ci_run_id, name) do update set \
             status = excluded.status, started_at = coalesce(excluded.started_at, ci_job.started_at), \
             finished_at = coalesce(excluded.finished_at, ci_job.finished_at)",
        )
        .bind($run_id)
        .bind($position)
        .bind(&job.name)
        .bind(job.status.as_str())
        .bind(job.started_at)
        .bind(job.finished_at)
        .execute($executor)
        .await?;
    }};
}

/// Stores a run unless the same (project, provider, external id, attempt) exists; returns the
/// run and whether it was created now.
pub async fn create_or_get(db: &Db, project_id: i64, new: &NewRun) -> StoreResult<(Run, bool)> {
    let now = now_ms();
    let inserted: Option<i64> = on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let row: Option<(i64,)> = sqlx::query_as(
            "insert into ci_run (project_id, provider, external_id, attempt, workflow, commit_sha, \
             branch, author, trigger, url, status, started_at, finished_at, p50_ms, p95_ms, p99_ms, \
             error_rate, throughput_rps, vuln_critical, vuln_high, vuln_medium, vuln_low, \
             created_at, updated_at, change_lines, change_files) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22, $23, $23, $24, $25) \
             on conflict (project_id, provider, external_id, attempt) do nothing \
             returning ci_run_id",
        )
        .bind(project_id)
        .bind(new.provider.as_str())
        .bind(&new.external_id)
        .bind(new.attempt as i32)
        .bind(&new.workflow)
        .bind(&new.commit_sha)
        .bind(&new.branch)
        .bind(&new.author)
        .bind(&new.trigger)
        .bind(&new.url)
        .bind(new.status.as_str())
        .bind(new.started_at)
        .bind(new.finished_at)
        .bind(new.performance.p50_ms)
        .bind(new.performance.p95_ms)
        .bind(new.performance.p99_ms)
        .bind(new.performance.error_rate)
        .bind(new.performance.throughput_rps)
        .bind(new.security.critical.map(|v| v as i32))
        .bind(new.security.high.map(|v| v as i32))
        .bind(new.security.medium.map(|v| v as i32))
        .bind(new.security.low.map(|v| v as i32))
        .bind(now)
        .bind(new.change.lines)
        .bind(new.change.files)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id,)) = row {
            for (position, job) in new.jobs.iter().enumerate() {
                upsert_job!(&mut *tx, id, position as i32, job);
            }
            // The failure-risk features and scores commit with the run they describe.
            let mut tx = super::tx::Tx::from(tx);
            super::predictor::on_run_created(&mut tx, project_id, id, new, now).await?;
            tx.commit().await?;
        } else {
            tx.commit().await?;
        }
        row.map(|r| r.0)
    });
    match inserted {
        Some(id) => {
            gates_hook(db, id).await;
            Ok((require(db, id).await?, true))
        }
        None => {
            let sql = "select ci_run_id from ci_run where project_id = $1 and provider = $2 \
                       and external_id = $3 and attempt = $4";
            let (id,): (i64,) = on_pool!(db, pool => {
                sqlx::query_as(sql)
                    .bind(project_id)
                    .bind(new.provider.as_str())
                    .bind(&new.external_id)
                    .bind(new.attempt as i32)
                    .fetch_one(pool)
                    .await?
            });
            Ok((require(db, id).await?, false))
        }
    }
}

/// A finished run may decide the gates of deployments waiting on its commit. The run is
/// stored whatever happens here; a failure is logged and the next refresh retries.
async fn gates_hook(db: &Db, run_id: i64) {
    if let Err(e) = super::deployments::on_run_changed(db, run_id).await {
        tracing::warn!(run_id, error = %e, "could not re-evaluate the deployments of a run");
    }
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<Run>> {
    let sql = format!(
        "select {RUN_COLUMNS} from ci_run r join project p on p.project_id = r.project_id \
         where r.ci_run_id = $1"
    );
    let (row, jobs): (Option<RunRow>, Vec<JobRow>) = on_pool!(db, pool => {
        let row: Option<RunRow> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
        let jobs: Vec<JobRow> = sqlx::query_as(
            "select name, status, started_at, finished_at from ci_job where ci_run_id = $1 order by position",
        )
        .bind(id)
        .fetch_all(pool)
        .await?;
        (row, jobs)
    });
    let jobs = jobs
        .into_iter()
        .map(|j| {
            Ok(Job {
                name: j.name,
                status: j.status.parse().map_err(StoreError::Other)?,
                started_at: j.started_at,
                finished_at: j.finished_at,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    row.map(|r| r.into_run(jobs)).transpose()
}

pub async fn require(db: &Db, id: i64) -> StoreResult<Run> {
    get(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no run {id}")))
}

/// The project a run belongs to (for token checks).
pub async fn project_of(db: &Db, run_id: i64) -> StoreResult<Option<i64>> {
    let row: Option<(i64,)> = on_pool!(db, pool => {
        sqlx::query_as("select project_id from ci_run where ci_run_id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|r| r.0))
}

/// A run's later state: status, end time, jobs (replacing those named), figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub jobs: Vec<Job>,
    pub performance: Performance,
    pub security: Security,
}

/// Applies an update; fields not given keep their value.
pub async fn update(db: &Db, id: i64, change: &RunUpdate) -> StoreResult<Run> {
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let done = sqlx::query(
            "update ci_run set status = coalesce($2, status), started_at = coalesce($3, started_at), \
             finished_at = coalesce($4, finished_at), p50_ms = coalesce($5, p50_ms), \
             p95_ms = coalesce($6, p95_ms), p99_ms = coalesce($7, p99_ms), \
             error_rate = coalesce($8, error_rate), throughput_rps = coalesce($9, throughput_rps), \
             vuln_critical = coalesce($10, vuln_critical), vuln_high = coalesce($11, vuln_high), \
             vuln_medium = coalesce($12, vuln_medium), vuln_low = coalesce($13, vuln_low), \
             updated_at = $14 where ci_run_id = $1",
        )
        .bind(id)
        .bind(change.status.map(|s| s.as_str()))
        .bind(change.started_at)
        .bind(change.finished_at)
        .bind(change.performance.p50_ms)
        .bind(change.performance.p95_ms)
        .bind(change.performance.p99_ms)
        .bind(change.performance.error_rate)
        .bind(change.performance.throughput_rps)
        .bind(change.security.critical.map(|v| v as i32))
        .bind(change.security.high.map(|v| v as i32))
        .bind(change.security.medium.map(|v| v as i32))
        .bind(change.security.low.map(|v| v as i32))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no run {id}")));
        }
        for job in &change.jobs {
            let (next,): (i32,) = sqlx::query_as(
                "select coalesce(max(position), -1) + 1 from ci_job where ci_run_id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            upsert_job!(&mut *tx, id, next, job);
        }
        // The outcome kept with the run's predictions changes with the run.
        let mut tx = super::tx::Tx::from(tx);
        super::predictor::sync_run(&mut tx, id).await?;
        tx.commit().await?;
    });
    gates_hook(db, id).await;
    require(db, id).await
}

/// A test's identity within its project: its class (or, without one, its suite) and its name.
pub fn test_key(case: &NewTestCase) -> i64 {
    let owner = if case.classname.is_empty() {
        &case.suite
    } else {
        &case.classname
    };
    let mut h = Sha256::new();
    h.update(owner.as_bytes());
    h.update([0]);
    h.update(case.name.as_bytes());
    let d = h.finalize();
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// What the parser feeds the store while it reads a report.
#[derive(Debug)]
pub enum Feed {
    Cases(Vec<NewTestCase>),
    /// The report was read to its end with these totals.
    Done(TestTotals),
    /// The report was refused; nothing of it is kept.
    Refused(String),
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Stored now.
    Stored(TestTotals),
    /// The same file was stored before; nothing changed.
    Repeated(TestTotals),
}

impl Ingested {
    pub fn totals(&self) -> &TestTotals {
        match self {
            Ingested::Stored(t) | Ingested::Repeated(t) => t,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TotalsRow {
    tests: i64,
    passed: i64,
    failed: i64,
    errors: i64,
    skipped: i64,
    flaky: i64,
    time_s: f64,
}

impl From<TotalsRow> for TestTotals {
    fn from(r: TotalsRow) -> TestTotals {
        TestTotals {
            tests: r.tests,
            passed: r.passed,
            failed: r.failed,
            errors: r.errors,
            skipped: r.skipped,
            flaky: r.flaky,
            time_s: r.time_s,
        }
    }
}

const REPORT_TOTALS: &str =
    "select cast(tests as bigint) as tests, cast(passed as bigint) as passed, \
    cast(failed as bigint) as failed, cast(errors as bigint) as errors, \
    cast(skipped as bigint) as skipped, cast(flaky as bigint) as flaky, time_s \
    from test_report where ci_run_id = $1 and digest = $2";

const RUN_TOTALS: &str = "select cast(coalesce(sum(tests), 0) as bigint) as tests, \
    cast(coalesce(sum(passed), 0) as bigint) as passed, cast(coalesce(sum(failed), 0) as bigint) as failed, \
    cast(coalesce(sum(errors), 0) as bigint) as errors, cast(coalesce(sum(skipped), 0) as bigint) as skipped, \
    cast(coalesce(sum(flaky), 0) as bigint) as flaky, coalesce(sum(time_s), 0.0) as time_s \
    from test_report where ci_run_id = $1";

/// Stores a JUnit report of run `run_id` as the parser feeds it, in one transaction: a refusal
/// or a dropped feed keeps nothing. A report whose digest was stored before is not read again.
pub async fn ingest_junit(
    db: &Db,
    run_id: i64,
    digest: &str,
    mut feed: tokio::sync::mpsc::Receiver<Feed>,
) -> StoreResult<Ingested> {
    let project_id = project_of(db, run_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no run {run_id}")))?;
    let totals = on_pool!(db, pool => {
        let previous: Option<TotalsRow> = sqlx::query_as(REPORT_TOTALS)
            .bind(run_id)
            .bind(digest)
            .fetch_optional(pool)
            .await?;
        if let Some(previous) = previous {
            return Ok(Ingested::Repeated(previous.into()));
        }
        let mut tx = super::begin_write(pool).await?;
        let (report_id,): (i64,) = sqlx::query_as(
            "insert into test_report (ci_run_id, digest, tests, passed, failed, errors, skipped, flaky, \
             time_s, received_at) values ($1, $2, 0, 0, 0, 0, 0, 0, 0, $3) returning test_report_id",
        )
        .bind(run_id)
        .bind(digest)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            // A concurrent upload of the same file won the race.
            StoreError::Conflict(_) => StoreError::Conflict("this report is being stored by another request; retry".into()),
            other => other,
        })?;
        let mut ids: HashMap<i64, i64> = HashMap::new();
        let totals = loop {
            match feed.recv().await {
                Some(Feed::Cases(cases)) => {
                    for chunk in cases.chunks(CASE_BATCH) {
                        let keys: Vec<i64> = chunk.iter().map(test_key).collect();
                        let mut unknown: Vec<(i64, &NewTestCase)> = Vec::new();
                        for (key, case) in keys.iter().zip(chunk) {
                            if !ids.contains_key(key) && !unknown.iter().any(|(k, _)| k == key) {
                                unknown.push((*key, case));
                            }
                        }
                        if !unknown.is_empty() {
                            let mut insert = sqlx::QueryBuilder::new(
                                "insert into test (project_id, test_key, suite, classname, name, file) ",
                            );
                            insert.push_values(&unknown, |mut b, (key, case)| {
                                b.push_bind(project_id)
                                    .push_bind(*key)
                                    .push_bind(case.suite.as_str())
                                    .push_bind(case.classname.as_str())
                                    .push_bind(case.name.as_str())
                                    .push_bind(case.file.as_deref());
                            });
                            insert.push(" on conflict (project_id, test_key) do nothing");
                            insert.build().execute(&mut *tx).await?;
                            let mut select = sqlx::QueryBuilder::new(
                                "select test_key, test_id from test where project_id = ",
                            );
                            select.push_bind(project_id).push(" and test_key in (");
                            let mut list = select.separated(", ");
                            for (key, _) in &unknown {
                                list.push_bind(*key);
                            }
                            select.push(")");
                            let found: Vec<(i64, i64)> =
                                select.build_query_as().fetch_all(&mut *tx).await?;
                            ids.extend(found);
                        }
                        let mut insert = sqlx::QueryBuilder::new(
                            "insert into test_case (ci_run_id, test_report_id, test_id, status, retried, \
                             duration_s, message) ",
                        );
                        insert.push_values(chunk.iter().zip(&keys), |mut b, (case, key)| {
                            b.push_bind(run_id)
                                .push_bind(report_id)
                                .push_bind(ids.get(key).copied().unwrap_or_default())
                                .push_bind(case.status.code())
                                .push_bind(case.retried)
                                .push_bind(case.duration_s)
                                .push_bind(case.message.as_deref());
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                }
                Some(Feed::Done(totals)) => break totals,
                Some(Feed::Refused(reason)) => return Err(StoreError::Invalid(reason)),
                None => return Err(StoreError::Other("the report's reader stopped early".into())),
            }
        };
        sqlx::query(
            "update test_report set tests = $2, passed = $3, failed = $4, errors = $5, skipped = $6, \
             flaky = $7, time_s = $8 where test_report_id = $1",
        )
        .bind(report_id)
        .bind(totals.tests as i32)
        .bind(totals.passed as i32)
        .bind(totals.failed as i32)
        .bind(totals.errors as i32)
        .bind(totals.skipped as i32)
        .bind(totals.flaky as i32)
        .bind(totals.time_s)
        .execute(&mut *tx)
        .await?;
        let run: TotalsRow = sqlx::query_as(RUN_TOTALS).bind(run_id).fetch_one(&mut *tx).await?;
        sqlx::query(
            "update ci_run set tests = $2, passed = $3, failed = $4, errors = $5, skipped = $6, \
             flaky = $7, test_time_s = $8, updated_at = $9 where ci_run_id = $1",
        )
        .bind(run_id)
        .bind(run.tests as i32)
        .bind(run.passed as i32)
        .bind(run.failed as i32)
        .bind(run.errors as i32)
        .bind(run.skipped as i32)
        .bind(run.flaky as i32)
        .bind(run.time_s)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, StoreError>(totals)
    })?;
    gates_hook(db, run_id).await;
    Ok(Ingested::Stored(totals))
}

/// A coverage report's rates and counts as stored: line rate, branch rate, lines covered,
/// lines valid, branches covered, branches valid.
type CoverageRow = (Option<f64>, Option<f64>, i64, i64, i64, i64);

/// How a coverage upload ended: the report's totals, and whether it was stored now.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageStored {
    pub totals: CoverageTotals,
    pub repeated: bool,
}

/// Stores a coverage report of a run and updates the run's coverage: the report's own rates
/// when it is the only one, else the rates of the summed counts.
pub async fn store_coverage(
    db: &Db,
    run_id: i64,
    digest: &str,
    report: &CoverageReport,
) -> StoreResult<CoverageStored> {
    let t = on_pool!(db, pool => {
        let previous: Option<CoverageRow> = sqlx::query_as(
            "select line_rate, branch_rate, lines_covered, lines_valid, branches_covered, branches_valid \
             from coverage_report where ci_run_id = $1 and digest = $2",
        )
        .bind(run_id)
        .bind(digest)
        .fetch_optional(pool)
        .await?;
        if let Some((line_rate, branch_rate, lc, lv, bc, bv)) = previous {
            return Ok(CoverageStored {
                totals: CoverageTotals {
                    line_rate,
                    branch_rate,
                    lines_covered: lc,
                    lines_valid: lv,
                    branches_covered: bc,
                    branches_valid: bv,
                },
                repeated: true,
            });
        }
        let t = report.totals;
        let mut tx = super::begin_write(pool).await?;
        let (report_id,): (i64,) = sqlx::query_as(
            "insert into coverage_report (ci_run_id, digest, format, line_rate, branch_rate, \
             lines_covered, lines_valid, branches_covered, branches_valid, received_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning coverage_report_id",
        )
        .bind(run_id)
        .bind(digest)
        .bind(report.format.as_str())
        .bind(t.line_rate)
        .bind(t.branch_rate)
        .bind(t.lines_covered)
        .bind(t.lines_valid)
        .bind(t.branches_covered)
        .bind(t.branches_valid)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        for chunk in report.files.chunks(CASE_BATCH) {
            let mut insert = sqlx::QueryBuilder::new(
                "insert into coverage_file (coverage_report_id, path, lines_covered, lines_valid, \
                 branches_covered, branches_valid) ",
            );
            insert.push_values(chunk, |mut b, f| {
                b.push_bind(report_id)
                    .push_bind(f.path.as_str())
                    .push_bind(f.lines_covered)
                    .push_bind(f.lines_valid)
                    .push_bind(f.branches_covered)
                    .push_bind(f.branches_valid);
            });
            insert.build().execute(&mut *tx).await?;
        }
        let all: Vec<CoverageRow> = sqlx::query_as(
            "select line_rate, branch_rate, lines_covered, lines_valid, branches_covered, branches_valid \
             from coverage_report where ci_run_id = $1",
        )
        .bind(run_id)
        .fetch_all(&mut *tx)
        .await?;
        let run = combine_coverage(&all);
        sqlx::query(
            "update ci_run set line_rate = $2, branch_rate = $3, lines_covered = $4, lines_valid = $5, \
             branches_covered = $6, branches_valid = $7, updated_at = $8 where ci_run_id = $1",
        )
        .bind(run_id)
        .bind(run.line_rate)
        .bind(run.branch_rate)
        .bind(run.lines_covered)
        .bind(run.lines_valid)
        .bind(run.branches_covered)
        .bind(run.branches_valid)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<_, StoreError>(t)
    })?;
    gates_hook(db, run_id).await;
    Ok(CoverageStored {
        totals: t,
        repeated: false,
    })
}

/// A run's coverage from its reports: one report's own rates, or several reports' summed
/// counts.
fn combine_coverage(reports: &[CoverageRow]) -> CoverageTotals {
    if let [(line_rate, branch_rate, lc, lv, bc, bv)] = reports {
        return CoverageTotals {
            line_rate: *line_rate,
            branch_rate: *branch_rate,
            lines_covered: *lc,
            lines_valid: *lv,
            branches_covered: *bc,
            branches_valid: *bv,
        };
    }
    let mut t = CoverageTotals::default();
    for (_, _, lc, lv, bc, bv) in reports {
        t.lines_covered += lc;
        t.lines_valid += lv;
        t.branches_covered += bc;
        t.branches_valid += bv;
    }
    t.line_rate = (t.lines_valid > 0).then(|| t.lines_covered as f64 / t.lines_valid as f64);
    t.branch_rate =
        (t.branches_valid > 0).then(|| t.branches_covered as f64 / t.branches_valid as f64);
    t
}

/// How the runs list finds a search term.
enum Search {
    None,
    /// The FTS5 trigram table `ci_run_search` (terms of 3+ characters).
    SqliteIndex(String),
    /// `LIKE` on [`SEARCH_DOC`], which has a pg_trgm GIN index (terms of 3+ characters).
    PostgresIndex(String),
    /// Shorter terms (one or two characters) can only mean a run number: the exact external
    /// id, through its index (migration 0005). A scan for them took 0.5 s at a million runs.
    RunNumber(String),
}

/// The text the search index holds per run (migration 0004, both backends).
const SEARCH_DOC: &str = "lower(coalesce(r.workflow, '') || ' ' || coalesce(r.branch, '') || ' ' \
    || coalesce(r.author, '') || ' ' || coalesce(r.commit_sha, '') || ' ' || r.external_id)";

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A page of runs, newest first, filtered.
pub async fn list(db: &Db, filter: &crate::model::RunFilter) -> StoreResult<crate::model::RunPage> {
    let limit = filter.limit.unwrap_or(50).clamp(1, 200);
    let nonempty = |s: &Option<String>| {
        s.clone()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let since = filter
        .days
        .filter(|d| *d > 0)
        .map(|d| now_ms() - d * 86_400_000);
    let text = nonempty(&filter.text).map(|t| t.to_lowercase());
    let (project, branch, status) = (
        nonempty(&filter.project),
        nonempty(&filter.branch),
        nonempty(&filter.status),
    );
    // Terms of three characters or more use the trigram index (migration 0004); shorter ones
    // are a run number.
    let search = match (&text, db.backend()) {
        (None, _) => Search::None,
        (Some(t), Backend::Sqlite) if t.chars().count() >= 3 => Search::SqliteIndex(t.clone()),
        (Some(t), Backend::Postgres) if t.chars().count() >= 3 => Search::PostgresIndex(t.clone()),
        (Some(t), _) => Search::RunNumber(t.clone()),
    };
    let id = if matches!(search, Search::SqliteIndex(_)) {
        "s.rowid"
    } else {
        "r.ci_run_id"
    };
    let rows: Vec<RunRow> = on_pool!(db, pool => {
        let mut q = sqlx::QueryBuilder::new(format!("select {RUN_COLUMNS} from "));
        if matches!(search, Search::SqliteIndex(_)) {
            q.push("ci_run_search s join ci_run r on r.ci_run_id = s.rowid");
        } else if matches!(search, Search::RunNumber(_)) && db.backend() == Backend::Sqlite {
            // Otherwise SQLite prefers the project's index and checks every run of it.
            q.push("ci_run r indexed by ci_run_external_idx");
        } else {
            q.push("ci_run r");
        }
        q.push(" join project p on p.project_id = r.project_id where ")
            .push(id)
            .push(" < ")
            .push_bind(filter.before_id.unwrap_or(i64::MAX));
        if let Some(v) = &project {
            q.push(" and p.slug = ").push_bind(v.clone());
        }
        if let Some(v) = &branch {
            q.push(" and r.branch = ").push_bind(v.clone());
        }
        if let Some(v) = &status {
            q.push(" and r.status = ").push_bind(v.clone());
        }
        if let Some(v) = since {
            q.push(" and coalesce(r.started_at, r.created_at) >= ").push_bind(v);
        }
        match &search {
            Search::None => {}
            Search::SqliteIndex(t) => {
                // An FTS5 phrase: with the trigram tokenizer, a substring match.
                q.push(" and ci_run_search match ")
                    .push_bind(format!("\"{}\"", t.replace('"', "\"\"")));
            }
            Search::PostgresIndex(t) => {
                q.push(format!(" and {SEARCH_DOC} like "))
                    .push_bind(format!("%{}%", like_escape(t)))
                    .push(" escape '\\'");
            }
            Search::RunNumber(t) => {
                q.push(" and r.external_id = ").push_bind(t.clone());
            }
        }
        q.push(" order by ")
            .push(id)
            .push(" desc limit ")
            .push_bind(limit + 1);
        q.build_query_as().fetch_all(pool).await?
    });
    let more = rows.len() as i64 > limit;
    let runs = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| r.into_run(Vec::new()))
        .collect::<StoreResult<Vec<_>>>()?;
    let next_before_id = if more {
        runs.last().map(|r| r.id)
    } else {
        None
    };
    Ok(crate::model::RunPage {
        runs,
        next_before_id,
    })
}

/// Cases of a run that did not simply pass: errors, failures, then flaky passes; at most
/// `limit`, with the count of the rest.
pub async fn problem_cases(
    db: &Db,
    run_id: i64,
    limit: i64,
) -> StoreResult<(Vec<crate::model::CaseRow>, i64)> {
    #[derive(sqlx::FromRow)]
    struct CaseDbRow {
        test_id: i64,
        suite: String,
        classname: String,
        name: String,
        status: i16,
        retried: bool,
        duration_s: Option<f64>,
        message: Option<String>,
    }
    let filter = "c.ci_run_id = $1 and (c.status >= 2 or (c.status = 0 and c.retried = $2))";
    let (rows, total): (Vec<CaseDbRow>, (i64,)) = on_pool!(db, pool => {
        let rows: Vec<CaseDbRow> = sqlx::query_as(&format!(
            "select c.test_id, t.suite, t.classname, t.name, c.status, c.retried, c.duration_s, c.message \
             from test_case c join test t on t.test_id = c.test_id where {filter} \
             order by c.status desc, t.classname, t.name limit $3"
        ))
        .bind(run_id)
        .bind(true)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let total: (i64,) = sqlx::query_as(&format!(
            "select count(*) from test_case c where {filter}"
        ))
        .bind(run_id)
        .bind(true)
        .fetch_one(pool)
        .await?;
        (rows, total)
    });
    let shown = rows.len() as i64;
    let cases = rows
        .into_iter()
        .map(|r| crate::model::CaseRow {
            test_id: r.test_id,
            suite: r.suite,
            classname: r.classname,
            name: r.name,
            status: CaseStatus::from_code(r.status).unwrap_or(CaseStatus::Error),
            retried: r.retried,
            duration_s: r.duration_s,
            message: r.message,
        })
        .collect();
    Ok((cases, (total.0 - shown).max(0)))
}

/// How many test reports a run has.
pub async fn report_count(db: &Db, run_id: i64) -> StoreResult<i64> {
    let (n,): (i64,) = on_pool!(db, pool => {
        sqlx::query_as("select count(*) from test_report where ci_run_id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await?
    });
    Ok(n)
}

/// A test's id, suite, class, name and quarantine time.
type TestNameRow = (i64, String, String, String, Option<i64>);

/// The flaky tests of a project over runs started since `since` (epoch ms), by the rules of
/// [`crate::logic::flaky`].
pub async fn flaky_tests(
    db: &Db,
    project_id: i64,
    since: i64,
) -> StoreResult<Vec<crate::logic::flaky::FlakyTest>> {
    use crate::logic::flaky::{analyse, is_infrastructure_failure, Execution};
    #[derive(sqlx::FromRow)]
    struct ExecRow {
        test_id: i64,
        ci_run_id: i64,
        commit_sha: Option<String>,
        at: i64,
        status: i16,
        retried: bool,
        duration_s: Option<f64>,
        tests: i32,
        failed: i32,
        errors: i32,
    }
    const WINDOW: &str = "r.project_id = $1 and coalesce(r.started_at, r.created_at) >= $2";
    let candidates: Vec<(i64,)> = on_pool!(db, pool => {
        sqlx::query_as(&format!(
            "select distinct c.test_id from test_case c join ci_run r on r.ci_run_id = c.ci_run_id \
             where {WINDOW} and (c.status >= 2 or c.retried = $3)"
        ))
        .bind(project_id)
        .bind(since)
        .bind(true)
        .fetch_all(pool)
        .await?
    });
    let mut executions = Vec::new();
    let mut names = HashMap::new();
    for chunk in candidates.chunks(CASE_BATCH) {
        let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        let (rows, tests): (Vec<ExecRow>, Vec<TestNameRow>) = on_pool!(db, pool => {
            let mut q = sqlx::QueryBuilder::new(
                "select c.test_id, c.ci_run_id, r.commit_sha, coalesce(r.started_at, r.created_at) as at, \
                 c.status, c.retried, c.duration_s, r.tests, r.failed, r.errors \
                 from test_case c join ci_run r on r.ci_run_id = c.ci_run_id where r.project_id = ",
            );
            q.push_bind(project_id)
                .push(" and coalesce(r.started_at, r.created_at) >= ")
                .push_bind(since)
                .push(" and c.test_id in (");
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(")");
            let rows: Vec<ExecRow> = q.build_query_as().fetch_all(pool).await?;
            let mut q = sqlx::QueryBuilder::new(
                "select test_id, suite, classname, name, quarantined_at from test where test_id in (",
            );
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(")");
            let tests: Vec<TestNameRow> =
                q.build_query_as().fetch_all(pool).await?;
            (rows, tests)
        });
        executions.extend(
            rows.into_iter()
                .filter(|r| {
                    !is_infrastructure_failure(r.tests.into(), (r.failed + r.errors).into())
                })
                .map(|r| Execution {
                    test_id: r.test_id,
                    run_id: r.ci_run_id,
                    commit: r.commit_sha,
                    at: r.at,
                    passed: r.status == CaseStatus::Passed.code(),
                    failed: r.status >= CaseStatus::Failed.code(),
                    retried: r.retried,
                    duration_s: r.duration_s,
                }),
        );
        names.extend(
            tests
                .into_iter()
                .map(|(id, suite, class, name, q)| (id, (suite, class, name, q.is_some()))),
        );
    }
    Ok(analyse(&executions, &names))
}
