//! Delivery KPIs: the facts behind them (one read transaction), per-project targets,
//! incidents and satisfaction ratings. [`overview`] is the one function every panel, export
//! and API response computes from.

use super::audit::{Actor, NewAuditEvent};
use super::deployments::Requester;
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::dora::{Deployment, Incident, Outcome, DAY_MS};
use crate::logic::kpi::{
    self, AlertFact, Facts, HealthDay, Kpi, RollbackFact, RunDay, Target, LOOKBACK_DAYS,
};
pub use crate::model::{IncidentRecord, KpiOverview, KpiScope, SourceItem};
use crate::vals;

/// The project `project` and its environment `environment`, or its last (production) one.
pub async fn scope(db: &Db, project: &str, environment: Option<&str>) -> StoreResult<KpiScope> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<(i64, i64, String)> = tx
        .all(
            "select p.project_id, e.environment_id, e.name from project p \
             join environment e on e.project_id = p.project_id where p.slug = $1 \
             order by e.position, e.environment_id",
            vals![project],
        )
        .await?;
    tx.commit().await?;
    let Some(first) = rows.first() else {
        return Err(StoreError::NotFound(format!(
            "there is no project `{project}` (or it has no environment)"
        )));
    };
    let chosen = match environment.filter(|e| !e.trim().is_empty()) {
        Some(name) => rows.iter().find(|r| r.2 == name).ok_or_else(|| {
            StoreError::NotFound(format!(
                "project `{project}` has no environment `{name}` (it has {})",
                rows.iter()
                    .map(|r| r.2.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => rows.last().unwrap_or(first),
    };
    Ok(KpiScope {
        project_id: first.0,
        project: project.to_string(),
        environment_id: chosen.1,
        environment: chosen.2.clone(),
        environments: rows.iter().map(|r| r.2.clone()).collect(),
    })
}

/// Every KPI of the scope over `[from_day, to_day)`, with the previous period and trends.
pub async fn overview(
    db: &Db,
    scope: KpiScope,
    from_day: i64,
    to_day: i64,
) -> StoreResult<KpiOverview> {
    if to_day <= from_day {
        return Err(StoreError::Invalid(
            "the range must end after it starts".into(),
        ));
    }
    let len = to_day - from_day;
    let mut tx = Tx::read(db).await?;
    let facts = facts(&mut tx, &scope, from_day - len, to_day, false).await?;
    let targets = targets_in(&mut tx, scope.project_id).await?;
    tx.commit().await?;
    Ok(KpiOverview {
        report: kpi::report(&facts, &targets, from_day, to_day),
        scope,
        computed_at: now_ms(),
    })
}

type DeploymentRow = (
    i64,
    Outcome,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// What the KPIs of `[from_day, to_day)` are computed from, in one snapshot (the overview
/// passes the start of the previous period as `from_day`).
pub async fn load_facts(db: &Db, s: &KpiScope, from_day: i64, to_day: i64) -> StoreResult<Facts> {
    let mut tx = Tx::read(db).await?;
    let f = facts(&mut tx, s, from_day, to_day, false).await?;
    tx.commit().await?;
    Ok(f)
}

/// The same facts read from the alert and deployment rows themselves rather than from the
/// daily packs the triggers keep: the reference the packs are checked against (tests, and
/// anyone doubting a number), and too slow for the overview at scale.
pub async fn load_facts_by_rows(
    db: &Db,
    s: &KpiScope,
    from_day: i64,
    to_day: i64,
) -> StoreResult<Facts> {
    let mut tx = Tx::read(db).await?;
    let f = facts(&mut tx, s, from_day, to_day, true).await?;
    tx.commit().await?;
    Ok(f)
}

/// Reads the facts of `[from_day, to_day)`: runs and health from their daily sums, alerts and
/// deployments from their daily packs (`alert_day`, `deployment_day`; or from their rows with
/// `by_rows`), incidents and ratings from their rows.
async fn facts(
    tx: &mut Tx,
    s: &KpiScope,
    from_day: i64,
    to_day: i64,
    by_rows: bool,
) -> StoreResult<Facts> {
    let (from, to) = (from_day * DAY_MS, to_day * DAY_MS);
    let run_days: Vec<RunDay> = tx
        .all::<(i64, i64, i64, i64, i64, i64, f64, i64, f64, i64, f64, i64)>(
            "select day, finished, failed, errored, tests_ran, tests_passed, coverage_sum, \
             coverage_n, p50_sum, p50_n, p99_sum, p99_n from run_day \
             where project_id = $1 and day >= $2 and day < $3",
            vals![s.project_id, from_day, to_day],
        )
        .await?
        .into_iter()
        .map(|r| RunDay {
            day: r.0,
            finished: r.1,
            failed: r.2,
            errored: r.3,
            tests_ran: r.4,
            tests_passed: r.5,
            coverage_sum: r.6,
            coverage_n: r.7,
            p50_sum: r.8,
            p50_n: r.9,
            p99_sum: r.10,
            p99_n: r.11,
        })
        .collect();
    let health_days: Vec<HealthDay> = tx
        .all::<(i64, f64, i64, f64, i64)>(
            "select day, availability_sum, availability_n, error_sum, error_n from health_day \
             where environment_id = $1 and day >= $2 and day < $3",
            vals![s.environment_id, from_day, to_day],
        )
        .await?
        .into_iter()
        .map(|r| HealthDay {
            day: r.0,
            availability_sum: r.1,
            availability_n: r.2,
            error_sum: r.3,
            error_n: r.4,
        })
        .collect();
    let text = if by_rows {
        packed(
            tx,
            &[
                "a.risk_alert_id",
                "case when a.kind = 'risk' then 1 else 0 end",
                "a.opened_at",
                "a.acknowledged_at",
                "case r.status when 'success' then 0 when 'failure' then 1 when 'error' then 1 end",
            ],
            "from risk_alert a left join ci_run r on r.ci_run_id = a.ci_run_id \
             where a.project_id = $1 and a.opened_at >= $2 and a.opened_at < $3",
            vals![s.project_id, from, to],
        )
        .await?
    } else {
        day_packs(
            tx,
            "alert_day",
            "project_id",
            s.project_id,
            from_day,
            to_day,
        )
        .await?
    };
    // Each pack is split on a blocking thread while the database answers the next query.
    let alerts = tokio::task::spawn_blocking(move || alerts_of(&text));
    let text = if by_rows {
        packed(
            tx,
            &[
                "d.deployment_id",
                "d.state",
                "d.finished_at",
                "rel.first_commit_at",
                "coalesce(rb.rollback_decided_at, rb.requested_at)",
                "d.rollback_of",
                "coalesce(d.rollback_decided_at, d.requested_at)",
            ],
            "from deployment d join release rel on rel.release_id = d.release_id \
             left join deployment rb on rb.deployment_id = d.rolled_back_by \
             where d.environment_id = $1 and d.finished_at >= $2 and d.finished_at < $3 \
             and d.state in ('succeeded', 'failed', 'rolled_back')",
            vals![s.environment_id, from - LOOKBACK_DAYS * DAY_MS, to],
        )
        .await?
    } else {
        day_packs(
            tx,
            "deployment_day",
            "environment_id",
            s.environment_id,
            from_day - LOOKBACK_DAYS,
            to_day,
        )
        .await?
    };
    let deployments = tokio::task::spawn_blocking(move || deployments_of(&text));
    let text = packed(
        tx,
        &["incident_id", "started_at", "resolved_at", "deployment_id"],
        "from incident where environment_id = $1 and started_at >= $2 and started_at < $3",
        vals![s.environment_id, from - LOOKBACK_DAYS * DAY_MS, to],
    )
    .await?;
    let mut incidents: Vec<Incident> = entries(&text)
        .map(|mut f| Incident {
            id: f.int(),
            started_at: f.int(),
            resolved_at: f.opt(),
            deployment_id: f.opt(),
        })
        .collect();
    incidents.sort_unstable_by_key(|i| i.id);
    let ratings: Vec<(i64, i64)> = tx
        .all(
            "select at, cast(rating as bigint) from satisfaction_rating \
             where project_id = $1 and at >= $2 and at < $3",
            vals![s.project_id, from, to],
        )
        .await?;
    let joined =
        |e: tokio::task::JoinError| StoreError::Other(format!("reading the KPI facts: {e}"));
    let alerts = alerts.await.map_err(joined)?;
    let (deployments, rollbacks) = deployments.await.map_err(joined)?;
    Ok(Facts {
        run_days,
        health_days,
        alerts,
        deployments,
        incidents,
        rollbacks,
        ratings,
    })
}

/// The alerts of a packed text (`alert_day`'s entry format), by id.
fn alerts_of(text: &str) -> Vec<AlertFact> {
    let mut alerts: Vec<AlertFact> = entries(text)
        .map(|mut f| AlertFact {
            id: f.int(),
            risk: f.word() == b"1",
            opened_at: f.int(),
            acknowledged_at: f.opt(),
            run_failed: match f.word() {
                b"0" => Some(false),
                b"1" => Some(true),
                _ => None,
            },
        })
        .collect();
    alerts.sort_unstable_by_key(|a| a.id);
    alerts
}

/// The deployments of a packed text (`deployment_day`'s entry format), by id, with the
/// rollbacks among them that went live.
fn deployments_of(text: &str) -> (Vec<Deployment>, Vec<RollbackFact>) {
    let mut rows: Vec<DeploymentRow> = entries(text)
        .map(|mut f| {
            (
                f.int(),
                match f.word() {
                    b"succeeded" => Outcome::Succeeded,
                    b"failed" => Outcome::Failed,
                    _ => Outcome::RolledBack,
                },
                f.int(),
                f.opt(),
                f.opt(),
                f.opt(),
                f.opt(),
            )
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.0);
    let mut deployments = Vec::with_capacity(rows.len());
    let mut rollbacks = Vec::new();
    for (id, outcome, finished_at, first_commit_at, rolled_back_at, rollback_of, decided_at) in rows
    {
        if rollback_of.is_some() && outcome != Outcome::Failed {
            rollbacks.push(RollbackFact {
                id,
                decided_at: decided_at.unwrap_or(finished_at),
                finished_at,
            });
        }
        deployments.push(Deployment {
            id,
            finished_at,
            outcome,
            first_commit_at,
            rolled_back_at,
            is_rollback: rollback_of.is_some(),
        });
    }
    (deployments, rollbacks)
}

/// Rows of numbers and words read as one text value: sqlx spends microseconds on every row it
/// hands over (more than SQLite spends finding it), so the overview's thousands of alerts and
/// deployments come back packed by the database's own string aggregate and are split by
/// [`entries`]. Values must not contain `,` or `;` (ids, times, states); NULL reads as empty.
async fn packed(
    tx: &mut Tx,
    columns: &[&str],
    from_where: &str,
    args: &[super::tx::Val],
) -> StoreResult<String> {
    let joined = columns
        .iter()
        .map(|c| format!("coalesce(cast({c} as text), '')"))
        .collect::<Vec<_>>()
        .join(" || ',' || ");
    let aggregate = match tx.backend() {
        super::Backend::Sqlite => format!("group_concat({joined}, ';')"),
        super::Backend::Postgres => format!("string_agg({joined}, ';')"),
    };
    let (text,): (Option<String>,) = tx
        .one(&format!("select {aggregate} {from_where}"), args)
        .await?;
    Ok(text.unwrap_or_default())
}

/// The daily packs of `table` for one project or environment over `[from_day, to_day)`, joined
/// into one text in the [`packed`] format (the triggers write each day in it).
async fn day_packs(
    tx: &mut Tx,
    table: &str,
    key: &str,
    id: i64,
    from_day: i64,
    to_day: i64,
) -> StoreResult<String> {
    let aggregate = match tx.backend() {
        super::Backend::Sqlite => "group_concat(pack, ';')",
        super::Backend::Postgres => "string_agg(pack, ';')",
    };
    let (text,): (Option<String>,) = tx
        .one(
            &format!(
                "select {aggregate} from {table} \
                 where {key} = $1 and day >= $2 and day < $3 and pack <> ''"
            ),
            vals![id, from_day, to_day],
        )
        .await?;
    Ok(text.unwrap_or_default())
}

/// The entries of a [`packed`] text, each read field by field in one pass over its bytes
/// (the overview reads about 75,000 entries at 90 days).
fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    let mut rest = text.as_bytes();
    std::iter::from_fn(move || {
        while let [b';', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
        let (entry, tail) = rest.split_at(end);
        rest = tail;
        Some(Entry(entry))
    })
}

/// One entry of a [`packed`] text: `,`-separated fields, read in order.
struct Entry<'a>(&'a [u8]);

impl<'a> Entry<'a> {
    /// The next field as it is (a state, a flag); empty when the entry has no more.
    fn word(&mut self) -> &'a [u8] {
        let end = self
            .0
            .iter()
            .position(|b| *b == b',')
            .unwrap_or(self.0.len());
        let (field, rest) = self.0.split_at(end);
        self.0 = rest.get(1..).unwrap_or_default();
        field
    }

    /// An integer field; empty (NULL) reads as `None`. One pass: digits are summed as the
    /// field is scanned for its end.
    fn opt(&mut self) -> Option<i64> {
        let bytes = self.0;
        let negative = bytes.first() == Some(&b'-');
        let (mut v, mut digits, mut clean) = (0i64, 0usize, true);
        let mut i = usize::from(negative);
        while let Some(&b) = bytes.get(i) {
            if b == b',' {
                break;
            }
            if b.is_ascii_digit() && digits < 18 {
                v = v * 10 + i64::from(b - b'0');
                digits += 1;
            } else {
                clean = false;
            }
            i += 1;
        }
        self.0 = bytes.get(i + 1..).unwrap_or_default();
        (clean && digits > 0).then_some(if negative { -v } else { v })
    }

    fn int(&mut self) -> i64 {
        self.opt().unwrap_or_default()
    }
}

async fn targets_in(tx: &mut Tx, project_id: i64) -> StoreResult<Vec<Target>> {
    let rows: Vec<(String, f64, f64)> = tx
        .all(
            "select kpi, target, at_risk from kpi_target where project_id = $1",
            vals![project_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, target, at_risk)| {
            Kpi::parse(&id).map(|kpi| Target {
                kpi,
                target,
                at_risk,
                custom: true,
            })
        })
        .collect())
}

/// Every KPI's target for the project (its own where set, the seeds' otherwise).
pub async fn targets(db: &Db, project_id: i64) -> StoreResult<Vec<Target>> {
    let mut tx = Tx::read(db).await?;
    let own = targets_in(&mut tx, project_id).await?;
    tx.commit().await?;
    Ok(kpi::targets_with_defaults(&own))
}

/// Sets the project's targets: each given KPI gets its own target, or returns to the seeds'
/// with `reset`. All are checked before any is written.
pub async fn save_targets(
    db: &Db,
    project_id: i64,
    set: &[Target],
    reset: &[Kpi],
    actor: &Actor,
) -> StoreResult<()> {
    for t in set {
        t.check().map_err(StoreError::Invalid)?;
    }
    let now = now_ms();
    let by = actor.username.clone().unwrap_or_else(|| "system".into());
    let mut tx = Tx::write(db).await?;
    let mut changed = Vec::new();
    for t in set {
        tx.execute(
            "insert into kpi_target (project_id, kpi, target, at_risk, updated_by, updated_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (project_id, kpi) do update set \
             target = excluded.target, at_risk = excluded.at_risk, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            vals![project_id, t.kpi.id(), t.target, t.at_risk, by.clone(), now],
        )
        .await?;
        changed.push(format!("{} {}/{}", t.kpi.id(), t.target, t.at_risk));
    }
    for k in reset {
        if tx
            .execute(
                "delete from kpi_target where project_id = $1 and kpi = $2",
                vals![project_id, k.id()],
            )
            .await?
            > 0
        {
            changed.push(format!("{} reset", k.id()));
        }
    }
    if !changed.is_empty() {
        tx.audit(&NewAuditEvent::new(
            actor,
            "kpi.targets",
            Some(&format!("project:{project_id}")),
            Some(changed.join("; ")),
        ))
        .await?;
    }
    tx.commit().await
}

// ---- incidents ----

#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub environment: String,
    pub title: String,
    pub severity: String,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    pub deployment_id: Option<i64>,
    /// The caller's key for retries: the same key returns the same incident.
    pub incident_key: Option<String>,
}

const INCIDENT_SELECT: &str = "select i.incident_id, p.slug, e.name, i.deployment_id, i.title, \
     i.severity, i.started_at, i.resolved_at, i.incident_key, i.created_by from incident i \
     join project p on p.project_id = i.project_id \
     join environment e on e.environment_id = i.environment_id";

type IncidentRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    String,
);

fn incident_of(r: IncidentRow) -> IncidentRecord {
    IncidentRecord {
        id: r.0,
        project: r.1,
        environment: r.2,
        deployment_id: r.3,
        title: r.4,
        severity: r.5,
        started_at: r.6,
        resolved_at: r.7,
        incident_key: r.8,
        created_by: r.9,
    }
}

pub async fn incident(db: &Db, id: i64) -> StoreResult<Option<IncidentRecord>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<IncidentRow> = tx
        .opt(
            &format!("{INCIDENT_SELECT} where i.incident_id = $1"),
            vals![id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(incident_of))
}

/// Incidents of an environment that started in `[from, to)` or were still open at `from`,
/// newest first.
pub async fn incidents(
    db: &Db,
    environment_id: i64,
    from: i64,
    to: i64,
) -> StoreResult<Vec<IncidentRecord>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<IncidentRow> = tx
        .all(
            &format!(
                "{INCIDENT_SELECT} where i.environment_id = $1 and i.started_at < $3 \
                 and (i.started_at >= $2 or i.resolved_at is null or i.resolved_at >= $2) \
                 order by i.started_at desc, i.incident_id desc limit 500"
            ),
            vals![environment_id, from, to],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(incident_of).collect())
}

fn check_incident(new: &NewIncident, now: i64) -> StoreResult<()> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "title: say what happened in 1 to 200 characters".into(),
        ));
    }
    if !matches!(new.severity.as_str(), "info" | "warning" | "critical") {
        return Err(StoreError::Invalid(format!(
            "severity: info, warning or critical (got `{}`)",
            new.severity
        )));
    }
    if new.started_at > now + 5 * 60_000 {
        return Err(StoreError::Invalid(
            "started_at: an incident cannot start in the future".into(),
        ));
    }
    if let Some(r) = new.resolved_at {
        if r < new.started_at {
            return Err(StoreError::Invalid(
                "resolved_at: an incident is resolved after it starts".into(),
            ));
        }
    }
    if new.incident_key.as_deref().is_some_and(|k| k.len() > 200) {
        return Err(StoreError::Invalid(
            "incident_key: at most 200 characters".into(),
        ));
    }
    Ok(())
}

/// Records an incident of a project's environment. Idempotent by `incident_key`: a retry
/// returns the incident first recorded (`false`).
pub async fn record_incident(
    db: &Db,
    project: &str,
    new: &NewIncident,
    by: &Requester,
) -> StoreResult<(IncidentRecord, bool)> {
    let now = now_ms();
    check_incident(new, now)?;
    let mut tx = Tx::write(db).await?;
    let env: Option<(i64, i64)> = tx
        .opt(
            "select p.project_id, e.environment_id from project p join environment e \
             on e.project_id = p.project_id where p.slug = $1 and e.name = $2",
            vals![project, new.environment.clone()],
        )
        .await?;
    let Some((project_id, environment_id)) = env else {
        return Err(StoreError::NotFound(format!(
            "environment: project `{project}` has no environment `{}`",
            new.environment
        )));
    };
    if let Some(key) = &new.incident_key {
        let existing: Option<IncidentRow> = tx
            .opt(
                &format!("{INCIDENT_SELECT} where i.project_id = $1 and i.incident_key = $2"),
                vals![project_id, key.clone()],
            )
            .await?;
        if let Some(row) = existing {
            tx.commit().await?;
            return Ok((incident_of(row), false));
        }
    }
    if let Some(d) = new.deployment_id {
        let of: Option<(i64,)> = tx
            .opt(
                "select environment_id from deployment where deployment_id = $1 and project_id = $2",
                vals![d, project_id],
            )
            .await?;
        match of {
            None => {
                return Err(StoreError::Invalid(format!(
                    "deployment_id: project `{project}` has no deployment {d}"
                )))
            }
            Some((e,)) if e != environment_id => {
                return Err(StoreError::Invalid(format!(
                    "deployment_id: deployment {d} is not in {}",
                    new.environment
                )))
            }
            Some(_) => {}
        }
    }
    let (id,): (i64,) = tx
        .one(
            "insert into incident (project_id, environment_id, deployment_id, title, severity, \
             started_at, resolved_at, incident_key, created_by, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) returning incident_id",
            vals![
                project_id,
                environment_id,
                new.deployment_id,
                new.title.trim(),
                new.severity.clone(),
                new.started_at,
                new.resolved_at,
                new.incident_key.clone(),
                by.name.clone(),
                now
            ],
        )
        .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "incident.record",
        Some(&format!("incident:{id}")),
        Some(format!(
            "{project}/{}: {}",
            new.environment,
            new.title.trim()
        )),
    ))
    .await?;
    let row: IncidentRow = tx
        .one(
            &format!("{INCIDENT_SELECT} where i.incident_id = $1"),
            vals![id],
        )
        .await?;
    tx.commit().await?;
    Ok((incident_of(row), true))
}

/// Marks an incident of `project_id` resolved at `at`. Resolving a resolved incident again
/// keeps the first resolution (a retry changes nothing).
pub async fn resolve_incident(
    db: &Db,
    project_id: i64,
    id: i64,
    at: i64,
    by: &Requester,
) -> StoreResult<IncidentRecord> {
    let mut tx = Tx::write(db).await?;
    let row: Option<(i64, Option<i64>)> = tx
        .opt(
            "select started_at, resolved_at from incident where incident_id = $1 and project_id = $2",
            vals![id, project_id],
        )
        .await?;
    let Some((started_at, resolved_at)) = row else {
        return Err(StoreError::NotFound(format!("there is no incident {id}")));
    };
    if resolved_at.is_none() {
        if at < started_at {
            return Err(StoreError::Invalid(
                "resolved_at: an incident is resolved after it starts".into(),
            ));
        }
        if at > now_ms() + 5 * 60_000 {
            return Err(StoreError::Invalid(
                "resolved_at: cannot be in the future".into(),
            ));
        }
        tx.execute(
            "update incident set resolved_at = $2, updated_at = $3 where incident_id = $1",
            vals![id, at, now_ms()],
        )
        .await?;
        tx.audit(&NewAuditEvent::new(
            &by.actor(),
            "incident.resolve",
            Some(&format!("incident:{id}")),
            None,
        ))
        .await?;
    }
    let row: IncidentRow = tx
        .one(
            &format!("{INCIDENT_SELECT} where i.incident_id = $1"),
            vals![id],
        )
        .await?;
    tx.commit().await?;
    Ok(incident_of(row))
}

// ---- satisfaction ----

/// `YYYY-MM` of a time, in UTC.
pub fn month_of(ms: i64) -> String {
    crate::logic::time::format_day(ms.div_euclid(DAY_MS))[..7].to_string()
}

/// Whether the person has rated this month already (then the prompt stays away).
pub async fn rated_this_month(db: &Db, user_id: i64) -> StoreResult<bool> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(i64,)> = tx
        .opt(
            "select satisfaction_rating_id from satisfaction_rating \
             where app_user_id = $1 and month = $2",
            vals![user_id, month_of(now_ms())],
        )
        .await?;
    tx.commit().await?;
    Ok(row.is_some())
}

/// Stores a person's 1–5 rating with a comment; a second rating in the same month is refused.
pub async fn rate(
    db: &Db,
    user_id: i64,
    project_id: i64,
    rating: i64,
    comment: &str,
    at: i64,
) -> StoreResult<()> {
    if !(1..=5).contains(&rating) {
        return Err(StoreError::Invalid(format!(
            "rating: 1 to 5 (got {rating})"
        )));
    }
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return Err(StoreError::Invalid(
            "comment: at most 2,000 characters".into(),
        ));
    }
    let mut tx = Tx::write(db).await?;
    let done = tx
        .execute(
            "insert into satisfaction_rating (app_user_id, project_id, month, rating, comment, at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (app_user_id, month) do nothing",
            vals![user_id, project_id, month_of(at), rating, comment, at],
        )
        .await?;
    tx.commit().await?;
    if done == 0 {
        return Err(StoreError::Conflict(
            "you have rated Gatehouse this month already; the next prompt comes next month".into(),
        ));
    }
    Ok(())
}

/// The comments given with ratings of a project in `[from, to)`, newest first.
pub async fn rating_comments(
    db: &Db,
    project_id: i64,
    from: i64,
    to: i64,
) -> StoreResult<Vec<(i64, i64, String)>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<(i64, i64, String)> = tx
        .all(
            "select at, cast(rating as bigint), comment from satisfaction_rating \
             where project_id = $1 and at >= $2 and at < $3 and comment <> '' \
             order by at desc limit 50",
            vals![project_id, from, to],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

// ---- the items behind a number ----

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The items behind a KPI's sources (at most `limit` of each kind), newest first.
pub async fn source_items(
    db: &Db,
    sources: &kpi::Sources,
    limit: usize,
) -> StoreResult<Vec<SourceItem>> {
    let mut tx = Tx::read(db).await?;
    let mut out = Vec::new();
    let take = |ids: &[i64]| -> Vec<super::tx::Val> {
        let mut v = ids.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.truncate(limit);
        v.into_iter().map(super::tx::Val::from).collect()
    };
    let ids = take(&sources.deployments);
    if !ids.is_empty() {
        let rows: Vec<(i64, i64, String, String, Option<i64>)> = tx
            .all(
                &format!(
                    "select d.deployment_id, coalesce(d.finished_at, d.requested_at), rel.version, \
                     d.state, d.rollback_of from deployment d \
                     join release rel on rel.release_id = d.release_id \
                     where d.deployment_id in ({})",
                    placeholders(ids.len())
                ),
                &ids,
            )
            .await?;
        out.extend(
            rows.into_iter()
                .map(|(id, at, version, state, rb)| SourceItem {
                    kind: "deployment".into(),
                    id,
                    at,
                    title: match rb {
                        Some(of) => format!("{version} (rollback of deployment {of})"),
                        None => version,
                    },
                    detail: state.replace('_', " "),
                    href: format!("/deployments/{id}"),
                }),
        );
    }
    let ids = take(&sources.alerts);
    if !ids.is_empty() {
        let rows: Vec<(i64, i64, String, Option<i64>, Option<String>)> = tx
            .all(
                &format!(
                    "select a.risk_alert_id, a.opened_at, a.message, a.ci_run_id, r.status \
                     from risk_alert a left join ci_run r on r.ci_run_id = a.ci_run_id \
                     where a.risk_alert_id in ({})",
                    placeholders(ids.len())
                ),
                &ids,
            )
            .await?;
        out.extend(
            rows.into_iter()
                .map(|(id, at, message, run, status)| SourceItem {
                    kind: "alert".into(),
                    id,
                    at,
                    title: message,
                    detail: status.map_or("run not finished".into(), |s| format!("run {s}")),
                    href: run.map_or("/calibration".into(), |r| format!("/runs/{r}")),
                }),
        );
    }
    let ids = take(&sources.incidents);
    if !ids.is_empty() {
        let rows: Vec<IncidentRow> = tx
            .all(
                &format!(
                    "{INCIDENT_SELECT} where i.incident_id in ({})",
                    placeholders(ids.len())
                ),
                &ids,
            )
            .await?;
        out.extend(rows.into_iter().map(incident_of).map(|i| {
            SourceItem {
                kind: "incident".into(),
                id: i.id,
                at: i.started_at,
                detail: match i.resolved_at {
                    Some(r) => format!(
                        "{}, resolved after {}",
                        i.severity,
                        kpi::format_span((r - i.started_at) as f64)
                    ),
                    None => format!("{}, open", i.severity),
                },
                href: i
                    .deployment_id
                    .map_or(String::new(), |d| format!("/deployments/{d}")),
                title: i.title,
            }
        }));
    }
    tx.commit().await?;
    out.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// The person's projects for the filters: every project, by slug.
pub async fn project_slugs(db: &Db) -> StoreResult<Vec<String>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<(String,)> = tx
        .all("select slug from project order by slug", vals![])
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The release's first commit: the earliest of the commits the request listed, else the
/// release commit's own time, else the first CI run seen for it.
pub(super) async fn stamp_first_commit(
    tx: &mut Tx,
    release_id: i64,
    listed: Option<i64>,
) -> StoreResult<()> {
    tx.execute(
        "update release set first_commit_at = coalesce($2, \
         (select g.committed_at from git_commit g \
          where g.project_id = release.project_id and g.sha = release.commit_sha), \
         (select min(coalesce(r.started_at, r.created_at)) from ci_run r \
          where r.project_id = release.project_id and r.commit_sha = release.commit_sha)) \
         where release_id = $1",
        vals![release_id, listed],
    )
    .await?;
    Ok(())
}

/// The environment's newest deployments `(id, "1.4.2 · succeeded")`, to link an incident to.
pub async fn recent_deployments(
    db: &Db,
    environment_id: i64,
    limit: i64,
) -> StoreResult<Vec<(i64, String)>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<(i64, String, String)> = tx
        .all(
            "select d.deployment_id, rel.version, d.state from deployment d \
             join release rel on rel.release_id = d.release_id \
             where d.environment_id = $1 order by d.deployment_id desc limit $2",
            vals![environment_id, limit],
        )
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, v, s)| (id, format!("#{id} · {v} · {}", s.replace('_', " "))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::entries;

    #[test]
    fn packed_entries_read_field_by_field() {
        let text = ";12,risk,1790000000000,,1;;-4,0,99999999999999999999,x7,;";
        let read: Vec<(
            i64,
            Vec<u8>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        )> = entries(text)
            .map(|mut e| {
                (
                    e.int(),
                    e.word().to_vec(),
                    e.opt(),
                    e.opt(),
                    e.opt(),
                    e.opt(),
                )
            })
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    12,
                    b"risk".to_vec(),
                    Some(1_790_000_000_000),
                    None,
                    Some(1),
                    None
                ),
                // too long for i64 and not a number read as NULL; a missing field too
                (-4, b"0".to_vec(), None, None, None, None),
            ]
        );
        assert_eq!(entries("").count(), 0);
        assert_eq!(entries(";;").count(), 0);
    }
}
