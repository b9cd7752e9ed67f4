//! Feature flags: everyone signed in reads the matrix and a flag's page (and may check which
//! environments give a key the flag); approvers (team leads) and admins create flags, change
//! them per environment and delete them. Every change is audited.

use crate::model::{FlagPageData, FlagsPageData};
use crate::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::Role;
#[cfg(feature = "ssr")]
use crate::store::StoreError;

/// A percentage typed in a form (`30`, `12.5`, `30%`) as a fraction.
#[cfg(feature = "ssr")]
fn percent_field(text: &str, field: &str) -> Result<f64, StoreError> {
    let t = text.trim().trim_end_matches('%').trim();
    let bad = || {
        StoreError::Invalid(format!(
            "{field}: a percentage from 0 to 100 (got `{}`)",
            text.trim()
        ))
    };
    let v: f64 = t.parse().map_err(|_| bad())?;
    if !v.is_finite() || !(0.0..=100.0).contains(&v) {
        return Err(bad());
    }
    Ok(v / 100.0)
}

/// A ramp's start from a form: `2026-12-01`, `2026-12-01T09:30` (both UTC) or RFC 3339;
/// empty means now.
#[cfg(feature = "ssr")]
fn start_field(text: &str, now: i64) -> Result<i64, StoreError> {
    use crate::logic::time::{parse_day, parse_rfc3339};
    let t = text.trim();
    let parsed = match t.len() {
        0 => return Ok(now),
        10 => parse_day(t).map(|d| d * crate::logic::dora::DAY_MS),
        16 => parse_rfc3339(&format!("{t}:00Z")),
        19 => parse_rfc3339(&format!("{t}Z")),
        _ => parse_rfc3339(t),
    };
    parsed.map_err(|e| StoreError::Invalid(format!("ramp start: {e} (UTC)")))
}

/// The ramp described by a form's fields, or none.
#[cfg(feature = "ssr")]
#[allow(clippy::too_many_arguments)]
fn ramp_fields(
    shape: &str,
    steps: &str,
    from: &str,
    to: &str,
    start: &str,
    days: &str,
    now: i64,
) -> Result<Option<crate::model::Ramp>, StoreError> {
    use crate::model::{Ramp, RampShape};
    let shape = match shape.trim() {
        "" | "none" => return Ok(None),
        "linear" => RampShape::Linear,
        "steps" => {
            let n: u32 = steps.trim().parse().map_err(|_| {
                StoreError::Invalid(format!(
                    "ramp steps: a whole number from 1 to 100 (got `{}`)",
                    steps.trim()
                ))
            })?;
            RampShape::Steps(n)
        }
        other => {
            return Err(StoreError::Invalid(format!(
                "ramp: none, linear or steps (got `{other}`)"
            )))
        }
    };
    let days_v: f64 = days.trim().parse().map_err(|_| {
        StoreError::Invalid(format!(
            "ramp length: a number of days (got `{}`)",
            days.trim()
        ))
    })?;
    if !days_v.is_finite() || days_v <= 0.0 || days_v > 365.0 {
        return Err(StoreError::Invalid(format!(
            "ramp length: more than 0 and at most 365 days (got {days_v})"
        )));
    }
    let starts_at = start_field(start, now)?;
    Ok(Some(Ramp {
        shape,
        from: percent_field(from, "ramp from")?,
        to: percent_field(to, "ramp to")?,
        starts_at,
        ends_at: starts_at + (days_v * crate::logic::dora::DAY_MS as f64).round() as i64,
    }))
}

/// The flag matrix of a project (the first one when none is named).
#[server(endpoint = "flags/list")]
pub async fn flags_page(project: Option<String>) -> Result<FlagsPageData, AppError> {
    use super::guard::*;
    use crate::store::{flags, kpis, now_ms};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let projects = kpis::project_slugs(&state.db).await?;
            let project = project
                .filter(|p| !p.trim().is_empty())
                .or_else(|| projects.first().cloned());
            let (list, environments) = match &project {
                Some(p) => flags::list(&state.db, p).await?,
                None => (Vec::new(), Vec::new()),
            };
            Ok(FlagsPageData {
                projects,
                project,
                environments,
                flags: list,
                now: now_ms(),
                can_edit: user.role.allows(Role::Approver),
            })
        }
        .await,
    )
}

/// One flag, its history, and (with `key`) what that key gets in each environment.
#[server(endpoint = "flags/page")]
pub async fn flag_page(id: i64, key: Option<String>) -> Result<FlagPageData, AppError> {
    use super::guard::*;
    use crate::logic::flags::{bucket, decide, rollout_at};
    use crate::model::{KeyCheck, KeyVerdict};
    use crate::store::{audit, flags, now_ms};
    let (state, user) = require(Role::Viewer).await?;
    respond(
        async {
            let flag = flags::get(&state.db, id).await?;
            let now = now_ms();
            // A flag deleted earlier under the same name had its own history.
            let history: Vec<_> =
                audit::for_target(&state.db, &flags::target(&flag.project, &flag.key), 50)
                    .await?
                    .into_iter()
                    .filter(|e| e.at >= flag.created_at)
                    .collect();
            let check = key
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .map(|k| {
                    let b = bucket(&flag.key, &k);
                    KeyCheck {
                        environments: flag
                            .settings
                            .iter()
                            .map(|s| {
                                let rollout = rollout_at(s, now);
                                let reason = decide(s, &k, b, rollout);
                                KeyVerdict {
                                    environment: s.environment.clone(),
                                    rollout,
                                    on: reason.on(),
                                    reason,
                                }
                            })
                            .collect(),
                        key: k,
                        bucket: b,
                    }
                });
            Ok(FlagPageData {
                flag,
                now,
                can_edit: user.role.allows(Role::Approver),
                history,
                check,
            })
        }
        .await,
    )
}

/// Creates a flag, off everywhere. Returns its id.
#[server(endpoint = "flags/create")]
pub async fn create_flag(
    project: String,
    key: String,
    description: String,
) -> Result<i64, AppError> {
    use super::guard::*;
    use crate::store::flags;
    let (state, user) = require(Role::Approver).await?;
    let by = super::deployments::requester(&user);
    respond(
        flags::create(&state.db, &project, &key, &description, &by)
            .await
            .map_err(AppError::from),
    )
}

/// Sets a flag in one environment from the flag page's form. Percentages are typed as
/// percentages and stored as fractions. Returns whether anything changed.
#[server(endpoint = "flags/set")]
#[allow(clippy::too_many_arguments)]
pub async fn set_flag(
    id: i64,
    environment: String,
    enabled: String,
    rollout: String,
    ramp: String,
    ramp_steps: String,
    ramp_from: String,
    ramp_to: String,
    ramp_start: String,
    ramp_days: String,
    allow: String,
    deny: String,
) -> Result<bool, AppError> {
    use super::guard::*;
    use crate::logic::flags::parse_keys;
    use crate::store::flags::{self, SettingChange};
    use crate::store::now_ms;
    let (state, user) = require(Role::Approver).await?;
    let by = super::deployments::requester(&user);
    respond(
        async {
            let enabled = match enabled.trim() {
                "true" | "on" => true,
                "false" | "off" => false,
                other => {
                    return Err(StoreError::Invalid(format!(
                        "enabled: true or false (got `{other}`)"
                    ))
                    .into())
                }
            };
            let mut change = SettingChange {
                enabled,
                rollout: percent_field(&rollout, "rollout")?,
                ramp: ramp_fields(
                    &ramp,
                    &ramp_steps,
                    &ramp_from,
                    &ramp_to,
                    &ramp_start,
                    &ramp_days,
                    now_ms(),
                )?,
                allow: parse_keys(&allow, "allow").map_err(StoreError::Invalid)?,
                deny: parse_keys(&deny, "deny").map_err(StoreError::Invalid)?,
            };
            // The form shows the ramp's start to the second: the same ramp sent back keeps its
            // stored start and end to the millisecond.
            let stored = flags::get(&state.db, id).await?;
            if let (Some(new), Some(old)) = (
                change.ramp.as_mut(),
                stored
                    .settings
                    .iter()
                    .find(|s| s.environment == environment)
                    .and_then(|s| s.ramp),
            ) {
                if (new.shape, new.from, new.to) == (old.shape, old.from, old.to)
                    && (new.starts_at - old.starts_at).abs() < 1000
                    && (new.ends_at - old.ends_at).abs() < 1000
                {
                    *new = old;
                }
            }
            Ok(flags::set(&state.db, id, &environment, &change, &by).await?)
        }
        .await,
    )
}

/// Deletes a flag (its history stays in the audit log).
#[server(endpoint = "flags/delete")]
pub async fn delete_flag(id: i64) -> Result<(), AppError> {
    use super::guard::*;
    use crate::store::flags;
    let (state, user) = require(Role::Approver).await?;
    let by = super::deployments::requester(&user);
    respond(
        flags::delete(&state.db, id, &by)
            .await
            .map_err(AppError::from),
    )
}
