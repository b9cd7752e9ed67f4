//! The calibration workbench: for one project and model version over a time range, how well
//! the failure-risk scores match what happened. Reliability diagram, score histograms, ROC and
//! precision–recall curves, Brier score and ECE; a threshold slider whose confusion matrix and
//! rates (with Wilson intervals and the seeds' targets) are recomputed in the browser; two
//! versions side by side on the same runs; drift per feature; the model versions and their
//! life cycle; alerts to acknowledge; and CSV/SVG exports.

use crate::api::predictor::{
    calibration_page, AcknowledgeAlert, PromoteModel, RetrainNow, SaveRules, SaveThreshold, RANGES,
};
use crate::components::feedback::ErrorPanel;
use crate::logic::calibration::Binning;
use crate::logic::drift::{MAPE_ALERT, PSI_ALERT};
use crate::logic::predictor::{feature_spec, ModelParams};
use crate::logic::report::{AtThreshold, Rate, Report};
use crate::logic::time::{format_utc, humanize_ms, percent};
use crate::logic::url::encode_query_value;
use crate::model::{CalibrationPageData, CalibrationView, ModelState, ModelVersion, RiskAlert};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), percent)
}

fn yes_no(v: bool) -> String {
    if v { "yes" } else { "no" }.into()
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

#[component]
pub fn CalibrationPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let text = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
    let num = |k: &str| text(k).and_then(|s| s.parse::<i64>().ok());
    let args = (
        text("project"),
        num("version"),
        num("compare"),
        num("days"),
        text("binning"),
    );
    let data = Resource::new(
        || (),
        move |_| {
            let (p, v, c, d, b) = args.clone();
            calibration_page(p, v, c, d, b)
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Computing the calibration report…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Calibration"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <Workbench data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The query string of the page for the same filters with some changed.
fn link(d: &CalibrationPageData, version: Option<i64>, compare: Option<i64>) -> String {
    let mut s = format!(
        "/calibration?project={}&days={}&binning={}",
        encode_query_value(&d.project),
        d.days,
        binning_str(d.binning)
    );
    if let Some(v) = version {
        s.push_str(&format!("&version={v}"));
    }
    if let Some(c) = compare {
        s.push_str(&format!("&compare={c}"));
    }
    s
}

fn binning_str(b: Binning) -> &'static str {
    match b {
        Binning::Uniform => "uniform",
        Binning::Quantile => "quantile",
    }
}

#[component]
fn Workbench(data: CalibrationPageData) -> impl IntoView {
    let d = data;
    let title = format!("Calibration · {}", d.project);
    let version = d.view.as_ref().map(|v| v.model.version);
    let compare = d
        .view
        .as_ref()
        .and_then(|v| v.compare.as_ref())
        .map(|c| c.other.version);
    let export_query = link(&d, version, compare).replacen("/calibration?", "", 1);
    view! {
        <Title text=title.clone()/>
        <header class="page-header">
            <h1>"Calibration" <span class="muted">" · " {d.project.clone()}</span></h1>
            <p class="muted">"How well the CI failure-risk scores match what happened: every number is computed from the stored score of each run at its start and the run's outcome. Terms are defined at the bottom."</p>
        </header>
        <Filters data=d.clone() version compare/>
        {match d.view.clone() {
            None => view! {
                <section class="panel" id="no-report">
                    <p>"No model has scored a run of this project yet. Scores start with the next run a CI system reports (the seeds' rules model is created then)."</p>
                </section>
            }.into_any(),
            Some(v) => view! { <Report data=d.clone() view=v export_query=export_query.clone()/> }.into_any(),
        }}
        <Models data=d.clone()/>
        <Alerts alerts=d.alerts.clone() can_ack=d.can_tune now=d.now/>
        {d.can_tune.then(|| view! { <Tuning data=d.clone()/> })}
        <Definitions/>
    }
}

#[component]
fn Filters(data: CalibrationPageData, version: Option<i64>, compare: Option<i64>) -> impl IntoView {
    let d = data;
    view! {
        <form method="get" action="/calibration" class="filters panel" id="calibration-filters">
            <label for="c-project">"Project"</label>
            <select id="c-project" name="project">
                {d.projects.iter().map(|p| view! { <option value=p.clone() selected=*p == d.project>{p.clone()}</option> }).collect_view()}
            </select>
            <label for="c-version">"Model"</label>
            <select id="c-version" name="version">
                <option value="">"active"</option>
                {d.models.iter().map(|m| view! { <option value=m.version.to_string() selected=Some(m.version) == version>{m.label()}</option> }).collect_view()}
            </select>
            <label for="c-compare">"Compare with"</label>
            <select id="c-compare" name="compare">
                <option value="">"–"</option>
                {d.models.iter().map(|m| view! { <option value=m.version.to_string() selected=Some(m.version) == compare>{m.label()}</option> }).collect_view()}
            </select>
            <label for="c-days">"Range"</label>
            <select id="c-days" name="days">
                {RANGES.iter().map(|r| view! { <option value=r.to_string() selected=*r == d.days>{format!("last {r} days")}</option> }).collect_view()}
            </select>
            <label for="c-binning">"Bins"</label>
            <select id="c-binning" name="binning">
                <option value="uniform" selected=d.binning == Binning::Uniform>"uniform"</option>
                <option value="quantile" selected=d.binning == Binning::Quantile>"quantile"</option>
            </select>
            <button type="submit">"Show"</button>
        </form>
    }
}

fn chart(d: &CalibrationPageData, name: &str) -> Option<String> {
    d.charts.iter().find(|c| c.0 == name).map(|c| c.1.clone())
}

#[component]
fn Report(data: CalibrationPageData, view: CalibrationView, export_query: String) -> impl IntoView {
    let d = data;
    let v = view;
    let r = v.report.clone();
    let m = v.model.clone();
    let svg_link = |name: &str| format!("/calibration/chart/{name}?{export_query}");
    let figure = |name: &'static str, caption: &'static str| {
        chart(&d, name).map(|svg| {
            let href = svg_link(name);
            view! {
                <figure class="panel chart-panel" id=format!("chart-{name}")>
                    <figcaption>{caption} " " <a class="small" href=href download>"SVG"</a></figcaption>
                    <div inner_html=svg></div>
                </figure>
            }
        })
    };
    view! {
        <section class="panel" id="summary" aria-labelledby="summary-h">
            <h2 id="summary-h">{format!("v{} · {} · {}", m.version, m.kind(), m.state)}</h2>
            <p id="sample-counts">
                <strong>{r.samples}</strong> " finished runs scored (" <strong>{r.failed}</strong> " failed, "
                <strong>{r.passed}</strong> " passed) from " {format_utc(r.from)} " to " {format_utc(r.to)} "."
                {(r.samples > 0 && (r.failed < 10 || r.passed < 10)).then(|| view! {
                    " " <span class="pill warn">"few samples: wide intervals"</span>
                })}
            </p>
            <dl class="figures" id="scores">
                <div><dt>"ROC AUC"</dt><dd id="auc">{fmt_opt(r.roc_auc, 3)}</dd></div>
                <div><dt>"Average precision"</dt><dd>{fmt_opt(r.average_precision, 3)}</dd></div>
                <div><dt>"Brier score"</dt><dd id="brier">{fmt_opt(r.brier, 4)}</dd></div>
                <div><dt>"ECE"</dt><dd id="ece">{fmt_opt(r.ece, 4)}</dd></div>
                <div><dt>"Weekly MAPE"</dt><dd>{r.weekly_mape.map_or("–".into(), percent)}</dd></div>
            </dl>
            <p class="small">
                <a href=format!("/calibration/export?{export_query}") download id="export-csv">"Export the report (CSV)"</a>
                " · API: " <code>{format!("GET /api/v1/projects/{}/calibration", d.project)}</code>
                " and " <code>"/predictions"</code>
            </p>
        </section>
        <ThresholdTuner
            failed=d.failed_scores.clone()
            passed=d.passed_scores.clone()
            weeks=r.weeks
            threshold=m.threshold
            model_id=m.id
            version=m.version
            can_save=d.can_tune
        />
        {v.compare.clone().map(|c| view! { <Compare this=m.clone() this_report=c.this_report.clone() other=c.other.clone() other_report=c.other_report.clone()/> })}
        <div class="chart-grid">
            {figure("reliability", "Reliability diagram")}
            {figure("histogram", "Scores by outcome")}
            {figure("roc", "ROC curve")}
            {figure("pr", "Precision–recall curve")}
        </div>
        {figure("weekly", "Weekly failure rate: observed (solid red) against the mean score (dashed)")}
        <Drift view=v.clone()/>
    }
}

fn rate_row(
    name: &'static str,
    id: &'static str,
    help: &'static str,
    r: Rate,
    target: String,
) -> impl IntoView {
    let mark = match r.meets {
        Some(true) => view! { <span class="pill good">"meets"</span> }.into_any(),
        Some(false) => view! { <span class="pill bad">"misses"</span> }.into_any(),
        None => view! { <span class="pill muted">"no data"</span> }.into_any(),
    };
    view! {
        <tr id=id data-meets=r.meets.map_or("none", |m| if m { "yes" } else { "no" })>
            <th scope="row" title=help>{name}</th>
            <td class="num value">{r.value.map_or("–".into(), percent)}</td>
            <td class="num muted">{format!("{}/{}", r.numerator, r.denominator)}</td>
            <td class="num ci">{match (r.low, r.high) { (Some(l), Some(h)) => format!("{} – {}", percent(l), percent(h)), _ => "–".into() }}</td>
            <td class="num">{target}</td>
            <td>{mark}</td>
        </tr>
    }
}

/// The threshold slider: every figure below it is recomputed in the browser (WebAssembly)
/// from the two sorted score lists, without a round trip.
#[island]
fn ThresholdTuner(
    failed: Vec<f64>,
    passed: Vec<f64>,
    weeks: f64,
    threshold: f64,
    model_id: i64,
    version: i64,
    can_save: bool,
) -> impl IntoView {
    let (t, set_t) = signal(threshold);
    let failed = StoredValue::new(failed);
    let passed = StoredValue::new(passed);
    let at = Memo::new(move |_| {
        let th = t.get();
        failed.with_value(|f| passed.with_value(|p| AtThreshold::compute(f, p, th, weeks)))
    });
    let save = ServerAction::<SaveThreshold>::new();
    reload_on_success(save.value().into());
    let row = move |name, id, help, pick: fn(&AtThreshold) -> Rate, target: &'static str| {
        move || rate_row(name, id, help, pick(&at.get()), target.to_string())
    };
    view! {
        <section class="panel" id="threshold" aria-labelledby="threshold-h">
            <h2 id="threshold-h">"Alert threshold"</h2>
            <p class="muted small">{format!("A run scoring at or above the threshold raises an alert (v{version} saves {threshold:.2}). Move it to see every figure change.")}</p>
            <div class="slider-row">
                <label for="threshold-slider">"Threshold"</label>
                <input type="range" id="threshold-slider" min="0" max="1" step="0.01"
                    prop:value=move || format!("{:.2}", t.get())
                    on:input=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                            set_t.set(v.clamp(0.0, 1.0));
                        }
                    }/>
                <output id="threshold-value" for="threshold-slider">{move || format!("{:.2}", t.get())}</output>
                {move || at.get().all_met().then(|| view! { <span class="pill good" id="all-met">"every target met"</span> })}
            </div>
            <div class="tuner-grid">
                <table class="confusion" id="confusion">
                    <caption>"Confusion matrix"</caption>
                    <thead><tr><th></th><th scope="col">"failed"</th><th scope="col">"passed"</th></tr></thead>
                    <tbody>
                        <tr><th scope="row">"alerted"</th><td id="tp" class="num">{move || at.get().tp}" TP"</td><td id="fp" class="num">{move || at.get().fp}" FP"</td></tr>
                        <tr><th scope="row">"not alerted"</th><td id="fn" class="num">{move || at.get().fn_}" FN"</td><td id="tn" class="num">{move || at.get().tn}" TN"</td></tr>
                    </tbody>
                </table>
                <table class="rates" id="rates">
                    <thead><tr><th scope="col">"Rate"</th><th scope="col">"Value"</th><th scope="col">"Count"</th><th scope="col">"95% interval"</th><th scope="col">"Target"</th><th scope="col"></th></tr></thead>
                    <tbody>
                        {row("False-positive rate", "rate-fpr", "FP/(FP+TN): green runs alerted on, among green runs", |a| a.false_positive_rate, "< 15%")}
                        {row("False-negative rate", "rate-fnr", "FN/(FN+TP): failed runs not alerted on, among failed runs", |a| a.false_negative_rate, "< 10%")}
                        {row("Alert accuracy", "rate-precision", "TP/(TP+FP), precision: alerts followed by a failure", |a| a.alert_accuracy, "> 85%")}
                        {row("Failure detection", "rate-recall", "TP/(TP+FN), recall: failed runs alerted on", |a| a.failure_detection, "≥ 90%")}
                        {row("False alerts", "rate-false-alerts", "FP/(TP+FP): alerts on runs that passed", |a| a.false_alerts, "< 10%")}
                    </tbody>
                </table>
            </div>
            <p id="false-alerts-week">"False alerts per week: " <strong>{move || at.get().false_alerts_per_week.map_or("–".into(), |v| format!("{v:.1}"))}</strong></p>
            {can_save.then(|| view! {
                {action_error(save.value().into())}
                <ActionForm action=save attr:class="inline" attr:id="save-threshold">
                    <input type="hidden" name="model_id" value=model_id.to_string()/>
                    <input type="hidden" name="threshold" prop:value=move || format!("{:.2}", t.get())/>
                    <button type="submit" class="primary">{move || format!("Save threshold {:.2} for v{version}", t.get())}</button>
                </ActionForm>
            })}
        </section>
    }
}

#[component]
fn Compare(
    this: ModelVersion,
    this_report: Report,
    other: ModelVersion,
    other_report: Report,
) -> impl IntoView {
    let rows: Vec<(&str, String, String)> = vec![
        (
            "Runs (both scored)",
            this_report.samples.to_string(),
            other_report.samples.to_string(),
        ),
        (
            "Threshold",
            format!("{:.2}", this.threshold),
            format!("{:.2}", other.threshold),
        ),
        (
            "ROC AUC",
            fmt_opt(this_report.roc_auc, 3),
            fmt_opt(other_report.roc_auc, 3),
        ),
        (
            "Brier score",
            fmt_opt(this_report.brier, 4),
            fmt_opt(other_report.brier, 4),
        ),
        (
            "ECE",
            fmt_opt(this_report.ece, 4),
            fmt_opt(other_report.ece, 4),
        ),
        (
            "Failure detection",
            pct(this_report.at_threshold.failure_detection.value),
            pct(other_report.at_threshold.failure_detection.value),
        ),
        (
            "Alert accuracy",
            pct(this_report.at_threshold.alert_accuracy.value),
            pct(other_report.at_threshold.alert_accuracy.value),
        ),
        (
            "False-positive rate",
            pct(this_report.at_threshold.false_positive_rate.value),
            pct(other_report.at_threshold.false_positive_rate.value),
        ),
        (
            "False-negative rate",
            pct(this_report.at_threshold.false_negative_rate.value),
            pct(other_report.at_threshold.false_negative_rate.value),
        ),
        (
            "Every target met at its threshold",
            yes_no(this_report.at_threshold.all_met()),
            yes_no(other_report.at_threshold.all_met()),
        ),
    ];
    view! {
        <section class="panel" id="compare" aria-labelledby="compare-h">
            <h2 id="compare-h">{format!("v{} against v{} on the same runs", this.version, other.version)}</h2>
            <p class="muted small">"Only runs both versions scored count; the charts draw the other version dashed in amber."</p>
            <table class="data">
                <thead><tr><th></th><th scope="col">{this.label()}</th><th scope="col">{other.label()}</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|(k, a, b)| view! { <tr><th scope="row">{k}</th><td class="num">{a}</td><td class="num">{b}</td></tr> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Drift(view: CalibrationView) -> impl IntoView {
    let v = view;
    let band = |b: u8| match b {
        0 => view! { <span class="pill good">"stable"</span> }.into_any(),
        1 => view! { <span class="pill warn">"moderate"</span> }.into_any(),
        _ => view! { <span class="pill bad">"large"</span> }.into_any(),
    };
    view! {
        <section class="panel" id="drift" aria-labelledby="drift-h">
            <h2 id="drift-h">"Drift"</h2>
            <p class="muted small">
                "Each feature in the baseline (" {format_utc(v.drift_baseline.0)} " – " {format_utc(v.drift_baseline.1)}
                {match v.model.params { ModelParams::Learned(_) => ", the training window", ModelParams::Rules(_) => ", the eight weeks before the recent window" }}
                ") against the recent two weeks (" {format_utc(v.drift_recent.0)} " – " {format_utc(v.drift_recent.1)} ", recomputed at most every ten minutes). PSI ≥ " {PSI_ALERT} " or a weekly MAPE ≥ " {percent(MAPE_ALERT)} " raises a drift alert."
            </p>
            <table class="data" id="drift-table">
                <thead><tr><th scope="col">"Feature"</th><th scope="col">"Baseline runs"</th><th scope="col">"Recent runs"</th><th scope="col">"KS D"</th><th scope="col">"KS p-value"</th><th scope="col">"PSI"</th><th scope="col">"Shift"</th></tr></thead>
                <tbody>
                    {v.drift.iter().map(|f| {
                        let label = feature_spec(&f.feature).map_or(f.feature.clone(), |s| s.label.to_string());
                        let help = feature_spec(&f.feature).map_or("", |s| s.help);
                        view! {
                            <tr data-feature=f.feature.clone()>
                                <th scope="row" title=help>{label}</th>
                                <td class="num">{f.baseline}</td>
                                <td class="num">{f.recent}</td>
                                <td class="num">{fmt_opt(f.ks.map(|k| k.statistic), 3)}</td>
                                <td class="num">{f.ks.and_then(|k| k.p_value).map_or("–".into(), |p| if p < 0.0001 { "< 0.0001".into() } else { format!("{p:.4}") })}</td>
                                <td class="num">{fmt_opt(f.psi, 3)}</td>
                                <td>{if f.psi.is_some() { band(f.band) } else { view! { <span class="muted">"–"</span> }.into_any() }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Models(data: CalibrationPageData) -> impl IntoView {
    let d = data;
    view! {
        <section class="panel" id="models" aria-labelledby="models-h">
            <h2 id="models-h">"Model versions"</h2>
            <p class="muted small">
                "A new version runs in shadow (scores stored, no alerts) until it has scored its calibration period and enough failed and green runs for intervals; a reviewer then makes it active. The version it replaces stays one click away. Weekly retraining: Sunday 02:00 UTC."
                {d.last_retrain.clone().map(|(at, how)| view! { " Last retraining: " {format_utc(at)} " — " {how} "." })}
            </p>
            <table class="data" id="models-table">
                <thead><tr><th scope="col">"Version"</th><th scope="col">"Kind"</th><th scope="col">"State"</th><th scope="col">"Threshold"</th><th scope="col">"Scored"</th><th scope="col">"Held-out AUC / Brier"</th><th scope="col">"Created"</th><th scope="col"></th></tr></thead>
                <tbody>
                    {d.models.iter().map(|m| {
                        let state_class = match m.state { ModelState::Active => "badge good", ModelState::Shadow => "badge warn", ModelState::Retired => "badge muted" };
                        let held = m.held_out.as_ref().map_or("–".into(), |h| format!("{} / {}", fmt_opt(h.auc, 3), fmt_opt(h.brier, 3)));
                        let href = link(&d, Some(m.version), None);
                        view! {
                            <tr data-version=m.version.to_string() data-state=m.state.as_str()>
                                <th scope="row"><a href=href>{format!("v{}", m.version)}</a></th>
                                <td>{m.kind()} {(!m.note.is_empty()).then(|| view! { <div class="muted small">{m.note.clone()}</div> })}</td>
                                <td><span class=state_class>{m.state.as_str()}</span></td>
                                <td class="num">{format!("{:.2}", m.threshold)}</td>
                                <td class="num">{format!("{} ({} failed, {} passed)", m.scored, m.scored_failed, m.scored_passed)}</td>
                                <td class="num">{held}</td>
                                <td>{format_utc(m.created_at)} <div class="muted small">{m.created_by.clone()}</div></td>
                                <td>{d.can_tune.then(|| view! { <PromoteButton model_id=m.id version=m.version was_active=m.promoted_at.is_some() not_ready=m.not_ready()/> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            {d.models.iter().find(|m| matches!(m.params, ModelParams::Rules(_)) && m.state == ModelState::Active).map(|m| view! {
                <p class="small">"Active rules: " <code>{match &m.params { ModelParams::Rules(r) => r.to_lines().replace('\n', " · "), _ => String::new() }}</code></p>
            })}
        </section>
    }
}

#[island]
fn PromoteButton(
    model_id: i64,
    version: i64,
    was_active: bool,
    not_ready: Option<String>,
) -> impl IntoView {
    let act = ServerAction::<PromoteModel>::new();
    reload_on_success(act.value().into());
    let active = not_ready.as_deref() == Some("it is already active");
    if active {
        return view! { <span class="muted small">"active"</span> }.into_any();
    }
    let label = if was_active {
        format!("Make v{version} active again")
    } else {
        format!("Promote v{version}")
    };
    let blocked = not_ready.is_some();
    view! {
        <div>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="inline">
                <input type="hidden" name="model_id" value=model_id.to_string()/>
                <button type="submit" class="small" id=format!("promote-v{version}") disabled=blocked>{label}</button>
            </ActionForm>
            {not_ready.map(|why| view! { <div class="muted small">"Not yet: " {why}</div> })}
        </div>
    }
    .into_any()
}

#[component]
fn Alerts(alerts: Vec<RiskAlert>, can_ack: bool, now: i64) -> impl IntoView {
    let open = alerts
        .iter()
        .filter(|a| a.acknowledged_at.is_none())
        .count();
    let times: Vec<i64> = alerts
        .iter()
        .filter_map(|a| a.acknowledged_at.map(|t| t - a.opened_at))
        .collect();
    let median = {
        let mut t = times.clone();
        t.sort_unstable();
        t.get(t.len() / 2).copied()
    };
    view! {
        <section class="panel" id="alerts" aria-labelledby="alerts-h">
            <h2 id="alerts-h">"Alerts " <span class="badge warn">{open}" open"</span></h2>
            <p class="muted small">
                "Raised by the active version when a run starts with a score at or above its threshold (after its calibration period), and by drift checks. Response time is from opening to acknowledgement (target < 5 min)."
                {median.map(|m| view! { " Median response over the alerts below: " <strong>{humanize_ms(m)}</strong> "." })}
            </p>
            {if alerts.is_empty() {
                view! { <p class="muted">"No alerts."</p> }.into_any()
            } else {
                view! {
                    <table class="data" id="alerts-table">
                        <thead><tr><th scope="col">"Opened"</th><th scope="col">"Kind"</th><th scope="col">"What"</th><th scope="col">"Acknowledged"</th></tr></thead>
                        <tbody>
                            {alerts.into_iter().map(|a| {
                                let run = a.run_id.map(|id| view! { <a href=format!("/runs/{id}")>{format!("run {}", a.run_external_id.clone().unwrap_or_default())}</a> " · " });
                                let ack = match (a.acknowledged_at, &a.acknowledged_by) {
                                    (Some(at), by) => view! { <span>{by.clone().unwrap_or_default()} " after " {humanize_ms(at - a.opened_at)}</span> }.into_any(),
                                    (None, _) if can_ack => view! { <AckButton alert_id=a.id/> }.into_any(),
                                    (None, _) => view! { <span class="muted">{format!("open for {}", humanize_ms(now - a.opened_at))}</span> }.into_any(),
                                };
                                view! {
                                    <tr data-alert=a.id.to_string() class:open=a.acknowledged_at.is_none()>
                                        <td>{format_utc(a.opened_at)}</td>
                                        <td>{match a.kind { crate::model::AlertKind::Risk => "risk", crate::model::AlertKind::Drift => "drift" }}</td>
                                        <td>{run}{a.message.clone()}</td>
                                        <td>{ack}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[island]
fn AckButton(alert_id: i64) -> impl IntoView {
    let act = ServerAction::<AcknowledgeAlert>::new();
    reload_on_success(act.value().into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="alert_id" value=alert_id.to_string()/>
            <button type="submit" class="small">"Acknowledge"</button>
        </ActionForm>
    }
}

#[component]
fn Tuning(data: CalibrationPageData) -> impl IntoView {
    view! {
        <section class="panel" id="tuning" aria-labelledby="tuning-h">
            <h2 id="tuning-h">"New version"</h2>
            <div class="tuning-grid">
                <RulesEditor project=data.project.clone() lines=data.rules_lines.clone()/>
                <Retrain project=data.project.clone()/>
            </div>
        </section>
    }
}

#[island]
fn RulesEditor(project: String, lines: String) -> impl IntoView {
    let act = ServerAction::<SaveRules>::new();
    reload_on_success(act.value().into());
    let known: Vec<&str> = crate::logic::predictor::FEATURES
        .iter()
        .map(|f| f.key)
        .collect();
    view! {
        <div>
            <h3>"Rules"</h3>
            <p class="muted small">"One rule per line: " <code>"feature < threshold +weight"</code> " (or " <code>">"</code> ", " <code>"<="</code> ", " <code>">="</code> "). The score is the sum of the weights of the rules that hold, capped at 1. Features: " {known.join(", ")} "."</p>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stack" attr:id="rules-form">
                <input type="hidden" name="project" value=project/>
                <label for="rules-lines">"Rules"</label>
                <textarea id="rules-lines" name="lines" rows="5" required>{lines}</textarea>
                <label for="rules-threshold">"Alert threshold"</label>
                <input id="rules-threshold" name="threshold" type="number" min="0" max="1" step="0.01" value="0.5" required/>
                <label for="rules-note">"Why (kept with the version)"</label>
                <input id="rules-note" name="note" type="text" maxlength="500"/>
                <button type="submit">"Save as a new version (shadow)"</button>
            </ActionForm>
        </div>
    }
}

#[island]
fn Retrain(project: String) -> impl IntoView {
    let act = ServerAction::<RetrainNow>::new();
    reload_on_success(act.value().into());
    view! {
        <div>
            <h3>"Learned model"</h3>
            <p class="muted small">"Logistic regression on the last 90 days of finished runs (oldest 60% train, next 20% fit the Platt sigmoid, newest 20% measure), in shadow from now on."</p>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="inline" attr:id="retrain-form">
                <input type="hidden" name="project" value=project/>
                <button type="submit" id="retrain">"Retrain now"</button>
            </ActionForm>
        </div>
    }
}

#[component]
fn Definitions() -> impl IntoView {
    view! {
        <section class="panel" id="definitions" aria-labelledby="definitions-h">
            <h2 id="definitions-h">"Definitions"</h2>
            <dl class="definitions">
                <dt>"Outcome"</dt><dd>"A run that ended in failure or error is a failure (the positive class); success is a pass. Cancelled and unfinished runs are left out."</dd>
                <dt>"Score"</dt><dd>"The version's failure probability for the run, from the features known when the run started; stored with the features so any report can be recomputed."</dd>
                <dt>"False-positive rate"</dt><dd>"FP/(FP+TN): green runs that were alerted on, among all green runs. Target below 15%."</dd>
                <dt>"False-negative rate"</dt><dd>"FN/(FN+TP): failed runs that were not alerted on, among all failed runs. Target below 10%."</dd>
                <dt>"Alert accuracy"</dt><dd>"TP/(TP+FP), precision: the share of alerts that were followed by a failure. Target above 85%."</dd>
                <dt>"Failure detection"</dt><dd>"TP/(TP+FN), recall: the share of failed runs that were alerted on. Target at least 90%."</dd>
                <dt>"False alerts"</dt><dd>"FP/(TP+FP): the share of alerts on runs that then passed. Target below 10%. Also counted per week."</dd>
                <dt>"95% interval"</dt><dd>"The Wilson score interval of the rate: where the true rate lies with 95% confidence given this many runs."</dd>
                <dt>"Reliability diagram"</dt><dd>"Runs grouped by score (equal-width bins, or quantile bins holding equal counts); each point is a bin's mean score against its observed failure rate. On the diagonal the scores are calibrated."</dd>
                <dt>"Brier score"</dt><dd>"The mean of (score − outcome)²; 0 is perfect, 0.25 is a coin toss."</dd>
                <dt>"ECE"</dt><dd>"Expected calibration error: each bin's |observed − predicted|, weighted by its share of runs."</dd>
                <dt>"ROC AUC"</dt><dd>"The chance that a failed run scores above a passed one (ties count half)."</dd>
                <dt>"KS"</dt><dd>"Two-sample Kolmogorov–Smirnov: the largest gap between the feature's distributions in the two windows, with its asymptotic two-sided p-value."</dd>
                <dt>"PSI"</dt><dd>"Population stability index over ten quantile bins of the baseline, each bin's count plus half a run so that an empty bin in a small window does not dominate: below 0.1 stable, 0.1–0.25 a moderate shift, 0.25 and above a large one."</dd>
                <dt>"Weekly MAPE"</dt><dd>"Mean absolute percentage error of each week's mean score against its observed failure rate."</dd>
            </dl>
        </section>
    }
}
