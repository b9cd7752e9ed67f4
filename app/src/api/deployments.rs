//! Deployments for people: the approvals queue, a deployment's page (approve, reject,
//! override, checklist, rollback), the environments timeline and releases. Every function
//! checks the session's role; the store checks the environment's own rules (who may approve,
//! self-approval) again inside its transaction.

use crate::model::{
    DeploymentFilter, DeploymentPageData, DeploymentSummary, ReleaseComparison, ReleaseSummary,
    Timeline,
};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::{Role, User};

/// Deployments per page of the timeline.
pub const TIMELINE_PAGE: i64 = 50;

#[cfg(feature = "ssr")]
fn person(user: &User) -> crate::store::deployments::Person {
    crate::store::deployments::Person {
        user_id: user.id.0,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        ip: Some(super::guard::client_ip()),
    }
}

#[cfg(feature = "ssr")]
pub(super) fn requester(user: &User) -> crate::store::deployments::Requester {
    crate::store::deployments::Requester {
        user_id: Some(user.id.0),
        name: user.username.clone(),
        ip: Some(super::guard::client_ip()),
    }
}

#[server(endpoint = "deployments/page")]
pub async fn load_deployment(id: i64) -> Result<DeploymentPageData, AppError> {
    use super::guard::*;
    use crate::store::{deploy_views, deployments, projects};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            // Opening a held deployment re-checks it: a timer may have run out, a run finished.
            let pending = deployments::get(&state.db, id)
                .await?
                .summary
                .state
                .is_pending();
            if pending {
                deployments::refresh(&state.db, id).await?;
            }
            let detail = deployments::get(&state.db, id).await?;
            let rights = deploy_views::rights(&state.db, id, &person(&user)).await?;
            let stamp = deploy_views::stamp(&state.db, id).await?;
            let repository_url = projects::get(&state.db, &detail.summary.project)
                .await?
                .and_then(|p| p.repository_url);
            let health_svg = crate::charts::health::render(&detail);
            let risk = match detail.release.ci_run_id {
                Some(run) => crate::store::predictor::run_risk(&state.db, run).await?,
                None => None,
            };
            Ok(DeploymentPageData {
                risk,
                detail,
                rights,
                health_svg,
                now: crate::store::now_ms(),
                stamp,
                repository_url,
            })
        }
        .await,
    )
}

/// Changes whenever the deployment's page would: open pages poll it to reload.
#[server(endpoint = "deployments/stamp")]
pub async fn deployment_stamp(id: i64) -> Result<String, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        crate::store::deploy_views::stamp(&state.db, id)
            .await
            .map_err(AppError::from),
    )
}

/// Approves (`decision = "approve"`) or rejects (`"reject"`, comment required).
#[server(endpoint = "deployments/decide")]
pub async fn decide_deployment(
    id: i64,
    decision: String,
    comment: Option<String>,
) -> Result<(), AppError> {
    use super::guard::*;
    // Named approvers may hold any role: the environment's rules decide, in the store.
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let approve = match decision.as_str() {
                "approve" => true,
                "reject" => false,
                other => {
                    return Err(AppError::Invalid(format!(
                        "decision: `approve` or `reject`, not `{other}`"
                    )))
                }
            };
            crate::store::deployments::decide(
                &state.db,
                id,
                &person(&user),
                approve,
                comment.as_deref(),
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

/// Lets a deployment past failing gates (admins, with a written reason kept forever).
#[server(endpoint = "deployments/override")]
pub async fn override_deployment_gates(id: i64, reason: String) -> Result<(), AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Admin).await?;
    respond(
        crate::store::deployments::override_gates(&state.db, id, &person(&user), &reason)
            .await
            .map_err(AppError::from),
    )
}

/// Ticks (or unticks) a pre-release checklist item, in the ticker's name.
#[server(endpoint = "deployments/tick")]
pub async fn tick_checklist_item(id: i64, item_id: i64, ticked: bool) -> Result<(), AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Approver).await?;
    respond(
        crate::store::deployments::tick(&state.db, id, item_id, ticked, &person(&user))
            .await
            .map_err(AppError::from),
    )
}

/// Rolls a deployment back to one of the last three releases that succeeded there; returns
/// the rollback's id.
#[server(endpoint = "deployments/rollback")]
pub async fn rollback_deployment(
    id: i64,
    to_release: Option<i64>,
    reason: String,
) -> Result<i64, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Approver).await?;
    respond(
        async {
            // One click: the reason is optional (the history says who and when regardless).
            let reason = match reason.trim() {
                "" => "rolled back from the deployment page".to_string(),
                r => r.to_string(),
            };
            let (rollback, _) = crate::store::deployments::rollback(
                &state.db,
                id,
                to_release,
                &requester(&user),
                &reason,
            )
            .await?;
            Ok(rollback)
        }
        .await,
    )
}

#[server(endpoint = "deployments/cancel")]
pub async fn cancel_deployment(id: i64, reason: String) -> Result<(), AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Approver).await?;
    respond(
        crate::store::deployments::cancel(&state.db, id, &requester(&user), &reason)
            .await
            .map_err(AppError::from),
    )
}

/// The deployments waiting for the signed-in person's decision, newest first.
#[server(endpoint = "approvals/queue")]
pub async fn approval_queue() -> Result<Vec<DeploymentSummary>, AppError> {
    use super::guard::*;
    let (state, user) = require(Role::Viewer).await?;
    respond(
        crate::store::deployments::queue(&state.db, &person(&user))
            .await
            .map_err(AppError::from),
    )
}

/// The nav badge: how many deployments wait for the signed-in person (0 when signed out).
#[server(endpoint = "approvals/count")]
pub async fn approval_count() -> Result<usize, AppError> {
    use super::guard::*;
    let state = state()?;
    let Some(user) = signed_in(&state).await? else {
        return Ok(0);
    };
    respond(
        crate::store::deploy_views::queue_count(&state.db, &person(&user))
            .await
            .map_err(AppError::from),
    )
}

#[server(endpoint = "deployments/timeline")]
pub async fn deployments_timeline(filter: DeploymentFilter) -> Result<Timeline, AppError> {
    use super::guard::*;
    use crate::store::deployments::{self, ListFilter};
    let (state, _) = require(Role::Viewer).await?;
    respond(
        async {
            let state_filter = match filter.state.as_deref().filter(|s| !s.is_empty()) {
                Some(s) => Some(
                    s.parse()
                        .map_err(|e: String| AppError::Invalid(format!("state: {e}")))?,
                ),
                None => None,
            };
            let history = deployments::list(
                &state.db,
                &ListFilter {
                    project: filter.project.clone(),
                    environment: filter.environment.clone(),
                    state: state_filter,
                    pending: false,
                    before_id: filter.before_id,
                    limit: TIMELINE_PAGE + 1,
                },
            )
            .await?;
            let live =
                crate::store::deploy_views::live(&state.db, filter.project.as_deref()).await?;
            let mut history = history;
            let next_before_id = if history.len() as i64 > TIMELINE_PAGE {
                history.truncate(TIMELINE_PAGE as usize);
                history.last().map(|d| d.id)
            } else {
                None
            };
            Ok(Timeline {
                live,
                history,
                next_before_id,
            })
        }
        .await,
    )
}

#[server(endpoint = "releases/list")]
pub async fn list_releases(project: String) -> Result<Vec<ReleaseSummary>, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        crate::store::deploy_views::releases(&state.db, &project, 100)
            .await
            .map_err(AppError::from),
    )
}

#[server(endpoint = "releases/compare")]
pub async fn compare_releases(
    project: String,
    from: String,
    to: String,
) -> Result<ReleaseComparison, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Viewer).await?;
    respond(
        crate::store::deploy_views::compare(&state.db, &project, &from, &to)
            .await
            .map_err(AppError::from),
    )
}
