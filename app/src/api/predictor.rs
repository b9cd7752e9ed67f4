//! The failure-risk predictor for people: the calibration page's data, and what reviewers do
//! there (save a threshold, promote a version or bring the previous one back, write rules,
//! retrain now, acknowledge alerts). Every function checks the session's role; reading is for
//! everyone signed in, tuning for reviewers and above.

use crate::model::{CalibrationPageData, ModelVersion, RiskAlert};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// Ranges the page offers, in days.
pub const RANGES: [i64; 4] = [7, 30, 90, 365];

#[server(endpoint = "calibration/page")]
pub async fn calibration_page(
    project: Option<String>,
    version: Option<i64>,
    compare: Option<i64>,
    days: Option<i64>,
    binning: Option<String>,
) -> Result<CalibrationPageData, AppError> {
    use super::guard::*;
    use crate::logic::calibration::Binning;
    use crate::logic::predictor::{ModelParams, RulesModel};
    use crate::logic::report::split_sorted;
    use crate::model::ModelState;
    use crate::store::calibration::{calibration, ReportQuery};
    use crate::store::{now_ms, predictor, projects, StoreError};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let all = projects::list(&state.db).await?;
            let slugs: Vec<String> = all.iter().map(|p| p.slug.to_string()).collect();
            let chosen = match &project {
                Some(p) => all
                    .iter()
                    .find(|x| x.slug.as_str() == p.as_str())
                    .ok_or_else(|| StoreError::NotFound(format!("no project `{p}`")))?,
                None => all.first().ok_or_else(|| {
                    StoreError::NotFound("no project yet: create one under Projects".into())
                })?,
            };
            let days = days.unwrap_or(30);
            if !(1..=730).contains(&days) {
                return Err(StoreError::Invalid(format!("days: 1 to 730 (got {days})")).into());
            }
            let binning = match binning.as_deref() {
                None | Some("") | Some("uniform") => Binning::Uniform,
                Some("quantile") => Binning::Quantile,
                Some(other) => {
                    return Err(StoreError::Invalid(format!(
                        "binning: uniform or quantile (got `{other}`)"
                    ))
                    .into())
                }
            };
            let now = now_ms();
            let models = predictor::models(&state.db, chosen.id).await?;
            let has_model = !models.is_empty()
                && (version.is_some() || models.iter().any(|m| m.state == ModelState::Active));
            let view = if has_model {
                Some(
                    calibration(
                        &state.db,
                        chosen.id,
                        chosen.slug.as_str(),
                        &ReportQuery {
                            version,
                            from: now - days * 86_400_000,
                            to: now,
                            threshold: None,
                            binning,
                            bins: 10,
                            compare,
                        },
                    )
                    .await?,
                )
            } else {
                None
            };
            let (failed_scores, passed_scores) = match &view {
                Some(v) => {
                    let runs =
                        predictor::scored_runs(&state.db, v.model.id, v.report.from, v.report.to)
                            .await?;
                    split_sorted(&runs)
                }
                None => (Vec::new(), Vec::new()),
            };
            let charts = view
                .as_ref()
                .map(crate::charts::calibration::all)
                .unwrap_or_default();
            let rules_lines = models
                .iter()
                .find_map(|m| match &m.params {
                    ModelParams::Rules(r) => Some(r.to_lines()),
                    _ => None,
                })
                .unwrap_or_else(|| RulesModel::seeds().to_lines());
            Ok(CalibrationPageData {
                projects: slugs,
                project: chosen.slug.to_string(),
                days,
                binning,
                alerts: predictor::alerts(&state.db, chosen.id, 50).await?,
                last_retrain: predictor::last_retrain(&state.db, chosen.id).await?,
                models,
                view,
                failed_scores,
                passed_scores,
                charts,
                rules_lines,
                can_tune: user.role.allows(Role::Reviewer),
                now,
            })
        }
        .await,
    )
}

#[server(endpoint = "calibration/threshold")]
pub async fn save_threshold(model_id: i64, threshold: f64) -> Result<ModelVersion, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Reviewer).await?;
    respond(
        crate::store::predictor::set_threshold(&state.db, model_id, threshold, &actor(&user))
            .await
            .map_err(Into::into),
    )
}

#[server(endpoint = "calibration/promote")]
pub async fn promote_model(model_id: i64) -> Result<ModelVersion, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Reviewer).await?;
    respond(
        crate::store::predictor::promote(&state.db, model_id, &actor(&user))
            .await
            .map_err(Into::into),
    )
}

#[server(endpoint = "calibration/rules")]
pub async fn save_rules(
    project: String,
    lines: String,
    threshold: f64,
    note: String,
) -> Result<ModelVersion, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Reviewer).await?;
    respond(
        async {
            let p = crate::store::projects::require(&state.db, &project).await?;
            Ok(crate::store::predictor::create_rules_version(
                &state.db,
                p.id,
                &lines,
                threshold,
                note.trim(),
                &actor(&user),
            )
            .await?)
        }
        .await,
    )
}

/// Trains a learned version on the last 90 days now (it starts in shadow).
#[server(endpoint = "calibration/retrain")]
pub async fn retrain_now(project: String) -> Result<ModelVersion, AppError> {
    use super::guard::*;
    use crate::model::ModelState;
    let (state, user) = require(Role::Reviewer).await?;
    respond(
        async {
            let db = &state.db;
            let p = crate::store::projects::require(db, &project).await?;
            let now = crate::store::now_ms();
            let threshold = crate::store::predictor::models(db, p.id)
                .await?
                .iter()
                .find(|m| m.state == ModelState::Active)
                .map_or(0.5, |m| m.threshold);
            let m = crate::store::predictor::train_learned(
                db,
                p.id,
                now - 90 * 86_400_000,
                now,
                threshold,
                &actor(&user),
                now,
            )
            .await?;
            crate::store::predictor::record_retrain(
                db,
                p.id,
                &format!("trained v{} on demand by {}", m.version, user.username),
            )
            .await
            .ok();
            Ok(m)
        }
        .await,
    )
}

#[server(endpoint = "calibration/acknowledge")]
pub async fn acknowledge_alert(alert_id: i64) -> Result<RiskAlert, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Reviewer).await?;
    respond(
        crate::store::predictor::acknowledge(&state.db, alert_id, &actor(&user))
            .await
            .map_err(Into::into),
    )
}
