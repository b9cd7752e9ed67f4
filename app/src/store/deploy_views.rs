//! What the console reads about deployments besides one deployment's page: what is live
//! where, releases and their comparison, the decisions a person may take, a change stamp for
//! open pages; and finished deployments written from elsewhere (demo history, GitHub).

use super::deployments::{
    commits_between, decision_inputs, linked_event, lock, past_event, store_commit, transition,
    NewCommit, Person, Row, SELECT,
};
use super::environments;
use super::tx::Tx;
use super::{Db, StoreError, StoreResult};
use crate::logic::deploy::{self, check_decision};
use crate::logic::release;
use crate::model::{
    DecisionRights, DeployState, DeploymentSummary, Environment, LiveEnvironment, PastDeployment,
    Release, ReleaseComparison, ReleaseSummary, Role,
};
use crate::vals;

/// Summaries of rows with who approved each and whether gates were overridden.
pub(super) async fn summaries(tx: &mut Tx, rows: Vec<Row>) -> StoreResult<Vec<DeploymentSummary>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let approvers: Vec<(String,)> = tx
            .all(
                "select u.username from approval a join app_user u on u.app_user_id = a.app_user_id \
                 where a.deployment_id = $1 and a.approve = $2 order by a.at",
                vals![r.deployment_id, true],
            )
            .await?;
        let (overrides,): (i64,) = tx
            .one(
                "select count(*) from gate_override where deployment_id = $1",
                vals![r.deployment_id],
            )
            .await?;
        out.push(r.summary(approvers.into_iter().map(|a| a.0).collect(), overrides > 0));
    }
    Ok(out)
}

/// The rules of an environment in a few words.
pub fn rules_words(env: &Environment) -> String {
    let p = &env.protection;
    let mut parts = Vec::new();
    if p.required_approvals > 0 {
        parts.push(format!(
            "{} approval{}",
            p.required_approvals,
            if p.required_approvals == 1 { "" } else { "s" }
        ));
    }
    if p.wait_timer_s > 0 {
        parts.push(format!("{} timer", deploy::duration_words(p.wait_timer_s)));
    }
    if !env.gates.is_empty() {
        parts.push(format!(
            "{} gate{}",
            env.gates.len(),
            if env.gates.len() == 1 { "" } else { "s" }
        ));
    }
    if !env.checklist.is_empty() {
        parts.push(format!("{}-item checklist", env.checklist.len()));
    }
    if !env.freezes.is_empty() {
        parts.push(format!(
            "{} freeze window{}",
            env.freezes.len(),
            if env.freezes.len() == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        "no rules: deploys straight away".into()
    } else {
        parts.join(" · ")
    }
}

/// Every environment (of one project, or all), in promotion order: what is live and what is on
/// its way.
pub async fn live(db: &Db, project: Option<&str>) -> StoreResult<Vec<LiveEnvironment>> {
    let mut tx = Tx::read(db).await?;
    let envs: Vec<(i64, String, String, i64)> = match project {
        Some(p) => {
            tx.all(
                "select e.environment_id, p.slug, e.name, cast(e.position as bigint) from environment e \
                 join project p on p.project_id = e.project_id where p.slug = $1 order by e.position",
                vals![p],
            )
            .await?
        }
        None => {
            tx.all(
                "select e.environment_id, p.slug, e.name, cast(e.position as bigint) from environment e \
                 join project p on p.project_id = e.project_id order by p.slug, e.position",
                vals![],
            )
            .await?
        }
    };
    let mut out = Vec::with_capacity(envs.len());
    for (env_id, project, name, position) in envs {
        let live: Vec<Row> = tx
            .all(
                &format!(
                    "{SELECT} where d.environment_id = $1 and d.state = 'succeeded' \
                     order by d.finished_at desc, d.deployment_id desc limit 1"
                ),
                vals![env_id],
            )
            .await?;
        let open: Vec<Row> = tx
            .all(
                &format!(
                    "{SELECT} where d.environment_id = $1 and d.state in \
                     ('requested', 'evaluating', 'awaiting_approval', 'waiting', 'in_progress') \
                     order by d.deployment_id desc limit 5"
                ),
                vals![env_id],
            )
            .await?;
        let env = environments::load(&mut tx, env_id).await?;
        out.push(LiveEnvironment {
            project,
            environment: name,
            position,
            live: summaries(&mut tx, live).await?.into_iter().next(),
            open: summaries(&mut tx, open).await?,
            rules: rules_words(&env),
        });
    }
    tx.commit().await?;
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct ReleaseRow {
    release_id: i64,
    project: String,
    version: String,
    commit_sha: String,
    git_ref: Option<String>,
    ci_run_id: Option<i64>,
    created_at: i64,
    created_by: String,
}

impl From<ReleaseRow> for Release {
    fn from(r: ReleaseRow) -> Release {
        Release {
            id: r.release_id,
            project: r.project,
            version: r.version,
            commit_sha: r.commit_sha,
            git_ref: r.git_ref,
            ci_run_id: r.ci_run_id,
            created_at: r.created_at,
            created_by: r.created_by,
        }
    }
}

const RELEASE: &str = "select r.release_id, p.slug as project, r.version, r.commit_sha, r.git_ref, \
     r.ci_run_id, r.created_at, r.created_by from release r join project p on p.project_id = r.project_id";

/// A project's releases, newest first, with the latest state of each in every environment.
pub async fn releases(db: &Db, project: &str, limit: i64) -> StoreResult<Vec<ReleaseSummary>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<ReleaseRow> = tx
        .all(
            &format!(
                "{RELEASE} where p.slug = $1 order by r.created_at desc, r.release_id desc limit {}",
                limit.clamp(1, 500)
            ),
            vals![project],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let deployed: Vec<(String, String, i64)> = tx
            .all(
                "select e.name, d.state, d.deployment_id from deployment d \
                 join environment e on e.environment_id = d.environment_id \
                 where d.release_id = $1 order by e.position, d.deployment_id desc",
                vals![r.release_id],
            )
            .await?;
        let mut environments: Vec<(String, DeployState, i64)> = Vec::new();
        for (env, state, id) in deployed {
            if environments.iter().any(|e| e.0 == env) {
                continue;
            }
            environments.push((env, state.parse().unwrap_or(DeployState::Requested), id));
        }
        out.push(ReleaseSummary {
            release: r.into(),
            environments,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// What changed from one release of a project to another (by version).
pub async fn compare(
    db: &Db,
    project: &str,
    from: &str,
    to: &str,
) -> StoreResult<ReleaseComparison> {
    let mut tx = Tx::read(db).await?;
    let from = find_release(&mut tx, project, from).await?;
    let to = find_release(&mut tx, project, to).await?;
    let (project_id,): (i64,) = tx
        .one(
            "select project_id from project where slug = $1",
            vals![project],
        )
        .await?;
    // Older first: the comparison reads "from → to" whichever order the versions came in.
    let (from, to) = if from.created_at > to.created_at {
        (to, from)
    } else {
        (from, to)
    };
    let commits =
        commits_between(&mut tx, project_id, Some(&from.commit_sha), &to.commit_sha).await?;
    tx.commit().await?;
    Ok(ReleaseComparison {
        commits: commits.len(),
        notes: release::notes(&commits),
        from,
        to,
    })
}

async fn find_release(tx: &mut Tx, project: &str, version: &str) -> StoreResult<Release> {
    let row: Option<ReleaseRow> = tx
        .opt(
            &format!("{RELEASE} where p.slug = $1 and r.version = $2"),
            vals![project, version.trim()],
        )
        .await?;
    row.map(Release::from)
        .ok_or_else(|| StoreError::NotFound(format!("{project} has no release {}", version.trim())))
}

/// Whether `who` may approve or reject deployment `id` now, and why not.
pub async fn rights(db: &Db, id: i64, who: &Person) -> StoreResult<DecisionRights> {
    let mut tx = Tx::read(db).await?;
    let row: Row = tx
        .opt(&format!("{SELECT} where d.deployment_id = $1"), vals![id])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no deployment {id}")))?;
    let (env, decided, involved, approvals) = decision_inputs(&mut tx, &row).await?;
    tx.commit().await?;
    let decider = who.decider();
    let check = |approve: bool| {
        check_decision(
            row.state.parse().unwrap_or(DeployState::Requested),
            &env.protection,
            &decider,
            &involved,
            &decided,
            approvals,
            approve,
            Some("comment"),
        )
        .err()
        .map(|r| r.message())
    };
    Ok(DecisionRights {
        approve: check(true),
        reject: check(false),
        is_admin: who.role == Role::Admin,
        can_operate: who.role.allows(Role::Approver),
    })
}

/// Changes whenever anything shown on deployment `id`'s page changes: open pages poll it.
pub async fn stamp(db: &Db, id: i64) -> StoreResult<String> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(i64, i64, i64, i64, i64)> = tx
        .opt(
            "select d.updated_at, \
             (select count(*) from health_sample h where h.deployment_id = d.deployment_id), \
             (select count(*) from approval a where a.deployment_id = d.deployment_id), \
             (select count(*) from checklist_tick c where c.deployment_id = d.deployment_id), \
             (select coalesce(max(g.gate_evaluation_id), 0) from gate_evaluation g where g.deployment_id = d.deployment_id) \
             from deployment d where d.deployment_id = $1",
            vals![id],
        )
        .await?;
    tx.commit().await?;
    let (a, b, c, d, e) =
        row.ok_or_else(|| StoreError::NotFound(format!("there is no deployment {id}")))?;
    Ok(format!("{a}.{b}.{c}.{d}.{e}"))
}

/// How many deployments wait for `who` (the nav badge).
pub async fn queue_count(db: &Db, who: &Person) -> StoreResult<usize> {
    Ok(super::deployments::queue(db, who).await?.len())
}

/// The release `version` of a project at commit `sha`, created on first sight by `by` at a time
/// (its first commit is the earliest of `listed`, when given); a version names one commit.
async fn release_for(
    tx: &mut Tx,
    (project_id, project): (i64, &str),
    version: &str,
    (sha, listed): (&str, Option<i64>),
    git_ref: Option<String>,
    (by, at): (&str, i64),
) -> StoreResult<i64> {
    let release: Option<(i64, String)> = tx
        .opt(
            "select release_id, commit_sha from release where project_id = $1 and version = $2",
            vals![project_id, version],
        )
        .await?;
    match release {
        Some((id, commit)) if commit == sha => Ok(id),
        Some((_, commit)) => Err(StoreError::Conflict(format!(
            "version: {project} {version} is commit {}, not {}",
            &commit[..commit.len().min(12)],
            &sha[..sha.len().min(12)]
        ))),
        None => {
            let (id,) = tx
                .one::<(i64,)>(
                    "insert into release (project_id, version, commit_sha, git_ref, created_by, created_at) \
                     values ($1, $2, $3, $4, $5, $6) returning release_id",
                    vals![project_id, version, sha, git_ref, by, at],
                )
                .await?;
            super::kpis::stamp_first_commit(tx, id, listed).await?;
            Ok(id)
        }
    }
}

/// A deployment GitHub reports through the `deployment` and `deployment_status` webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubDeployment {
    pub github_id: i64,
    pub environment: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub creator: Option<String>,
    pub created_at: i64,
}

/// A GitHub deployment status: `state` (success, failure, error, inactive, in_progress,
/// queued, pending), when, and GitHub's description.
#[derive(Debug, Clone, PartialEq)]
pub struct GithubStatus {
    pub state: String,
    pub at: i64,
    pub description: Option<String>,
}

/// Records a GitHub deployment once (as in progress: GitHub decided it) and applies a status:
/// `success` makes it succeed, `failure` or `error` fail, the others leave it as it is. The
/// version is the ref when it is a semantic version (a tag), else `ref@sha`. Returns its id
/// and state, or `None` when the project has no environment of that name.
pub async fn github_deployment(
    db: &Db,
    project_id: i64,
    d: &GithubDeployment,
    status: Option<&GithubStatus>,
) -> StoreResult<Option<(i64, DeployState)>> {
    let mut tx = Tx::write(db).await?;
    let found: Option<(String, i64, i64)> = tx
        .opt(
            "select p.slug, e.environment_id, e.monitoring_window from \
             (select e.environment_id, e.project_id, cast(coalesce(ep.monitoring_window_s, 3600) as bigint) as monitoring_window \
              from environment e left join environment_policy ep on ep.environment_id = e.environment_id \
              where e.project_id = $1 and e.name = $2) e join project p on p.project_id = e.project_id",
            vals![project_id, d.environment.clone()],
        )
        .await?;
    let Some((project, environment_id, window_s)) = found else {
        tx.commit().await?;
        return Ok(None);
    };
    let sha = d.commit_sha.trim().to_ascii_lowercase();
    let actor = format!("github:{}", d.creator.as_deref().unwrap_or("unknown"));
    let existing: Option<(i64,)> = tx
        .opt(
            "select deployment_id from deployment where project_id = $1 and github_deployment_id = $2",
            vals![project_id, d.github_id],
        )
        .await?;
    let id = match existing {
        Some((id,)) => id,
        None => {
            let git_ref = d.git_ref.clone().filter(|r| !r.trim().is_empty());
            let version = match git_ref.as_deref().map(release::parse_version) {
                Some(Ok(v)) => v.to_string(),
                _ => format!(
                    "{}@{}",
                    git_ref.as_deref().unwrap_or("sha"),
                    &sha[..sha.len().min(7)]
                ),
            };
            let release_id = release_for(
                &mut tx,
                (project_id, &project),
                &version,
                (&sha, None),
                git_ref,
                (&actor, d.created_at),
            )
            .await?;
            let (id,): (i64,) = tx
                .one(
                    "insert into deployment (project_id, environment_id, release_id, state, strategy, \
                     requested_by, requested_at, started_at, github_deployment_id, updated_at) \
                     values ($1, $2, $3, 'in_progress', 'rolling', $4, $5, $5, $6, $5) returning deployment_id",
                    vals![project_id, environment_id, release_id, actor.clone(), d.created_at, d.github_id],
                )
                .await?;
            for (from, to, reason) in [
                (
                    None,
                    "requested",
                    format!(
                        "{project} {version} → {} (GitHub deployment {})",
                        d.environment, d.github_id
                    ),
                ),
                (
                    Some("requested"),
                    "in_progress",
                    "deployed by GitHub: its own environment rules decided".to_string(),
                ),
            ] {
                tx.execute(
                    "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
                     values ($1, $2, $3, $4, $5, $6)",
                    vals![id, from, to, actor.clone(), reason, d.created_at],
                )
                .await?;
            }
            id
        }
    };
    let mut row = lock(&mut tx, id).await?;
    if let Some(st) = status {
        let by = format!("github:{}", d.creator.as_deref().unwrap_or("unknown"));
        let what = st.description.clone().filter(|s| !s.trim().is_empty());
        match (row.state.as_str(), st.state.as_str()) {
            ("in_progress", "success") => {
                tx.execute(
                    "update deployment set traffic = 1, monitor_until = $2 where deployment_id = $1",
                    vals![id, st.at + window_s * 1000],
                )
                .await?;
                let reason = format!(
                    "succeeded on GitHub{}",
                    what.map(|w| format!(": {w}")).unwrap_or_default()
                );
                transition(
                    &mut tx,
                    &mut row,
                    DeployState::Succeeded,
                    &by,
                    &reason,
                    st.at,
                )
                .await?;
                linked_event(
                    &mut tx,
                    project_id,
                    "deployment.succeeded",
                    "info",
                    &format!("{project} {} → {} succeeded", row.version, row.environment),
                    None,
                    Some(format!("/deployments/{id}")),
                    st.at,
                )
                .await?;
            }
            ("in_progress", "failure" | "error") => {
                let reason = what.unwrap_or_else(|| format!("GitHub reported {}", st.state));
                tx.execute(
                    "update deployment set failure_reason = $2 where deployment_id = $1",
                    vals![id, reason.clone()],
                )
                .await?;
                transition(
                    &mut tx,
                    &mut row,
                    DeployState::Failed,
                    &by,
                    &format!("failed: {reason}"),
                    st.at,
                )
                .await?;
                linked_event(
                    &mut tx,
                    project_id,
                    "deployment.failed",
                    "critical",
                    &format!("{project} {} → {} failed", row.version, row.environment),
                    Some(reason),
                    Some(format!("/deployments/{id}")),
                    st.at,
                )
                .await?;
            }
            _ => {}
        }
    }
    let state = row.state.parse().unwrap_or(DeployState::InProgress);
    tx.commit().await?;
    Ok(Some((id, state)))
}

/// Links artifacts (kind, name, URL) to a release that has none yet, as imported history
/// carries them; returns how many were added.
pub async fn attach_artifacts(
    db: &Db,
    project: &str,
    version: &str,
    artifacts: &[(String, String, String)],
) -> StoreResult<u64> {
    let mut tx = Tx::write(db).await?;
    let mut added = 0;
    for (kind, name, url) in artifacts {
        added += tx
            .execute(
                "insert into release_artifact (release_id, kind, name, url) \
                 select r.release_id, $3, $4, $5 from release r join project p on p.project_id = r.project_id \
                 where p.slug = $1 and r.version = $2 and not exists \
                 (select 1 from release_artifact a where a.release_id = r.release_id and a.kind = $3 and a.name = $4)",
                vals![project, version, kind, name, url],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// Writes a finished deployment with its own times (demo history, GitHub deployments), with
/// the release (created on first sight), approvals by known users, transitions as they
/// happened, health samples and, for a rollback, the deployment it replaced. Idempotent by
/// `github_deployment_id`. Returns the id and whether it was new.
pub async fn record_past(
    db: &Db,
    project: &str,
    past: &PastDeployment,
) -> StoreResult<(i64, bool)> {
    if !past.outcome.is_terminal() {
        return Err(StoreError::Invalid(format!(
            "outcome: a past deployment has ended; `{}` has not",
            past.outcome
        )));
    }
    let env = environments::find(db, project, &past.environment).await?;
    let mut tx = Tx::write(db).await?;
    let (project_id,): (i64,) = tx
        .one(
            "select project_id from project where slug = $1",
            vals![project],
        )
        .await?;
    if let Some(gh) = past.github_deployment_id {
        let existing: Option<(i64,)> = tx
            .opt(
                "select deployment_id from deployment where project_id = $1 and github_deployment_id = $2",
                vals![project_id, gh],
            )
            .await?;
        if let Some((id,)) = existing {
            tx.commit().await?;
            return Ok((id, false));
        }
    }
    let sha = past.commit_sha.trim().to_ascii_lowercase();
    for (c_sha, message, author, at) in &past.commits {
        let commit = NewCommit {
            sha: c_sha.clone(),
            message: message.clone(),
            author: author.clone(),
            committed_at: Some(*at),
        };
        store_commit(&mut tx, project_id, &commit, past.git_ref.clone()).await?;
    }
    let release_id = release_for(
        &mut tx,
        (project_id, project),
        &past.version,
        (&sha, past.commits.iter().map(|c| c.3).min()),
        past.git_ref.clone(),
        (&past.requested_by, past.requested_at),
    )
    .await?;
    let finished = past.finished_at.unwrap_or(past.requested_at);
    let monitor_until = (past.outcome == DeployState::Succeeded)
        .then(|| finished + env.protection.monitoring_window_s * 1000);
    let traffic = if matches!(
        past.outcome,
        DeployState::Succeeded | DeployState::RolledBack
    ) {
        1.0
    } else {
        0.0
    };
    let (steps_json, last_step) = match past.strategy {
        crate::model::Strategy::Canary => {
            let steps = crate::model::default_canary_steps();
            let reached = (traffic >= 1.0).then_some(steps.len() as i64 - 1);
            (serde_json::to_string(&steps).ok(), reached)
        }
        _ => (None, None),
    };
    let (id,): (i64,) = tx
        .one(
            "insert into deployment (project_id, environment_id, release_id, state, strategy, traffic, \
             requested_by, requested_at, started_at, finished_at, rollback_of, rollback_decided_at, \
             monitor_until, failure_reason, github_deployment_id, updated_at, canary_steps, canary_step) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $10, $16, $17) returning deployment_id",
            vals![
                project_id,
                env.id,
                release_id,
                past.outcome.as_str(),
                past.strategy.as_str(),
                traffic,
                past.requested_by.clone(),
                past.requested_at,
                past.started_at,
                finished,
                past.rollback_of.map(|r| r.0),
                past.rollback_of.map(|r| r.1),
                monitor_until,
                past.failure_reason.clone(),
                past.github_deployment_id,
                steps_json,
                last_step
            ],
        )
        .await?;
    let mut steps: Vec<(Option<DeployState>, DeployState, String, String, i64)> = vec![(
        None,
        DeployState::Requested,
        past.requested_by.clone(),
        format!(
            "{project} {} → {} ({})",
            past.version,
            env.name,
            past.strategy.label()
        ),
        past.requested_at,
    )];
    let mut at = past.requested_at;
    let mut state = DeployState::Requested;
    let mut step = |to: DeployState, actor: &str, reason: String, when: i64| {
        steps.push((Some(state), to, actor.to_string(), reason, when));
        state = to;
    };
    if !past.approvals.is_empty() {
        step(
            DeployState::AwaitingApproval,
            "gatehouse",
            "gates passed; waiting for approvals".into(),
            at,
        );
    }
    for (user, when) in &past.approvals {
        let found: Option<(i64,)> = tx
            .opt(
                "select app_user_id from app_user where username = $1",
                vals![user.clone()],
            )
            .await?;
        if let Some((uid,)) = found {
            tx.execute(
                "insert into approval (deployment_id, app_user_id, approve, comment, at) values ($1, $2, $3, $4, $5) \
                 on conflict (deployment_id, app_user_id) do nothing",
                vals![id, uid, true, Option::<String>::None, *when],
            )
            .await?;
        }
        at = at.max(*when);
    }
    // Whoever approved first had ticked the checklist by then.
    if let (Some((first, when)), false) = (
        past.approvals.first(),
        past.outcome == DeployState::Rejected,
    ) {
        for item in &env.checklist {
            tx.execute(
                "insert into checklist_tick (deployment_id, checklist_item_id, ticked_by, ticked_at) \
                 values ($1, $2, $3, $4) on conflict (deployment_id, checklist_item_id) do nothing",
                vals![id, item.id, first.clone(), *when],
            )
            .await?;
        }
    }
    if past.outcome == DeployState::Rejected {
        step(
            DeployState::Rejected,
            &past.requested_by,
            past.failure_reason
                .clone()
                .unwrap_or_else(|| "rejected".into()),
            finished,
        );
    } else if past.outcome == DeployState::Cancelled && past.started_at.is_none() {
        step(
            DeployState::Cancelled,
            &past.requested_by,
            "cancelled".into(),
            finished,
        );
    } else {
        let started = past.started_at.unwrap_or(at);
        step(DeployState::InProgress, "gatehouse", "go".into(), started);
        match past.outcome {
            DeployState::Failed => step(
                DeployState::Failed,
                "deployer",
                format!(
                    "failed: {}",
                    past.failure_reason.clone().unwrap_or_default()
                ),
                finished,
            ),
            DeployState::Cancelled => step(
                DeployState::Cancelled,
                &past.requested_by,
                "cancelled".into(),
                finished,
            ),
            _ => step(
                DeployState::Succeeded,
                "deployer",
                "succeeded: all traffic on the release".into(),
                finished,
            ),
        }
    }
    for (from, to, actor, reason, when) in &steps {
        tx.execute(
            "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
             values ($1, $2, $3, $4, $5, $6)",
            vals![id, from.map(|f| f.as_str()), to.as_str(), actor.clone(), reason.clone(), *when],
        )
        .await?;
    }
    for s in &past.health {
        tx.execute(
            "insert into health_sample (deployment_id, at, error_rate, p95_ms, availability, smoke_pass_rate, healthy) \
             values ($1, $2, $3, $4, $5, $6, $7)",
            vals![id, s.at, s.error_rate, s.p95_ms, s.availability, s.smoke_pass_rate, s.healthy],
        )
        .await?;
    }
    if let Some((original, decided_at)) = past.rollback_of {
        let orig = lock(&mut tx, original).await?;
        if orig.environment_id != env.id {
            return Err(StoreError::Invalid(format!(
                "rollback_of: deployment {original} is in another environment"
            )));
        }
        if past.outcome == DeployState::Succeeded && orig.rolled_back_by.is_none() {
            tx.execute(
                "update deployment set state = 'rolled_back', rolled_back_by = $2, monitor_until = null, \
                 updated_at = $3 where deployment_id = $1",
                vals![original, id, finished],
            )
            .await?;
            tx.execute(
                "insert into deployment_transition (deployment_id, from_state, to_state, actor, reason, at) \
                 values ($1, $2, 'rolled_back', $3, $4, $5)",
                vals![
                    original,
                    orig.state.clone(),
                    past.requested_by.clone(),
                    format!(
                        "rolled back to {} by deployment {id}; restored {} after the decision (SLA {})",
                        past.version,
                        deploy::duration_words((finished - decided_at) / 1000),
                        deploy::duration_words(deploy::ROLLBACK_SLA_MS / 1000)
                    ),
                    finished
                ],
            )
            .await?;
        }
    }
    past_event(
        &mut tx,
        project_id,
        &format!("deployment.{}", past.outcome.as_str()),
        if past.outcome == DeployState::Succeeded {
            "info"
        } else {
            "warning"
        },
        &format!(
            "{project} {} → {} {}",
            past.version,
            env.name,
            past.outcome.as_str()
        ),
        None,
        finished,
    )
    .await?;
    tx.commit().await?;
    Ok((id, true))
}
