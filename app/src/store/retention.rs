//! Retention: each kind of data is purged once it is older than its policy's days, in small
//! batches (one short write transaction each, with a pause between them, so ingestion and
//! approvals never wait long behind a purge), and periodic jobs are leased to one replica.
//!
//! A purge transaction marks itself (a row in `retention_purge` on SQLite, the transaction
//! setting `gatehouse.purge` on Postgres): the triggers that keep the daily KPI roll-ups then
//! leave them alone, so a purged day's figures stay as they were.

use super::audit::NewAuditEvent;
use super::deployments::Requester;
use super::tx::Tx;
use super::{Db, StoreError, StoreResult};
use crate::model::{PurgeReport, RetentionKind, RetentionPolicy, MAX_RETENTION_DAYS};
use crate::vals;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;

type PolicyRow = (
    String,
    Option<i64>,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

/// Every kind's policy, in [`RetentionKind::ALL`] order.
pub async fn policies(db: &Db) -> StoreResult<Vec<RetentionPolicy>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<PolicyRow> = tx
        .all(
            "select kind, cast(days as bigint), cast(updated_at as bigint), updated_by, \
             cast(last_purge_at as bigint), cast(last_purged as bigint), \
             cast(total_purged as bigint) from retention_policy",
            vals![],
        )
        .await?;
    tx.commit().await?;
    let mut out: Vec<RetentionPolicy> = rows
        .into_iter()
        .filter_map(|(kind, days, updated_at, updated_by, last, n, total)| {
            Some(RetentionPolicy {
                kind: RetentionKind::parse(&kind)?,
                days,
                updated_at,
                updated_by,
                last_purge_at: last,
                last_purged: n,
                total_purged: total,
            })
        })
        .collect();
    out.sort_by_key(|p| p.kind);
    Ok(out)
}

/// Sets the days of some kinds (None: keep forever), in one audited transaction. Values out
/// of range change nothing.
pub async fn set_days(
    db: &Db,
    changes: &[(RetentionKind, Option<i64>)],
    by: &Requester,
    now: i64,
) -> StoreResult<usize> {
    for (kind, days) in changes {
        if let Some(d) = days {
            if !(1..=MAX_RETENTION_DAYS).contains(d) {
                return Err(StoreError::Invalid(format!(
                    "days[{}]: 1 to {MAX_RETENTION_DAYS} days, or empty to keep forever (got {d})",
                    kind.key()
                )));
            }
        }
    }
    let mut tx = Tx::write(db).await?;
    let mut changed = 0;
    for (kind, days) in changes {
        let (old,): (Option<i64>,) = tx
            .one(
                "select cast(days as bigint) from retention_policy where kind = $1",
                vals![kind.key()],
            )
            .await?;
        if old == *days {
            continue;
        }
        tx.execute(
            "update retention_policy set days = $2, updated_at = $3, updated_by = $4 where kind = $1",
            vals![kind.key(), *days, now, &by.name],
        )
        .await?;
        let show = |d: Option<i64>| d.map_or("forever".to_string(), |d| format!("{d} days"));
        tx.audit(&NewAuditEvent::new(
            &by.actor(),
            "retention.updated",
            Some(kind.key()),
            Some(format!("{} → {}", show(old), show(*days))),
        ))
        .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Takes the lease of the periodic job `name` for `ttl_ms` when no other replica holds it (or
/// this one does). A job that leases itself for its whole period runs once per period across
/// all replicas; a replica that dies leaves the lease to run out.
pub async fn claim_lease(
    db: &Db,
    name: &str,
    holder: &str,
    ttl_ms: i64,
    now: i64,
) -> StoreResult<bool> {
    let mut tx = Tx::write(db).await?;
    let got: Option<(String,)> = tx
        .opt(
            "insert into job_lease (name, holder, expires_at, last_started_at) values ($1, $2, $3, $4) \
             on conflict (name) do update set holder = excluded.holder, \
             expires_at = excluded.expires_at, last_started_at = excluded.last_started_at \
             where job_lease.expires_at <= $4 or job_lease.holder = $2 \
             returning holder",
            vals![name, holder, now + ttl_ms, now],
        )
        .await?;
    tx.commit().await?;
    Ok(got.is_some())
}

/// Who last started the job `name`, and when.
pub async fn last_lease(db: &Db, name: &str) -> StoreResult<Option<(String, i64)>> {
    let mut tx = Tx::read(db).await?;
    let row = tx
        .opt(
            "select holder, cast(last_started_at as bigint) from job_lease where name = $1",
            vals![name],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// When the purge of CI artifacts cleared run `id`'s failure output and per-file coverage.
pub async fn detail_purged_at(db: &Db, id: i64) -> StoreResult<Option<i64>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(Option<i64>,)> = tx
        .opt(
            "select cast(detail_purged_at as bigint) from ci_run where ci_run_id = $1",
            vals![id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.and_then(|r| r.0))
}

/// How a purge proceeds: rows per batch and the pause between batches.
#[derive(Debug, Clone, Copy)]
pub struct PurgePace {
    pub batch: i64,
    pub pause: Duration,
}

impl Default for PurgePace {
    fn default() -> Self {
        PurgePace {
            batch: 200,
            pause: Duration::from_millis(50),
        }
    }
}

/// Purges every kind older than its policy as of `now`, batch by batch, and records what each
/// purge removed. `by` is who asked (the job, or an admin).
pub async fn purge(db: &Db, now: i64, pace: PurgePace, by: &Requester) -> StoreResult<PurgeReport> {
    let started = Instant::now();
    let mut report = PurgeReport::default();
    for policy in policies(db).await? {
        let Some(days) = policy.days else {
            continue;
        };
        let cutoff = now - days * DAY_MS;
        let mut removed = 0;
        loop {
            let t = Instant::now();
            let (items, n) = purge_batch(db, policy.kind, cutoff, now, pace.batch).await?;
            report.batches += 1;
            report.longest_batch_ms = report.longest_batch_ms.max(t.elapsed().as_millis() as i64);
            removed += n;
            if items < pace.batch {
                break;
            }
            tokio::time::sleep(pace.pause).await;
        }
        let mut tx = Tx::write(db).await?;
        if policy.kind == RetentionKind::AuditLog && removed > 0 {
            // The purge of the audit log is itself audited, once per purge.
            tx.audit(&NewAuditEvent::new(
                &by.actor(),
                "retention.purged",
                Some("audit_log"),
                Some(format!(
                    "{removed} audit entries from before {}",
                    crate::logic::time::to_rfc3339(cutoff)
                )),
            ))
            .await?;
        }
        tx.execute(
            "update retention_policy set last_purge_at = $2, last_purged = $3, \
             total_purged = total_purged + $3 where kind = $1",
            vals![policy.kind.key(), now, removed],
        )
        .await?;
        tx.commit().await?;
        report.purged.push((policy.kind, removed));
    }
    report.took_ms = started.elapsed().as_millis() as i64;
    Ok(report)
}

/// Marks `tx` as a purge (see the module's notes).
async fn mark(tx: &mut Tx, now: i64) -> StoreResult<()> {
    match tx {
        Tx::Sqlite(_) => {
            tx.execute(
                "insert into retention_purge (started_at) values ($1)",
                vals![now],
            )
            .await?
        }
        Tx::Postgres(_) => {
            tx.execute("select set_config('gatehouse.purge', 'on', true)", vals![])
                .await?
        }
    };
    Ok(())
}

async fn unmark(tx: &mut Tx) -> StoreResult<()> {
    if let Tx::Sqlite(_) = tx {
        tx.execute("delete from retention_purge", vals![]).await?;
    }
    Ok(())
}

/// ` for update of r skip locked` on Postgres: a purge running at the same time on another
/// replica (or "Purge now" beside the hourly job) takes other rows, so no prediction is counted
/// out twice. SQLite's write transactions already run one at a time.
fn skip_locked(tx: &Tx) -> &'static str {
    match tx {
        Tx::Sqlite(_) => "",
        Tx::Postgres(_) => " for update of r skip locked",
    }
}

/// `(1,2,3)` for an `in` list of ids read from the database.
fn id_list(ids: &[i64]) -> String {
    let inner: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", inner.join(","))
}

/// Releases that keep their artifacts whatever their age: in each environment, the four
/// releases that succeeded there last (the live one and the three a rollback offers), and any
/// release with a deployment not yet ended.
pub const PROTECTED_RELEASES: &str =
    "select release_id from (select release_id, row_number() over \
    (partition by environment_id order by last desc, release_id desc) as n \
    from (select environment_id, release_id, max(finished_at) as last from deployment \
    where state = 'succeeded' group by environment_id, release_id) s) x where n <= 4 \
    union select release_id from deployment where state in \
    ('requested', 'evaluating', 'awaiting_approval', 'waiting', 'in_progress')";

/// Deployments that reached a production environment (the last in the promotion order).
const IN_PRODUCTION: &str =
    "select d.release_id, coalesce(d.finished_at, $3) as at from deployment d \
    join environment e on e.environment_id = d.environment_id \
    where d.started_at is not null and e.position = \
    (select max(e2.position) from environment e2 where e2.project_id = e.project_id)";

/// Deletes up to `batch` of the oldest rows of `table` (whose key is `{table}_id`) with `at`
/// before `cutoff`, and `and` (a condition on alias `t`) true.
async fn oldest(
    tx: &mut Tx,
    table: &str,
    at: &str,
    and: &str,
    cutoff: i64,
    batch: i64,
) -> StoreResult<(i64, i64)> {
    let sql = format!(
        "delete from {table} where {table}_id in (select t.{table}_id from {table} t \
         where t.{at} < $1 {and} order by t.{at} limit $2)"
    );
    let n = tx.execute(&sql, vals![cutoff, batch]).await? as i64;
    Ok((n, n))
}

/// One batch of one kind: the parent rows it took (a batch that takes fewer than `batch` is
/// the last) and the rows it removed or cleared.
async fn purge_batch(
    db: &Db,
    kind: RetentionKind,
    cutoff: i64,
    now: i64,
    batch: i64,
) -> StoreResult<(i64, i64)> {
    let mut tx = Tx::write(db).await?;
    mark(&mut tx, now).await?;
    let (items, removed) = match kind {
        RetentionKind::CiArtifacts => {
            let ids: Vec<(i64,)> = tx
                .all(
                    "select ci_run_id from ci_run where detail_purged_at is null \
                     and finished_at < $1 order by finished_at limit $2",
                    vals![cutoff, batch],
                )
                .await?;
            let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
            if ids.is_empty() {
                (0, 0)
            } else {
                let list = id_list(&ids);
                let files = tx
                    .execute(
                        &format!(
                            "delete from coverage_file where coverage_report_id in \
                             (select coverage_report_id from coverage_report where ci_run_id in {list})"
                        ),
                        vals![],
                    )
                    .await?;
                let messages = tx
                    .execute(
                        &format!(
                            "update test_case set message = null \
                             where ci_run_id in {list} and message is not null"
                        ),
                        vals![],
                    )
                    .await?;
                tx.execute(
                    &format!("update ci_run set detail_purged_at = $1 where ci_run_id in {list}"),
                    vals![now],
                )
                .await?;
                (ids.len() as i64, (files + messages) as i64)
            }
        }
        RetentionKind::Runs => {
            let ids: Vec<(i64,)> = tx
                .all(
                    &format!(
                        "select r.ci_run_id from ci_run r where coalesce(r.started_at, r.created_at) < $1 \
                         and not exists (select 1 from release x where x.ci_run_id = r.ci_run_id) \
                         and not exists (select 1 from risk_alert a where a.ci_run_id = r.ci_run_id) \
                         order by coalesce(r.started_at, r.created_at) limit $2{}",
                        skip_locked(&tx)
                    ),
                    vals![cutoff, batch],
                )
                .await?;
            let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
            if ids.is_empty() {
                (0, 0)
            } else {
                let list = id_list(&ids);
                // The versions that scored these runs lose them from their finished sets: their
                // counts go down and their epoch moves, so every copy of their scores is read
                // again (see score_cache).
                tx.execute(
                    &format!(
                        "update risk_model set epoch = epoch + 1, \
                         scored = scored - (select count(*) from risk_prediction x \
                           where x.risk_model_id = risk_model.risk_model_id and x.ci_run_id in {list}), \
                         scored_failed = scored_failed - (select count(*) from risk_prediction x \
                           where x.risk_model_id = risk_model.risk_model_id \
                           and x.ci_run_id in {list} and x.outcome = 1), \
                         scored_passed = scored_passed - (select count(*) from risk_prediction x \
                           where x.risk_model_id = risk_model.risk_model_id \
                           and x.ci_run_id in {list} and x.outcome = 0) \
                         where risk_model_id in \
                           (select risk_model_id from risk_prediction where ci_run_id in {list})"
                    ),
                    vals![],
                )
                .await?;
                let n = tx
                    .execute(
                        &format!("delete from ci_run where ci_run_id in {list}"),
                        vals![],
                    )
                    .await?;
                (ids.len() as i64, n as i64)
            }
        }
        RetentionKind::StagingArtifacts | RetentionKind::ProductionArtifacts => {
            let production = kind == RetentionKind::ProductionArtifacts;
            // A release's age: its last deployment (production only for production artifacts;
            // a deployment still running counts as now), else its creation.
            let sql = format!(
                "delete from release_artifact where release_artifact_id in ( \
                 select a.release_artifact_id from release_artifact a \
                 join release r on r.release_id = a.release_id \
                 where r.created_at < $1 \
                 and {} exists (select 1 from ({IN_PRODUCTION}) p where p.release_id = r.release_id) \
                 and not exists (select 1 from ({}) l where l.release_id = r.release_id and l.at >= $1) \
                 and r.release_id not in ({PROTECTED_RELEASES}) \
                 order by a.release_artifact_id limit $2)",
                if production { "" } else { "not" },
                if production {
                    IN_PRODUCTION.to_string()
                } else {
                    "select release_id, coalesce(finished_at, $3) as at from deployment".to_string()
                },
            );
            let n = tx.execute(&sql, vals![cutoff, batch, now]).await? as i64;
            (n, n)
        }
        RetentionKind::RollbackResults => {
            let ended = "and not exists (select 1 from deployment d where \
                d.deployment_id = t.deployment_id and d.state in \
                ('requested', 'evaluating', 'awaiting_approval', 'waiting', 'in_progress'))";
            oldest(&mut tx, "health_sample", "at", ended, cutoff, batch).await?
        }
        RetentionKind::Notifications => {
            let waiting = "and not exists (select 1 from delivery d where \
                d.notification_id = t.notification_id and d.status in ('pending', 'sending'))";
            oldest(
                &mut tx,
                "notification",
                "created_at",
                waiting,
                cutoff,
                batch,
            )
            .await?
        }
        RetentionKind::WebhookLog => {
            // The delivery ids stay: a replayed delivery is still recognised as seen.
            let n = tx
                .execute(
                    "update webhook_delivery set payload = null where webhook_delivery_id in \
                     (select webhook_delivery_id from webhook_delivery where received_at < $1 \
                      and payload is not null order by received_at limit $2)",
                    vals![cutoff, batch],
                )
                .await? as i64;
            (n, n)
        }
        RetentionKind::Events => oldest(&mut tx, "domain_event", "at", "", cutoff, batch).await?,
        RetentionKind::AuditLog => oldest(&mut tx, "audit_event", "at", "", cutoff, batch).await?,
    };
    unmark(&mut tx).await?;
    tx.commit().await?;
    Ok((items, removed))
}
