//! One test across runs: what it is, its executions newest first, and its quarantine.

use super::audit::{Actor, NewAuditEvent};
use super::{now_ms, Db, StoreError, StoreResult};
use crate::insert_audit_event;
use crate::model::{CaseStatus, Quarantine, TestExecution, TestInfo};
use crate::on_pool;

/// Characters of a failure message the history carries per execution.
pub const MESSAGE_CHARS: i32 = 300;

#[derive(sqlx::FromRow)]
struct TestRow {
    test_id: i64,
    slug: String,
    suite: String,
    classname: String,
    name: String,
    file: Option<String>,
    quarantined_at: Option<i64>,
    quarantined_by: Option<String>,
    quarantine_reason: Option<String>,
}

/// The test with this id, with its project's slug.
pub async fn get(db: &Db, test_id: i64) -> StoreResult<Option<TestInfo>> {
    let row: Option<TestRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "select t.test_id, p.slug, t.suite, t.classname, t.name, t.file, t.quarantined_at, \
             t.quarantined_by, t.quarantine_reason \
             from test t join project p on p.project_id = t.project_id where t.test_id = $1",
        )
        .bind(test_id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(|r| TestInfo {
        id: r.test_id,
        project: r.slug,
        suite: r.suite,
        classname: r.classname,
        name: r.name,
        file: r.file,
        quarantine: r.quarantined_at.map(|at| Quarantine {
            at,
            by: r.quarantined_by,
            reason: r.quarantine_reason.unwrap_or_default(),
        }),
    }))
}

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    ci_run_id: i64,
    at: i64,
    branch: Option<String>,
    commit_sha: Option<String>,
    status: i16,
    retried: bool,
    duration_s: Option<f64>,
    message: Option<String>,
}

/// The newest `limit` executions of a test (newest first) and how many it has in all. Walks
/// the `(test_id, ci_run_id)` index backwards, so the cost does not grow with the history.
pub async fn executions(
    db: &Db,
    test_id: i64,
    limit: i64,
) -> StoreResult<(Vec<TestExecution>, i64)> {
    let (rows, total): (Vec<ExecutionRow>, (i64,)) = on_pool!(db, pool => {
        let rows = sqlx::query_as(
            "select c.ci_run_id, coalesce(r.started_at, r.created_at) as at, r.branch, r.commit_sha, \
             c.status, c.retried, c.duration_s, \
             case when c.status >= 2 then substr(c.message, 1, $3) end as message \
             from test_case c join ci_run r on r.ci_run_id = c.ci_run_id \
             where c.test_id = $1 order by c.ci_run_id desc, c.test_case_id desc limit $2",
        )
        .bind(test_id)
        .bind(limit.clamp(1, 1000))
        .bind(MESSAGE_CHARS)
        .fetch_all(pool)
        .await?;
        let total = sqlx::query_as("select count(*) from test_case where test_id = $1")
            .bind(test_id)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    let list = rows
        .into_iter()
        .map(|r| TestExecution {
            run_id: r.ci_run_id,
            at: r.at,
            branch: r.branch,
            commit_sha: r.commit_sha,
            status: CaseStatus::from_code(r.status).unwrap_or(CaseStatus::Error),
            retried: r.retried,
            duration_s: r.duration_s,
            message: r.message,
        })
        .collect();
    Ok((list, total.0))
}

/// Longest quarantine reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Quarantines a test (with a reason) or releases it; audited in the same transaction.
/// Quarantining an already quarantined test keeps the first time and person, and updates the
/// reason.
pub async fn set_quarantine(
    db: &Db,
    test_id: i64,
    reason: Option<&str>,
    actor: &Actor,
) -> StoreResult<Option<Quarantine>> {
    let reason = reason.map(str::trim);
    if let Some(r) = reason {
        if r.is_empty() {
            return Err(StoreError::Invalid(
                "say why the test is quarantined (reason is empty)".into(),
            ));
        }
        if r.chars().count() > MAX_REASON_CHARS {
            return Err(StoreError::Invalid(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
    }
    let test = get(db, test_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no test {test_id}")))?;
    let target = format!("{}:{}", test.project, test_id);
    let (action, detail) = match reason {
        Some(r) => (
            "test.quarantined",
            format!("{} {} — {}", test.classname, test.name, r),
        ),
        None => ("test.released", format!("{} {}", test.classname, test.name)),
    };
    let event = NewAuditEvent::new(actor, action, Some(&target), Some(detail));
    let now = now_ms();
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        match reason {
            Some(r) => {
                sqlx::query(
                    "update test set quarantined_at = coalesce(quarantined_at, $2), \
                     quarantined_by = case when quarantined_at is null then $3 else quarantined_by end, \
                     quarantine_reason = $4 where test_id = $1",
                )
                .bind(test_id)
                .bind(now)
                .bind(actor.username.clone())
                .bind(r)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "update test set quarantined_at = null, quarantined_by = null, \
                     quarantine_reason = null where test_id = $1",
                )
                .bind(test_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
    });
    Ok(get(db, test_id).await?.and_then(|t| t.quarantine))
}
