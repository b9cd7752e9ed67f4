//! Releases and deployments: requests, gate evaluations, approvals, the deployer's progress,
//! health samples, rollbacks. Every change runs in one write transaction that first locks the
//! deployment row (`for update` on Postgres; SQLite's write lock serialises writers), so
//! concurrent approvals are counted exactly once and a deployment starts once.

use super::audit::{Actor, NewAuditEvent};
use super::environments;
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::bands::Level;
use crate::logic::deploy::{
    self, active_freeze, check_decision, check_ref, check_step, rollback_trigger, Decider, Facts,
    Hold, Involved, Refusal,
};
use crate::logic::gates::{self, Measured};
use crate::logic::release;
use crate::model::{
    validate_canary_steps, Approval, CanaryStep, DeployState, DeploymentDetail, DeploymentSummary,
    Environment, Evaluation, GateMetric, GateResult, HealthSample, Override, Release,
    RollbackTarget, Strategy, Transition,
};
use crate::vals;

/// Who asks for a deployment or reports on it: a person or a token.
#[derive(Debug, Clone)]
pub struct Requester {
    pub user_id: Option<i64>,
    /// A username, or `token:<name>` for an API token.
    pub name: String,
    pub ip: Option<String>,
}

impl Requester {
    pub(super) fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id,
            username: Some(self.name.clone()),
            ip: self.ip.clone(),
        }
    }
}

/// A commit a CI system sends with a release, for its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCommit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub committed_at: Option<i64>,
}

/// A deployment request.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub environment: String,
    pub version: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub strategy: Strategy,
    pub canary_steps: Option<Vec<CanaryStep>>,
    /// The caller's idempotency key: the same key returns the same deployment.
    pub request_key: Option<String>,
    pub ci_run_id: Option<i64>,
    pub commits: Vec<NewCommit>,
    /// `(kind, name, url)`: test results, coverage, manifests.
    pub artifacts: Vec<(String, String, String)>,
}

/// What a deployer reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A canary step reached, or rolling traffic moved (a fraction).
    Progress {
        step: Option<usize>,
        traffic: Option<f64>,
    },
    Succeeded,
    Failed {
        reason: String,
    },
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub(super) struct Row {
    pub(super) deployment_id: i64,
    pub(super) project_id: i64,
    pub(super) project: String,
    pub(super) environment_id: i64,
    pub(super) environment: String,
    pub(super) release_id: i64,
    pub(super) version: String,
    pub(super) commit_sha: String,
    pub(super) git_ref: Option<String>,
    pub(super) release_run: Option<i64>,
    pub(super) release_by: String,
    pub(super) release_at: i64,
    pub(super) state: String,
    pub(super) strategy: String,
    pub(super) canary_steps: Option<String>,
    pub(super) canary_step: Option<i64>,
    pub(super) step_since: Option<i64>,
    pub(super) traffic: f64,
    pub(super) hold: Option<String>,
    pub(super) requested_by: String,
    pub(super) requested_at: i64,
    pub(super) waiting_since: Option<i64>,
    pub(super) started_at: Option<i64>,
    pub(super) finished_at: Option<i64>,
    pub(super) rollback_of: Option<i64>,
    pub(super) rollback_decided_at: Option<i64>,
    pub(super) rolled_back_by: Option<i64>,
    pub(super) monitor_until: Option<i64>,
    pub(super) failure_reason: Option<String>,
}

pub(super) const SELECT: &str =
    "select d.deployment_id, d.project_id, p.slug as project, d.environment_id, \
     e.name as environment, d.release_id, r.version, r.commit_sha, r.git_ref, \
     r.ci_run_id as release_run, r.created_by as release_by, r.created_at as release_at, d.state, \
     d.strategy, d.canary_steps, d.canary_step, d.step_since, d.traffic, d.hold, d.requested_by, \
     d.requested_at, d.waiting_since, d.started_at, d.finished_at, d.rollback_of, \
     d.rollback_decided_at, d.rolled_back_by, d.monitor_until, d.failure_reason \
     from deployment d join project p on p.project_id = d.project_id \
     join environment e on e.environment_id = d.environment_id \
     join release r on r.release_id = d.release_id";

impl Row {
    fn state(&self) -> DeployState {
        self.state.parse().unwrap_or(DeployState::Requested)
    }

    /// When "what is live" is read for this deployment: now while it is open, when it was
    /// requested once it has ended (so history keeps its own diff).
    fn as_of(&self) -> i64 {
        if self.state().is_terminal() {
            self.requested_at
        } else {
            i64::MAX
        }
    }

    fn strategy(&self) -> Strategy {
        self.strategy.parse().unwrap_or(Strategy::Rolling)
    }

    fn steps(&self) -> Vec<CanaryStep> {
        self.canary_steps
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    pub(super) fn summary(&self, approvers: Vec<String>, overridden: bool) -> DeploymentSummary {
        DeploymentSummary {
            id: self.deployment_id,
            project: self.project.clone(),
            environment: self.environment.clone(),
            version: self.version.clone(),
            commit_sha: self.commit_sha.clone(),
            state: self.state(),
            strategy: self.strategy(),
            traffic: self.traffic,
            requested_by: self.requested_by.clone(),
            requested_at: self.requested_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            rollback_of: self.rollback_of,
            approvers,
            overridden,
        }
    }
}

pub(super) async fn lock(tx: &mut Tx, id: i64) -> StoreResult<Row> {
    let sql = format!("{SELECT} where d.deployment_id = $1{}", tx.for_update("d"));
    tx.opt(&sql, vals![id])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no deployment {id}")))
}

/// Records a state change (compare-and-set on the state it leaves).
pub(super) async fn transition(
    tx: &mut Tx,
    row: &mut Row,
    to: DeployState,
    actor: &str,
    reason: &str,
    now: i64,
) -> StoreResult<()> {
    let from = row.state();
    let changed = tx
        .execute(
            "update deployment set state = $2, updated_at = $4, \
             waiting_since = case when $2 = 'waiting' then $4 else waiting_since end, \
             started_at = case when $2 = 'in_progress' and started_at is null then $4 else started_at end, \
             finished_at = case when $2 in ('succeeded', 'failed', 'cancelled', 'rejected') then $4 else finished_at end \
             where deployment_id = $1 and state = $3",
            vals![row.deployment_id, to.as_str(), from.as_str(), now],
        )
        .await?;
    if changed != 1 {
        return Err(StoreError::Conflict(format!(
            "deployment {} changed while this request ran; reload it",
            row.deployment_id
        )));
    }
    tx.execute(
        "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
         values ($1, $2, $3, $4, $5, $6)",
        vals![row.deployment_id, from.as_str(), to.as_str(), actor, reason, now],
    )
    .await?;
    row.state = to.as_str().to_string();
    match to {
        DeployState::Waiting => row.waiting_since = Some(now),
        DeployState::InProgress if row.started_at.is_none() => row.started_at = Some(now),
        s if s.is_terminal() && s != DeployState::RolledBack => row.finished_at = Some(now),
        _ => {}
    }
    Ok(())
}

/// How a hold by failing gates begins ([`Hold::message`]).
const GATES_FAIL: &str = "quality gates fail";

/// Records an event on the project's timeline and, when it is a kind people are told about,
/// raises its notification in the same transaction (`store::notify`), pointing to `link`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn linked_event(
    tx: &mut Tx,
    project_id: i64,
    kind: &str,
    severity: &str,
    subject: &str,
    detail: Option<String>,
    link: Option<String>,
    now: i64,
) -> StoreResult<()> {
    past_event(tx, project_id, kind, severity, subject, detail.clone(), now).await?;
    if let (Some(kind), Ok(severity)) = (
        crate::logic::notify::EventKind::of_domain(kind),
        crate::logic::notify::Severity::parse(severity),
    ) {
        let ev = super::notify::NewEvent {
            project_id: Some(project_id),
            kind,
            severity,
            title: subject.to_string(),
            body: detail.unwrap_or_default(),
            link,
        };
        super::notify::raise(tx, &ev, now).await?;
    }
    Ok(())
}

/// Records an event on the project's timeline without telling anyone (history being
/// imported happened long ago).
pub(super) async fn past_event(
    tx: &mut Tx,
    project_id: i64,
    kind: &str,
    severity: &str,
    subject: &str,
    detail: Option<String>,
    at: i64,
) -> StoreResult<()> {
    tx.execute(
        "insert into domain_event (project_id, kind, severity, subject, detail, at) \
         values ($1, $2, $3, $4, $5, $6)",
        vals![project_id, kind, severity, subject, detail, at],
    )
    .await?;
    Ok(())
}

/// [`linked_event`] about a deployment, pointing to its page.
async fn deployment_event(
    tx: &mut Tx,
    row: &Row,
    kind: &str,
    severity: &str,
    subject: &str,
    detail: Option<String>,
    now: i64,
) -> StoreResult<()> {
    let link = Some(format!("/deployments/{}", row.deployment_id));
    linked_event(
        tx,
        row.project_id,
        kind,
        severity,
        subject,
        detail,
        link,
        now,
    )
    .await
}

#[derive(sqlx::FromRow)]
struct RunFigures {
    ci_run_id: i64,
    external_id: String,
    commit_sha: Option<String>,
    passed: i64,
    failed: i64,
    errors: i64,
    flaky: i64,
    line_rate: Option<f64>,
    branch_rate: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    error_rate: Option<f64>,
    vuln_critical: Option<i64>,
    vuln_high: Option<i64>,
}

/// The run the gates read: the latest finished run on the release's commit, else the run the
/// release names.
async fn gate_run(tx: &mut Tx, row: &Row) -> StoreResult<Option<RunFigures>> {
    let cols = "ci_run_id, external_id, commit_sha, cast(passed as bigint) as passed, \
         cast(failed as bigint) as failed, cast(errors as bigint) as errors, \
         cast(flaky as bigint) as flaky, line_rate, branch_rate, p95_ms, p99_ms, error_rate, \
         cast(vuln_critical as bigint) as vuln_critical, cast(vuln_high as bigint) as vuln_high";
    let latest: Option<RunFigures> = tx
        .opt(
            &format!(
                "select {cols} from ci_run where project_id = $1 and commit_sha = $2 \
                 and status in ('success', 'failure', 'error') \
                 order by coalesce(finished_at, updated_at) desc, ci_run_id desc limit 1"
            ),
            vals![row.project_id, row.commit_sha.clone()],
        )
        .await?;
    if latest.is_some() {
        return Ok(latest);
    }
    match row.release_run {
        Some(id) => {
            tx.opt(
                &format!("select {cols} from ci_run where ci_run_id = $1"),
                vals![id],
            )
            .await
        }
        None => Ok(None),
    }
}

/// Evaluates the environment's gates against the gate run; stores and returns the evaluation.
async fn evaluate(tx: &mut Tx, row: &Row, env: &Environment, now: i64) -> StoreResult<Evaluation> {
    let run = gate_run(tx, row).await?;
    // Quarantined tests do not count against a release: their failures and flakes are removed.
    let (q_failed, q_flaky): (i64, i64) = match &run {
        Some(r) => {
            tx.one(
                "select coalesce(sum(case when c.status >= 2 then 1 else 0 end), 0), \
                 coalesce(sum(case when c.status = 0 and c.retried = $2 then 1 else 0 end), 0) \
                 from test_case c join test t on t.test_id = c.test_id \
                 where c.ci_run_id = $1 and t.quarantined_at is not null",
                vals![r.ci_run_id, true],
            )
            .await?
        }
        None => (0, 0),
    };
    let customs: Vec<(String, f64)> = match &run {
        Some(r) => {
            tx.all(
                "select name, value from ci_run_metric where ci_run_id = $1",
                vals![r.ci_run_id],
            )
            .await?
        }
        None => Vec::new(),
    };
    let soak = soak_hours(tx, row, env, now).await?;
    let source = run.as_ref().map(|r| {
        format!(
            "run #{} ({})",
            r.external_id,
            r.commit_sha
                .as_deref()
                .map(|s| &s[..s.len().min(7)])
                .unwrap_or("?")
        )
    });
    let outcome = gates::evaluate(&env.gates, |metric| {
        let m = |v: Option<f64>| {
            v.map(|value| Measured {
                value,
                source: source.clone().unwrap_or_default(),
            })
        };
        if let GateMetric::SoakHours = metric {
            return soak.clone();
        }
        let r = run.as_ref()?;
        match metric {
            GateMetric::TestPassRate => {
                let failing = (r.failed + r.errors - q_failed).max(0);
                let ran = r.passed + failing;
                m((ran > 0).then(|| r.passed as f64 / ran as f64))
            }
            GateMetric::LineCoverage => m(r.line_rate),
            GateMetric::BranchCoverage => m(r.branch_rate),
            GateMetric::P95Ms => m(r.p95_ms),
            GateMetric::P99Ms => m(r.p99_ms),
            GateMetric::ErrorRate => m(r.error_rate),
            GateMetric::CriticalFindings => m(r.vuln_critical.map(|v| v as f64)),
            GateMetric::HighFindings => m(r.vuln_high.map(|v| v as f64)),
            GateMetric::FlakyTests => m(Some((r.flaky - q_flaky).max(0) as f64)),
            GateMetric::Custom(name) => m(customs.iter().find(|(n, _)| n == name).map(|(_, v)| *v)),
            GateMetric::SoakHours => None,
        }
    });
    let summary = match &run {
        Some(_) => outcome.summary.clone(),
        None if env.gates.is_empty() => outcome.summary.clone(),
        None => format!(
            "no finished CI run on commit {} yet: {}",
            &row.commit_sha[..row.commit_sha.len().min(7)],
            outcome.summary
        ),
    };
    // Polling a held deployment re-evaluates it; an unchanged outcome (same run, result,
    // summary and levels) keeps the stored evaluation instead of adding a row per poll.
    let run_id = run.as_ref().map(|r| r.ci_run_id);
    if let Some(last) = latest_evaluation(tx, row.deployment_id).await? {
        let levels = |g: &[GateResult]| g.iter().map(|r| (r.gate_id, r.level)).collect::<Vec<_>>();
        if last.ci_run_id == run_id
            && last.result == outcome.result
            && last.summary == summary
            && levels(&last.gates) == levels(&outcome.gates)
        {
            return Ok(last);
        }
    }
    let gates_json = serde_json::to_string(&outcome.gates)
        .map_err(|e| StoreError::Other(format!("gate results: {e}")))?;
    let (id,): (i64,) = tx
        .one(
            "insert into gate_evaluation (deployment_id, at, score, result, ci_run_id, summary, gates) \
             values ($1, $2, $3, $4, $5, $6, $7) returning gate_evaluation_id",
            vals![
                row.deployment_id,
                now,
                outcome.score,
                outcome.result.as_str(),
                run.as_ref().map(|r| r.ci_run_id),
                summary.clone(),
                gates_json
            ],
        )
        .await?;
    Ok(Evaluation {
        id,
        at: now,
        score: outcome.score,
        result: outcome.result,
        ci_run_id: run.map(|r| r.ci_run_id),
        gates: outcome.gates,
        summary,
    })
}

/// The previous environment in promotion order, if any.
async fn previous_env(tx: &mut Tx, env: &Environment) -> StoreResult<Option<(i64, String)>> {
    tx.opt(
        "select e.environment_id, e.name from environment e join project p on p.project_id = e.project_id \
         where p.slug = $1 and e.position < $2 order by e.position desc limit 1",
        vals![env.project.clone(), env.position],
    )
    .await
}

/// When the release last succeeded in the previous environment.
async fn previous_success(
    tx: &mut Tx,
    row: &Row,
    env: &Environment,
) -> StoreResult<Option<(String, Option<i64>)>> {
    let Some((prev_id, prev_name)) = previous_env(tx, env).await? else {
        return Ok(None);
    };
    let at: Option<(Option<i64>,)> = tx
        .opt(
            "select max(finished_at) from deployment where environment_id = $1 and release_id = $2 \
             and state = 'succeeded'",
            vals![prev_id, row.release_id],
        )
        .await?;
    Ok(Some((prev_name, at.and_then(|a| a.0))))
}

async fn soak_hours(
    tx: &mut Tx,
    row: &Row,
    env: &Environment,
    now: i64,
) -> StoreResult<Option<Measured>> {
    Ok(match previous_success(tx, row, env).await? {
        Some((name, Some(at))) => Some(Measured {
            value: (now - at) as f64 / 3_600_000.0,
            source: format!(
                "{} in {name} since {}",
                row.version,
                crate::logic::time::format_utc(at)
            ),
        }),
        _ => None,
    })
}

/// The promotion rule and the checklist: `Err` says what is missing.
async fn readiness(
    tx: &mut Tx,
    row: &Row,
    env: &Environment,
    now: i64,
) -> StoreResult<Result<(), String>> {
    let p = &env.protection;
    if p.require_previous {
        match previous_success(tx, row, env).await? {
            Some((name, None)) => {
                return Ok(Err(format!(
                    "{} has not succeeded in {name} yet: promote it there first",
                    row.version
                )))
            }
            Some((name, Some(at))) if now < at + p.min_soak_s * 1000 => {
                return Ok(Err(format!(
                    "{} is soaking in {name} until {} (minimum soak {})",
                    row.version,
                    crate::logic::time::format_utc(at + p.min_soak_s * 1000),
                    deploy::duration_words(p.min_soak_s)
                )))
            }
            _ => {}
        }
    }
    let (items, ticked): (i64, i64) = tx
        .one(
            "select count(*), count(t.checklist_item_id) from checklist_item i \
             left join checklist_tick t on t.checklist_item_id = i.checklist_item_id and t.deployment_id = $2 \
             where i.environment_id = $1 and i.archived_at is null",
            vals![env.id, row.deployment_id],
        )
        .await?;
    if ticked < items {
        return Ok(Err(format!(
            "pre-release checklist: {ticked} of {items} items ticked"
        )));
    }
    Ok(Ok(()))
}

async fn latest_evaluation(tx: &mut Tx, id: i64) -> StoreResult<Option<Evaluation>> {
    type EvalRow = (i64, i64, f64, String, Option<i64>, String, String);
    let row: Option<EvalRow> = tx
        .opt(
            "select gate_evaluation_id, at, score, result, ci_run_id, summary, gates from gate_evaluation \
             where deployment_id = $1 order by gate_evaluation_id desc limit 1",
            vals![id],
        )
        .await?;
    Ok(row.map(
        |(id, at, score, result, ci_run_id, summary, gates)| Evaluation {
            id,
            at,
            score,
            result: match result.as_str() {
                "pass" => Level::Pass,
                "warn" => Level::Warn,
                _ => Level::Fail,
            },
            ci_run_id,
            gates: serde_json::from_str::<Vec<GateResult>>(&gates).unwrap_or_default(),
            summary,
        },
    ))
}

pub(super) async fn approvals_count(tx: &mut Tx, id: i64) -> StoreResult<i64> {
    let (n,): (i64,) = tx
        .one(
            "select count(*) from approval where deployment_id = $1 and approve = $2",
            vals![id, true],
        )
        .await?;
    Ok(n)
}

/// Moves a locked pending deployment as far as the facts allow; re-evaluates the gates when
/// Re-evaluates the gates while it is held by them. Returns what holds it.
async fn settle_locked(
    tx: &mut Tx,
    row: &mut Row,
    actor: &str,
    now: i64,
) -> StoreResult<Option<Hold>> {
    let state = row.state();
    if !state.is_pending() {
        return Ok(None);
    }
    let env = environments::load(tx, row.environment_id).await?;
    let mut gates_ok = Ok(());
    if state.rank() <= DeployState::Evaluating.rank() {
        let eval = evaluate(tx, row, &env, now).await?;
        let overridden: (i64,) = tx
            .one(
                "select count(*) from gate_override where gate_evaluation_id = $1",
                vals![eval.id],
            )
            .await?;
        if eval.result == Level::Fail && overridden.0 == 0 {
            gates_ok = Err(eval.summary.clone());
        }
    }
    let facts = Facts {
        now,
        gates: gates_ok,
        promotion: readiness(tx, row, &env, now).await?,
        approvals: approvals_count(tx, row.deployment_id).await?,
        required_approvals: env.protection.required_approvals,
        wait_timer_s: env.protection.wait_timer_s,
        waiting_since: row.waiting_since,
        freeze: active_freeze(&env.freezes, now),
    };
    let settled = deploy::settle(state, &facts);
    for (to, why) in &settled.path {
        transition(tx, row, *to, actor, why, now).await?;
        if *to == DeployState::AwaitingApproval {
            deployment_event(
                tx,
                row,
                "approval.requested",
                "info",
                &format!(
                    "{} {} → {} awaits approval",
                    row.project, row.version, row.environment
                ),
                None,
                now,
            )
            .await?;
        }
        if *to == DeployState::InProgress {
            deployment_event(
                tx,
                row,
                "deployment.started",
                "info",
                &format!(
                    "{} {} → {} started",
                    row.project, row.version, row.environment
                ),
                None,
                now,
            )
            .await?;
        }
    }
    let hold_text = settled.hold.as_ref().map(Hold::message);
    if hold_text != row.hold {
        // Gates that start failing (not a change in how they fail) are worth telling.
        let failed_before = row.hold.as_ref().is_some_and(|h| h.starts_with(GATES_FAIL));
        if let (Some(Hold::Gates { summary }), false) = (&settled.hold, failed_before) {
            deployment_event(
                tx,
                row,
                "gate.failed",
                "warning",
                &format!(
                    "{} {} → {}: quality gates fail",
                    row.project, row.version, row.environment
                ),
                Some(summary.clone()),
                now,
            )
            .await?;
        }
        tx.execute(
            "update deployment set hold = $2 where deployment_id = $1",
            vals![row.deployment_id, hold_text.clone()],
        )
        .await?;
        row.hold = hold_text;
    }
    Ok(settled.hold)
}

/// Validates and normalises a request; `Err` names the field.
fn check_request(new: &NewDeployment) -> StoreResult<(String, String)> {
    let version = release::parse_version(&new.version)
        .map_err(|e| StoreError::Invalid(format!("version: {e}")))?
        .to_string();
    let sha = new.commit_sha.trim().to_ascii_lowercase();
    if !(7..=64).contains(&sha.len()) || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(StoreError::Invalid(format!(
            "commit: `{}` is not a commit id (7 to 64 hexadecimal characters)",
            new.commit_sha
        )));
    }
    if let Some(steps) = &new.canary_steps {
        if new.strategy != Strategy::Canary {
            return Err(StoreError::Invalid(
                "canary_steps: only a canary strategy has steps".into(),
            ));
        }
        validate_canary_steps(steps)
            .map_err(|e| StoreError::Invalid(format!("canary_steps: {e}")))?;
    }
    if let Some(k) = &new.request_key {
        if k.is_empty() || k.len() > 200 {
            return Err(StoreError::Invalid(
                "request_key: 1 to 200 characters".into(),
            ));
        }
    }
    if new.commits.len() > 1000 {
        return Err(StoreError::Invalid(
            "commits: at most 1000 per request".into(),
        ));
    }
    Ok((version, sha))
}

/// Stores a commit for release notes, once per project and sha.
pub(super) async fn store_commit(
    tx: &mut Tx,
    project_id: i64,
    c: &NewCommit,
    branch: Option<String>,
) -> StoreResult<()> {
    tx.execute(
        "insert into git_commit (project_id, sha, message, author, committed_at, branch) \
         values ($1, $2, $3, $4, $5, $6) on conflict (project_id, sha) do nothing",
        vals![
            project_id,
            c.sha.trim().to_ascii_lowercase(),
            c.message.clone(),
            c.author.clone(),
            c.committed_at,
            branch
        ],
    )
    .await?;
    Ok(())
}

/// Requests a deployment of `version` at `commit` to an environment, creating the release on
/// first sight. Idempotent: the same `request_key`, or the same release still pending or
/// running in that environment, returns the existing deployment (`false`).
pub async fn request(
    db: &Db,
    project: &str,
    new: &NewDeployment,
    by: &Requester,
) -> StoreResult<(i64, bool)> {
    let (version, sha) = check_request(new)?;
    let env = environments::find(db, project, &new.environment).await?;
    let git_ref = new.git_ref.clone().filter(|r| !r.trim().is_empty());
    if let Some(r) = &git_ref {
        check_ref(&env.protection.ref_pattern, r)
            .map_err(|refusal| StoreError::Invalid(format!("git_ref: {}", refusal.message())))?;
    } else if !env.protection.ref_pattern.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "git_ref: {project}/{} allows only some branches and tags ({}); say which one this release comes from",
            env.name, env.protection.ref_pattern
        )));
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let (project_id,): (i64,) = tx
        .one(
            "select project_id from project where slug = $1",
            vals![project],
        )
        .await?;
    if let Some(key) = &new.request_key {
        let existing: Option<(i64,)> = tx
            .opt(
                "select deployment_id from deployment where project_id = $1 and request_key = $2",
                vals![project_id, key.clone()],
            )
            .await?;
        if let Some((id,)) = existing {
            tx.commit().await?;
            return Ok((id, false));
        }
    }
    for c in &new.commits {
        store_commit(&mut tx, project_id, c, git_ref.clone()).await?;
    }
    let existing: Option<(i64, String)> = tx
        .opt(
            "select release_id, commit_sha from release where project_id = $1 and version = $2",
            vals![project_id, version.clone()],
        )
        .await?;
    let release_id = match existing {
        Some((id, commit)) if commit == sha => id,
        Some((_, commit)) => {
            return Err(StoreError::Conflict(format!(
                "version: {project} {version} is commit {}, not {}; a version names one commit",
                &commit[..commit.len().min(12)],
                &sha[..sha.len().min(12)]
            )))
        }
        None => {
            let (id,): (i64,) = tx
                .one(
                    "insert into release (project_id, version, commit_sha, git_ref, ci_run_id, created_by, created_at) \
                     values ($1, $2, $3, $4, $5, $6, $7) returning release_id",
                    vals![project_id, version.clone(), sha.clone(), git_ref.clone(), new.ci_run_id, by.name.clone(), now],
                )
                .await?;
            let listed = new.commits.iter().filter_map(|c| c.committed_at).min();
            super::kpis::stamp_first_commit(&mut tx, id, listed).await?;
            for (kind, name, url) in &new.artifacts {
                tx.execute(
                    "insert into release_artifact (release_id, kind, name, url) values ($1, $2, $3, $4)",
                    vals![id, kind.clone(), name.clone(), url.clone()],
                )
                .await?;
            }
            id
        }
    };
    if new.request_key.is_none() {
        let open: Option<(i64,)> = tx
            .opt(
                "select deployment_id from deployment where environment_id = $1 and release_id = $2 \
                 and state in ('requested', 'evaluating', 'awaiting_approval', 'waiting', 'in_progress') \
                 order by deployment_id desc limit 1",
                vals![env.id, release_id],
            )
            .await?;
        if let Some((id,)) = open {
            tx.commit().await?;
            return Ok((id, false));
        }
    }
    let steps = match new.strategy {
        Strategy::Canary => Some(
            new.canary_steps
                .clone()
                .unwrap_or_else(crate::model::default_canary_steps),
        ),
        _ => None,
    };
    let steps_json = steps
        .map(|s| serde_json::to_string(&s))
        .transpose()
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let (id,): (i64,) = tx
        .one(
            "insert into deployment (project_id, environment_id, release_id, state, strategy, canary_steps, \
             requested_by, requested_by_user_id, requested_at, request_key, updated_at) \
             values ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9, $8) returning deployment_id",
            vals![
                project_id,
                env.id,
                release_id,
                new.strategy.as_str(),
                steps_json,
                by.name.clone(),
                by.user_id,
                now,
                new.request_key.clone()
            ],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict("request_key: already used; retry to read it".into())
            }
            other => other,
        })?;
    tx.execute(
        "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
         values ($1, null, 'requested', $2, $3, $4)",
        vals![
            id,
            by.name.clone(),
            format!("{} {version} → {} ({})", project, env.name, new.strategy.label()),
            now
        ],
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "deployment.requested",
        Some(&format!("deployment:{id}")),
        Some(format!("{project} {version} → {}", env.name)),
    ))
    .await?;
    let mut row = lock(&mut tx, id).await?;
    settle_locked(&mut tx, &mut row, "gatehouse", now).await?;
    tx.commit().await?;
    Ok((id, true))
}

/// Moves a pending deployment on if its facts changed (a new run, an elapsed timer, a freeze
/// ending).
pub async fn refresh(db: &Db, id: i64) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    if row.state().is_pending() {
        settle_locked(&mut tx, &mut row, "gatehouse", now_ms()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Re-evaluates the pending deployments of a run's commit once the run has finished (or a
/// report of a finished run arrives). Returns how many were looked at.
pub async fn on_run_changed(db: &Db, run_id: i64) -> StoreResult<usize> {
    let mut tx = Tx::read(db).await?;
    let ids: Vec<(i64,)> = tx
        .all(
            "select d.deployment_id from ci_run c \
             join release r on r.project_id = c.project_id and r.commit_sha = c.commit_sha \
             join deployment d on d.release_id = r.release_id \
             where c.ci_run_id = $1 and c.status in ('success', 'failure', 'error') \
             and d.state in ('requested', 'evaluating')",
            vals![run_id],
        )
        .await?;
    tx.commit().await?;
    for (id,) in &ids {
        refresh(db, *id).await?;
    }
    Ok(ids.len())
}

/// Settles deployments held by a timer or a freeze (run by a background job).
pub async fn settle_waiting(db: &Db) -> StoreResult<usize> {
    let mut tx = Tx::read(db).await?;
    let ids: Vec<(i64,)> = tx
        .all(
            "select deployment_id from deployment where state = 'waiting' order by deployment_id limit 500",
            &[],
        )
        .await?;
    tx.commit().await?;
    let mut moved = 0;
    for (id,) in ids {
        let mut tx = Tx::write(db).await?;
        let mut row = lock(&mut tx, id).await?;
        if row.state() == DeployState::Waiting {
            settle_locked(&mut tx, &mut row, "gatehouse", now_ms()).await?;
            if row.state() != DeployState::Waiting {
                moved += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(moved)
}

/// A person deciding: their account.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: crate::model::Role,
    pub ip: Option<String>,
}

impl Person {
    pub(super) fn decider(&self) -> Decider<'_> {
        Decider {
            username: &self.username,
            display_name: &self.display_name,
            role: self.role,
        }
    }

    pub(super) fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            username: Some(self.username.clone()),
            ip: self.ip.clone(),
        }
    }
}

fn refused(r: Refusal) -> StoreError {
    if r.is_forbidden() {
        StoreError::Forbidden(r.message())
    } else {
        StoreError::Conflict(r.message())
    }
}

/// The authors of the commits a deployment brings (since what is live), and of its run.
pub(super) async fn authors(tx: &mut Tx, row: &Row) -> StoreResult<Vec<String>> {
    let live = live_commit(tx, row).await?;
    let commits = commits_between(tx, row.project_id, live.as_deref(), &row.commit_sha).await?;
    let mut out: Vec<String> = commits.into_iter().filter_map(|c| c.2).collect();
    let run_authors: Vec<(Option<String>,)> = tx
        .all(
            "select author from ci_run where project_id = $1 and commit_sha = $2 limit 20",
            vals![row.project_id, row.commit_sha.clone()],
        )
        .await?;
    out.extend(run_authors.into_iter().filter_map(|a| a.0));
    out.sort();
    out.dedup();
    Ok(out)
}

/// What a decision on `row` is checked against: its environment's rules, who has decided,
/// who is involved (requester, commit and run authors) and the approvals so far.
pub(super) async fn decision_inputs(
    tx: &mut Tx,
    row: &Row,
) -> StoreResult<(Environment, Vec<String>, Involved, i64)> {
    let env = environments::load(tx, row.environment_id).await?;
    let decided: Vec<(String,)> = tx
        .all(
            "select u.username from approval a join app_user u on u.app_user_id = a.app_user_id \
             where a.deployment_id = $1",
            vals![row.deployment_id],
        )
        .await?;
    let involved = Involved {
        requester: row.requested_by.clone(),
        authors: authors(tx, row).await?,
    };
    let approvals = approvals_count(tx, row.deployment_id).await?;
    Ok((
        env,
        decided.into_iter().map(|d| d.0).collect(),
        involved,
        approvals,
    ))
}

/// Approves or rejects (with a comment) a deployment, then moves it on.
pub async fn decide(
    db: &Db,
    id: i64,
    who: &Person,
    approve: bool,
    comment: Option<&str>,
) -> StoreResult<()> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(StoreError::Invalid(
            "the comment is longer than 2000 characters".into(),
        ));
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    let (env, decided, involved, approvals) = decision_inputs(&mut tx, &row).await?;
    let decider = who.decider();
    check_decision(
        row.state(),
        &env.protection,
        &decider,
        &involved,
        &decided,
        approvals,
        approve,
        comment,
    )
    .map_err(refused)?;
    tx.execute(
        "insert into approval (deployment_id, app_user_id, approve, comment, at) values ($1, $2, $3, $4, $5)",
        vals![id, who.user_id, approve, comment, now],
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "{} has already decided on this deployment",
            who.username
        )),
        other => other,
    })?;
    let target = format!("deployment:{id}");
    let what = format!("{} {} → {}", row.project, row.version, row.environment);
    if approve {
        tx.audit(&NewAuditEvent::new(
            &who.actor(),
            "deployment.approved",
            Some(&target),
            Some(match comment {
                Some(c) => format!("{what}: {c}"),
                None => what.clone(),
            }),
        ))
        .await?;
        deployment_event(
            &mut tx,
            &row,
            "approval.granted",
            "info",
            &format!("{} approved {what}", who.username),
            comment.map(str::to_string),
            now,
        )
        .await?;
        settle_locked(&mut tx, &mut row, &who.username, now).await?;
    } else {
        let c = comment.unwrap_or_default();
        tx.audit(&NewAuditEvent::new(
            &who.actor(),
            "deployment.rejected",
            Some(&target),
            Some(format!("{what}: {c}")),
        ))
        .await?;
        transition(
            &mut tx,
            &mut row,
            DeployState::Rejected,
            &who.username,
            &format!("rejected: {c}"),
            now,
        )
        .await?;
        deployment_event(
            &mut tx,
            &row,
            "approval.rejected",
            "warning",
            &format!("{} rejected {what}", who.username),
            Some(c.to_string()),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An admin lets a deployment past its failing gates, with a written reason (shown forever).
pub async fn override_gates(db: &Db, id: i64, who: &Person, reason: &str) -> StoreResult<()> {
    if who.role != crate::model::Role::Admin {
        return Err(StoreError::Forbidden(
            "only an admin may override a failing gate".into(),
        ));
    }
    let reason = reason.trim();
    if reason.chars().count() < 10 || reason.chars().count() > 2000 {
        return Err(StoreError::Invalid(
            "write why the failing gates may be overridden (10 to 2000 characters)".into(),
        ));
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    if row.state() != DeployState::Evaluating {
        return Err(refused(Refusal::State {
            state: row.state(),
            action: "override the gates".into(),
        }));
    }
    let eval = latest_evaluation(&mut tx, id)
        .await?
        .filter(|e| e.result == Level::Fail)
        .ok_or_else(|| {
            StoreError::Conflict("the gates do not fail: there is nothing to override".into())
        })?;
    tx.execute(
        "insert into gate_override (deployment_id, gate_evaluation_id, app_user_id, by_name, reason, at) \
         values ($1, $2, $3, $4, $5, $6)",
        vals![id, eval.id, who.user_id, who.username.clone(), reason, now],
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &who.actor(),
        "deployment.gates_overridden",
        Some(&format!("deployment:{id}")),
        Some(format!("{} — overridden: {reason}", eval.summary)),
    ))
    .await?;
    deployment_event(
        &mut tx,
        &row,
        "gate.overridden",
        "warning",
        &format!(
            "{} overrode failing gates of {} {} → {}",
            who.username, row.project, row.version, row.environment
        ),
        Some(reason.to_string()),
        now,
    )
    .await?;
    settle_locked(&mut tx, &mut row, &who.username, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ticks (or unticks) a checklist item for a deployment; audited.
pub async fn tick(db: &Db, id: i64, item_id: i64, ticked: bool, who: &Person) -> StoreResult<()> {
    if who.role < crate::model::Role::Approver {
        return Err(StoreError::Forbidden(
            "ticking the checklist needs the approver role".into(),
        ));
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    if !row.state().is_pending() {
        return Err(refused(Refusal::State {
            state: row.state(),
            action: "change the checklist".into(),
        }));
    }
    let item: Option<(String,)> = tx
        .opt(
            "select title from checklist_item where checklist_item_id = $1 and environment_id = $2",
            vals![item_id, row.environment_id],
        )
        .await?;
    let (title,) = item.ok_or_else(|| {
        StoreError::NotFound(format!(
            "checklist item {item_id} is not in this environment's checklist"
        ))
    })?;
    if ticked {
        tx.execute(
            "insert into checklist_tick (deployment_id, checklist_item_id, ticked_by, ticked_at) \
             values ($1, $2, $3, $4) on conflict (deployment_id, checklist_item_id) do nothing",
            vals![id, item_id, who.username.clone(), now],
        )
        .await?;
    } else {
        tx.execute(
            "delete from checklist_tick where deployment_id = $1 and checklist_item_id = $2",
            vals![id, item_id],
        )
        .await?;
    }
    tx.audit(&NewAuditEvent::new(
        &who.actor(),
        if ticked {
            "deployment.checklist_ticked"
        } else {
            "deployment.checklist_unticked"
        },
        Some(&format!("deployment:{id}")),
        Some(title),
    ))
    .await?;
    settle_locked(&mut tx, &mut row, &who.username, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels a deployment that has not finished.
pub async fn cancel(db: &Db, id: i64, by: &Requester, reason: &str) -> StoreResult<()> {
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    let state = row.state();
    if state == DeployState::Cancelled {
        tx.commit().await?;
        return Ok(());
    }
    if !(state.is_pending() || state == DeployState::InProgress) {
        return Err(refused(Refusal::State {
            state,
            action: "cancel".into(),
        }));
    }
    let reason = match reason.trim() {
        "" => "cancelled".to_string(),
        r => format!("cancelled: {r}"),
    };
    transition(
        &mut tx,
        &mut row,
        DeployState::Cancelled,
        &by.name,
        &reason,
        now,
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "deployment.cancelled",
        Some(&format!("deployment:{id}")),
        Some(reason),
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records what the deployer reports: progress (canary steps, traffic), success, failure.
/// Repeating a report is a no-op; reports on a deployment that may not start yet are refused
/// with what holds it.
pub async fn report(db: &Db, id: i64, report: &Report, by: &Requester) -> StoreResult<()> {
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let mut row = lock(&mut tx, id).await?;
    if row.state().is_pending() {
        let hold = settle_locked(&mut tx, &mut row, "gatehouse", now).await?;
        if let Some(hold) = hold {
            tx.commit().await?;
            return Err(refused(Refusal::Held(hold)));
        }
    }
    let state = row.state();
    let what = format!("{} {} → {}", row.project, row.version, row.environment);
    match report {
        Report::Succeeded if state == DeployState::Succeeded => {}
        Report::Failed { .. } if state == DeployState::Failed => {}
        _ if state != DeployState::InProgress => {
            return Err(refused(Refusal::State {
                state,
                action: match report {
                    Report::Progress { .. } => "report progress",
                    Report::Succeeded => "report success",
                    Report::Failed { .. } => "report failure",
                }
                .into(),
            }))
        }
        Report::Progress { step, traffic } => {
            let steps = row.steps();
            match (row.strategy(), step) {
                (Strategy::Canary, Some(step)) => {
                    let current = row.canary_step.map(|c| c as usize);
                    let advanced =
                        check_step(&steps, current, row.step_since.unwrap_or(now), *step, now)
                            .map_err(refused)?;
                    if advanced {
                        let t = steps[*step].traffic;
                        tx.execute(
                            "update deployment set canary_step = $2, step_since = $3, traffic = $4, updated_at = $3 \
                             where deployment_id = $1",
                            vals![id, *step as i64, now, t],
                        )
                        .await?;
                        row.traffic = t;
                        let why = format!(
                            "canary step {} of {}: {:.0}% of traffic{}",
                            step + 1,
                            steps.len(),
                            t * 100.0,
                            match steps[*step].pause_s {
                                0 => String::new(),
                                p => format!(", pause {}", deploy::duration_words(p)),
                            }
                        );
                        transition(
                            &mut tx,
                            &mut row,
                            DeployState::InProgress,
                            &by.name,
                            &why,
                            now,
                        )
                        .await?;
                    }
                }
                (Strategy::Canary, None) => {
                    return Err(StoreError::Invalid(
                        "step: a canary reports the step it reached (0 is the first)".into(),
                    ))
                }
                (_, Some(_)) => {
                    return Err(StoreError::Invalid(
                        "step: only a canary has steps; report traffic instead".into(),
                    ))
                }
                (_, None) => {
                    let t = traffic.ok_or_else(|| {
                        StoreError::Invalid(
                            "traffic: say how much traffic (a fraction 0 to 1) the release serves"
                                .into(),
                        )
                    })?;
                    if !(0.0..=1.0).contains(&t) {
                        return Err(StoreError::Invalid(format!(
                            "traffic: a fraction from 0 to 1 (0.4, not 40); got {t}"
                        )));
                    }
                    if (t - row.traffic).abs() > 1e-9 {
                        tx.execute(
                            "update deployment set traffic = $2, updated_at = $3 where deployment_id = $1",
                            vals![id, t, now],
                        )
                        .await?;
                        row.traffic = t;
                        transition(
                            &mut tx,
                            &mut row,
                            DeployState::InProgress,
                            &by.name,
                            &format!("{:.0}% of traffic", t * 100.0),
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
        Report::Succeeded => {
            let steps = row.steps();
            if row.strategy() == Strategy::Canary
                && row.canary_step.map(|c| c as usize + 1) != Some(steps.len())
            {
                return Err(refused(Refusal::Step {
                    message: format!(
                        "the canary is at step {} of {}: report each step before success",
                        row.canary_step.map_or(0, |c| c + 1),
                        steps.len()
                    ),
                }));
            }
            let env = environments::load(&mut tx, row.environment_id).await?;
            let until = now + env.protection.monitoring_window_s * 1000;
            tx.execute(
                "update deployment set traffic = 1, monitor_until = $2, hold = null where deployment_id = $1",
                vals![id, until],
            )
            .await?;
            transition(
                &mut tx,
                &mut row,
                DeployState::Succeeded,
                &by.name,
                "succeeded: all traffic on the release",
                now,
            )
            .await?;
            deployment_event(
                &mut tx,
                &row,
                "deployment.succeeded",
                "info",
                &format!("{what} succeeded"),
                None,
                now,
            )
            .await?;
            if let Some(original) = row.rollback_of {
                let mut orig = lock(&mut tx, original).await?;
                if matches!(
                    orig.state(),
                    DeployState::Succeeded | DeployState::InProgress | DeployState::Failed
                ) {
                    tx.execute(
                        "update deployment set rolled_back_by = $2, monitor_until = null where deployment_id = $1",
                        vals![original, id],
                    )
                    .await?;
                    let took = now - row.rollback_decided_at.unwrap_or(row.requested_at);
                    let why = format!(
                        "rolled back to {} by deployment {id}; restored {} after the decision (SLA {})",
                        row.version,
                        deploy::duration_words(took / 1000),
                        deploy::duration_words(deploy::ROLLBACK_SLA_MS / 1000)
                    );
                    transition(
                        &mut tx,
                        &mut orig,
                        DeployState::RolledBack,
                        &by.name,
                        &why,
                        now,
                    )
                    .await?;
                    deployment_event(
                        &mut tx,
                        &row,
                        "rollback.finished",
                        if took > deploy::ROLLBACK_SLA_MS {
                            "warning"
                        } else {
                            "info"
                        },
                        &format!(
                            "{} {} → {} rolled back to {}",
                            orig.project, orig.version, orig.environment, row.version
                        ),
                        Some(why),
                        now,
                    )
                    .await?;
                }
            }
        }
        Report::Failed { reason } => {
            let reason = reason.trim();
            let reason = if reason.is_empty() {
                "no reason given"
            } else {
                reason
            };
            tx.execute(
                "update deployment set failure_reason = $2 where deployment_id = $1",
                vals![id, reason],
            )
            .await?;
            transition(
                &mut tx,
                &mut row,
                DeployState::Failed,
                &by.name,
                &format!("failed: {reason}"),
                now,
            )
            .await?;
            deployment_event(
                &mut tx,
                &row,
                "deployment.failed",
                "critical",
                &format!("{what} failed"),
                Some(reason.to_string()),
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A health sample with the caller's optional key (a retried post with the same key is
/// stored once).
#[derive(Debug, Clone)]
pub struct NewSample {
    pub key: Option<String>,
    pub sample: HealthSample,
}

/// Stores health samples; while the deployment runs or is watched, an automatic rollback
/// trigger creates a rollback (once). Returns the samples stored and the rollback's id.
pub async fn add_health(
    db: &Db,
    id: i64,
    samples: &[NewSample],
) -> StoreResult<(usize, Option<i64>)> {
    for (i, s) in samples.iter().enumerate() {
        let h = &s.sample;
        let frac = |v: Option<f64>, name: &str| match v {
            Some(x) if !(0.0..=1.0).contains(&x) || x.is_nan() => Err(StoreError::Invalid(
                format!("samples[{i}].{name}: a fraction from 0 to 1 (0.995, not 99.5); got {x}"),
            )),
            _ => Ok(()),
        };
        frac(h.error_rate, "error_rate")?;
        frac(h.availability, "availability")?;
        frac(h.smoke_pass_rate, "smoke_pass_rate")?;
        if h.p95_ms.is_some_and(|v| !(0.0..1e9).contains(&v)) {
            return Err(StoreError::Invalid(format!(
                "samples[{i}].p95_ms: milliseconds, 0 or more"
            )));
        }
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let row = lock(&mut tx, id).await?;
    let state = row.state();
    let watched = state == DeployState::InProgress
        || (state == DeployState::Succeeded && row.monitor_until.is_some_and(|u| now <= u));
    if state.is_pending() {
        return Err(refused(Refusal::State {
            state,
            action: "record health samples".into(),
        }));
    }
    let mut stored = 0;
    for s in samples {
        let h = &s.sample;
        let at = if h.at > 0 { h.at } else { now };
        let sql = match s.key {
            Some(_) => {
                "insert into health_sample (deployment_id, at, error_rate, p95_ms, availability, \
                 smoke_pass_rate, healthy, sample_key) values ($1, $2, $3, $4, $5, $6, $7, $8) \
                 on conflict (deployment_id, sample_key) do nothing"
            }
            None => {
                "insert into health_sample (deployment_id, at, error_rate, p95_ms, availability, \
                 smoke_pass_rate, healthy, sample_key) values ($1, $2, $3, $4, $5, $6, $7, $8)"
            }
        };
        stored += tx
            .execute(
                sql,
                vals![
                    id,
                    at,
                    h.error_rate,
                    h.p95_ms,
                    h.availability,
                    h.smoke_pass_rate,
                    h.healthy,
                    s.key.clone()
                ],
            )
            .await? as usize;
    }
    let mut rollback = None;
    if watched && stored > 0 && row.rolled_back_by.is_none() {
        let recent = health(&mut tx, id, 10).await?;
        let env = environments::load(&mut tx, row.environment_id).await?;
        if let Some(why) = rollback_trigger(&recent) {
            deployment_event(
                &mut tx,
                &row,
                "health.rollback_trigger",
                "critical",
                &format!(
                    "{} {} → {}: {why}",
                    row.project, row.version, row.environment
                ),
                None,
                now,
            )
            .await?;
            if env.protection.auto_rollback {
                let system = Requester {
                    user_id: None,
                    name: "gatehouse".into(),
                    ip: None,
                };
                rollback = rollback_locked(
                    &mut tx,
                    row,
                    None,
                    &system,
                    &format!("automatic: {why}"),
                    now,
                )
                .await
                .ok()
                .map(|(id, _)| id);
            }
        }
    }
    tx.commit().await?;
    Ok((stored, rollback))
}

async fn health(tx: &mut Tx, id: i64, last: i64) -> StoreResult<Vec<HealthSample>> {
    type SampleRow = (
        i64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<bool>,
    );
    let rows: Vec<SampleRow> = tx
        .all(
            "select at, error_rate, p95_ms, availability, smoke_pass_rate, healthy from \
             (select * from health_sample where deployment_id = $1 order by at desc, health_sample_id desc limit $2) s \
             order by at, health_sample_id",
            vals![id, last],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(at, error_rate, p95_ms, availability, smoke_pass_rate, healthy)| HealthSample {
                at,
                error_rate,
                p95_ms,
                availability,
                smoke_pass_rate,
                healthy,
            },
        )
        .collect())
}

/// The releases a rollback of `row` can return to: the last three other releases that
/// succeeded in its environment before it and were not rolled back themselves.
async fn rollback_targets(tx: &mut Tx, row: &Row) -> StoreResult<Vec<RollbackTarget>> {
    let rows: Vec<(i64, String, i64, Option<i64>)> = tx
        .all(
            "select r.release_id, r.version, max(d.deployment_id), max(d.finished_at) from deployment d \
             join release r on r.release_id = d.release_id \
             where d.environment_id = $1 and d.release_id <> $2 and d.deployment_id < $3 \
             and d.state = 'succeeded' and d.finished_at is not null \
             group by r.release_id, r.version order by max(d.finished_at) desc limit 3",
            vals![row.environment_id, row.release_id, row.deployment_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(release_id, version, deployment_id, finished_at)| RollbackTarget {
                release_id,
                version,
                deployment_id,
                finished_at,
            },
        )
        .collect())
}

async fn rollback_locked(
    tx: &mut Tx,
    row: Row,
    to_release: Option<i64>,
    by: &Requester,
    reason: &str,
    now: i64,
) -> StoreResult<(i64, bool)> {
    let open: Option<(i64,)> = tx
        .opt(
            "select deployment_id from deployment where rollback_of = $1 \
             and state in ('requested', 'evaluating', 'awaiting_approval', 'waiting', 'in_progress')",
            vals![row.deployment_id],
        )
        .await?;
    if let Some((id,)) = open {
        return Ok((id, false));
    }
    if !matches!(
        row.state(),
        DeployState::Succeeded | DeployState::InProgress | DeployState::Failed
    ) {
        return Err(refused(Refusal::State {
            state: row.state(),
            action: "roll back".into(),
        }));
    }
    let targets = rollback_targets(tx, &row).await?;
    let target =
        match to_release {
            Some(r) => targets
                .iter()
                .find(|t| t.release_id == r)
                .cloned()
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                "release {r} is not one of the last three releases that succeeded in {} ({})",
                row.environment,
                targets.iter().map(|t| t.version.clone()).collect::<Vec<_>>().join(", ")
            ))
                })?,
            None => targets.first().cloned().ok_or_else(|| {
                StoreError::Conflict(format!(
                    "no earlier release has succeeded in {}: there is nothing to roll back to",
                    row.environment
                ))
            })?,
        };
    let (id,): (i64,) = tx
        .one(
            "insert into deployment (project_id, environment_id, release_id, state, strategy, \
             requested_by, requested_by_user_id, requested_at, rollback_of, rollback_decided_at, updated_at) \
             values ($1, $2, $3, 'requested', 'rolling', $4, $5, $6, $7, $6, $6) returning deployment_id",
            vals![row.project_id, row.environment_id, target.release_id, by.name.clone(), by.user_id, now, row.deployment_id],
        )
        .await?;
    tx.execute(
        "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
         values ($1, null, 'requested', $2, $3, $4)",
        vals![id, by.name.clone(), format!("rollback of deployment {} ({}) to {}: {reason}", row.deployment_id, row.version, target.version), now],
    )
    .await?;
    let mut new_row = lock(tx, id).await?;
    transition(
        tx,
        &mut new_row,
        DeployState::InProgress,
        "gatehouse",
        "go: a rollback skips gates, approvals and freezes to restore service within the 15-minute SLA",
        now,
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "deployment.rollback",
        Some(&format!("deployment:{}", row.deployment_id)),
        Some(format!(
            "{} {} → {}: back to {} ({reason})",
            row.project, row.version, row.environment, target.version
        )),
    ))
    .await?;
    deployment_event(
        tx,
        &row,
        "rollback.triggered",
        "critical",
        &format!(
            "{} {} → {} rolling back to {}",
            row.project, row.version, row.environment, target.version
        ),
        Some(reason.to_string()),
        now,
    )
    .await?;
    Ok((id, true))
}

/// Rolls a deployment back to an earlier release (the previous one by default). A rollback
/// already under way is returned instead of a second one.
pub async fn rollback(
    db: &Db,
    id: i64,
    to_release: Option<i64>,
    by: &Requester,
    reason: &str,
) -> StoreResult<(i64, bool)> {
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let row = lock(&mut tx, id).await?;
    let reason = match reason.trim() {
        "" => "rollback requested",
        r => r,
    };
    let made = rollback_locked(&mut tx, row, to_release, by, reason, now).await?;
    tx.commit().await?;
    Ok(made)
}

/// The commit of what was live in the row's environment when it was requested (the latest
/// deployment there that had succeeded by then, even if rolled back since).
pub(super) async fn live_commit(tx: &mut Tx, row: &Row) -> StoreResult<Option<String>> {
    let live: Option<(String,)> = tx
        .opt(
            "select r.commit_sha from deployment d join release r on r.release_id = d.release_id \
             where d.environment_id = $1 and d.state in ('succeeded', 'rolled_back') and d.deployment_id <> $2 \
             and d.release_id <> $3 and d.finished_at <= $4 order by d.finished_at desc limit 1",
            vals![row.environment_id, row.deployment_id, row.release_id, row.as_of()],
        )
        .await?;
    Ok(live.map(|l| l.0))
}

/// Commits after `from` up to `to` (by commit time), newest first: `(sha, message, author)`.
pub(super) async fn commits_between(
    tx: &mut Tx,
    project_id: i64,
    from: Option<&str>,
    to: &str,
) -> StoreResult<Vec<(String, String, Option<String>)>> {
    let to_at: Option<(Option<i64>,)> = tx
        .opt(
            "select committed_at from git_commit where project_id = $1 and sha = $2",
            vals![project_id, to],
        )
        .await?;
    let Some(to_at) = to_at.and_then(|t| t.0) else {
        return Ok(Vec::new());
    };
    let from_at = match from {
        Some(f) => tx
            .opt::<(Option<i64>,)>(
                "select committed_at from git_commit where project_id = $1 and sha = $2",
                vals![project_id, f],
            )
            .await?
            .and_then(|t| t.0),
        None => None,
    };
    tx.all(
        "select sha, message, author from git_commit where project_id = $1 and committed_at <= $2 \
         and committed_at > $3 order by committed_at desc limit 200",
        vals![
            project_id,
            to_at,
            from_at.unwrap_or(to_at - 30 * 86_400_000)
        ],
    )
    .await
}

/// Everything about one deployment, for its page and the API.
pub async fn get(db: &Db, id: i64) -> StoreResult<DeploymentDetail> {
    let mut tx = Tx::read(db).await?;
    let row: Row = tx
        .opt(&format!("{SELECT} where d.deployment_id = $1"), vals![id])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no deployment {id}")))?;
    let mut env = environments::load(&mut tx, row.environment_id).await?;
    let ticks: Vec<(i64, String, i64)> = tx
        .all(
            "select checklist_item_id, ticked_by, ticked_at from checklist_tick where deployment_id = $1",
            vals![id],
        )
        .await?;
    for item in env.checklist.iter_mut() {
        if let Some((_, by, at)) = ticks.iter().find(|t| t.0 == item.id) {
            item.ticked_by = Some(by.clone());
            item.ticked_at = Some(*at);
        }
    }
    let approvals: Vec<(String, String, bool, Option<String>, i64)> = tx
        .all(
            "select u.username, u.display_name, a.approve, a.comment, a.at from approval a \
             join app_user u on u.app_user_id = a.app_user_id where a.deployment_id = $1 order by a.at, a.approval_id",
            vals![id],
        )
        .await?;
    let approvals: Vec<Approval> = approvals
        .into_iter()
        .map(|(user, display_name, approve, comment, at)| Approval {
            user,
            display_name,
            approve,
            comment,
            at,
        })
        .collect();
    let overrides: Vec<(String, String, i64)> = tx
        .all(
            "select by_name, reason, at from gate_override where deployment_id = $1 order by at",
            vals![id],
        )
        .await?;
    let transitions: Vec<(Option<String>, String, String, String, i64)> = tx
        .all(
            "select from_state, to_state, actor, reason, at from deployment_transition \
             where deployment_id = $1 order by deployment_transition_id",
            vals![id],
        )
        .await?;
    let evaluation = latest_evaluation(&mut tx, id).await?;
    let health = health(&mut tx, id, 2000).await?;
    let live_row: Option<Row> = tx
        .opt(
            &format!(
                "{SELECT} where d.environment_id = $1 and d.state in ('succeeded', 'rolled_back') \
                 and d.deployment_id <> $2 and d.finished_at <= $3 order by d.finished_at desc limit 1"
            ),
            vals![row.environment_id, id, row.as_of()],
        )
        .await?;
    let from = live_commit(&mut tx, &row).await?;
    let commits =
        commits_between(&mut tx, row.project_id, from.as_deref(), &row.commit_sha).await?;
    let rollback_targets = rollback_targets(&mut tx, &row).await?;
    tx.commit().await?;
    let approved: Vec<String> = approvals
        .iter()
        .filter(|a| a.approve)
        .map(|a| a.user.clone())
        .collect();
    let needed = (env.protection.required_approvals - approved.len() as i64).max(0);
    let frozen = active_freeze(&env.freezes, now_ms());
    Ok(DeploymentDetail {
        summary: row.summary(approved, !overrides.is_empty()),
        release: Release {
            id: row.release_id,
            project: row.project.clone(),
            version: row.version.clone(),
            commit_sha: row.commit_sha.clone(),
            git_ref: row.git_ref.clone(),
            ci_run_id: row.release_run,
            created_at: row.release_at,
            created_by: row.release_by.clone(),
        },
        approvers: deploy::approvers_words(&env.protection),
        environment: env,
        canary_steps: row.steps(),
        canary_step: row.canary_step,
        step_since: row.step_since,
        hold: row.hold.clone(),
        evaluation,
        overrides: overrides
            .into_iter()
            .map(|(by, reason, at)| Override { by, reason, at })
            .collect(),
        approvals,
        approvals_needed: needed,
        transitions: transitions
            .into_iter()
            .map(|(from, to, actor, reason, at)| Transition {
                from: from.and_then(|f| f.parse().ok()),
                to: to.parse().unwrap_or(DeployState::Requested),
                actor,
                reason,
                at,
            })
            .collect(),
        health,
        monitor_until: row.monitor_until,
        waiting_since: row.waiting_since,
        live: live_row.map(|l| l.summary(Vec::new(), false)),
        notes: release::notes(&commits),
        rollback_targets,
        rolled_back_by: row.rolled_back_by,
        rollback_decided_at: row.rollback_decided_at,
        failure_reason: row.failure_reason.clone(),
        frozen,
    })
}

/// What lists of deployments filter on.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub project: Option<String>,
    pub environment: Option<String>,
    pub state: Option<DeployState>,
    /// Only deployments waiting for a decision.
    pub pending: bool,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Deployments, newest first.
pub async fn list(db: &Db, f: &ListFilter) -> StoreResult<Vec<DeploymentSummary>> {
    let mut conds = vec!["1 = 1".to_string()];
    let mut args: Vec<super::tx::Val> = Vec::new();
    let mut arg = |v: super::tx::Val, conds: &mut Vec<String>, sql: &str| {
        args.push(v);
        conds.push(sql.replace('?', &format!("${}", args.len())));
    };
    if let Some(p) = &f.project {
        arg(p.clone().into(), &mut conds, "p.slug = ?");
    }
    if let Some(e) = &f.environment {
        arg(e.clone().into(), &mut conds, "e.name = ?");
    }
    if let Some(s) = f.state {
        arg(s.as_str().into(), &mut conds, "d.state = ?");
    }
    if f.pending {
        conds.push("d.state in ('evaluating', 'awaiting_approval')".into());
    }
    if let Some(b) = f.before_id {
        arg(b.into(), &mut conds, "d.deployment_id < ?");
    }
    let limit = f.limit.clamp(1, 500);
    let sql = format!(
        "{SELECT} where {} order by d.deployment_id desc limit {limit}",
        conds.join(" and ")
    );
    let mut tx = Tx::read(db).await?;
    let rows: Vec<Row> = tx.all(&sql, &args).await?;
    let out = super::deploy_views::summaries(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(out)
}

/// The deployments waiting for `who` to decide: pending, in an environment where they may
/// approve, not yet decided by them, not requested by them. Newest first.
pub async fn queue(db: &Db, who: &Person) -> StoreResult<Vec<DeploymentSummary>> {
    let pending = list(
        db,
        &ListFilter {
            pending: true,
            limit: 200,
            ..ListFilter::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    let mut tx = Tx::read(db).await?;
    for d in pending {
        let (env_id, required): (i64, i64) = tx
            .one(
                "select d.environment_id, coalesce(ep.required_approvals, 0) from deployment d \
                 left join environment_policy ep on ep.environment_id = d.environment_id where d.deployment_id = $1",
                vals![d.id],
            )
            .await?;
        if required == 0 || d.approvers.len() as i64 >= required {
            continue;
        }
        let env = environments::load(&mut tx, env_id).await?;
        let decider = who.decider();
        let (decided,): (i64,) = tx
            .one(
                "select count(*) from approval where deployment_id = $1 and app_user_id = $2",
                vals![d.id, who.user_id],
            )
            .await?;
        if deploy::may_decide(&env.protection, &decider)
            && decided == 0
            && !d.requested_by.eq_ignore_ascii_case(&who.username)
        {
            out.push(d);
        }
    }
    tx.commit().await?;
    Ok(out)
}
