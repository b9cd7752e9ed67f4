//! Rollout plans: phases, deliverables, go-live checklists and success criteria, each change
//! in one transaction with its audit event. A phase is marked done only when its checklist is
//! complete, and a ticked checklist item of a done phase stays ticked. [`evaluate`] judges the
//! criteria live: KPIs over the last 30 days through [`super::kpis::overview`] (the overview's
//! own numbers), gates from the environment's latest gate evaluation.

use super::audit::NewAuditEvent;
use super::deployments::Requester;
use super::tx::Tx;
use super::{kpis, now_ms, Db, StoreError, StoreResult};
use crate::logic::bands::Level;
use crate::logic::dora::DAY_MS;
use crate::logic::kpi::{Kpi, LOOKBACK_DAYS};
use crate::logic::plan::{
    check_done, judge_gate, judge_kpi, Comparator, ItemKind, Link, PhaseDraft, PhaseStatus, Verdict,
};
use crate::logic::time::format_day;
use crate::logic::url::encode_query_value;
use crate::model::{GateMetric, GateResult, Plan, PlanCriterion, PlanItem, PlanPhase, PlanSummary};
use crate::vals;

/// At most this many phases in a plan, and items or criteria in a phase.
pub const MAX_PHASES: usize = 50;
pub const MAX_ITEMS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct NewPlan {
    pub title: String,
    /// Where KPI criteria are measured; `None`: the project's last environment.
    pub environment: Option<String>,
    pub template: Option<String>,
    /// A retry with the same key returns the plan first created.
    pub plan_key: Option<String>,
    pub phases: Vec<PhaseDraft>,
}

/// The fields of a phase a person edits.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseEdit {
    pub title: String,
    pub objective: String,
    pub starts_on: Option<i64>,
    pub due_on: Option<i64>,
}

fn text(field: &str, v: &str, max: usize, required: bool) -> StoreResult<String> {
    let t = v.trim();
    if required && t.is_empty() {
        return Err(StoreError::Invalid(format!("{field}: must not be empty")));
    }
    if t.chars().count() > max {
        return Err(StoreError::Invalid(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(t.to_string())
}

fn check_dates(field: &str, starts_on: Option<i64>, due_on: Option<i64>) -> StoreResult<()> {
    if let (Some(s), Some(d)) = (starts_on, due_on) {
        if d < s {
            return Err(StoreError::Invalid(format!(
                "{field}: the due day {} is before the start {}",
                format_day(d),
                format_day(s)
            )));
        }
    }
    Ok(())
}

fn check_phase(n: usize, p: &PhaseDraft) -> StoreResult<()> {
    let at = format!("phases[{n}]");
    text(&format!("{at}.title"), &p.title, 200, true)?;
    text(&format!("{at}.objective"), &p.objective, 1000, false)?;
    check_dates(&at, p.starts_on, p.due_on)?;
    if p.deliverables.len() + p.checklist.len() > MAX_ITEMS || p.criteria.len() > MAX_ITEMS {
        return Err(StoreError::Invalid(format!(
            "{at}: at most {MAX_ITEMS} items and {MAX_ITEMS} criteria"
        )));
    }
    for (i, d) in p.deliverables.iter().enumerate() {
        text(&format!("{at}.deliverables[{i}].title"), &d.0, 300, true)?;
        text(&format!("{at}.deliverables[{i}].owner"), &d.1, 100, false)?;
    }
    for (i, c) in p.checklist.iter().enumerate() {
        text(&format!("{at}.checklist[{i}]"), c, 300, true)?;
    }
    for (i, (t, _)) in p.criteria.iter().enumerate() {
        text(&format!("{at}.criteria[{i}].title"), t, 300, true)?;
    }
    text(&format!("{at}.note"), &p.note, 500, false)?;
    if p.status == PhaseStatus::Blocked && p.note.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "{at}.note: say what blocks the phase"
        )));
    }
    if p.status == PhaseStatus::Done && !p.checklist.is_empty() {
        return Err(StoreError::Invalid(format!(
            "{at}.status: a new phase with a go-live checklist cannot start done"
        )));
    }
    Ok(())
}

/// The project's environment `name`, or its last one.
async fn environment_id(
    tx: &mut Tx,
    project_id: i64,
    project: &str,
    name: Option<&str>,
    field: &str,
) -> StoreResult<i64> {
    let rows: Vec<(i64, String)> = tx
        .all(
            "select environment_id, name from environment where project_id = $1 \
             order by position, environment_id",
            vals![project_id],
        )
        .await?;
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => rows.iter().find(|r| r.1 == n).map(|r| r.0).ok_or_else(|| {
            StoreError::Invalid(format!(
                "{field}: project `{project}` has no environment `{n}` (it has {})",
                rows.iter()
                    .map(|r| r.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
        None => rows.last().map(|r| r.0).ok_or_else(|| {
            StoreError::Invalid(format!("project `{project}` has no environment yet"))
        }),
    }
}

async fn insert_criterion(
    tx: &mut Tx,
    project_id: i64,
    project: &str,
    phase_id: i64,
    position: i64,
    title: &str,
    link: &Link,
    field: &str,
) -> StoreResult<i64> {
    let (kind, kpi, cmp, threshold, env, metric) = match link {
        Link::Manual => ("manual", None, None, None, None, None),
        Link::Kpi {
            kpi,
            comparator,
            threshold,
        } => {
            if !threshold.is_finite() {
                return Err(StoreError::Invalid(format!(
                    "{field}.threshold: must be a number"
                )));
            }
            (
                "kpi",
                Some(kpi.id()),
                Some(comparator.as_str()),
                Some(*threshold),
                None,
                None,
            )
        }
        Link::Gate {
            environment,
            metric,
        } => {
            let name = text(&format!("{field}.environment"), environment, 100, true)?;
            let e = environment_id(
                tx,
                project_id,
                project,
                Some(&name),
                &format!("{field}.environment"),
            )
            .await?;
            let metric = match metric.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                Some(m) => Some(
                    m.parse::<GateMetric>()
                        .map_err(|e| StoreError::Invalid(format!("{field}.metric: {e}")))?
                        .key(),
                ),
                None => None,
            };
            ("gate", None, None, None, Some(e), metric)
        }
    };
    let (id,): (i64,) = tx
        .one(
            "insert into plan_criterion (plan_phase_id, position, title, link, kpi, comparator, \
             threshold, gate_environment_id, gate_metric) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning plan_criterion_id",
            vals![
                phase_id,
                position,
                title.trim(),
                kind,
                kpi,
                cmp,
                threshold,
                env,
                metric
            ],
        )
        .await?;
    Ok(id)
}

async fn insert_item(
    tx: &mut Tx,
    phase_id: i64,
    position: i64,
    kind: ItemKind,
    title: &str,
    owner: &str,
    done: Option<(i64, &str)>,
) -> StoreResult<i64> {
    let (id,): (i64,) = tx
        .one(
            "insert into plan_item (plan_phase_id, kind, position, title, owner, done_at, done_by) \
             values ($1, $2, $3, $4, $5, $6, $7) returning plan_item_id",
            vals![
                phase_id,
                kind.as_str(),
                position,
                title.trim(),
                owner.trim(),
                done.map(|d| d.0),
                done.map(|d| d.1.to_string())
            ],
        )
        .await?;
    Ok(id)
}

async fn insert_phase(
    tx: &mut Tx,
    project_id: i64,
    project: &str,
    plan_id: i64,
    position: i64,
    p: &PhaseDraft,
    by: &Requester,
    now: i64,
) -> StoreResult<i64> {
    let field = format!("phases[{position}]");
    let changed = (p.status != PhaseStatus::NotStarted).then_some(now);
    let (phase_id,): (i64,) = tx
        .one(
            "insert into plan_phase (rollout_plan_id, position, title, objective, starts_on, \
             due_on, status, status_at, status_by, status_note) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning plan_phase_id",
            vals![
                plan_id,
                position,
                p.title.trim(),
                p.objective.trim(),
                p.starts_on,
                p.due_on,
                p.status.as_str(),
                changed,
                changed.map(|_| by.name.clone()),
                p.note.trim()
            ],
        )
        .await?;
    let mut pos = 0;
    for (title, owner, done) in &p.deliverables {
        let done = done.then_some((now, by.name.as_str()));
        insert_item(tx, phase_id, pos, ItemKind::Deliverable, title, owner, done).await?;
        pos += 1;
    }
    for title in &p.checklist {
        insert_item(tx, phase_id, pos, ItemKind::Checklist, title, "", None).await?;
        pos += 1;
    }
    for (i, (title, link)) in p.criteria.iter().enumerate() {
        insert_criterion(
            tx,
            project_id,
            project,
            phase_id,
            i as i64,
            title,
            link,
            &format!("{field}.criteria[{i}]"),
        )
        .await?;
    }
    Ok(phase_id)
}

/// Creates a plan of `project` with its phases. Idempotent by `plan_key`: a retry returns the
/// plan first created (`false`).
pub async fn create(
    db: &Db,
    project: &str,
    new: &NewPlan,
    by: &Requester,
) -> StoreResult<(i64, bool)> {
    let title = text("title", &new.title, 200, true)?;
    if new.phases.len() > MAX_PHASES {
        return Err(StoreError::Invalid(format!("phases: at most {MAX_PHASES}")));
    }
    for (n, p) in new.phases.iter().enumerate() {
        check_phase(n, p)?;
    }
    if let Some(k) = &new.plan_key {
        text("plan_key", k, 200, true)?;
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let found: Option<(i64,)> = tx
        .opt(
            "select project_id from project where slug = $1",
            vals![project],
        )
        .await?;
    let Some((project_id,)) = found else {
        return Err(StoreError::NotFound(format!(
            "there is no project `{project}`"
        )));
    };
    if let Some(k) = &new.plan_key {
        let existing: Option<(i64,)> = tx
            .opt(
                "select rollout_plan_id from rollout_plan where project_id = $1 and plan_key = $2",
                vals![project_id, k.trim()],
            )
            .await?;
        if let Some((id,)) = existing {
            tx.commit().await?;
            return Ok((id, false));
        }
    }
    let env = environment_id(
        &mut tx,
        project_id,
        project,
        new.environment.as_deref(),
        "environment",
    )
    .await?;
    // A concurrent request with the same key may have inserted it since: then nothing is
    // inserted here and that plan is the answer.
    let inserted: Option<(i64,)> = tx
        .opt(
            "insert into rollout_plan (project_id, environment_id, title, template, plan_key, \
             created_by, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7) \
             on conflict (project_id, plan_key) do nothing returning rollout_plan_id",
            vals![
                project_id,
                env,
                title.clone(),
                new.template.clone(),
                new.plan_key.as_deref().map(str::trim),
                by.name.clone(),
                now
            ],
        )
        .await?;
    let Some((plan_id,)) = inserted else {
        drop(tx);
        let mut tx = Tx::read(db).await?;
        let (id,): (i64,) = tx
            .one(
                "select rollout_plan_id from rollout_plan where project_id = $1 and plan_key = $2",
                vals![project_id, new.plan_key.as_deref().map(str::trim)],
            )
            .await?;
        tx.commit().await?;
        return Ok((id, false));
    };
    for (n, p) in new.phases.iter().enumerate() {
        insert_phase(&mut tx, project_id, project, plan_id, n as i64, p, by, now).await?;
    }
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.create",
        Some(&format!("plan:{plan_id}")),
        Some(format!("{project}: {title} ({} phases)", new.phases.len())),
    ))
    .await?;
    tx.commit().await?;
    Ok((plan_id, true))
}

type SummaryRow = (
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
);

/// The plans of a project (all projects when `None`), newest first.
pub async fn list(db: &Db, project_id: Option<i64>) -> StoreResult<Vec<PlanSummary>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<SummaryRow> = tx
        .all(
            "select r.rollout_plan_id, p.slug, r.title, \
             (select count(*) from plan_phase f where f.rollout_plan_id = r.rollout_plan_id), \
             (select count(*) from plan_phase f where f.rollout_plan_id = r.rollout_plan_id and f.status = 'done'), \
             (select count(*) from plan_phase f where f.rollout_plan_id = r.rollout_plan_id and f.status = 'blocked'), \
             (select count(*) from plan_item i join plan_phase f on f.plan_phase_id = i.plan_phase_id \
              where f.rollout_plan_id = r.rollout_plan_id), \
             (select count(*) from plan_item i join plan_phase f on f.plan_phase_id = i.plan_phase_id \
              where f.rollout_plan_id = r.rollout_plan_id and i.done_at is not null), \
             (select min(f.starts_on) from plan_phase f where f.rollout_plan_id = r.rollout_plan_id), \
             (select max(f.due_on) from plan_phase f where f.rollout_plan_id = r.rollout_plan_id), \
             (select f.title from plan_phase f where f.rollout_plan_id = r.rollout_plan_id \
              and f.status <> 'done' order by f.position limit 1), \
             r.created_at \
             from rollout_plan r join project p on p.project_id = r.project_id \
             where ($1 = 0 or r.project_id = $1) order by r.created_at desc, r.rollout_plan_id desc",
            vals![project_id.unwrap_or(0)],
        )
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| PlanSummary {
            id: r.0,
            project: r.1,
            title: r.2,
            phases: r.3,
            done: r.4,
            blocked: r.5,
            items: r.6,
            items_done: r.7,
            starts_on: r.8,
            due_on: r.9,
            current: r.10,
            created_at: r.11,
        })
        .collect())
}

type PhaseRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    Option<i64>,
    Option<String>,
);
type ItemRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
);
type CriterionRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// A plan with its phases, items and criteria as stored (criteria not judged yet: see
/// [`evaluate`]).
pub async fn get(db: &Db, id: i64) -> StoreResult<Plan> {
    let mut tx = Tx::read(db).await?;
    let head: Option<(
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        i64,
    )> = tx
        .opt(
            "select r.rollout_plan_id, p.slug, coalesce(e.name, ''), r.title, r.template, \
             r.plan_key, r.created_by, r.created_at from rollout_plan r \
             join project p on p.project_id = r.project_id \
             left join environment e on e.environment_id = r.environment_id \
             where r.rollout_plan_id = $1",
            vals![id],
        )
        .await?;
    let Some(h) = head else {
        return Err(StoreError::NotFound(format!("there is no plan {id}")));
    };
    let phases: Vec<PhaseRow> = tx
        .all(
            "select plan_phase_id, position, title, objective, starts_on, due_on, status, \
             status_note, status_at, status_by from plan_phase where rollout_plan_id = $1 \
             order by position, plan_phase_id",
            vals![id],
        )
        .await?;
    let items: Vec<ItemRow> = tx
        .all(
            "select i.plan_item_id, i.plan_phase_id, i.kind, i.title, i.owner, i.done_at, i.done_by \
             from plan_item i join plan_phase f on f.plan_phase_id = i.plan_phase_id \
             where f.rollout_plan_id = $1 order by i.position, i.plan_item_id",
            vals![id],
        )
        .await?;
    let criteria: Vec<CriterionRow> = tx
        .all(
            "select c.plan_criterion_id, c.plan_phase_id, c.title, c.link, c.kpi, c.comparator, \
             c.threshold, e.name, c.gate_metric, c.met_at, c.met_by \
             from plan_criterion c join plan_phase f on f.plan_phase_id = c.plan_phase_id \
             left join environment e on e.environment_id = c.gate_environment_id \
             where f.rollout_plan_id = $1 order by c.position, c.plan_criterion_id",
            vals![id],
        )
        .await?;
    tx.commit().await?;
    let phases = phases
        .into_iter()
        .map(|p| PlanPhase {
            id: p.0,
            position: p.1,
            title: p.2,
            objective: p.3,
            starts_on: p.4,
            due_on: p.5,
            status: PhaseStatus::parse(&p.6).unwrap_or(PhaseStatus::NotStarted),
            status_note: p.7,
            status_at: p.8,
            status_by: p.9,
            items: items
                .iter()
                .filter(|i| i.1 == p.0)
                .map(|i| PlanItem {
                    id: i.0,
                    kind: ItemKind::parse(&i.2).unwrap_or(ItemKind::Deliverable),
                    title: i.3.clone(),
                    owner: i.4.clone(),
                    done_at: i.5,
                    done_by: i.6.clone(),
                })
                .collect(),
            criteria: criteria
                .iter()
                .filter(|c| c.1 == p.0)
                .map(criterion_of)
                .collect(),
        })
        .collect();
    Ok(Plan {
        id: h.0,
        project: h.1,
        environment: h.2,
        title: h.3,
        template: h.4,
        plan_key: h.5,
        created_by: h.6,
        created_at: h.7,
        phases,
    })
}

fn criterion_of(c: &CriterionRow) -> PlanCriterion {
    let link = match (c.3.as_str(), &c.4, &c.5, c.6) {
        ("kpi", Some(k), Some(cmp), Some(t)) => match (Kpi::parse(k), Comparator::parse(cmp)) {
            (Some(kpi), Ok(comparator)) => Link::Kpi {
                kpi,
                comparator,
                threshold: t,
            },
            _ => Link::Manual,
        },
        ("gate", ..) => Link::Gate {
            environment: c
                .7
                .clone()
                .unwrap_or_else(|| "a deleted environment".into()),
            metric: c.8.clone(),
        },
        _ => Link::Manual,
    };
    let (verdict, measured) = match (&link, c.9) {
        (Link::Manual, Some(_)) => (Verdict::Holds, String::new()),
        (Link::Manual, None) => (Verdict::Open, "not confirmed yet".into()),
        _ => (Verdict::NoData, "not measured".into()),
    };
    PlanCriterion {
        id: c.0,
        title: c.2.clone(),
        link,
        met_at: c.9,
        met_by: c.10.clone(),
        verdict,
        measured,
        href: None,
    }
}

/// Judges every criterion of `plan` now: KPIs over the last 30 days of the plan's
/// environment, gates from their environment's latest gate evaluation, manual ones by their
/// confirmation.
pub async fn evaluate(db: &Db, plan: &mut Plan, today: i64) -> StoreResult<()> {
    let wants_kpis = plan
        .phases
        .iter()
        .flat_map(|p| &p.criteria)
        .any(|c| matches!(c.link, Link::Kpi { .. }));
    let report = if wants_kpis && !plan.environment.is_empty() {
        let scope = kpis::scope(db, &plan.project, Some(&plan.environment)).await?;
        Some(kpis::overview(db, scope, today - LOOKBACK_DAYS + 1, today + 1).await?)
    } else {
        None
    };
    let mut gates: Vec<(String, Option<(i64, Level, f64, Vec<GateResult>)>)> = Vec::new();
    for c in plan.phases.iter().flat_map(|p| &p.criteria) {
        if let Link::Gate { environment, .. } = &c.link {
            if !gates.iter().any(|g| &g.0 == environment) {
                let latest = latest_gates(db, &plan.project, environment).await?;
                gates.push((environment.clone(), latest));
            }
        }
    }
    let project = encode_query_value(&plan.project);
    for c in plan.phases.iter_mut().flat_map(|p| p.criteria.iter_mut()) {
        match &c.link {
            Link::Manual => {
                if let (Some(at), Some(by)) = (c.met_at, &c.met_by) {
                    c.measured = format!("confirmed by {by} on {}", format_day(at / DAY_MS));
                }
            }
            Link::Kpi {
                kpi,
                comparator,
                threshold,
            } => {
                let card = report
                    .as_ref()
                    .and_then(|r| r.report.cards.iter().find(|k| k.kpi == *kpi));
                (c.verdict, c.measured) = judge_kpi(card, *comparator, *threshold);
                c.href = Some(format!(
                    "/kpis/{}?project={project}&environment={}&days={LOOKBACK_DAYS}",
                    kpi.id(),
                    encode_query_value(&plan.environment)
                ));
            }
            Link::Gate {
                environment,
                metric,
            } => {
                let latest = gates
                    .iter()
                    .find(|g| &g.0 == environment)
                    .and_then(|g| g.1.as_ref());
                let Some((deployment, level, score, results)) = latest else {
                    c.verdict = Verdict::NoData;
                    c.measured = format!("no gate evaluation in {environment} yet");
                    continue;
                };
                c.href = Some(format!("/deployments/{deployment}"));
                match metric {
                    None => {
                        c.verdict = judge_gate(Some(*level));
                        c.measured = format!(
                            "deployment {deployment}: {} (score {:.2})",
                            level.as_str(),
                            score
                        );
                    }
                    Some(m) => match results.iter().find(|r| &r.metric.key() == m) {
                        Some(r) => {
                            c.verdict = judge_gate(Some(r.level));
                            c.measured = format!(
                                "deployment {deployment}: {} {} ({})",
                                r.metric.label(),
                                r.value
                                    .map(|v| format!("{v}"))
                                    .unwrap_or_else(|| "not measured".into()),
                                r.level.as_str()
                            );
                        }
                        None => {
                            c.verdict = Verdict::NoData;
                            c.measured =
                                format!("deployment {deployment}'s evaluation has no gate `{m}`");
                        }
                    },
                }
            }
        }
    }
    Ok(())
}

/// The latest gate evaluation of a project's environment: the deployment, its result, its
/// score and each gate.
async fn latest_gates(
    db: &Db,
    project: &str,
    environment: &str,
) -> StoreResult<Option<(i64, Level, f64, Vec<GateResult>)>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(i64, String, f64, String)> = tx
        .opt(
            "select d.deployment_id, g.result, g.score, g.gates from gate_evaluation g \
             join deployment d on d.deployment_id = g.deployment_id \
             join environment e on e.environment_id = d.environment_id \
             join project p on p.project_id = e.project_id \
             where p.slug = $1 and e.name = $2 order by g.gate_evaluation_id desc limit 1",
            vals![project, environment],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(|(d, result, score, gates)| {
        let level = match result.as_str() {
            "pass" => Level::Pass,
            "warn" => Level::Warn,
            _ => Level::Fail,
        };
        (
            d,
            level,
            score,
            serde_json::from_str(&gates).unwrap_or_default(),
        )
    }))
}

/// The project (slug) a plan belongs to, for access checks.
pub async fn project_of(db: &Db, plan_id: i64) -> StoreResult<String> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(String,)> = tx
        .opt(
            "select p.slug from rollout_plan r join project p on p.project_id = r.project_id \
             where r.rollout_plan_id = $1",
            vals![plan_id],
        )
        .await?;
    tx.commit().await?;
    row.map(|r| r.0)
        .ok_or_else(|| StoreError::NotFound(format!("there is no plan {plan_id}")))
}

/// The phase `phase_id` of plan `plan_id`: its project id and slug, status and title.
async fn phase_in(
    tx: &mut Tx,
    plan_id: i64,
    phase_id: i64,
) -> StoreResult<(i64, String, PhaseStatus, String)> {
    // The phase row is locked (on Postgres) wherever the checklist rule is checked, so a
    // phase cannot be marked done while an item of its checklist is added or unticked.
    let sql = format!(
        "select r.project_id, p.slug, f.status, f.title from plan_phase f \
             join rollout_plan r on r.rollout_plan_id = f.rollout_plan_id \
             join project p on p.project_id = r.project_id \
             where f.plan_phase_id = $1 and f.rollout_plan_id = $2{}",
        tx.for_update("f")
    );
    let row: Option<(i64, String, String, String)> = tx.opt(&sql, vals![phase_id, plan_id]).await?;
    let Some(r) = row else {
        return Err(StoreError::NotFound(format!(
            "plan {plan_id} has no phase {phase_id}"
        )));
    };
    Ok((
        r.0,
        r.1,
        PhaseStatus::parse(&r.2).unwrap_or(PhaseStatus::NotStarted),
        r.3,
    ))
}

async fn touch(tx: &mut Tx, plan_id: i64) -> StoreResult<()> {
    tx.execute(
        "update rollout_plan set updated_at = $2 where rollout_plan_id = $1",
        vals![plan_id, now_ms()],
    )
    .await?;
    Ok(())
}

/// Sets a phase's status. Done needs the go-live checklist complete. Setting the status it
/// already has changes nothing (a retry).
pub async fn set_status(
    db: &Db,
    plan_id: i64,
    phase_id: i64,
    status: PhaseStatus,
    note: &str,
    by: &Requester,
) -> StoreResult<()> {
    let note = text("note", note, 500, false)?;
    let mut tx = Tx::write(db).await?;
    let (_, _, current, title) = phase_in(&mut tx, plan_id, phase_id).await?;
    if current == status && note.is_empty() {
        tx.commit().await?;
        return Ok(());
    }
    if status == PhaseStatus::Done {
        let open: Vec<(String,)> = tx
            .all(
                "select title from plan_item where plan_phase_id = $1 and kind = 'checklist' \
                 and done_at is null order by position, plan_item_id",
                vals![phase_id],
            )
            .await?;
        check_done(&open.into_iter().map(|o| o.0).collect::<Vec<_>>())
            .map_err(StoreError::Conflict)?;
    }
    if status == PhaseStatus::Blocked && note.is_empty() {
        return Err(StoreError::Invalid(
            "note: say what blocks the phase".into(),
        ));
    }
    tx.execute(
        "update plan_phase set status = $2, status_note = $3, status_at = $4, status_by = $5 \
         where plan_phase_id = $1",
        vals![
            phase_id,
            status.as_str(),
            note.clone(),
            now_ms(),
            by.name.clone()
        ],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.phase_status",
        Some(&format!("plan:{plan_id}")),
        Some(format!(
            "{title}: {} → {}{}",
            current.as_str(),
            status.as_str(),
            if note.is_empty() {
                String::new()
            } else {
                format!(" ({note})")
            }
        )),
    ))
    .await?;
    tx.commit().await
}

/// Ticks (or unticks) an item. Ticking a ticked item keeps who ticked it first. A checklist
/// item of a done phase cannot be unticked: reopen the phase first.
pub async fn set_done(
    db: &Db,
    plan_id: i64,
    item_id: i64,
    done: bool,
    by: &Requester,
) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let sql = format!(
        "select i.kind, i.title, i.done_at, f.status from plan_item i \
         join plan_phase f on f.plan_phase_id = i.plan_phase_id \
         where i.plan_item_id = $1 and f.rollout_plan_id = $2{}",
        tx.for_update("f")
    );
    let row: Option<(String, String, Option<i64>, String)> =
        tx.opt(&sql, vals![item_id, plan_id]).await?;
    let Some((kind, title, done_at, status)) = row else {
        return Err(StoreError::NotFound(format!(
            "plan {plan_id} has no item {item_id}"
        )));
    };
    if done == done_at.is_some() {
        tx.commit().await?;
        return Ok(());
    }
    if !done && kind == "checklist" && status == "done" {
        return Err(StoreError::Conflict(format!(
            "`{title}` is on the go-live checklist of a done phase: reopen the phase before unticking it"
        )));
    }
    let (at, who) = if done {
        (Some(now_ms()), Some(by.name.clone()))
    } else {
        (None, None)
    };
    tx.execute(
        "update plan_item set done_at = $2, done_by = $3 where plan_item_id = $1",
        vals![item_id, at, who],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        if done {
            "plan.item_done"
        } else {
            "plan.item_undone"
        },
        Some(&format!("plan:{plan_id}")),
        Some(title),
    ))
    .await?;
    tx.commit().await
}

/// Adds a deliverable or a checklist item at the end of a phase. A done phase takes no new
/// checklist item (it would be done with an open checklist).
pub async fn add_item(
    db: &Db,
    plan_id: i64,
    phase_id: i64,
    kind: ItemKind,
    title: &str,
    owner: &str,
    by: &Requester,
) -> StoreResult<i64> {
    let title = text("title", title, 300, true)?;
    let owner = text("owner", owner, 100, false)?;
    let mut tx = Tx::write(db).await?;
    let (_, _, status, phase) = phase_in(&mut tx, plan_id, phase_id).await?;
    if kind == ItemKind::Checklist && status == PhaseStatus::Done {
        return Err(StoreError::Conflict(format!(
            "`{phase}` is done: reopen it before adding to its go-live checklist"
        )));
    }
    let (n, next): (i64, i64) = tx
        .one(
            "select count(*), coalesce(max(position), -1) + 1 from plan_item where plan_phase_id = $1",
            vals![phase_id],
        )
        .await?;
    if n as usize >= MAX_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a phase has at most {MAX_ITEMS} items"
        )));
    }
    let id = insert_item(&mut tx, phase_id, next, kind, &title, &owner, None).await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.item_add",
        Some(&format!("plan:{plan_id}")),
        Some(format!("{phase}: {} `{title}`", kind.as_str())),
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes an item (a checklist item of a done phase stays: reopen the phase first).
pub async fn remove_item(db: &Db, plan_id: i64, item_id: i64, by: &Requester) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let sql = format!(
        "select i.title, case when i.kind = 'checklist' then f.status else '' end \
         from plan_item i join plan_phase f on f.plan_phase_id = i.plan_phase_id \
         where i.plan_item_id = $1 and f.rollout_plan_id = $2{}",
        tx.for_update("f")
    );
    let row: Option<(String, String)> = tx.opt(&sql, vals![item_id, plan_id]).await?;
    let Some((title, status)) = row else {
        return Err(StoreError::NotFound(format!(
            "plan {plan_id} has no item {item_id}"
        )));
    };
    if status == "done" {
        return Err(StoreError::Conflict(format!(
            "`{title}` is on the go-live checklist of a done phase: reopen the phase first"
        )));
    }
    tx.execute(
        "delete from plan_item where plan_item_id = $1",
        vals![item_id],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.item_remove",
        Some(&format!("plan:{plan_id}")),
        Some(title),
    ))
    .await?;
    tx.commit().await
}

/// Adds a success criterion at the end of a phase.
pub async fn add_criterion(
    db: &Db,
    plan_id: i64,
    phase_id: i64,
    title: &str,
    link: &Link,
    by: &Requester,
) -> StoreResult<i64> {
    let title = text("title", title, 300, true)?;
    let mut tx = Tx::write(db).await?;
    let (project_id, project, _, phase) = phase_in(&mut tx, plan_id, phase_id).await?;
    let (n, next): (i64, i64) = tx
        .one(
            "select count(*), coalesce(max(position), -1) + 1 from plan_criterion where plan_phase_id = $1",
            vals![phase_id],
        )
        .await?;
    if n as usize >= MAX_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a phase has at most {MAX_ITEMS} criteria"
        )));
    }
    let id = insert_criterion(
        &mut tx,
        project_id,
        &project,
        phase_id,
        next,
        &title,
        link,
        "criterion",
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.criterion_add",
        Some(&format!("plan:{plan_id}")),
        Some(format!("{phase}: {title} ({})", link.describe())),
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn remove_criterion(
    db: &Db,
    plan_id: i64,
    criterion_id: i64,
    by: &Requester,
) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let row: Option<(String,)> = tx
        .opt(
            "select c.title from plan_criterion c join plan_phase f on f.plan_phase_id = c.plan_phase_id \
             where c.plan_criterion_id = $1 and f.rollout_plan_id = $2",
            vals![criterion_id, plan_id],
        )
        .await?;
    let Some((title,)) = row else {
        return Err(StoreError::NotFound(format!(
            "plan {plan_id} has no criterion {criterion_id}"
        )));
    };
    tx.execute(
        "delete from plan_criterion where plan_criterion_id = $1",
        vals![criterion_id],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.criterion_remove",
        Some(&format!("plan:{plan_id}")),
        Some(title),
    ))
    .await?;
    tx.commit().await
}

/// Confirms (or withdraws the confirmation of) a manual criterion. Linked criteria are judged
/// by what they are linked to, not by a person.
pub async fn confirm(
    db: &Db,
    plan_id: i64,
    criterion_id: i64,
    met: bool,
    by: &Requester,
) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let row: Option<(String, String, Option<i64>)> = tx
        .opt(
            "select c.title, c.link, c.met_at from plan_criterion c \
             join plan_phase f on f.plan_phase_id = c.plan_phase_id \
             where c.plan_criterion_id = $1 and f.rollout_plan_id = $2",
            vals![criterion_id, plan_id],
        )
        .await?;
    let Some((title, link, met_at)) = row else {
        return Err(StoreError::NotFound(format!(
            "plan {plan_id} has no criterion {criterion_id}"
        )));
    };
    if link != "manual" {
        return Err(StoreError::Invalid(format!(
            "`{title}` is judged live by its {}, not confirmed by a person",
            if link == "kpi" { "KPI" } else { "gate" }
        )));
    }
    if met == met_at.is_some() {
        tx.commit().await?;
        return Ok(());
    }
    let (at, who) = if met {
        (Some(now_ms()), Some(by.name.clone()))
    } else {
        (None, None)
    };
    tx.execute(
        "update plan_criterion set met_at = $2, met_by = $3 where plan_criterion_id = $1",
        vals![criterion_id, at, who],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        if met {
            "plan.criterion_confirm"
        } else {
            "plan.criterion_withdraw"
        },
        Some(&format!("plan:{plan_id}")),
        Some(title),
    ))
    .await?;
    tx.commit().await
}

/// Adds an empty phase at the end of a plan.
pub async fn add_phase(
    db: &Db,
    plan_id: i64,
    edit: &PhaseEdit,
    by: &Requester,
) -> StoreResult<i64> {
    let draft = PhaseDraft {
        title: edit.title.clone(),
        objective: edit.objective.clone(),
        starts_on: edit.starts_on,
        due_on: edit.due_on,
        status: PhaseStatus::NotStarted,
        note: String::new(),
        deliverables: Vec::new(),
        checklist: Vec::new(),
        criteria: Vec::new(),
    };
    check_phase(0, &draft).map_err(|e| match e {
        StoreError::Invalid(m) => StoreError::Invalid(m.replace("phases[0].", "")),
        other => other,
    })?;
    let mut tx = Tx::write(db).await?;
    let head: Option<(i64, String)> = tx
        .opt(
            "select r.project_id, p.slug from rollout_plan r join project p \
             on p.project_id = r.project_id where r.rollout_plan_id = $1",
            vals![plan_id],
        )
        .await?;
    let Some((project_id, project)) = head else {
        return Err(StoreError::NotFound(format!("there is no plan {plan_id}")));
    };
    let (n, next): (i64, i64) = tx
        .one(
            "select count(*), coalesce(max(position), -1) + 1 from plan_phase where rollout_plan_id = $1",
            vals![plan_id],
        )
        .await?;
    if n as usize >= MAX_PHASES {
        return Err(StoreError::Invalid(format!(
            "a plan has at most {MAX_PHASES} phases"
        )));
    }
    let id = insert_phase(
        &mut tx,
        project_id,
        &project,
        plan_id,
        next,
        &draft,
        by,
        now_ms(),
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.phase_add",
        Some(&format!("plan:{plan_id}")),
        Some(draft.title.trim().to_string()),
    ))
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a phase's title, objective and dates.
pub async fn edit_phase(
    db: &Db,
    plan_id: i64,
    phase_id: i64,
    edit: &PhaseEdit,
    by: &Requester,
) -> StoreResult<()> {
    let title = text("title", &edit.title, 200, true)?;
    let objective = text("objective", &edit.objective, 1000, false)?;
    check_dates("dates", edit.starts_on, edit.due_on)?;
    let mut tx = Tx::write(db).await?;
    phase_in(&mut tx, plan_id, phase_id).await?;
    tx.execute(
        "update plan_phase set title = $2, objective = $3, starts_on = $4, due_on = $5 \
         where plan_phase_id = $1",
        vals![
            phase_id,
            title.clone(),
            objective,
            edit.starts_on,
            edit.due_on
        ],
    )
    .await?;
    touch(&mut tx, plan_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.phase_edit",
        Some(&format!("plan:{plan_id}")),
        Some(format!(
            "{title}: {} to {}",
            edit.starts_on.map(format_day).unwrap_or_else(|| "—".into()),
            edit.due_on.map(format_day).unwrap_or_else(|| "—".into())
        )),
    ))
    .await?;
    tx.commit().await
}

/// Deletes a plan and everything in it.
pub async fn delete(db: &Db, plan_id: i64, by: &Requester) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let row: Option<(String, String)> = tx
        .opt(
            "select r.title, p.slug from rollout_plan r join project p on p.project_id = r.project_id \
             where r.rollout_plan_id = $1",
            vals![plan_id],
        )
        .await?;
    let Some((title, project)) = row else {
        return Err(StoreError::NotFound(format!("there is no plan {plan_id}")));
    };
    // Children first: SQLite enforces the cascades only with foreign keys on.
    for sql in [
        "delete from plan_item where plan_phase_id in (select plan_phase_id from plan_phase where rollout_plan_id = $1)",
        "delete from plan_criterion where plan_phase_id in (select plan_phase_id from plan_phase where rollout_plan_id = $1)",
        "delete from plan_phase where rollout_plan_id = $1",
        "delete from rollout_plan where rollout_plan_id = $1",
    ] {
        tx.execute(sql, vals![plan_id]).await?;
    }
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "plan.delete",
        Some(&format!("plan:{plan_id}")),
        Some(format!("{project}: {title}")),
    ))
    .await?;
    tx.commit().await
}
