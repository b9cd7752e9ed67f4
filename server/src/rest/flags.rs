//! Feature flags for applications and pipelines.
//!
//! `GET /api/v1/projects/{project}/flags/{environment}` (scope `read`) answers every flag of
//! the environment: its rules (on, rollout now, ramp, allow and deny lists) so a service can
//! decide locally, or with `?key=` the decision for that key. Answers carry a strong `ETag`
//! of their bytes; `If-None-Match` with it gets a bodyless 304. Flags are read from the
//! process's copy (see `store::flags`), so polling costs no database work.
//!
//! `PUT /api/v1/projects/{project}/flags/{environment}/{flag}` (scope `deploy`) sets a flag in
//! one environment, creating the flag when the project has none of that name; sending the
//! same body again changes nothing (a pipeline starts a 7-day ramp after a release this way).

use super::auth::Caller;
use super::body;
use super::deployments::requester;
use super::error::{ApiError, ApiResult};
use super::runs::{time_json, Time};
use app::logic::flags::{
    bucket, check_flag_key, decide, on_for_all, parse_keys, rollout_at, MAX_KEY,
};
use app::model::{FlagSetting, Ramp, RampShape, Scope};
use app::state::AppState;
use app::store::flags::{self, SettingChange};
use app::store::{now_ms, StoreError};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The `key` of a query string (`key=user%2042`), percent-decoded; other parameters are left
/// to the caller's cache-busting habits.
fn key_of(query: Option<&str>) -> ApiResult<Option<String>> {
    let Some(q) = query else { return Ok(None) };
    let mut found = None;
    for (name, value) in form_urlencoded::parse(q.as_bytes()) {
        if name == "key" {
            if found.is_some() {
                return Err(ApiError::BadRequest("query: give `key` once".into()));
            }
            found = Some(value.trim().to_string());
        }
    }
    match found {
        Some(k) if k.trim().is_empty() => Err(ApiError::BadRequest(
            "query: `key` is empty; leave it out to read the flags' rules".into(),
        )),
        Some(k) if k.len() > MAX_KEY => Err(ApiError::BadRequest(format!(
            "query: `key` is longer than {MAX_KEY} bytes"
        ))),
        Some(k) if k.chars().any(char::is_control) => Err(ApiError::BadRequest(
            "query: `key` holds a control character".into(),
        )),
        other => Ok(other),
    }
}

fn ramp_json(r: &Ramp) -> Value {
    let (shape, steps) = match r.shape {
        RampShape::Linear => ("linear", Value::Null),
        RampShape::Steps(n) => ("steps", json!(n)),
    };
    json!({
        "shape": shape,
        "steps": steps,
        "from": r.from,
        "to": r.to,
        "starts_at": time_json(Some(r.starts_at)),
        "ends_at": time_json(Some(r.ends_at)),
    })
}

/// A flag's rules in one environment, as of `now`.
fn rules_json(s: &FlagSetting, now: i64) -> Value {
    let rollout = rollout_at(s, now);
    json!({
        "enabled": s.enabled,
        "rollout": rollout,
        "ramp": s.ramp.as_ref().map(ramp_json),
        "allow": s.allow,
        "deny": s.deny,
        "on_for_all": on_for_all(s, rollout),
    })
}

/// The strong validator of an answer: a quoted hash of its bytes.
fn etag(body: &[u8]) -> String {
    use std::fmt::Write;
    let d = Sha256::digest(body);
    let mut out = String::with_capacity(34);
    out.push('"');
    for b in &d[..16] {
        let _ = write!(out, "{b:02x}");
    }
    out.push('"');
    out
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn matches(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag))
}

pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, environment)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require_project(&project)?;
    caller.require(Scope::Read)?;
    let key = key_of(query.as_deref())?;
    let env = flags::environment_flags(&state.db, &project, &environment).await?;
    let now = now_ms();
    let mut out = Map::new();
    for (name, s) in &env.flags {
        let v = match &key {
            None => rules_json(s, now),
            Some(k) => {
                let rollout = rollout_at(s, now);
                let reason = decide(s, k, bucket(name, k), rollout);
                json!({"on": reason.on(), "reason": reason.as_str(), "rollout": rollout})
            }
        };
        out.insert(name.clone(), v);
    }
    let body = serde_json::to_vec(&json!({
        "project": env.project,
        "environment": env.environment,
        "key": key,
        "flags": out,
    }))
    .map_err(|e| ApiError::Internal(format!("flags: {e}")))?;
    let tag = etag(&body);
    let tag_value =
        HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(format!("etag: {e}")))?;
    let cache = HeaderValue::from_static("private, no-cache");
    if matches(&headers, &tag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, tag_value),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RampBody {
    shape: String,
    steps: Option<u32>,
    from: f64,
    to: f64,
    starts_at: Option<Time>,
    ends_at: Time,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    enabled: bool,
    #[serde(default)]
    rollout: Option<f64>,
    #[serde(default)]
    ramp: Option<RampBody>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    /// Used when the flag is created by this call.
    #[serde(default)]
    description: Option<String>,
}

fn ramp_of(b: RampBody, now: i64) -> ApiResult<Ramp> {
    let shape = match (b.shape.as_str(), b.steps) {
        ("linear", None) => RampShape::Linear,
        ("linear", Some(_)) => {
            return Err(ApiError::Unprocessable(
                "ramp.steps: only a `steps` ramp has steps".into(),
            ))
        }
        ("steps", Some(n)) => RampShape::Steps(n),
        ("steps", None) => {
            return Err(ApiError::Unprocessable(
                "ramp.steps: a `steps` ramp needs its number of steps".into(),
            ))
        }
        (other, _) => {
            return Err(ApiError::Unprocessable(format!(
                "ramp.shape: `linear` or `steps` (got `{other}`)"
            )))
        }
    };
    let starts_at = match &b.starts_at {
        Some(t) => t.ms("ramp.starts_at")?,
        None => now,
    };
    Ok(Ramp {
        shape,
        from: b.from,
        to: b.to,
        starts_at,
        ends_at: b.ends_at.ms("ramp.ends_at")?,
    })
}

/// A flag change as `PUT …/flags/{environment}/{flag}` reads it from its body, checked (the
/// fuzz target's entry).
pub fn flag_change(bytes: &[u8], now: i64) -> ApiResult<SettingChange> {
    change_of(body::decode(bytes)?, now)
}

fn change_of(b: SetBody, now: i64) -> ApiResult<SettingChange> {
    let change = SettingChange {
        enabled: b.enabled,
        rollout: b
            .rollout
            .unwrap_or(if b.ramp.is_some() { 0.0 } else { 1.0 }),
        ramp: b.ramp.map(|r| ramp_of(r, now)).transpose()?,
        allow: list_of(&b.allow, "allow")?,
        deny: list_of(&b.deny, "deny")?,
    };
    flags::check_change(&change)?;
    Ok(change)
}

fn list_of(keys: &[String], list: &str) -> ApiResult<Vec<String>> {
    if let Some(k) = keys.iter().find(|k| k.contains(['\n', ','])) {
        return Err(ApiError::Unprocessable(format!(
            "{list}: `{}` holds a comma or line break",
            k.escape_debug()
        )));
    }
    parse_keys(&keys.join("\n"), list).map_err(ApiError::Unprocessable)
}

pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, environment, flag)): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<impl IntoResponse> {
    caller.require_project(&project)?;
    caller.require(Scope::Deploy)?;
    let name = check_flag_key(&flag).map_err(|e| ApiError::Unprocessable(format!("flag: {e}")))?;
    let b: SetBody = body::json(&headers, raw).await?;
    let now = now_ms();
    let start_given = b.ramp.as_ref().is_some_and(|r| r.starts_at.is_some());
    let description = b.description.clone();
    // Checked before anything is written, so a refused body creates no flag either.
    let mut change = change_of(b, now)?;
    let by = requester(&caller);
    let (list, environments) = flags::list(&state.db, &project).await?;
    if !environments.contains(&environment) {
        return Err(ApiError::NotFound(format!(
            "project `{project}` has no environment `{environment}`"
        )));
    }
    let existing = list.iter().find(|f| f.key == name);
    // A ramp sent without its start starts now, unless the same ramp is already running: a
    // retried call must not restart it.
    if let (false, Some(new), Some(old)) = (
        start_given,
        change.ramp.as_mut(),
        existing
            .and_then(|f| f.settings.iter().find(|s| s.environment == environment))
            .and_then(|s| s.ramp),
    ) {
        if (new.shape, new.from, new.to, new.ends_at) == (old.shape, old.from, old.to, old.ends_at)
        {
            new.starts_at = old.starts_at;
        }
    }
    let (id, created) = match existing {
        Some(f) => (f.id, false),
        None => {
            let description = description.as_deref().unwrap_or_default();
            match flags::create(&state.db, &project, &name, description, &by).await {
                Ok(id) => (id, true),
                // A concurrent call created it first: set that one.
                Err(StoreError::Conflict(_)) => {
                    let (list, _) = flags::list(&state.db, &project).await?;
                    let f = list.iter().find(|f| f.key == name).ok_or_else(|| {
                        ApiError::Conflict(format!("flag `{name}` changed meanwhile; retry"))
                    })?;
                    (f.id, false)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let changed = flags::set(&state.db, id, &environment, &change, &by).await?;
    let flag = flags::get(&state.db, id).await?;
    let setting = flag
        .settings
        .iter()
        .find(|s| s.environment == environment)
        .cloned()
        .unwrap_or_else(|| FlagSetting::unset(&environment));
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "id": flag.id,
            "project": flag.project,
            "flag": flag.key,
            "environment": environment,
            "created": created,
            "changed": changed,
            "rules": rules_json(&setting, now),
        })),
    ))
}
