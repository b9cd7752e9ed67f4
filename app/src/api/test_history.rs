//! One test across runs, flaky tests, and quarantine. Reading is for every signed-in role;
//! quarantining a test is for approvers (team leads) and admins.

use crate::logic::flaky::FlakyTest;
use crate::model::{Quarantine, TestHistory};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

/// Executions the test page lists and charts.
pub const HISTORY_SHOWN: i64 = 200;

/// Default flaky-test window, in days (the and the API's default).
pub const FLAKY_DAYS: i64 = 14;

#[server(endpoint = "tests/history")]
pub async fn get_test_history(id: i64) -> Result<TestHistory, AppError> {
    use super::guard::*;
    use crate::store::test_history;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        async {
            let test = test_history::get(&state.db, id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("there is no test {id}")))?;
            let (executions, total) =
                test_history::executions(&state.db, id, HISTORY_SHOWN).await?;
            let duration_chart = crate::charts::duration::render(&executions);
            Ok(TestHistory {
                test,
                executions,
                total,
                duration_chart,
            })
        }
        .await,
    )
}

#[server(endpoint = "tests/flaky")]
pub async fn list_flaky(project: String, days: i64) -> Result<Vec<FlakyTest>, AppError> {
    use super::guard::*;
    use crate::store::{now_ms, projects, runs};
    let (state, _) = require(Role::Viewer).await?;
    respond(
        async {
            if !(1..=365).contains(&days) {
                return Err(AppError::Invalid(format!(
                    "the window is 1 to 365 days (got {days})"
                )));
            }
            let p = projects::get(&state.db, &project)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("there is no project `{project}`")))?;
            Ok(runs::flaky_tests(&state.db, p.id, now_ms() - days * 86_400_000).await?)
        }
        .await,
    )
}

/// Quarantines the test with a reason (`quarantine = true`) or releases it. Audited.
#[server(endpoint = "tests/quarantine")]
pub async fn set_quarantine(
    test_id: i64,
    quarantine: bool,
    #[server(default)] reason: String,
) -> Result<Option<Quarantine>, AppError> {
    use super::guard::*;
    use crate::store::test_history;
    let (state, user) = require(Role::Approver).await?;
    respond(
        test_history::set_quarantine(
            &state.db,
            test_id,
            quarantine.then_some(reason.as_str()),
            &actor(&user),
        )
        .await
        .map_err(AppError::from),
    )
}
