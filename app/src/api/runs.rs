//! CI runs for people: the runs list and a run's page (every signed-in role).

use crate::model::{RunDetail, RunFilter, RunPage};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

#[server(endpoint = "runs/list")]
pub async fn list_runs(filter: RunFilter) -> Result<RunPage, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        crate::store::runs::list(&state.db, &filter)
            .await
            .map_err(AppError::from),
    )
}

/// Problem cases shown on a run's page before "and N more".
pub const PROBLEM_CASES_SHOWN: i64 = 200;

#[server(endpoint = "runs/detail")]
pub async fn get_run(id: i64) -> Result<RunDetail, AppError> {
    use super::guard::*;
    use crate::store::{projects, runs};
    let (state, _) = require(Role::Viewer).await?;
    respond(
        async {
            let run = runs::get(&state.db, id).await?.ok_or_else(|| {
                AppError::NotFound(format!(
                    "there is no run {id} (runs past their retention are purged)"
                ))
            })?;
            let project = projects::get(&state.db, &run.project).await?;
            let (problem_cases, more_problems) =
                runs::problem_cases(&state.db, id, PROBLEM_CASES_SHOWN).await?;
            let reports = runs::report_count(&state.db, id).await?;
            let risk = crate::store::predictor::run_risk(&state.db, id).await?;
            let detail_purged_at = crate::store::retention::detail_purged_at(&state.db, id).await?;
            Ok(RunDetail {
                detail_purged_at,
                risk,
                run,
                repository_url: project.and_then(|p| p.repository_url),
                problem_cases,
                more_problems,
                reports,
            })
        }
        .await,
    )
}
