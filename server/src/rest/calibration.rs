//! The predictor's reports as public API for reviewers' own analysis (token scope `read`):
//! `GET /api/v1/projects/{project}/calibration` (JSON with every metric of the calibration
//! page) and `GET /api/v1/projects/{project}/predictions` (CSV: run, model version, score,
//! outcome and features).

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use app::logic::calibration::Binning;
use app::logic::predictor::FEATURES;
use app::logic::time::{parse_rfc3339, to_rfc3339};
use app::model::Scope;
use app::state::AppState;
use app::store::calibration::{calibration as build_view, ReportQuery};
use app::store::{now_ms, predictor, projects};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

const DAY: i64 = 86_400_000;
/// The report's range when none is asked for.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationQuery {
    version: Option<i64>,
    compare: Option<i64>,
    days: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    threshold: Option<f64>,
    binning: Option<String>,
    bins: Option<usize>,
}

/// `[from, to)` from `from`/`to` (RFC 3339) or `days` back from now.
fn range(days: Option<i64>, from: &Option<String>, to: &Option<String>) -> ApiResult<(i64, i64)> {
    let parse = |v: &Option<String>, name: &str| -> ApiResult<Option<i64>> {
        v.as_deref()
            .map(|t| {
                parse_rfc3339(t).map_err(|e| ApiError::Unprocessable(format!("`{name}`: {e}")))
            })
            .transpose()
    };
    let to_ms = parse(to, "to")?.unwrap_or_else(now_ms);
    let from_ms = match (parse(from, "from")?, days) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "give `from` or `days`, not both".into(),
            ))
        }
        (Some(f), None) => f,
        (None, d) => {
            let d = d.unwrap_or(DEFAULT_DAYS);
            if !(1..=730).contains(&d) {
                return Err(ApiError::Unprocessable(format!(
                    "`days` must be 1 to 730 (got {d})"
                )));
            }
            to_ms - d * DAY
        }
    };
    if from_ms >= to_ms {
        return Err(ApiError::Unprocessable("`from` must be before `to`".into()));
    }
    Ok((from_ms, to_ms))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::Unprocessable(format!("query string: {}", e.body_text())))
}

pub async fn calibration(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    q: Result<Query<CalibrationQuery>, QueryRejection>,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    caller.require_project(&project)?;
    let q = query(q)?;
    let (from, to) = range(q.days, &q.from, &q.to)?;
    let binning = match q.binning.as_deref() {
        None | Some("uniform") => Binning::Uniform,
        Some("quantile") => Binning::Quantile,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "`binning` is uniform or quantile (got `{other}`)"
            )))
        }
    };
    let p = projects::require(&state.db, &project).await?;
    let view = build_view(
        &state.db,
        p.id,
        &project,
        &ReportQuery {
            version: q.version,
            from,
            to,
            threshold: q.threshold,
            binning,
            bins: q.bins.unwrap_or(10),
            compare: q.compare,
        },
    )
    .await?;
    let mut body = serde_json::to_value(&view).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["range"] = json!({"from": to_rfc3339(from), "to": to_rfc3339(to)});
    body["definitions"] = json!({
        "outcome": "a run that ended in failure or error is a failure (positive); success is a pass; cancelled and unfinished runs are left out",
        "false_positive_rate": "FP/(FP+TN): green runs that were alerted on, among green runs",
        "false_negative_rate": "FN/(FN+TP): failed runs that were not alerted on, among failed runs",
        "alert_accuracy": "TP/(TP+FP), precision: alerts that were followed by a failure",
        "failure_detection": "TP/(TP+FN), recall: failed runs that were alerted on",
        "false_alerts": "FP/(TP+FP): alerts on runs that then passed; also given per week",
        "intervals": "95% Wilson score intervals",
        "brier": "mean squared difference between score and outcome (0 is perfect)",
        "ece": "expected calibration error: |observed − predicted| of the reliability bins, weighted by their share of runs",
        "psi": "population stability index over 10 quantile bins of the baseline, each bin count plus 0.5; < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 large",
        "ks": "two-sample Kolmogorov–Smirnov statistic with its asymptotic two-sided p-value (as SciPy's ks_2samp, method='asymp')",
    });
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionsQuery {
    version: Option<i64>,
    days: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub async fn predictions(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    q: Result<Query<PredictionsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    caller.require(Scope::Read)?;
    caller.require_project(&project)?;
    let q = query(q)?;
    let (from, to) = range(q.days, &q.from, &q.to)?;
    let limit = q.limit.unwrap_or(100_000);
    if !(1..=1_000_000).contains(&limit) {
        return Err(ApiError::Unprocessable(format!(
            "`limit` must be 1 to 1000000 (got {limit})"
        )));
    }
    if let Some(v) = q.version {
        if v < 1 {
            return Err(ApiError::Unprocessable(format!(
                "`version` is a model version number ≥ 1 (got {v})"
            )));
        }
    }
    let p = projects::require(&state.db, &project).await?;
    let rows = predictor::predictions(&state.db, p.id, q.version, from, to, limit).await?;
    let mut out = String::from("run_id,external_id,started_at,model_version,score,outcome");
    for f in FEATURES {
        out.push(',');
        out.push_str(f.key);
    }
    out.push('\n');
    for r in &rows {
        out.push_str(&format!(
            "{},{},{},{},{},{}",
            r.run_id,
            csv_field(&r.external_id),
            to_rfc3339(r.at),
            r.model_version,
            r.score,
            r.outcome
        ));
        for f in FEATURES {
            out.push(',');
            if let Some(v) = r.features.get(f.key) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    let disposition = format!("attachment; filename=\"{project}-predictions.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response())
}
