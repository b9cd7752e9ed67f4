//! The failure-risk predictor's storage: features computed when a run is first stored (in the
//! run's own transaction, from the history before it), a score from every active or shadow
//! model version, alerts from the active one, model versions and their life cycle, and the
//! rows calibration reports and drift checks are computed from.

use super::audit::{Actor, NewAuditEvent};
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::predictor::{self, FeatureValues, HeldOut, ModelParams, RulesModel, Sample};
use crate::model::{AlertKind, ModelVersion, NewRun, RiskAlert, ScoredRun, PROMOTE_MIN_PER_CLASS};
use crate::vals;

/// The threshold of a project's first (seeds') model: both of the seeds' rules fire.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Runs a version scores before it may alert or be promoted (the seeds' 10–14).
pub const DEFAULT_CALIBRATION_RUNS: i64 = 14;

const FINISHED: &str = "('success', 'failure', 'error')";

/// Computes the new run's features, stores them, scores the run with every active and shadow
/// model of the project (creating the seeds' model on first use) and opens an alert when the
/// active model's score reaches its threshold after its calibration period.
pub(super) async fn on_run_created(
    tx: &mut Tx,
    project_id: i64,
    run_id: i64,
    new: &NewRun,
    now: i64,
) -> StoreResult<()> {
    let features = compute_features(tx, project_id, run_id, new, now).await?;
    let json = serde_json::to_string(&features).map_err(|e| StoreError::Other(e.to_string()))?;
    tx.execute(
        "insert into run_features (ci_run_id, features, computed_at) values ($1, $2, $3) \
         on conflict (ci_run_id) do nothing",
        vals![run_id, json, now],
    )
    .await?;
    ensure_default_model(tx, project_id, now).await?;
    let models: Vec<(i64, i64, String, String, f64, i64)> = tx
        .all(
            "select risk_model_id, version, state, params, threshold, \
             cast(calibration_runs as bigint) from risk_model \
             where project_id = $1 and state in ('active', 'shadow') order by risk_model_id",
            vals![project_id],
        )
        .await?;
    for (model_id, version, state, params, threshold, calibration_runs) in models {
        let params: ModelParams = parse_params(&params)?;
        let score = params.score(&features);
        let inserted = tx
            .execute(
                "insert into risk_prediction (risk_model_id, ci_run_id, score, scored_at) \
                 values ($1, $2, $3, $4) on conflict (risk_model_id, ci_run_id) do nothing",
                vals![model_id, run_id, score, now],
            )
            .await?;
        if inserted > 0 {
            tx.execute(
                "update risk_model set scored = scored + 1 where risk_model_id = $1",
                vals![model_id],
            )
            .await?;
        }
        if state != "active" || score < threshold {
            continue;
        }
        let (earlier,): (i64,) = tx
            .one(
                "select count(*) from (select 1 from risk_prediction \
                 where risk_model_id = $1 and ci_run_id < $2 limit $3) x",
                vals![model_id, run_id, calibration_runs],
            )
            .await?;
        if earlier < calibration_runs {
            continue; // still calibrating: the seeds' model may not alert before its 14th run
        }
        let message = format!(
            "run {} scored {:.2} (threshold {:.2}) by model v{version}",
            new.external_id, score, threshold
        );
        let opened = tx
            .execute(
                "insert into risk_alert (project_id, kind, ci_run_id, risk_model_id, dedup_key, \
                 score, threshold, message, opened_at) \
                 values ($1, 'risk', $2, $3, $4, $5, $6, $7, $8) \
                 on conflict (project_id, dedup_key) do nothing",
                vals![
                    project_id,
                    run_id,
                    model_id,
                    format!("run:{run_id}"),
                    score,
                    threshold,
                    &message,
                    new.started_at.unwrap_or(now)
                ],
            )
            .await?;
        if opened > 0 {
            super::deployments::linked_event(
                tx,
                project_id,
                "risk.high",
                "warning",
                &format!("run {}", new.external_id),
                Some(message),
                Some(format!("/runs/{run_id}")),
                now,
            )
            .await?;
        }
    }
    sync_run(tx, run_id).await
}

/// Brings the start time and outcome kept with each of a run's predictions in line with the
/// run, in the transaction that changed the run. A change to a version's finished set takes
/// the version's next revision and stamps the prediction with it (see [`super::score_cache`]);
/// the version's outcome counts move with it. Versions are locked in id order.
pub(super) async fn sync_run(tx: &mut Tx, run_id: i64) -> StoreResult<()> {
    let rows: Vec<(i64, Option<i64>, Option<i64>, i64, Option<i64>)> = tx
        .all(
            "select x.risk_model_id, x.run_at, cast(x.outcome as bigint), \
             coalesce(r.started_at, r.created_at), \
             case when r.status = 'success' then cast(0 as bigint) \
             when r.status in ('failure', 'error') then cast(1 as bigint) end \
             from risk_prediction x join ci_run r on r.ci_run_id = x.ci_run_id \
             where x.ci_run_id = $1 order by x.risk_model_id",
            vals![run_id],
        )
        .await?;
    for (model_id, old_at, old_outcome, at, outcome) in rows {
        if old_at == Some(at) && old_outcome == outcome {
            continue;
        }
        if old_outcome.is_none() && outcome.is_none() {
            // Not in the finished set before or after: no revision.
            tx.execute(
                "update risk_prediction set run_at = $3 where risk_model_id = $1 and ci_run_id = $2",
                vals![model_id, run_id, at],
            )
            .await?;
            continue;
        }
        let is = |o: Option<i64>, v: i64| i64::from(o == Some(v));
        let (rev,): (i64,) = tx
            .one(
                "update risk_model set rev = rev + 1, scored_failed = scored_failed + $2, \
                 scored_passed = scored_passed + $3 where risk_model_id = $1 \
                 returning cast(rev as bigint)",
                vals![
                    model_id,
                    is(outcome, 1) - is(old_outcome, 1),
                    is(outcome, 0) - is(old_outcome, 0)
                ],
            )
            .await?;
        tx.execute(
            "update risk_prediction set run_at = $3, outcome = $4, rev = $5 \
             where risk_model_id = $1 and ci_run_id = $2",
            vals![model_id, run_id, at, outcome, rev],
        )
        .await?;
    }
    Ok(())
}

fn parse_params(text: &str) -> StoreResult<ModelParams> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(format!("model parameters: {e}")))
}

/// The seeds' rules model as version 1, active, when the project has no model at all.
async fn ensure_default_model(tx: &mut Tx, project_id: i64, now: i64) -> StoreResult<()> {
    let any: Option<(i64,)> = tx
        .opt(
            "select risk_model_id from risk_model where project_id = $1 limit 1",
            vals![project_id],
        )
        .await?;
    if any.is_some() {
        return Ok(());
    }
    let params = serde_json::to_string(&ModelParams::Rules(RulesModel::seeds()))
        .map_err(|e| StoreError::Other(e.to_string()))?;
    tx.execute(
        "insert into risk_model (project_id, version, kind, state, params, threshold, \
         calibration_runs, note, created_by, created_at, promoted_at) \
         values ($1, 1, 'rules', 'active', $2, $3, $4, $5, 'system', $6, $6) \
         on conflict (project_id, version) do nothing",
        vals![
            project_id,
            params,
            DEFAULT_THRESHOLD,
            DEFAULT_CALIBRATION_RUNS,
            "the seeds' hand-tuned rules",
            now
        ],
    )
    .await?;
    Ok(())
}

/// The features of a run about to be stored, from the project's history before it.
async fn compute_features(
    tx: &mut Tx,
    project_id: i64,
    run_id: i64,
    new: &NewRun,
    now: i64,
) -> StoreResult<FeatureValues> {
    let at = new.started_at.unwrap_or(now);
    let mut f = FeatureValues::new();
    let failed = |s: &str| s == "failure" || s == "error";
    // The project's last 50 finished runs, newest first.
    let recent: Vec<(String, Option<i64>, Option<i64>, i64)> = tx
        .all(
            &format!(
                "select status, started_at, finished_at, cast(flaky as bigint) from ci_run \
                 where project_id = $1 and ci_run_id < $2 and status in {FINISHED} \
                 order by ci_run_id desc limit 50"
            ),
            vals![project_id, run_id],
        )
        .await?;
    if !recent.is_empty() {
        let green = recent.iter().filter(|r| r.0 == "success").count();
        f.insert("pass_rate".into(), green as f64 / recent.len() as f64);
        let minutes: Vec<f64> = recent
            .iter()
            .take(20)
            .filter_map(|r| match (r.1, r.2) {
                (Some(s), Some(e)) if e >= s => Some((e - s) as f64 / 60_000.0),
                _ => None,
            })
            .collect();
        if !minutes.is_empty() {
            let all = minutes.iter().sum::<f64>() / minutes.len() as f64;
            f.insert("avg_duration".into(), all);
            if minutes.len() >= 10 && all > 0.0 {
                let last5 = minutes.iter().take(5).sum::<f64>() / 5.0;
                f.insert("duration_trend".into(), last5 / all);
            }
        }
        let flaky: i64 = recent.iter().take(20).map(|r| r.3).sum();
        f.insert("flaky_tests".into(), flaky as f64);
    }
    if let Some(branch) = &new.branch {
        let on_branch: Vec<(String,)> = tx
            .all(
                &format!(
                    "select status from ci_run where project_id = $1 and branch = $2 \
                     and ci_run_id < $3 and status in {FINISHED} order by ci_run_id desc limit 20"
                ),
                vals![project_id, branch, run_id],
            )
            .await?;
        if !on_branch.is_empty() {
            let green = on_branch.iter().filter(|r| r.0 == "success").count();
            f.insert(
                "branch_pass_rate".into(),
                green as f64 / on_branch.len() as f64,
            );
            let streak = on_branch.iter().take_while(|r| failed(&r.0)).count();
            f.insert("failure_streak".into(), streak as f64);
        }
        let last_green: Option<(Option<i64>, i64)> = tx
            .opt(
                "select finished_at, created_at from ci_run where project_id = $1 \
                 and branch = $2 and ci_run_id < $3 and status = 'success' \
                 order by ci_run_id desc limit 1",
                vals![project_id, branch, run_id],
            )
            .await?;
        if let Some((finished, created)) = last_green {
            let hours = (at - finished.unwrap_or(created)).max(0) as f64 / 3_600_000.0;
            f.insert("hours_since_green".into(), hours.min(720.0));
        }
        let (default_branch,): (String,) = tx
            .one(
                "select default_branch from project where project_id = $1",
                vals![project_id],
            )
            .await?;
        f.insert(
            "default_branch".into(),
            if *branch == default_branch { 1.0 } else { 0.0 },
        );
    }
    if let Some(author) = &new.author {
        let theirs: Vec<(String,)> = tx
            .all(
                &format!(
                    "select status from ci_run where project_id = $1 and author = $2 \
                     and ci_run_id < $3 and status in {FINISHED} order by ci_run_id desc limit 10"
                ),
                vals![project_id, author, run_id],
            )
            .await?;
        let failures = theirs.iter().filter(|r| failed(&r.0)).count();
        f.insert("author_failures".into(), failures as f64);
    }
    if let Some(lines) = new.change.lines {
        f.insert("change_lines".into(), lines as f64);
    }
    Ok(f)
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    risk_model_id: i64,
    project: String,
    version: i64,
    state: String,
    params: String,
    threshold: f64,
    calibration_runs: i64,
    train_from: Option<i64>,
    train_to: Option<i64>,
    metrics: Option<String>,
    note: String,
    created_by: String,
    created_at: i64,
    promoted_at: Option<i64>,
    retired_at: Option<i64>,
    scored: i64,
    scored_failed: i64,
    scored_passed: i64,
}

const MODEL_SELECT: &str = "select m.risk_model_id, p.slug as project, \
    cast(m.version as bigint) as version, m.state, m.params, m.threshold, \
    cast(m.calibration_runs as bigint) as calibration_runs, m.train_from, m.train_to, m.metrics, \
    m.note, m.created_by, m.created_at, m.promoted_at, m.retired_at, \
    cast(m.scored as bigint) as scored, cast(m.scored_failed as bigint) as scored_failed, \
    cast(m.scored_passed as bigint) as scored_passed \
    from risk_model m join project p on p.project_id = m.project_id";

impl ModelRow {
    fn into_version(self) -> StoreResult<ModelVersion> {
        Ok(ModelVersion {
            id: self.risk_model_id,
            project: self.project,
            version: self.version,
            state: self.state.parse().map_err(StoreError::Other)?,
            params: parse_params(&self.params)?,
            threshold: self.threshold,
            calibration_runs: self.calibration_runs,
            train_from: self.train_from,
            train_to: self.train_to,
            held_out: match self.metrics {
                Some(m) => Some(
                    serde_json::from_str::<HeldOut>(&m)
                        .map_err(|e| StoreError::Other(format!("model metrics: {e}")))?,
                ),
                None => None,
            },
            note: self.note,
            created_by: self.created_by,
            created_at: self.created_at,
            promoted_at: self.promoted_at,
            retired_at: self.retired_at,
            scored: self.scored,
            scored_failed: self.scored_failed,
            scored_passed: self.scored_passed,
        })
    }
}

/// A project's model versions, newest first.
pub async fn models(db: &Db, project_id: i64) -> StoreResult<Vec<ModelVersion>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<ModelRow> = tx
        .all(
            &format!("{MODEL_SELECT} where m.project_id = $1 order by m.version desc"),
            vals![project_id],
        )
        .await?;
    tx.commit().await?;
    rows.into_iter().map(ModelRow::into_version).collect()
}

pub async fn model(db: &Db, model_id: i64) -> StoreResult<ModelVersion> {
    let mut tx = Tx::read(db).await?;
    let row: Option<ModelRow> = tx
        .opt(
            &format!("{MODEL_SELECT} where m.risk_model_id = $1"),
            vals![model_id],
        )
        .await?;
    tx.commit().await?;
    row.ok_or_else(|| StoreError::NotFound(format!("no model version {model_id}")))?
        .into_version()
}

/// The project's model version `version`.
pub async fn model_by_version(db: &Db, project_id: i64, version: i64) -> StoreResult<ModelVersion> {
    let mut tx = Tx::read(db).await?;
    let row: Option<ModelRow> = tx
        .opt(
            &format!("{MODEL_SELECT} where m.project_id = $1 and m.version = $2"),
            vals![project_id, version],
        )
        .await?;
    tx.commit().await?;
    row.ok_or_else(|| StoreError::NotFound(format!("no model version v{version}")))?
        .into_version()
}

/// Stores a new version in shadow; returns it.
#[allow(clippy::too_many_arguments)]
async fn insert_version(
    db: &Db,
    project_id: i64,
    params: &ModelParams,
    threshold: f64,
    window: Option<(i64, i64)>,
    held_out: Option<&HeldOut>,
    note: &str,
    actor: &Actor,
    now: i64,
) -> StoreResult<ModelVersion> {
    if !(0.0..=1.0).contains(&threshold) || threshold.is_nan() {
        return Err(StoreError::Invalid(format!(
            "threshold: a score between 0 and 1 (got {threshold})"
        )));
    }
    let params_json =
        serde_json::to_string(params).map_err(|e| StoreError::Other(e.to_string()))?;
    let metrics = held_out
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Other(e.to_string()))?;
    let mut tx = Tx::write(db).await?;
    ensure_default_model(&mut tx, project_id, now).await?;
    let (next,): (i64,) = tx
        .one(
            "select cast(coalesce(max(version), 0) + 1 as bigint) from risk_model where project_id = $1",
            vals![project_id],
        )
        .await?;
    let (id,): (i64,) = tx
        .one(
            "insert into risk_model (project_id, version, kind, state, params, threshold, \
             calibration_runs, train_from, train_to, metrics, note, created_by, created_at) \
             values ($1, $2, $3, 'shadow', $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             returning risk_model_id",
            vals![
                project_id,
                next,
                params.kind(),
                params_json,
                threshold,
                DEFAULT_CALIBRATION_RUNS,
                window.map(|w| w.0),
                window.map(|w| w.1),
                metrics,
                note,
                actor.username.clone().unwrap_or_else(|| "system".into()),
                now
            ],
        )
        .await?;
    tx.audit(&NewAuditEvent::new(
        actor,
        "predictor.model_created",
        Some(&format!("project {project_id} model v{next}")),
        Some(format!("{} model in shadow; {note}", params.kind())),
    ))
    .await?;
    tx.commit().await?;
    model(db, id).await
}

/// A new rules version (in shadow) from the editor's lines.
pub async fn create_rules_version(
    db: &Db,
    project_id: i64,
    lines: &str,
    threshold: f64,
    note: &str,
    actor: &Actor,
) -> StoreResult<ModelVersion> {
    let rules = RulesModel::parse_lines(lines).map_err(StoreError::Invalid)?;
    insert_version(
        db,
        project_id,
        &ModelParams::Rules(rules),
        threshold,
        None,
        None,
        note,
        actor,
        now_ms(),
    )
    .await
}

/// The finished runs of a project started in `[from, to)` with their features, oldest first.
pub async fn samples(
    db: &Db,
    project_id: i64,
    from: i64,
    to: i64,
) -> StoreResult<Vec<(i64, i64, Sample)>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<(i64, i64, String, String)> = tx
        .all(
            &format!(
                "select r.ci_run_id, coalesce(r.started_at, r.created_at), r.status, f.features \
                 from ci_run r join run_features f on f.ci_run_id = r.ci_run_id \
                 where r.project_id = $1 and r.status in {FINISHED} \
                 and coalesce(r.started_at, r.created_at) >= $2 \
                 and coalesce(r.started_at, r.created_at) < $3 order by r.ci_run_id"
            ),
            vals![project_id, from, to],
        )
        .await?;
    tx.commit().await?;
    rows.into_iter()
        .map(|(id, at, status, features)| {
            let features: FeatureValues = serde_json::from_str(&features)
                .map_err(|e| StoreError::Other(format!("run {id} features: {e}")))?;
            Ok((
                id,
                at,
                Sample {
                    features,
                    failed: status != "success",
                },
            ))
        })
        .collect()
}

/// Trains a learned version on the project's finished runs started in `[from, to)` and stores
/// it in shadow with its held-out metrics. `now` is when it starts scoring.
pub async fn train_learned(
    db: &Db,
    project_id: i64,
    from: i64,
    to: i64,
    threshold: f64,
    actor: &Actor,
    now: i64,
) -> StoreResult<ModelVersion> {
    let rows = samples(db, project_id, from, to).await?;
    let samples: Vec<Sample> = rows.into_iter().map(|r| r.2).collect();
    let features: Vec<&str> = predictor::FEATURES.iter().map(|f| f.key).collect();
    let (model, held) = predictor::train(&samples, &features).map_err(StoreError::Invalid)?;
    let note = format!(
        "logistic regression + {} on {} runs; held-out AUC {}, Brier {}",
        model.calibrator.name(),
        samples.len(),
        held.auc.map_or("n/a".into(), |v| format!("{v:.3}")),
        held.brier.map_or("n/a".into(), |v| format!("{v:.3}")),
    );
    insert_version(
        db,
        project_id,
        &ModelParams::Learned(model),
        threshold,
        Some((from, to)),
        Some(&held),
        &note,
        actor,
        now,
    )
    .await
}

/// Makes a version the project's active one; the active one retires. A version that has never
/// been active must have finished its calibration period (see [`ModelVersion::not_ready`]).
pub async fn promote(db: &Db, model_id: i64, actor: &Actor) -> StoreResult<ModelVersion> {
    let target = model(db, model_id).await?;
    if let Some(why) = target.not_ready() {
        return Err(StoreError::Conflict(format!(
            "v{} cannot be made active: {why}",
            target.version
        )));
    }
    let now = now_ms();
    let mut tx = Tx::write(db).await?;
    let lock = tx.for_update("m");
    let previous: Vec<(i64, i64)> = tx
        .all(
            &format!(
                "select m.risk_model_id, cast(m.version as bigint) from risk_model m where m.project_id = \
                 (select project_id from risk_model where risk_model_id = $1) \
                 and m.state = 'active' and m.risk_model_id <> $1{lock}"
            ),
            vals![model_id],
        )
        .await?;
    for (id, _) in &previous {
        tx.execute(
            "update risk_model set state = 'retired', retired_at = $2 where risk_model_id = $1",
            vals![*id, now],
        )
        .await?;
    }
    let replaced: Vec<String> = previous.iter().map(|(_, v)| format!("v{v}")).collect();
    let changed = tx
        .execute(
            "update risk_model set state = 'active', promoted_at = $2, retired_at = null \
             where risk_model_id = $1 and state <> 'active'",
            vals![model_id, now],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "v{} is already active",
            target.version
        )));
    }
    tx.audit(&NewAuditEvent::new(
        actor,
        "predictor.model_promoted",
        Some(&format!("{} model v{}", target.project, target.version)),
        Some(if replaced.is_empty() {
            "active now".to_string()
        } else {
            format!(
                "active now; {} retired (one click from active)",
                replaced.join(", ")
            )
        }),
    ))
    .await?;
    tx.commit().await?;
    model(db, model_id).await
}

/// Saves a version's alert threshold (audited with the old and new value).
pub async fn set_threshold(
    db: &Db,
    model_id: i64,
    threshold: f64,
    actor: &Actor,
) -> StoreResult<ModelVersion> {
    if !(0.0..=1.0).contains(&threshold) || threshold.is_nan() {
        return Err(StoreError::Invalid(format!(
            "threshold: a score between 0 and 1 (got {threshold})"
        )));
    }
    let before = model(db, model_id).await?;
    let mut tx = Tx::write(db).await?;
    tx.execute(
        "update risk_model set threshold = $2 where risk_model_id = $1",
        vals![model_id, threshold],
    )
    .await?;
    tx.audit(&NewAuditEvent::new(
        actor,
        "predictor.threshold_saved",
        Some(&format!("{} model v{}", before.project, before.version)),
        Some(format!("threshold {} → {}", before.threshold, threshold)),
    ))
    .await?;
    tx.commit().await?;
    model(db, model_id).await
}

/// The finished runs a version scored, started in `[from, to)`, ordered by score (ties by run
/// id), from the in-memory copy brought up to date by this call.
pub async fn scored_runs(
    db: &Db,
    model_id: i64,
    from: i64,
    to: i64,
) -> StoreResult<Vec<ScoredRun>> {
    super::score_cache::scored_in(db, model_id, from, to).await
}

/// One row of the predictions export.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub run_id: i64,
    pub external_id: String,
    pub at: i64,
    pub model_id: i64,
    pub model_version: i64,
    pub score: f64,
    /// `failed`, `passed`, or `pending` while the run has no outcome (or was cancelled).
    pub outcome: &'static str,
    pub features: FeatureValues,
}

/// Every prediction of the project's models (or of one version) for runs started in
/// `[from, to)`, oldest run first, at most `limit`.
pub async fn predictions(
    db: &Db,
    project_id: i64,
    version: Option<i64>,
    from: i64,
    to: i64,
    limit: i64,
) -> StoreResult<Vec<PredictionRow>> {
    let mut tx = Tx::read(db).await?;
    type Row = (i64, String, i64, i64, i64, f64, String, Option<String>);
    let rows: Vec<Row> = tx
        .all(
            "select r.ci_run_id, r.external_id, coalesce(r.started_at, r.created_at), \
             m.risk_model_id, cast(m.version as bigint), x.score, r.status, f.features \
             from risk_prediction x join risk_model m on m.risk_model_id = x.risk_model_id \
             join ci_run r on r.ci_run_id = x.ci_run_id \
             left join run_features f on f.ci_run_id = r.ci_run_id \
             where m.project_id = $1 and ($2 = 0 or m.version = $2) \
             and coalesce(r.started_at, r.created_at) >= $3 \
             and coalesce(r.started_at, r.created_at) < $4 \
             order by r.ci_run_id, m.version limit $5",
            vals![project_id, version.unwrap_or(0), from, to, limit],
        )
        .await?;
    tx.commit().await?;
    rows.into_iter()
        .map(
            |(run_id, external_id, at, model_id, model_version, score, status, f)| {
                let features = match f {
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| StoreError::Other(format!("run {run_id} features: {e}")))?,
                    None => FeatureValues::new(),
                };
                Ok(PredictionRow {
                    run_id,
                    external_id,
                    at,
                    model_id,
                    model_version,
                    score,
                    outcome: match status.as_str() {
                        "success" => "passed",
                        "failure" | "error" => "failed",
                        _ => "pending",
                    },
                    features,
                })
            },
        )
        .collect()
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    risk_alert_id: i64,
    project: String,
    kind: String,
    ci_run_id: Option<i64>,
    external_id: Option<String>,
    version: Option<i64>,
    score: Option<f64>,
    threshold: Option<f64>,
    message: String,
    opened_at: i64,
    acknowledged_at: Option<i64>,
    acknowledged_by: Option<String>,
}

const ALERT_SELECT: &str = "select a.risk_alert_id, p.slug as project, a.kind, a.ci_run_id, \
    r.external_id, cast(m.version as bigint) as version, a.score, a.threshold, a.message, \
    a.opened_at, a.acknowledged_at, a.acknowledged_by from risk_alert a \
    join project p on p.project_id = a.project_id \
    left join ci_run r on r.ci_run_id = a.ci_run_id \
    left join risk_model m on m.risk_model_id = a.risk_model_id";

impl From<AlertRow> for RiskAlert {
    fn from(r: AlertRow) -> RiskAlert {
        RiskAlert {
            id: r.risk_alert_id,
            project: r.project,
            kind: if r.kind == "drift" {
                AlertKind::Drift
            } else {
                AlertKind::Risk
            },
            run_id: r.ci_run_id,
            run_external_id: r.external_id,
            model_version: r.version,
            score: r.score,
            threshold: r.threshold,
            message: r.message,
            opened_at: r.opened_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
        }
    }
}

/// A project's alerts, unacknowledged first, then newest first; at most `limit`.
pub async fn alerts(db: &Db, project_id: i64, limit: i64) -> StoreResult<Vec<RiskAlert>> {
    let mut tx = Tx::read(db).await?;
    let rows: Vec<AlertRow> = tx
        .all(
            &format!(
                "{ALERT_SELECT} where a.project_id = $1 \
                 order by case when a.acknowledged_at is null then 0 else 1 end, \
                 a.opened_at desc, a.risk_alert_id desc limit $2"
            ),
            vals![project_id, limit],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(RiskAlert::from).collect())
}

/// The alert raised for a run, if any.
pub async fn alert_for_run(db: &Db, run_id: i64) -> StoreResult<Option<RiskAlert>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<AlertRow> = tx
        .opt(
            &format!("{ALERT_SELECT} where a.ci_run_id = $1 and a.kind = 'risk'"),
            vals![run_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(RiskAlert::from))
}

/// Acknowledges an alert; the time from opening to this is the response time. Acknowledging
/// twice keeps the first acknowledgement.
pub async fn acknowledge(db: &Db, alert_id: i64, actor: &Actor) -> StoreResult<RiskAlert> {
    acknowledge_at(db, alert_id, actor, now_ms()).await
}

/// [`acknowledge`] at a given time (history written by the demo data).
pub async fn acknowledge_at(
    db: &Db,
    alert_id: i64,
    actor: &Actor,
    now: i64,
) -> StoreResult<RiskAlert> {
    let who = actor.username.clone().unwrap_or_else(|| "system".into());
    let mut tx = Tx::write(db).await?;
    let found: Option<(i64,)> = tx
        .opt(
            "select risk_alert_id from risk_alert where risk_alert_id = $1",
            vals![alert_id],
        )
        .await?;
    if found.is_none() {
        return Err(StoreError::NotFound(format!("no alert {alert_id}")));
    }
    let changed = tx
        .execute(
            "update risk_alert set acknowledged_at = $2, acknowledged_by = $3 \
             where risk_alert_id = $1 and acknowledged_at is null",
            vals![alert_id, now, &who],
        )
        .await?;
    if changed > 0 {
        tx.audit(&NewAuditEvent::new(
            actor,
            "predictor.alert_acknowledged",
            Some(&format!("alert {alert_id}")),
            None,
        ))
        .await?;
    }
    let row: AlertRow = tx
        .one(
            &format!("{ALERT_SELECT} where a.risk_alert_id = $1"),
            vals![alert_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Opens a drift alert unless one with the same key exists; returns whether it was opened.
pub async fn open_drift_alert(
    db: &Db,
    project_id: i64,
    model_id: Option<i64>,
    dedup_key: &str,
    message: &str,
    now: i64,
) -> StoreResult<bool> {
    open_model_alert(
        db,
        project_id,
        model_id,
        "predictor.drift",
        dedup_key,
        message,
        now,
    )
    .await
}

/// Opens an alert about the active model (shown with the drift alerts), unless one with the
/// same key exists, and raises its event (`predictor.drift` or `calibration.missed`).
pub async fn open_model_alert(
    db: &Db,
    project_id: i64,
    model_id: Option<i64>,
    event_kind: &str,
    dedup_key: &str,
    message: &str,
    now: i64,
) -> StoreResult<bool> {
    let mut tx = Tx::write(db).await?;
    let opened = tx
        .execute(
            "insert into risk_alert (project_id, kind, risk_model_id, dedup_key, message, opened_at) \
             values ($1, 'drift', $2, $3, $4, $5) on conflict (project_id, dedup_key) do nothing",
            vals![project_id, model_id, dedup_key, message, now],
        )
        .await?;
    if opened > 0 {
        super::deployments::linked_event(
            &mut tx,
            project_id,
            event_kind,
            "warning",
            message,
            None,
            Some("/calibration".into()),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(opened > 0)
}

/// Claims the project's retraining due at `due` (once across replicas): true when this caller
/// should retrain now.
pub async fn claim_retrain(db: &Db, project_id: i64, due: i64, now: i64) -> StoreResult<bool> {
    let mut tx = Tx::write(db).await?;
    let claimed = tx
        .execute(
            "insert into predictor_schedule (project_id, last_attempt_at, last_result) \
             values ($1, $2, 'claimed') on conflict (project_id) do update \
             set last_attempt_at = excluded.last_attempt_at, last_result = 'claimed' \
             where predictor_schedule.last_attempt_at < $3",
            vals![project_id, now, due],
        )
        .await?;
    tx.commit().await?;
    Ok(claimed > 0)
}

/// Records how the last retraining went (shown on the page).
pub async fn record_retrain(db: &Db, project_id: i64, result: &str) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    tx.execute(
        "insert into predictor_schedule (project_id, last_attempt_at, last_result) \
         values ($1, $3, $2) on conflict (project_id) do update \
         set last_result = excluded.last_result",
        vals![project_id, result, now_ms()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// When the project was last retrained and how it went.
pub async fn last_retrain(db: &Db, project_id: i64) -> StoreResult<Option<(i64, String)>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(i64, String)> = tx
        .opt(
            "select last_attempt_at, last_result from predictor_schedule where project_id = $1",
            vals![project_id],
        )
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Finished runs of each outcome a version needs; re-exported for pages.
pub const MIN_PER_CLASS: i64 = PROMOTE_MIN_PER_CLASS;

/// The score the project's active version gave `run_id` (or, when it did not score it, the
/// newest version that did), with the run's features and alert.
pub async fn run_risk(db: &Db, run_id: i64) -> StoreResult<Option<crate::model::RunRisk>> {
    let mut tx = Tx::read(db).await?;
    let row: Option<(f64, i64, f64, Option<String>)> = tx
        .opt(
            "select x.score, cast(m.version as bigint), m.threshold, f.features \
             from risk_prediction x join risk_model m on m.risk_model_id = x.risk_model_id \
             left join run_features f on f.ci_run_id = x.ci_run_id \
             where x.ci_run_id = $1 \
             order by case when m.state = 'active' then 0 else 1 end, m.version desc limit 1",
            vals![run_id],
        )
        .await?;
    tx.commit().await?;
    let Some((score, version, threshold, features)) = row else {
        return Ok(None);
    };
    let features = match features {
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| StoreError::Other(format!("run {run_id} features: {e}")))?,
        None => FeatureValues::new(),
    };
    Ok(Some(crate::model::RunRisk {
        run_id,
        score,
        version,
        threshold,
        features,
        alert: alert_for_run(db, run_id).await?,
    }))
}
