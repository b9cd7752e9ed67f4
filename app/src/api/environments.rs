//! The rules of each environment, edited by admins: protection (approvals, who approves,
//! self-approval, wait timer, branches and tags, promotion order, soak, monitoring, automatic
//! rollback), quality gates, freeze windows and the pre-release checklist. Every change is
//! validated and audited in the store.

use crate::model::Environment;
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;

#[server(endpoint = "environments/rules")]
pub async fn environment_rules(project: String) -> Result<Vec<Environment>, AppError> {
    use super::guard::*;
    let (state, _) = require(Role::Admin).await?;
    respond(
        crate::store::environments::list(&state.db, &project)
            .await
            .map_err(AppError::from),
    )
}

/// A checkbox sends `on` when ticked and nothing otherwise.
#[cfg(feature = "ssr")]
fn ticked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}

#[cfg(feature = "ssr")]
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[allow(clippy::too_many_arguments)]
#[server(endpoint = "environments/protection")]
pub async fn save_protection(
    environment_id: i64,
    required_approvals: i64,
    approver_roles: String,
    approver_users: String,
    allow_self_approval: Option<String>,
    wait_timer_s: i64,
    ref_pattern: String,
    require_previous: Option<String>,
    min_soak_s: i64,
    monitoring_window_s: i64,
    auto_rollback: Option<String>,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::model::Protection;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let roles = list(&approver_roles);
            for r in &roles {
                if !Role::ALL.iter().any(|x| x.as_str() == r) {
                    return Err(AppError::Invalid(format!(
                        "approver roles: `{r}` is not a role (viewer, reviewer, approver, admin)"
                    )));
                }
            }
            let p = Protection {
                required_approvals,
                approver_roles: roles,
                approver_users: list(&approver_users),
                allow_self_approval: ticked(&allow_self_approval),
                wait_timer_s,
                ref_pattern: ref_pattern.trim().to_string(),
                require_previous: ticked(&require_previous),
                min_soak_s,
                monitoring_window_s,
                auto_rollback: ticked(&auto_rollback),
            };
            crate::store::environments::update_protection(
                &state.db,
                environment_id,
                &p,
                &actor(&admin),
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

/// Replaces the gates with those written one per line (`metric higher|lower warn fail weight
/// [key]`); an empty text removes them all.
#[server(endpoint = "environments/gates")]
pub async fn save_gates(environment_id: i64, gates: String) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::environments::GateSpec;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let specs: Vec<GateSpec> = crate::logic::gates::parse_gate_lines(&gates)
                .map_err(AppError::Invalid)?
                .into_iter()
                .map(GateSpec::from)
                .collect();
            crate::store::environments::set_gates(
                &state.db,
                environment_id,
                &specs,
                &actor(&admin),
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

/// Replaces the checklist with the items written one per line.
#[server(endpoint = "environments/checklist")]
pub async fn save_checklist(environment_id: i64, items: String) -> Result<(), AppError> {
    use super::guard::*;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let titles: Vec<String> = items
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            crate::store::environments::set_checklist(
                &state.db,
                environment_id,
                &titles,
                &actor(&admin),
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

/// Adds a freeze: `kind = "once"` from `starts` to `ends` (RFC 3339 or `YYYY-MM-DDTHH:MM`, UTC),
/// or `"weekly"` from `starts` to `ends` as `Fri 18:00` (UTC).
#[server(endpoint = "environments/freeze_add")]
pub async fn add_freeze(
    environment_id: i64,
    kind: String,
    starts: String,
    ends: String,
    reason: String,
) -> Result<(), AppError> {
    use super::guard::*;
    use crate::logic::deploy::parse_week_minute;
    use crate::logic::time::parse_rfc3339;
    use crate::model::FreezeKind;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        async {
            let kind = match kind.as_str() {
                "once" => {
                    let at = |v: &str, what: &str| {
                        let v = v.trim();
                        // A `datetime-local` field sends `2026-12-24T18:00`: read it as UTC.
                        let full = if v.len() == 16 {
                            format!("{v}:00Z")
                        } else {
                            v.to_string()
                        };
                        parse_rfc3339(&full).map_err(|e| AppError::Invalid(format!("{what}: {e}")))
                    };
                    FreezeKind::Once {
                        starts_at: at(&starts, "starts")?,
                        ends_at: at(&ends, "ends")?,
                    }
                }
                "weekly" => FreezeKind::Weekly {
                    start: parse_week_minute(&starts)
                        .map_err(|e| AppError::Invalid(format!("starts: {e}")))?,
                    end: parse_week_minute(&ends)
                        .map_err(|e| AppError::Invalid(format!("ends: {e}")))?,
                },
                other => {
                    return Err(AppError::Invalid(format!(
                        "kind: `once` or `weekly`, not `{other}`"
                    )))
                }
            };
            crate::store::environments::add_freeze(
                &state.db,
                environment_id,
                &kind,
                &reason,
                &actor(&admin),
            )
            .await?;
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "environments/freeze_remove")]
pub async fn remove_freeze(freeze_id: i64) -> Result<(), AppError> {
    use super::guard::*;
    let (state, admin) = require(Role::Admin).await?;
    respond(
        crate::store::environments::remove_freeze(&state.db, freeze_id, &actor(&admin))
            .await
            .map(|_| ())
            .map_err(AppError::from),
    )
}
