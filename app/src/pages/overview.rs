//! The managers' overview: every delivery KPI with its target, band, change against the
//! previous period and trend, DORA's four keys with their 2023 bands, incidents, the monthly
//! satisfaction prompt and the project's targets. Filters live in the URL so a view can be
//! shared; the page prints as a one-page report and exports CSV. Each number links to the
//! deployments, alerts or incidents it was computed from (`/kpis/:id`).

use crate::api::kpis::{
    kpi_detail, overview_page, OverviewQuery, RateGatehouse, RecordIncident, ResolveIncident,
    SaveKpiTargets,
};
use crate::components::feedback::ErrorPanel;
use crate::logic::dora::{FourKeys, Performance};
use crate::logic::kpi::{
    format_span, format_target, format_value, sources_of, Band, KpiCard, Report, Source, Unit,
    DORA_KEYS, RANGES, SPECS,
};
use crate::logic::time::{format_utc, percent};
use crate::logic::url::encode_query_value;
use crate::model::{KpiDetailData, OverviewPageData};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn query_from_url() -> OverviewQuery {
    let query = use_query_map();
    let q = query.read_untracked();
    let text = |k: &str| q.get(k).filter(|s| !s.trim().is_empty());
    OverviewQuery {
        project: text("project"),
        environment: text("environment"),
        days: text("days").and_then(|s| s.parse().ok()),
        from: text("from"),
        to: text("to"),
    }
}

/// The query string of a view (without `?`).
fn view_query(project: &str, environment: &str, days: Option<i64>, from: &str, to: &str) -> String {
    let mut s = format!(
        "project={}&environment={}",
        encode_query_value(project),
        encode_query_value(environment)
    );
    match days {
        Some(d) => s.push_str(&format!("&days={d}")),
        None => s.push_str(&format!(
            "&from={}&to={}",
            encode_query_value(from),
            encode_query_value(to)
        )),
    }
    s
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let q = query_from_url();
    let data = Resource::new(|| (), move |_| overview_page(q.clone()));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Computing the KPIs…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Overview"/><ErrorPanel error=e/> }.into_any(),
                    Ok(Some(d)) => view! { <Overview data=d/> }.into_any(),
                    Ok(None) => view! {
                        <Title text="Overview"/>
                        <header class="page-header"><h1>"Overview"</h1></header>
                        <section class="panel" id="no-project">
                            <p>"No project yet. Create one under " <a href="/settings/projects">"Settings → Projects and tokens"</a> "; its delivery KPIs and DORA's four keys appear here as CI runs and deployments flow in."</p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(data: OverviewPageData) -> impl IntoView {
    let d = data;
    let s = d.overview.scope.clone();
    let r = d.overview.report.clone();
    let vq = view_query(&s.project, &s.environment, d.days, &d.from, &d.to);
    let range_words = match d.days {
        Some(n) => format!("last {n} days ({} to {}, UTC)", d.from, d.to),
        None => format!("{} to {} (UTC)", d.from, d.to),
    };
    let runs_href = format!(
        "/runs?project={}&days={}",
        encode_query_value(&s.project),
        r.to_day - r.from_day
    );
    let deployments_href = format!(
        "/deployments?project={}&environment={}",
        encode_query_value(&s.project),
        encode_query_value(&s.environment)
    );
    let links = CardLinks {
        query: vq.clone(),
        runs: runs_href,
        deployments: deployments_href,
    };
    let cards = r.cards.clone();
    view! {
        <Title text=format!("Overview · {}", s.project)/>
        <header class="page-header">
            <h1>"Overview" <span class="muted">" · " {s.project.clone()} " · " {s.environment.clone()}</span></h1>
            <p class="muted" id="range-words">{format!("Delivery KPIs and DORA's four keys, {range_words}, compared with the {} days before. Hover a name for its definition; every number links to what it was computed from.", r.to_day - r.from_day)}</p>
        </header>
        <Filters data=d.clone()/>
        <div class="report-actions no-print">
            <a class="button secondary" id="export-csv" href=format!("/overview/export?{vq}") download>"Export CSV"</a>
            <PrintButton/>
        </div>
        {d.ask_rating.then(|| view! { <RatingPrompt project=s.project.clone()/> })}
        <Dora report=r.clone() query=vq.clone()/>
        <section class="panel" aria-labelledby="kpis-h">
            <h2 id="kpis-h">"Delivery KPIs"</h2>
            <div class="kpi-grid" id="kpi-cards">
                {cards.into_iter().map(|c| view! { <Card card=c links=links.clone()/> }).collect_view()}
            </div>
        </section>
        <Incidents data=d.clone()/>
        <Plans plans=d.plans.clone() project=s.project.clone()/>
        <Comments comments=d.comments.clone()/>
        <Targets data=d.clone()/>
        <Definitions/>
        <p class="muted small">{format!("Computed {}.", format_utc(d.overview.computed_at))}</p>
    }
}

#[component]
fn Filters(data: OverviewPageData) -> impl IntoView {
    let d = data;
    let s = d.overview.scope.clone();
    let custom = d.days.is_none();
    view! {
        <form method="get" action="/" class="filters panel no-print" id="overview-filters">
            <label for="o-project">"Project"</label>
            <select id="o-project" name="project">
                {d.projects.iter().map(|p| view! { <option value=p.clone() selected=*p == s.project>{p.clone()}</option> }).collect_view()}
            </select>
            <label for="o-environment">"Environment"</label>
            <select id="o-environment" name="environment">
                {s.environments.iter().map(|e| view! { <option value=e.clone() selected=*e == s.environment>{e.clone()}</option> }).collect_view()}
            </select>
            <label for="o-days">"Range"</label>
            <select id="o-days" name="days">
                {RANGES.iter().map(|n| view! { <option value=n.to_string() selected=d.days == Some(*n)>{format!("{n} days")}</option> }).collect_view()}
                {d.days.filter(|n| !RANGES.contains(n)).map(|n| view! { <option value=n.to_string() selected=true>{format!("{n} days")}</option> })}
                <option value="" selected=custom>"custom (from–to)"</option>
            </select>
            <label for="o-from">"From"</label>
            <input type="date" id="o-from" name="from" value=if custom { d.from.clone() } else { String::new() }/>
            <label for="o-to">"To"</label>
            <input type="date" id="o-to" name="to" value=if custom { d.to.clone() } else { String::new() }/>
            <button type="submit">"Show"</button>
            <span class="muted small">"A custom range uses From and To (both days included)."</span>
        </form>
    }
}

#[island]
fn PrintButton() -> impl IntoView {
    view! {
        <button type="button" class="secondary" id="print-report" on:click=move |_| {
            #[cfg(feature = "hydrate")]
            let _ = window().print();
        }>"Print"</button>
    }
}

#[derive(Clone)]
struct CardLinks {
    query: String,
    runs: String,
    deployments: String,
}

fn band_class(b: Band) -> &'static str {
    match b {
        Band::Good => "good",
        Band::AtRisk => "warn",
        Band::OffTarget => "bad",
        Band::NoData => "key",
    }
}

fn perf_class(p: Option<Performance>) -> &'static str {
    match p {
        Some(Performance::Elite) | Some(Performance::High) => "good",
        Some(Performance::Medium) => "warn",
        Some(Performance::Low) => "bad",
        None => "key",
    }
}

/// A small trend line; gaps where a bucket had nothing to measure.
#[component]
fn Sparkline(series: Vec<Option<f64>>, label: String) -> impl IntoView {
    let (w, h) = (120.0, 28.0);
    let known: Vec<f64> = series.iter().flatten().copied().collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let n = series.len().max(2) as f64 - 1.0;
    let y = move |v: f64| {
        if hi - lo < 1e-12 {
            h / 2.0
        } else {
            h - 2.0 - (v - lo) / (hi - lo) * (h - 4.0)
        }
    };
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, v) in series.iter().enumerate() {
        match v {
            Some(v) => current.push_str(&format!("{:.1},{:.1} ", i as f64 / n * w, y(*v))),
            None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    let dots: Vec<(f64, f64)> = segments
        .iter()
        .filter(|s| s.split_whitespace().count() == 1)
        .filter_map(|s| {
            let (a, b) = s.trim().split_once(',')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    view! {
        <svg class="sparkline" viewBox=format!("0 0 {w} {h}") width=w height=h role="img" aria-label=label>
            {segments.into_iter().map(|p| view! { <polyline points=p fill="none"/> }).collect_view()}
            {dots.into_iter().map(|(cx, cy)| view! { <circle cx=cx cy=cy r="1.5"/> }).collect_view()}
        </svg>
    }
}

fn change_words(card: &KpiCard) -> (String, &'static str) {
    let unit = card.kpi.spec().unit;
    match (card.current.value, card.previous) {
        (Some(now), Some(before)) => {
            let diff = now - before;
            let text = match unit {
                Unit::Fraction => format!("{:+.1} pts", diff * 100.0),
                Unit::Ms => format!(
                    "{}{}",
                    if diff >= 0.0 { "+" } else { "−" },
                    format_span(diff.abs())
                ),
                Unit::Latency => format!("{diff:+.0} ms"),
                Unit::Rating => format!("{diff:+.1}"),
            };
            // Below the shown precision it is no change.
            if text
                .trim_start_matches(['+', '-', '−'])
                .starts_with(|c: char| c == '0')
                && !text.chars().any(|c| c.is_ascii_digit() && c != '0')
            {
                return ("same as previous".into(), "same");
            }
            let class = match card.improved() {
                Some(true) => "better",
                Some(false) => "worse",
                None => "same",
            };
            (format!("{text} vs previous"), class)
        }
        (_, None) => ("nothing to compare before".into(), "same"),
        (None, Some(_)) => ("no data this period".into(), "same"),
    }
}

#[component]
fn Card(card: KpiCard, links: CardLinks) -> impl IntoView {
    let spec = card.kpi.spec();
    let value = match card.current.value {
        Some(v) => format!(
            "{}{}",
            if card.current.at_least { "≥ " } else { "" },
            format_value(spec.unit, v)
        ),
        None => "–".into(),
    };
    let secondary = card.current.secondary.map(|v| match card.kpi {
        crate::logic::kpi::Kpi::AlertResponse => format!("p90 {}", format_span(v)),
        _ => format!("{} within SLA", percent(v)),
    });
    let (change, change_class) = change_words(&card);
    let href = match spec.source {
        Source::Runs => links.runs.clone(),
        Source::Health => links.deployments.clone(),
        Source::Ratings => "#comments".to_string(),
        Source::Alerts | Source::Deployments => format!("/kpis/{}?{}", spec.id, links.query),
    };
    let behind = match spec.source {
        Source::Runs => "The runs",
        Source::Health => "The deployments",
        Source::Ratings => "The comments",
        Source::Alerts => "The alerts",
        Source::Deployments => "The deployments and incidents",
    };
    view! {
        <article class=format!("kpi-card band-{}", card.band.as_str()) id=format!("kpi-{}", spec.id)>
            <h3 title=spec.definition>{spec.label}</h3>
            <div class="kpi-value">{value}</div>
            <div class="kpi-meta">
                <span class=format!("pill {}", band_class(card.band))>{card.band.label()}</span>
                <span class="muted small" title=spec.seed>{format!("target {}", format_target(&card.target))}{card.target.custom.then_some(" (project)")}</span>
            </div>
            {secondary.map(|s| view! { <div class="small">{s}</div> })}
            <div class=format!("small change {change_class}")>{change}</div>
            <Sparkline series=card.series.clone() label=format!("{} trend", spec.label)/>
            <div class="muted small">{card.current.basis.clone()}</div>
            <a class="small" href=href>{behind} " behind this number →"</a>
        </article>
    }
}

#[component]
fn Dora(report: Report, query: String) -> impl IntoView {
    let d = report.dora.clone();
    let k = d.current.clone();
    let p = d.previous.clone();
    let per_day = |v: Option<f64>| {
        v.map_or("–".into(), |v| {
            if v >= 1.0 {
                format!("{v:.1} / day")
            } else if v * 7.0 >= 1.0 {
                format!("{:.1} / week", v * 7.0)
            } else {
                format!("{:.1} / month", v * 30.0)
            }
        })
    };
    let span = |v: Option<f64>| v.map_or("–".into(), format_span);
    let rate = |v: Option<f64>| v.map_or("–".into(), percent);
    let tiles: Vec<(
        usize,
        String,
        String,
        Option<Performance>,
        Vec<Option<f64>>,
        String,
    )> = vec![
        (
            0,
            per_day(k.deployment_frequency),
            per_day(p.deployment_frequency),
            k.bands.deployment_frequency,
            d.frequency_series.clone(),
            format!("{} live deployments", k.successful.len()),
        ),
        (
            1,
            span(k.lead_time_ms),
            span(p.lead_time_ms),
            k.bands.lead_time,
            d.lead_time_series.clone(),
            format!(
                "{} deployments knew their first commit",
                k.lead_time_samples
            ),
        ),
        (
            2,
            rate(k.change_failure_rate),
            rate(p.change_failure_rate),
            k.bands.change_failure_rate,
            d.failure_rate_series.clone(),
            format!(
                "{} of {} deployments",
                k.failed_changes.len(),
                k.finished.len()
            ),
        ),
        (
            3,
            span(k.recovery_ms),
            span(p.recovery_ms),
            k.bands.recovery,
            d.recovery_series.clone(),
            still_failing_words(&k),
        ),
    ];
    view! {
        <section class="panel" aria-labelledby="dora-h" id="dora">
            <h2 id="dora-h">"DORA four keys"</h2>
            <p class="muted small intro">"Bands from the 2023 Accelerate State of DevOps report, each key on its own: elite, high, medium, low."</p>
            <div class="kpi-grid">
                {tiles.into_iter().map(|(i, now, before, band, series, basis)| {
                    let (id, label, definition) = DORA_KEYS[i];
                    view! {
                        <article class="kpi-card" id=format!("kpi-{id}")>
                            <h3 title=definition>{label}</h3>
                            <div class="kpi-value">{now}</div>
                            <div class="kpi-meta">
                                <span class=format!("pill {}", perf_class(band))>{band.map_or("no data", |b| b.as_str())}</span>
                                <span class="muted small">{format!("previous {before}")}</span>
                            </div>
                            <Sparkline series=series label=format!("{label} trend")/>
                            <div class="muted small">{basis}</div>
                            <a class="small" href=format!("/kpis/{id}?{query}")>"The deployments behind this number →"</a>
                        </article>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}

fn still_failing_words(k: &FourKeys) -> String {
    format!(
        "{} recovered; {} still failing at the end",
        k.recovered, k.still_failing
    )
}

#[island]
fn RatingPrompt(project: String) -> impl IntoView {
    let act = ServerAction::<RateGatehouse>::new();
    let done = move || matches!(act.value().get(), Some(Ok(())));
    view! {
        <section class="panel rating no-print" id="rating-prompt" aria-labelledby="rating-h">
            {move || if done() {
                view! { <p id="rating-thanks">"Thank you: your rating is counted in team satisfaction. We will ask again next month."</p> }.into_any()
            } else {
                let project = project.clone();
                view! {
                    <h2 id="rating-h">"How well does Gatehouse serve your team?"</h2>
                    <p class="muted small">"Once a month: 1 (poorly) to 5 (very well), with a comment if you like."</p>
                    {action_error(act.value().into())}
                    <ActionForm action=act attr:class="inline">
                        <input type="hidden" name="project" value=project/>
                        <fieldset class="stars">
                            <legend class="sr-only">"Rating"</legend>
                            {(1..=5).map(|n| view! {
                                <label><input type="radio" name="rating" value=n.to_string() required=true/>{n.to_string()}</label>
                            }).collect_view()}
                        </fieldset>
                        <label for="rating-comment" class="sr-only">"Comment"</label>
                        <input type="text" id="rating-comment" name="comment" maxlength="2000" placeholder="What would make it better?"/>
                        <button type="submit" id="rating-send">"Send"</button>
                    </ActionForm>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Incidents(data: OverviewPageData) -> impl IntoView {
    let s = data.overview.scope.clone();
    let rows = data.incidents.clone();
    let can = data.can_record_incidents;
    view! {
        <section class="panel" aria-labelledby="incidents-h" id="incidents">
            <h2 id="incidents-h">{format!("Incidents in {}", s.environment)}</h2>
            <p class="muted small intro">"An incident linked to the deployment that caused it makes that deployment a failed change; its resolution ends a recovery. Monitoring systems report them through the API too."</p>
            {if rows.is_empty() {
                view! { <p class="muted">"No incident in this range."</p> }.into_any()
            } else {
                view! {
                    <table class="data" id="incident-table">
                        <thead><tr><th>"Started"</th><th>"Incident"</th><th>"Severity"</th><th>"Deployment"</th><th>"Resolved"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|i| view! {
                                <tr>
                                    <td>{format_utc(i.started_at)}</td>
                                    <td>{i.title.clone()}</td>
                                    <td>{i.severity.clone()}</td>
                                    <td>{i.deployment_id.map(|d| view! { <a href=format!("/deployments/{d}")>{format!("#{d}")}</a> })}</td>
                                    <td>{match i.resolved_at {
                                        Some(r) => format!("after {}", format_span((r - i.started_at) as f64)).into_any(),
                                        None if can => view! { <ResolveButton id=i.id/> }.into_any(),
                                        None => "open".into_any(),
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {can.then(|| view! { <IncidentForm project=s.project.clone() environment=s.environment.clone() deployments=data.recent_deployments.clone()/> })}
        </section>
    }
}

#[island]
fn ResolveButton(id: i64) -> impl IntoView {
    let act = ServerAction::<ResolveIncident>::new();
    reload_on_success(act.value().into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="id" value=id.to_string()/>
            <button type="submit" class="small" id=format!("resolve-{id}")>"Resolve now"</button>
        </ActionForm>
    }
}

#[island]
fn IncidentForm(
    project: String,
    environment: String,
    deployments: Vec<(i64, String)>,
) -> impl IntoView {
    let act = ServerAction::<RecordIncident>::new();
    reload_on_success(act.value().into());
    view! {
        <details class="no-print" id="incident-form">
            <summary>"Record an incident"</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stacked">
                <input type="hidden" name="project" value=project/>
                <input type="hidden" name="environment" value=environment/>
                <label for="i-title">"What happened"</label>
                <input type="text" id="i-title" name="title" required=true maxlength="200"/>
                <label for="i-severity">"Severity"</label>
                <select id="i-severity" name="severity">
                    <option value="critical">"critical"</option>
                    <option value="warning" selected=true>"warning"</option>
                    <option value="info">"info"</option>
                </select>
                <label for="i-started">"Started at (UTC)"</label>
                <input type="datetime-local" id="i-started" name="started_at" required=true/>
                <label for="i-deployment">"Caused by deployment"</label>
                <select id="i-deployment" name="deployment_id">
                    <option value="">"not known"</option>
                    {deployments.into_iter().map(|(id, label)| view! { <option value=id.to_string()>{label}</option> }).collect_view()}
                </select>
                <button type="submit" id="i-record">"Record incident"</button>
            </ActionForm>
        </details>
    }
}

/// The project's rollout plans and how far each has come (not printed: the report is the KPIs).
#[component]
fn Plans(plans: Vec<crate::model::PlanSummary>, project: String) -> impl IntoView {
    let all = format!("/plans?project={}", encode_query_value(&project));
    view! {
        <section class="panel no-print" id="plans-panel" aria-labelledby="plans-h">
            <h2 id="plans-h">"Rollout plans"</h2>
            {if plans.is_empty() {
                view! { <p class="muted">"No rollout plan for this project. " <a href=all.clone()>"Start one from the 10-phase roadmap"</a>"."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain">
                        {plans.into_iter().map(|p| {
                            let share = if p.items > 0 { p.items_done as f64 / p.items as f64 } else { 0.0 };
                            view! {
                                <li>
                                    <a href=format!("/plans/{}", p.id)>{p.title.clone()}</a>
                                    <span class="meter" role="img" aria-label=format!("{} of {} items done", p.items_done, p.items)><span style=format!("width:{:.0}%", share * 100.0)></span></span>
                                    <span class="muted small">{format!(" {} of {} phases done · now: {}", p.done, p.phases, p.current.clone().unwrap_or_else(|| "all done".into()))}</span>
                                    {(p.blocked > 0).then(|| view! { " " <span class="badge bad">{format!("{} blocked", p.blocked)}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                    <p class="small"><a href=all.clone()>"All plans of this project"</a></p>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Comments(comments: Vec<(i64, i64, String)>) -> impl IntoView {
    view! {
        <section class="panel" id="comments" aria-labelledby="comments-h">
            <h2 id="comments-h">"What people said"</h2>
            {if comments.is_empty() {
                view! { <p class="muted">"No comment with a rating in this range."</p> }.into_any()
            } else {
                view! {
                    <ul class="comments">
                        {comments.into_iter().map(|(at, rating, text)| view! {
                            <li><strong>{format!("{rating} / 5")}</strong> " " {text} <span class="muted small">{format!(" · {}", format_utc(at))}</span></li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Targets(data: OverviewPageData) -> impl IntoView {
    let project = data.overview.scope.project.clone();
    view! {
        <section class="panel no-print" id="targets" aria-labelledby="targets-h">
            <h2 id="targets-h">{format!("Targets of {project}")}</h2>
            <p class="muted small">"One line per KPI: its id, the target, and the at-risk boundary past which it is off target. Fractions as fractions (0.95, not 95%); durations with a unit (ms, s, min, h, d). A KPI left out uses the seeds' target."</p>
            {if data.can_edit_targets {
                view! { <TargetsEditor project=project text=data.targets_text.clone()/> }.into_any()
            } else {
                view! { <pre class="targets" id="targets-text">{data.targets_text.clone()}</pre><p class="muted small">"Admins change them."</p> }.into_any()
            }}
        </section>
    }
}

#[island]
fn TargetsEditor(project: String, text: String) -> impl IntoView {
    let act = ServerAction::<SaveKpiTargets>::new();
    reload_on_success(act.value().into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stacked">
            <input type="hidden" name="project" value=project/>
            <label for="targets-text" class="sr-only">"Targets"</label>
            <textarea id="targets-text" name="text" rows="14" spellcheck="false">{text}</textarea>
            <button type="submit" id="targets-save">"Save targets"</button>
        </ActionForm>
    }
}

#[component]
fn Definitions() -> impl IntoView {
    view! {
        <section class="panel kpi-definitions" id="definitions" aria-labelledby="definitions-h">
            <h2 id="definitions-h">"Definitions"</h2>
            <dl class="definitions">
                {DORA_KEYS.iter().map(|(_, label, def)| view! { <dt>{*label}</dt><dd>{*def}</dd> }).collect_view()}
                {SPECS.iter().map(|s| view! { <dt>{s.label}</dt><dd>{s.definition} <span class="muted">{format!(" ({})", s.seed)}</span></dd> }).collect_view()}
            </dl>
            <p class="muted small">"Bands: good when the target is met, at risk up to the at-risk boundary, off target beyond it. The change compares with the period of the same length just before. Days are UTC."</p>
        </section>
    }
}

/// `/kpis/:id`: one number and the deployments, alerts or incidents behind it.
#[component]
pub fn KpiDetailPage() -> impl IntoView {
    let q = query_from_url();
    let params = use_params_map();
    let id = params.read_untracked().get("id").unwrap_or_default();
    let data = Resource::new(|| (), move |_| kpi_detail(q.clone(), id.clone()));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="KPI"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <Detail data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Detail(data: KpiDetailData) -> impl IntoView {
    let d = data;
    let s = d.overview.scope.clone();
    let (label, definition, _) = sources_of(&d.overview.report, &d.id).unwrap_or_default();
    let back = format!(
        "/?{}",
        view_query(&s.project, &s.environment, d.days, &d.from, &d.to)
    );
    view! {
        <Title text=format!("{label} · {}", s.project)/>
        <header class="page-header">
            <p><a href=back>"← Overview"</a></p>
            <h1>{label.clone()} <span class="muted">" · " {s.project.clone()} " · " {s.environment.clone()}</span></h1>
            <p class="muted">{format!("{} to {} (UTC). ", d.from, d.to)} {definition}</p>
        </header>
        <section class="panel" aria-labelledby="items-h">
            <h2 id="items-h">{format!("Behind this number: {} items", d.items.len() + d.more)}</h2>
            {if d.items.is_empty() {
                view! { <p class="muted" id="no-items">"Nothing in this range."</p> }.into_any()
            } else {
                view! {
                    <table class="data" id="source-items">
                        <thead><tr><th>"When"</th><th>"Kind"</th><th>"What"</th><th>"Detail"</th></tr></thead>
                        <tbody>
                            {d.items.into_iter().map(|i| view! {
                                <tr>
                                    <td>{format_utc(i.at)}</td>
                                    <td>{format!("{} #{}", i.kind, i.id)}</td>
                                    <td>{if i.href.is_empty() { i.title.clone().into_any() } else { view! { <a href=i.href.clone()>{i.title.clone()}</a> }.into_any() }}</td>
                                    <td>{i.detail.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {(d.more > 0).then(|| view! { <p class="muted small">{format!("and {} more (the newest are listed)", d.more)}</p> })}
        </section>
    }
}
