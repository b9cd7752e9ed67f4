//! What guards each environment: protection rules, quality gates, freeze windows and the
//! pre-release checklist. New environments get the seeds' defaults; every change is audited.

use super::audit::{Actor, NewAuditEvent};
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::deploy::week_minute_words;
use crate::model::{
    ChecklistItem, Environment, Freeze, FreezeKind, Gate, GateMetric, Protection, Role,
};
use crate::vals;

/// A gate as an admin defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSpec {
    pub metric: GateMetric,
    pub higher_is_better: bool,
    pub warn: f64,
    pub fail: f64,
    pub weight: f64,
    pub key: bool,
}

impl From<crate::logic::gates::GateRow> for GateSpec {
    /// From `(metric, higher is better, warn, fail, weight, key)`.
    fn from(
        (metric, higher_is_better, warn, fail, weight, key): (
            GateMetric,
            bool,
            f64,
            f64,
            f64,
            bool,
        ),
    ) -> GateSpec {
        GateSpec {
            metric,
            higher_is_better,
            warn,
            fail,
            weight,
            key,
        }
    }
}

/// The defaults of a new environment, by its place in the promotion order: the last one is
/// production (two approvals, a five-minute wait timer, releases from the default branch,
/// release branches or version tags only, after the previous environment, watched for 48
/// hours, with the seeds' checklist); those between are staging (gates, no approval); the
/// first of three or more is dev (nothing).
pub fn defaults(
    position: usize,
    count: usize,
    default_branch: &str,
) -> (Protection, Vec<GateSpec>, Vec<&'static str>) {
    let last = position + 1 == count;
    let dev = position == 0 && count >= 3;
    let seeded = |production: bool| {
        crate::logic::gates::seed_gates(production)
            .into_iter()
            .map(GateSpec::from)
            .collect::<Vec<_>>()
    };
    if last {
        let p = Protection {
            required_approvals: 2,
            wait_timer_s: 300,
            ref_pattern: format!("{default_branch}, release/*, v*"),
            require_previous: position > 0,
            monitoring_window_s: 48 * 3600,
            ..Protection::default()
        };
        let checklist = vec![
            "Runbook prepared",
            "Rollback plan documented",
            "Documentation complete",
        ];
        (p, seeded(true), checklist)
    } else if dev {
        (Protection::default(), Vec::new(), Vec::new())
    } else {
        (Protection::default(), seeded(false), Vec::new())
    }
}

/// Writes a new environment's rules (inside the transaction that creates it).
pub async fn seed(
    tx: &mut Tx,
    environment_id: i64,
    protection: &Protection,
    gates: &[GateSpec],
    checklist: &[&str],
    now: i64,
) -> StoreResult<()> {
    write_protection(tx, environment_id, protection, now, None).await?;
    write_gates(tx, environment_id, gates).await?;
    for (i, title) in checklist.iter().enumerate() {
        tx.execute(
            "insert into checklist_item (environment_id, position, title) values ($1, $2, $3)",
            vals![environment_id, i as i64, *title],
        )
        .await?;
    }
    Ok(())
}

async fn write_protection(
    tx: &mut Tx,
    environment_id: i64,
    p: &Protection,
    now: i64,
    by: Option<&str>,
) -> StoreResult<()> {
    tx.execute(
        "delete from environment_policy where environment_id = $1",
        vals![environment_id],
    )
    .await?;
    tx.execute(
        "insert into environment_policy (environment_id, required_approvals, approver_roles, \
         approver_users, allow_self_approval, wait_timer_s, ref_pattern, require_previous, \
         min_soak_s, monitoring_window_s, auto_rollback, updated_at, updated_by) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        vals![
            environment_id,
            p.required_approvals,
            p.approver_roles.join(","),
            p.approver_users.join(","),
            p.allow_self_approval,
            p.wait_timer_s,
            p.ref_pattern.clone(),
            p.require_previous,
            p.min_soak_s,
            p.monitoring_window_s,
            p.auto_rollback,
            now,
            by
        ],
    )
    .await?;
    Ok(())
}

async fn write_gates(tx: &mut Tx, environment_id: i64, gates: &[GateSpec]) -> StoreResult<()> {
    tx.execute(
        "delete from quality_gate where environment_id = $1",
        vals![environment_id],
    )
    .await?;
    for (i, g) in gates.iter().enumerate() {
        tx.execute(
            "insert into quality_gate (environment_id, position, metric, higher_is_better, \
             warn_threshold, fail_threshold, weight, key_gate) values ($1, $2, $3, $4, $5, $6, $7, $8)",
            vals![
                environment_id,
                i as i64,
                g.metric.key(),
                g.higher_is_better,
                g.warn,
                g.fail,
                g.weight,
                g.key
            ],
        )
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EnvRow {
    environment_id: i64,
    project: String,
    name: String,
    position: i64,
    required_approvals: Option<i64>,
    approver_roles: Option<String>,
    approver_users: Option<String>,
    allow_self_approval: Option<bool>,
    wait_timer_s: Option<i64>,
    ref_pattern: Option<String>,
    require_previous: Option<bool>,
    min_soak_s: Option<i64>,
    monitoring_window_s: Option<i64>,
    auto_rollback: Option<bool>,
}

const ENV_SELECT: &str = "select e.environment_id, p.slug as project, e.name, \
     cast(e.position as bigint) as position, ep.required_approvals, ep.approver_roles, \
     ep.approver_users, ep.allow_self_approval, ep.wait_timer_s, ep.ref_pattern, \
     ep.require_previous, ep.min_soak_s, ep.monitoring_window_s, ep.auto_rollback \
     from environment e join project p on p.project_id = e.project_id \
     left join environment_policy ep on ep.environment_id = e.environment_id";

fn split_list(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

impl EnvRow {
    fn protection(&mut self) -> Protection {
        let d = Protection::default();
        Protection {
            required_approvals: self.required_approvals.unwrap_or(d.required_approvals),
            approver_roles: split_list(self.approver_roles.take()),
            approver_users: split_list(self.approver_users.take()),
            allow_self_approval: self.allow_self_approval.unwrap_or(d.allow_self_approval),
            wait_timer_s: self.wait_timer_s.unwrap_or(d.wait_timer_s),
            ref_pattern: self.ref_pattern.take().unwrap_or_default(),
            require_previous: self.require_previous.unwrap_or(d.require_previous),
            min_soak_s: self.min_soak_s.unwrap_or(d.min_soak_s),
            monitoring_window_s: self.monitoring_window_s.unwrap_or(d.monitoring_window_s),
            auto_rollback: self.auto_rollback.unwrap_or(d.auto_rollback),
        }
    }
}

#[derive(sqlx::FromRow)]
struct GateRow {
    quality_gate_id: i64,
    metric: String,
    higher_is_better: bool,
    warn_threshold: f64,
    fail_threshold: f64,
    weight: f64,
    key_gate: bool,
}

#[derive(sqlx::FromRow)]
struct FreezeRow {
    freeze_window_id: i64,
    kind: String,
    starts_at: i64,
    ends_at: i64,
    reason: String,
}

impl From<FreezeRow> for Freeze {
    fn from(r: FreezeRow) -> Freeze {
        let kind = if r.kind == "weekly" {
            FreezeKind::Weekly {
                start: r.starts_at,
                end: r.ends_at,
            }
        } else {
            FreezeKind::Once {
                starts_at: r.starts_at,
                ends_at: r.ends_at,
            }
        };
        Freeze {
            id: r.freeze_window_id,
            kind,
            reason: r.reason,
        }
    }
}

/// Loads environments (by a `where` on `e`/`p`) with their rules, inside `tx`.
async fn load_where(
    tx: &mut Tx,
    cond: &str,
    args: &[super::tx::Val],
) -> StoreResult<Vec<Environment>> {
    let sql = format!("{ENV_SELECT} {cond} order by p.slug, e.position");
    let rows: Vec<EnvRow> = tx.all(&sql, args).await?;
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        let protection = r.protection();
        let gates: Vec<GateRow> = tx
            .all(
                "select quality_gate_id, metric, higher_is_better, warn_threshold, fail_threshold, \
                 weight, key_gate from quality_gate where environment_id = $1 order by position",
                vals![r.environment_id],
            )
            .await?;
        let gates = gates
            .into_iter()
            .filter_map(|g| {
                let metric = g.metric.parse::<GateMetric>().ok()?;
                Some(Gate {
                    id: g.quality_gate_id,
                    metric,
                    higher_is_better: g.higher_is_better,
                    warn: g.warn_threshold,
                    fail: g.fail_threshold,
                    weight: g.weight,
                    key: g.key_gate,
                })
            })
            .collect();
        let freezes: Vec<FreezeRow> = tx
            .all(
                "select freeze_window_id, kind, starts_at, ends_at, reason from freeze_window \
                 where environment_id = $1 order by freeze_window_id",
                vals![r.environment_id],
            )
            .await?;
        let checklist: Vec<(i64, String)> = tx
            .all(
                "select checklist_item_id, title from checklist_item \
                 where environment_id = $1 and archived_at is null order by position",
                vals![r.environment_id],
            )
            .await?;
        out.push(Environment {
            id: r.environment_id,
            project: r.project,
            name: r.name,
            position: r.position,
            protection,
            gates,
            freezes: freezes.into_iter().map(Freeze::from).collect(),
            checklist: checklist
                .into_iter()
                .map(|(id, title)| ChecklistItem {
                    id,
                    title,
                    ticked_by: None,
                    ticked_at: None,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// One environment with its rules, inside `tx`.
pub async fn load(tx: &mut Tx, environment_id: i64) -> StoreResult<Environment> {
    load_where(tx, "where e.environment_id = $1", vals![environment_id])
        .await?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no environment {environment_id}")))
}

/// A project's environments in promotion order.
pub async fn list(db: &Db, project: &str) -> StoreResult<Vec<Environment>> {
    let mut tx = Tx::read(db).await?;
    let envs = load_where(&mut tx, "where p.slug = $1", vals![project]).await?;
    tx.commit().await?;
    Ok(envs)
}

/// An environment by project and name; a missing one is [`StoreError::NotFound`] naming both.
pub async fn find(db: &Db, project: &str, name: &str) -> StoreResult<Environment> {
    let mut tx = Tx::read(db).await?;
    let env = load_where(
        &mut tx,
        "where p.slug = $1 and e.name = $2",
        vals![project, name],
    )
    .await?
    .pop();
    tx.commit().await?;
    env.ok_or_else(|| {
        StoreError::NotFound(format!("project `{project}` has no environment `{name}`"))
    })
}

pub async fn get(db: &Db, environment_id: i64) -> StoreResult<Environment> {
    let mut tx = Tx::read(db).await?;
    let env = load(&mut tx, environment_id).await?;
    tx.commit().await?;
    Ok(env)
}

/// Ends a rule change: audits it in its transaction, commits, and returns the environment.
async fn finish(
    mut tx: Tx,
    environment_id: i64,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: String,
) -> StoreResult<Environment> {
    tx.audit(&NewAuditEvent::new(
        actor,
        action,
        Some(target),
        Some(detail),
    ))
    .await?;
    let env = load(&mut tx, environment_id).await?;
    tx.commit().await?;
    Ok(env)
}

/// Checks protection rules an admin submits.
pub fn validate_protection(p: &Protection) -> Result<(), String> {
    if !(0..=20).contains(&p.required_approvals) {
        return Err("required approvals must be 0 to 20".into());
    }
    for r in &p.approver_roles {
        if r.parse::<Role>().is_err() {
            return Err(format!(
                "`{r}` is not a role (viewer, reviewer, approver, admin)"
            ));
        }
    }
    for u in &p.approver_users {
        if crate::model::Username::parse(u).is_err() {
            return Err(format!("`{u}` is not a valid username"));
        }
    }
    if !(0..=30 * 86_400).contains(&p.wait_timer_s) {
        return Err("the wait timer must be 0 to 30 days".into());
    }
    if !(0..=365 * 86_400).contains(&p.min_soak_s) {
        return Err("the minimum soak time must be 0 to 365 days".into());
    }
    if !(0..=30 * 86_400).contains(&p.monitoring_window_s) {
        return Err("the monitoring window must be 0 to 30 days".into());
    }
    if p.ref_pattern.len() > 500 {
        return Err("the branch and tag patterns are longer than 500 characters".into());
    }
    Ok(())
}

/// Replaces an environment's protection rules; audited with what changed.
pub async fn update_protection(
    db: &Db,
    environment_id: i64,
    p: &Protection,
    actor: &Actor,
) -> StoreResult<Environment> {
    validate_protection(p).map_err(StoreError::Invalid)?;
    let mut tx = Tx::write(db).await?;
    let before = load(&mut tx, environment_id).await?;
    let changes = protection_changes(&before.protection, p);
    write_protection(
        &mut tx,
        environment_id,
        p,
        now_ms(),
        actor.username.as_deref(),
    )
    .await?;
    let target = format!("{}/{}", before.project, before.name);
    let detail = if changes.is_empty() {
        "no change".to_string()
    } else {
        changes.join("; ")
    };
    finish(
        tx,
        environment_id,
        actor,
        "environment.rules_changed",
        &target,
        detail,
    )
    .await
}

fn protection_changes(a: &Protection, b: &Protection) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |name: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{name} {x} → {y}"));
        }
    };
    cmp(
        "required approvals",
        a.required_approvals.to_string(),
        b.required_approvals.to_string(),
    );
    cmp(
        "approver roles",
        format!("[{}]", a.approver_roles.join(", ")),
        format!("[{}]", b.approver_roles.join(", ")),
    );
    cmp(
        "approver users",
        format!("[{}]", a.approver_users.join(", ")),
        format!("[{}]", b.approver_users.join(", ")),
    );
    cmp(
        "self-approval",
        a.allow_self_approval.to_string(),
        b.allow_self_approval.to_string(),
    );
    cmp(
        "wait timer (s)",
        a.wait_timer_s.to_string(),
        b.wait_timer_s.to_string(),
    );
    cmp(
        "branches and tags",
        format!("`{}`", a.ref_pattern),
        format!("`{}`", b.ref_pattern),
    );
    cmp(
        "requires the previous environment",
        a.require_previous.to_string(),
        b.require_previous.to_string(),
    );
    cmp(
        "minimum soak (s)",
        a.min_soak_s.to_string(),
        b.min_soak_s.to_string(),
    );
    cmp(
        "monitoring window (s)",
        a.monitoring_window_s.to_string(),
        b.monitoring_window_s.to_string(),
    );
    cmp(
        "automatic rollback",
        a.auto_rollback.to_string(),
        b.auto_rollback.to_string(),
    );
    out
}

/// Checks gates an admin submits: known metrics, each once, bands the right way round.
pub fn validate_gates(gates: &[GateSpec]) -> Result<(), String> {
    if gates.len() > 50 {
        return Err("an environment has at most 50 gates".into());
    }
    for (i, g) in gates.iter().enumerate() {
        let name = g.metric.label();
        if gates[..i].iter().any(|o| o.metric == g.metric) {
            return Err(format!("gate {}: {name} appears twice", i + 1));
        }
        if !g.warn.is_finite() || !g.fail.is_finite() {
            return Err(format!(
                "gate {}: {name}: thresholds must be numbers",
                i + 1
            ));
        }
        if !(g.weight > 0.0 && g.weight <= 100.0) {
            return Err(format!(
                "gate {}: {name}: the weight must be above 0 and at most 100",
                i + 1
            ));
        }
        let fraction = |v: f64| (0.0..=1.0).contains(&v);
        if g.metric.unit() == crate::model::Unit::Fraction
            && !(fraction(g.warn) && fraction(g.fail))
        {
            return Err(format!(
                "gate {}: {name}: thresholds are fractions from 0 to 1 (0.95, not 95)",
                i + 1
            ));
        }
        if g.higher_is_better && g.warn < g.fail {
            return Err(format!(
                "gate {}: {name}: higher is better, so the warning threshold ({}) must be at or above the failing one ({})",
                i + 1, g.warn, g.fail
            ));
        }
        if !g.higher_is_better && g.warn > g.fail {
            return Err(format!(
                "gate {}: {name}: lower is better, so the warning threshold ({}) must be at or below the failing one ({})",
                i + 1, g.warn, g.fail
            ));
        }
    }
    Ok(())
}

/// Replaces an environment's gates; audited with the new list.
pub async fn set_gates(
    db: &Db,
    environment_id: i64,
    gates: &[GateSpec],
    actor: &Actor,
) -> StoreResult<Environment> {
    validate_gates(gates).map_err(StoreError::Invalid)?;
    let mut tx = Tx::write(db).await?;
    let before = load(&mut tx, environment_id).await?;
    write_gates(&mut tx, environment_id, gates).await?;
    let words: Vec<String> = gates
        .iter()
        .map(|g| {
            let unit = g.metric.unit();
            let op = if g.higher_is_better { "≥" } else { "≤" };
            format!(
                "{} {op} {} (fail beyond {}){}, weight {}",
                g.metric.label(),
                unit.format(g.warn),
                unit.format(g.fail),
                if g.key { ", key" } else { "" },
                g.weight
            )
        })
        .collect();
    let target = format!("{}/{}", before.project, before.name);
    let detail = if words.is_empty() {
        "no gates".to_string()
    } else {
        words.join("; ")
    };
    finish(
        tx,
        environment_id,
        actor,
        "environment.gates_changed",
        &target,
        detail,
    )
    .await
}

/// Adds a freeze window; audited.
pub async fn add_freeze(
    db: &Db,
    environment_id: i64,
    kind: &FreezeKind,
    reason: &str,
    actor: &Actor,
) -> StoreResult<Environment> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(StoreError::Invalid(
            "say why the environment is frozen (1 to 300 characters): people blocked by it read this".into(),
        ));
    }
    let (k, a, b, words) = match *kind {
        FreezeKind::Once { starts_at, ends_at } => {
            if ends_at <= starts_at {
                return Err(StoreError::Invalid(
                    "a freeze must end after it starts".into(),
                ));
            }
            (
                "once",
                starts_at,
                ends_at,
                format!(
                    "{} → {}",
                    crate::logic::time::format_utc(starts_at),
                    crate::logic::time::format_utc(ends_at)
                ),
            )
        }
        FreezeKind::Weekly { start, end } => {
            let week = 7 * 1440;
            if !(0..week).contains(&start) || !(0..week).contains(&end) || start == end {
                return Err(StoreError::Invalid(
                    "a weekly freeze starts and ends at different minutes of the week".into(),
                ));
            }
            (
                "weekly",
                start,
                end,
                format!(
                    "every week {} → {} UTC",
                    week_minute_words(start),
                    week_minute_words(end)
                ),
            )
        }
    };
    let mut tx = Tx::write(db).await?;
    let env = load(&mut tx, environment_id).await?;
    tx.execute(
        "insert into freeze_window (environment_id, kind, starts_at, ends_at, reason, created_by, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
        vals![environment_id, k, a, b, reason, actor.username.clone(), now_ms()],
    )
    .await?;
    let target = format!("{}/{}", env.project, env.name);
    finish(
        tx,
        environment_id,
        actor,
        "environment.freeze_added",
        &target,
        format!("{words}: {reason}"),
    )
    .await
}

/// Removes a freeze window; audited.
pub async fn remove_freeze(db: &Db, freeze_id: i64, actor: &Actor) -> StoreResult<Environment> {
    let mut tx = Tx::write(db).await?;
    let row: Option<(i64, String)> = tx
        .opt(
            "select environment_id, reason from freeze_window where freeze_window_id = $1",
            vals![freeze_id],
        )
        .await?;
    let (environment_id, reason) =
        row.ok_or_else(|| StoreError::NotFound(format!("there is no freeze window {freeze_id}")))?;
    let env = load(&mut tx, environment_id).await?;
    tx.execute(
        "delete from freeze_window where freeze_window_id = $1",
        vals![freeze_id],
    )
    .await?;
    let target = format!("{}/{}", env.project, env.name);
    finish(
        tx,
        environment_id,
        actor,
        "environment.freeze_removed",
        &target,
        reason,
    )
    .await
}

/// Replaces the checklist titles: kept titles keep their ticks, removed ones are archived.
pub async fn set_checklist(
    db: &Db,
    environment_id: i64,
    titles: &[String],
    actor: &Actor,
) -> StoreResult<Environment> {
    let titles: Vec<String> = titles
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if titles.len() > 30 || titles.iter().any(|t| t.chars().count() > 200) {
        return Err(StoreError::Invalid(
            "a checklist has at most 30 items of at most 200 characters".into(),
        ));
    }
    let mut tx = Tx::write(db).await?;
    let env = load(&mut tx, environment_id).await?;
    let now = now_ms();
    for item in &env.checklist {
        if !titles.contains(&item.title) {
            tx.execute(
                "update checklist_item set archived_at = $2 where checklist_item_id = $1",
                vals![item.id, now],
            )
            .await?;
        }
    }
    for (i, title) in titles.iter().enumerate() {
        match env.checklist.iter().find(|c| &c.title == title) {
            Some(item) => {
                tx.execute(
                    "update checklist_item set position = $2 where checklist_item_id = $1",
                    vals![item.id, i as i64],
                )
                .await?;
            }
            None => {
                tx.execute(
                    "insert into checklist_item (environment_id, position, title) values ($1, $2, $3)",
                    vals![environment_id, i as i64, title],
                )
                .await?;
            }
        }
    }
    let target = format!("{}/{}", env.project, env.name);
    finish(
        tx,
        environment_id,
        actor,
        "environment.checklist_changed",
        &target,
        if titles.is_empty() {
            "no checklist".into()
        } else {
            titles.join("; ")
        },
    )
    .await
}
