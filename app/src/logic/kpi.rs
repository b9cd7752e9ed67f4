//! The managers' delivery KPIs: what each one measures, its seeds' target and at-risk
//! boundary, and how it is computed from stored facts over a period. The overview page, its
//! CSV export and `GET /api/v1/projects/{project}/kpis` all call [`report`] on the facts the
//! store loads once, so they cannot disagree; DORA's four keys come from
//! [`dora::four_keys`] over the same deployments.
//!
//! Periods are whole UTC days `[from_day, to_day)`. Run and health figures come from daily
//! roll-ups (kept by database triggers); alerts, deployments, incidents and ratings are read
//! as rows.

use super::dora::{self, FourKeys, DAY_MS, HOUR_MS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kpi {
    FailureDetection,
    FalseAlerts,
    AlertResponse,
    Uptime,
    RollbackTime,
    Mttr,
    Mtbf,
    TestPassRate,
    Coverage,
    LatencyP50,
    LatencyP99,
    ErrorRate,
    Satisfaction,
}

/// How a KPI's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0..1, shown as a percentage.
    Fraction,
    /// A duration in milliseconds.
    Ms,
    /// A latency in milliseconds, shown as such.
    Latency,
    /// 1..5.
    Rating,
}

/// What a KPI is computed from, for the links to the items behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Runs,
    Alerts,
    Deployments,
    Health,
    Ratings,
}

pub struct Spec {
    pub kpi: Kpi,
    pub id: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub higher_is_better: bool,
    /// The seeds' target (good at or beyond it).
    pub target: f64,
    /// Beyond the target but not past this: at risk; past it: off target.
    pub at_risk: f64,
    pub source: Source,
    pub definition: &'static str,
    /// Where the default target comes from.
    pub seed: &'static str,
}

const MIN: f64 = 60_000.0;

pub const SPECS: [Spec; 13] = [
    Spec {
        kpi: Kpi::FailureDetection,
        id: "failure_detection",
        label: "Failure detection",
        unit: Unit::Fraction,
        higher_is_better: true,
        target: 0.90,
        at_risk: 0.85,
        source: Source::Alerts,
        definition: "Runs that failed (failure or error) in the period and had a risk alert, among all runs that failed in it.",
        seed: "seeds: failure detection 90%+ (detected failures vs actual)",
    },
    Spec {
        kpi: Kpi::FalseAlerts,
        id: "false_alerts",
        label: "False alerts",
        unit: Unit::Fraction,
        higher_is_better: false,
        target: 0.10,
        at_risk: 0.15,
        source: Source::Alerts,
        definition: "Risk alerts opened in the period whose run then passed, among those whose run has finished.",
        seed: "seeds: false alerts < 10%; calibration false positives < 15%",
    },
    Spec {
        kpi: Kpi::AlertResponse,
        id: "alert_response",
        label: "Alert response time",
        unit: Unit::Ms,
        higher_is_better: false,
        target: 5.0 * MIN,
        at_risk: 10.0 * MIN,
        source: Source::Alerts,
        definition: "Median time from an alert opening (risk or drift) to a person acknowledging it, over the alerts opened in the period; the p90 and the alerts never acknowledged are shown beside it.",
        seed: "seeds: response time < 5 min (alert to human response)",
    },
    Spec {
        kpi: Kpi::Uptime,
        id: "uptime",
        label: "CI/CD uptime",
        unit: Unit::Fraction,
        higher_is_better: true,
        target: 0.99,
        at_risk: 0.98,
        source: Source::Health,
        definition: "Share of the period's observations that found CI/CD up: each finished run is one (down when it ended in an infrastructure error), each health sample of the environment is one (its availability, or healthy as 1 and unhealthy as 0).",
        seed: "seeds: system uptime 99%+ (99.99% in the roadmap)",
    },
    Spec {
        kpi: Kpi::RollbackTime,
        id: "rollback_time",
        label: "Rollback time",
        unit: Unit::Ms,
        higher_is_better: false,
        target: 15.0 * MIN,
        at_risk: 20.0 * MIN,
        source: Source::Deployments,
        definition: "Median time from the decision to roll back to the rollback deployment going live, over rollbacks finished in the period; the share within the 15-minute SLA is shown beside it.",
        seed: "seeds: rollback < 15 min (the rollback SLA)",
    },
    Spec {
        kpi: Kpi::Mttr,
        id: "mttr",
        label: "MTTR",
        unit: Unit::Ms,
        higher_is_better: false,
        target: 5.0 * MIN,
        at_risk: 15.0 * MIN,
        source: Source::Deployments,
        definition: "Mean time to recovery over the failures that started in the period and recovered in it: a failed or rolled-back deployment recovers at the environment's next successful deployment, an incident at its resolution (DORA's recovery time is the median of the same times).",
        seed: "roadmap: MTTR < 5 minutes",
    },
    Spec {
        kpi: Kpi::Mtbf,
        id: "mtbf",
        label: "MTBF",
        unit: Unit::Ms,
        higher_is_better: true,
        target: 30.0 * DAY_MS as f64,
        at_risk: 14.0 * DAY_MS as f64,
        source: Source::Deployments,
        definition: "Mean time between failures: the period's length divided by the failures (failed or rolled-back deployments, incidents) that started in it. With no failure it is shown as at least the period's length, and is on target.",
        seed: "roadmap: MTBF > 30 days",
    },
    Spec {
        kpi: Kpi::TestPassRate,
        id: "test_pass_rate",
        label: "Test pass rate",
        unit: Unit::Fraction,
        higher_is_better: true,
        target: 0.98,
        at_risk: 0.95,
        source: Source::Runs,
        definition: "Test cases that passed among those that ran (passed, failed or errored; skipped cases neither pass nor fail), over the runs finished in the period.",
        seed: "seeds: pass rate target ≥ 98%, warning < 98%, critical < 95%",
    },
    Spec {
        kpi: Kpi::Coverage,
        id: "coverage",
        label: "Line coverage",
        unit: Unit::Fraction,
        higher_is_better: true,
        target: 0.80,
        at_risk: 0.75,
        source: Source::Runs,
        definition: "Mean line coverage of the runs finished in the period that reported coverage.",
        seed: "seeds: minimum 80% code coverage (85% in the release pipeline)",
    },
    Spec {
        kpi: Kpi::LatencyP50,
        id: "latency_p50",
        label: "p50 latency",
        unit: Unit::Latency,
        higher_is_better: false,
        target: 100.0,
        at_risk: 200.0,
        source: Source::Runs,
        definition: "Mean of the p50 response times that the period's finished runs measured in their performance stage.",
        seed: "roadmap: p50 response time < 100 ms",
    },
    Spec {
        kpi: Kpi::LatencyP99,
        id: "latency_p99",
        label: "p99 latency",
        unit: Unit::Latency,
        higher_is_better: false,
        target: 200.0,
        at_risk: 500.0,
        source: Source::Runs,
        definition: "Mean of the p99 response times that the period's finished runs measured in their performance stage.",
        seed: "roadmap: p99 < 200 ms; deployment guide: p99 < 500 ms",
    },
    Spec {
        kpi: Kpi::ErrorRate,
        id: "error_rate",
        label: "Error rate",
        unit: Unit::Fraction,
        higher_is_better: false,
        target: 0.001,
        at_risk: 0.01,
        source: Source::Health,
        definition: "Mean error rate of the environment's health samples taken in the period.",
        seed: "roadmap: error rate < 0.1%",
    },
    Spec {
        kpi: Kpi::Satisfaction,
        id: "satisfaction",
        label: "Team satisfaction",
        unit: Unit::Rating,
        higher_is_better: true,
        target: 4.5,
        at_risk: 4.0,
        source: Source::Ratings,
        definition: "Mean of the 1–5 ratings people gave in the period (each person is asked at most once a month).",
        seed: "seeds: user satisfaction 4.5/5 (team feedback survey)",
    },
];

impl Kpi {
    pub fn spec(self) -> &'static Spec {
        SPECS
            .iter()
            .find(|s| s.kpi == self)
            .expect("every KPI has a spec")
    }

    pub fn id(self) -> &'static str {
        self.spec().id
    }

    pub fn parse(id: &str) -> Option<Kpi> {
        SPECS.iter().find(|s| s.id == id).map(|s| s.kpi)
    }
}

/// good / at risk / off target, or nothing to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Good,
    AtRisk,
    OffTarget,
    NoData,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Good => "good",
            Band::AtRisk => "at_risk",
            Band::OffTarget => "off_target",
            Band::NoData => "no_data",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Band::Good => "good",
            Band::AtRisk => "at risk",
            Band::OffTarget => "off target",
            Band::NoData => "no data",
        }
    }
}

/// A KPI's target and at-risk boundary for one project.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub kpi: Kpi,
    pub target: f64,
    pub at_risk: f64,
    /// False when it is the seeds' default.
    pub custom: bool,
}

impl Target {
    pub fn default_for(kpi: Kpi) -> Target {
        let s = kpi.spec();
        Target {
            kpi,
            target: s.target,
            at_risk: s.at_risk,
            custom: false,
        }
    }

    /// Good when the target is met (at or above it when higher is better, below it
    /// otherwise), at risk up to the at-risk boundary, off target beyond.
    pub fn band(&self, value: Option<f64>) -> Band {
        let Some(v) = value else {
            return Band::NoData;
        };
        if self.kpi.spec().higher_is_better {
            if v >= self.target {
                Band::Good
            } else if v >= self.at_risk {
                Band::AtRisk
            } else {
                Band::OffTarget
            }
        } else if v < self.target {
            Band::Good
        } else if v < self.at_risk {
            Band::AtRisk
        } else {
            Band::OffTarget
        }
    }

    /// Why a target cannot be saved, in words.
    pub fn check(&self) -> Result<(), String> {
        let s = self.kpi.spec();
        let ok = |v: f64| match s.unit {
            Unit::Fraction => (0.0..=1.0).contains(&v),
            Unit::Rating => (1.0..=5.0).contains(&v),
            Unit::Ms | Unit::Latency => v >= 0.0 && v.is_finite(),
        };
        if !ok(self.target) || !ok(self.at_risk) {
            return Err(format!(
                "{}: {}",
                s.id,
                match s.unit {
                    Unit::Fraction => "targets are fractions from 0 to 1 (0.95, not 95)",
                    Unit::Rating => "targets are ratings from 1 to 5",
                    _ => "targets are durations of 0 ms or more",
                }
            ));
        }
        let ordered = if s.higher_is_better {
            self.at_risk <= self.target
        } else {
            self.at_risk >= self.target
        };
        if !ordered {
            return Err(format!(
                "{}: the at-risk boundary must be {} the target",
                s.id,
                if s.higher_is_better {
                    "at or below"
                } else {
                    "at or above"
                }
            ));
        }
        Ok(())
    }
}

/// Every KPI's target for a project: its own where set, the seeds' otherwise.
pub fn targets_with_defaults(custom: &[Target]) -> Vec<Target> {
    SPECS
        .iter()
        .map(|s| {
            custom
                .iter()
                .find(|t| t.kpi == s.kpi)
                .copied()
                .unwrap_or_else(|| Target::default_for(s.kpi))
        })
        .collect()
}

// ---- facts, as the store loads them ----

/// One project's finished runs on one UTC day (the `run_day` roll-up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunDay {
    pub day: i64,
    pub finished: i64,
    pub failed: i64,
    pub errored: i64,
    pub tests_ran: i64,
    pub tests_passed: i64,
    pub coverage_sum: f64,
    pub coverage_n: i64,
    pub p50_sum: f64,
    pub p50_n: i64,
    pub p99_sum: f64,
    pub p99_n: i64,
}

impl RunDay {
    fn add(&mut self, o: &RunDay) {
        self.finished += o.finished;
        self.failed += o.failed;
        self.errored += o.errored;
        self.tests_ran += o.tests_ran;
        self.tests_passed += o.tests_passed;
        self.coverage_sum += o.coverage_sum;
        self.coverage_n += o.coverage_n;
        self.p50_sum += o.p50_sum;
        self.p50_n += o.p50_n;
        self.p99_sum += o.p99_sum;
        self.p99_n += o.p99_n;
    }
}

/// One environment's health samples on one UTC day (the `health_day` roll-up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthDay {
    pub day: i64,
    pub availability_sum: f64,
    pub availability_n: i64,
    pub error_sum: f64,
    pub error_n: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertFact {
    pub id: i64,
    /// A risk alert (on a run), not a drift alert.
    pub risk: bool,
    pub opened_at: i64,
    pub acknowledged_at: Option<i64>,
    /// The alerted run failed (`Some(true)`), passed, or has not finished.
    pub run_failed: Option<bool>,
}

/// A rollback deployment that went live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackFact {
    pub id: i64,
    pub decided_at: i64,
    pub finished_at: i64,
}

/// Everything the KPIs of one project and environment are computed from, over the current
/// and previous periods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub run_days: Vec<RunDay>,
    pub health_days: Vec<HealthDay>,
    pub alerts: Vec<AlertFact>,
    /// The environment's finished deployments (rollbacks included).
    pub deployments: Vec<dora::Deployment>,
    pub incidents: Vec<dora::Incident>,
    pub rollbacks: Vec<RollbackFact>,
    /// (at, rating)
    pub ratings: Vec<(i64, i64)>,
}

/// The items a value was computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub deployments: Vec<i64>,
    pub alerts: Vec<i64>,
    pub incidents: Vec<i64>,
}

/// One KPI over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub value: Option<f64>,
    /// The value is a lower bound (MTBF without a failure in the period).
    pub at_least: bool,
    /// What it was counted over, in words ("412 of 430 runs").
    pub basis: String,
    /// A second figure (p90 of alert response, share within the rollback SLA).
    pub secondary: Option<f64>,
    pub sources: Sources,
}

fn sum_days<T: Copy + Default>(
    days: &[T],
    day_of: impl Fn(&T) -> i64,
    add: impl Fn(&mut T, &T),
    from_day: i64,
    to_day: i64,
) -> T {
    let mut total = T::default();
    for d in days
        .iter()
        .filter(|d| (from_day..to_day).contains(&day_of(d)))
    {
        add(&mut total, d);
    }
    total
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// How far before a period a failure can start and still recover in it (a deployment live
/// before the period and rolled back inside it): the store loads deployments and incidents
/// from this far back, and trend buckets look this far back.
pub const LOOKBACK_DAYS: i64 = 30;

/// Every KPI over `[from_day, to_day)`, with the environment's four keys over the same days.
pub fn measure_all(facts: &Facts, from_day: i64, to_day: i64) -> (Vec<(Kpi, Measure)>, FourKeys) {
    let (from, to) = (from_day * DAY_MS, to_day * DAY_MS);
    let inside = |t: i64| t >= from && t < to;
    let runs = sum_days(&facts.run_days, |d| d.day, RunDay::add, from_day, to_day);
    let health = sum_days(
        &facts.health_days,
        |d| d.day,
        |a, b| {
            a.availability_sum += b.availability_sum;
            a.availability_n += b.availability_n;
            a.error_sum += b.error_sum;
            a.error_n += b.error_n;
        },
        from_day,
        to_day,
    );
    let keys = dora::four_keys(&facts.deployments, &facts.incidents, from, to);
    let alerts: Vec<&AlertFact> = facts
        .alerts
        .iter()
        .filter(|a| inside(a.opened_at))
        .collect();
    let mut out = Vec::with_capacity(SPECS.len());
    for spec in &SPECS {
        let mut m = Measure {
            value: None,
            at_least: false,
            basis: String::new(),
            secondary: None,
            sources: Sources::default(),
        };
        match spec.kpi {
            Kpi::FailureDetection => {
                let caught: Vec<i64> = alerts
                    .iter()
                    .filter(|a| a.risk && a.run_failed == Some(true))
                    .map(|a| a.id)
                    .collect();
                m.value = ratio(caught.len() as f64, runs.failed as f64).map(|v| v.min(1.0));
                m.basis = format!("{} of {} failed runs alerted", caught.len(), runs.failed);
                m.sources.alerts = caught;
            }
            Kpi::FalseAlerts => {
                let decided: Vec<&&AlertFact> = alerts
                    .iter()
                    .filter(|a| a.risk && a.run_failed.is_some())
                    .collect();
                let wrong: Vec<i64> = decided
                    .iter()
                    .filter(|a| a.run_failed == Some(false))
                    .map(|a| a.id)
                    .collect();
                m.value = ratio(wrong.len() as f64, decided.len() as f64);
                m.basis = format!(
                    "{} of {} risk alerts on runs that passed",
                    wrong.len(),
                    decided.len()
                );
                m.sources.alerts = wrong;
            }
            Kpi::AlertResponse => {
                let mut times: Vec<f64> = alerts
                    .iter()
                    .filter_map(|a| a.acknowledged_at.map(|t| (t - a.opened_at).max(0) as f64))
                    .collect();
                times.sort_by(f64::total_cmp);
                let open = alerts.len() - times.len();
                m.secondary = percentile(&times, 0.9);
                m.value = dora::median(&mut times);
                m.basis = format!(
                    "{} acknowledged of {} alerts; {open} not acknowledged",
                    times.len(),
                    alerts.len()
                );
                m.sources.alerts = alerts.iter().map(|a| a.id).collect();
            }
            Kpi::Uptime => {
                let up = (runs.finished - runs.errored) as f64 + health.availability_sum;
                let n = runs.finished as f64 + health.availability_n as f64;
                m.value = ratio(up, n);
                m.basis = format!(
                    "{} infrastructure errors in {} runs; {} health samples",
                    runs.errored, runs.finished, health.availability_n
                );
            }
            Kpi::RollbackTime => {
                let done: Vec<&RollbackFact> = facts
                    .rollbacks
                    .iter()
                    .filter(|r| inside(r.finished_at))
                    .collect();
                let mut times: Vec<f64> = done
                    .iter()
                    .map(|r| (r.finished_at - r.decided_at).max(0) as f64)
                    .collect();
                let within = times
                    .iter()
                    .filter(|t| **t <= super::deploy::ROLLBACK_SLA_MS as f64)
                    .count();
                m.secondary = ratio(within as f64, times.len() as f64);
                m.value = dora::median(&mut times);
                m.basis = format!("{within} of {} rollbacks within 15 min", done.len());
                m.sources.deployments = done.iter().map(|r| r.id).collect();
            }
            Kpi::Mttr => {
                m.value = keys.recovery_mean_ms;
                m.basis = format!(
                    "{} failures recovered; {} still failing at the end",
                    keys.recovered, keys.still_failing
                );
                m.sources.deployments = keys.failure_deployments.clone();
                m.sources.incidents = keys.failure_incidents.clone();
            }
            Kpi::Mtbf => {
                let failures = keys.failure_deployments.len() + keys.failure_incidents.len();
                let length = (to - from) as f64;
                if failures == 0 {
                    m.value = Some(length);
                    m.at_least = true;
                } else {
                    m.value = Some(length / failures as f64);
                }
                m.basis = format!("{failures} failures in {} days", to_day - from_day);
                m.sources.deployments = keys.failure_deployments.clone();
                m.sources.incidents = keys.failure_incidents.clone();
            }
            Kpi::TestPassRate => {
                m.value = ratio(runs.tests_passed as f64, runs.tests_ran as f64);
                m.basis = format!(
                    "{} of {} test cases passed in {} runs",
                    runs.tests_passed, runs.tests_ran, runs.finished
                );
            }
            Kpi::Coverage => {
                m.value = ratio(runs.coverage_sum, runs.coverage_n as f64);
                m.basis = format!("{} runs with coverage", runs.coverage_n);
            }
            Kpi::LatencyP50 => {
                m.value = ratio(runs.p50_sum, runs.p50_n as f64);
                m.basis = format!("{} runs measured p50", runs.p50_n);
            }
            Kpi::LatencyP99 => {
                m.value = ratio(runs.p99_sum, runs.p99_n as f64);
                m.basis = format!("{} runs measured p99", runs.p99_n);
            }
            Kpi::ErrorRate => {
                m.value = ratio(health.error_sum, health.error_n as f64);
                m.basis = format!("{} health samples", health.error_n);
            }
            Kpi::Satisfaction => {
                let given: Vec<i64> = facts
                    .ratings
                    .iter()
                    .filter(|(at, _)| inside(*at))
                    .map(|(_, r)| *r)
                    .collect();
                m.value = ratio(given.iter().sum::<i64>() as f64, given.len() as f64);
                m.basis = format!("{} ratings", given.len());
            }
        }
        out.push((spec.kpi, m));
    }
    (out, keys)
}

/// A KPI on the overview: this period, the previous one of the same length, and the trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiCard {
    pub kpi: Kpi,
    pub target: Target,
    pub band: Band,
    pub current: Measure,
    pub previous: Option<f64>,
    /// One value per bucket of [`Report::buckets`] (`None`: nothing to measure then).
    pub series: Vec<Option<f64>>,
}

impl KpiCard {
    /// Whether the change from the previous period is for the better (`None`: no change or
    /// nothing to compare).
    pub fn improved(&self) -> Option<bool> {
        let (now, before) = (self.current.value?, self.previous?);
        if (now - before).abs() < f64::EPSILON {
            return None;
        }
        Some((now > before) == self.kpi.spec().higher_is_better)
    }
}

/// The four keys over the period and the previous one, with a trend per bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dora {
    pub current: FourKeys,
    pub previous: FourKeys,
    pub frequency_series: Vec<Option<f64>>,
    pub lead_time_series: Vec<Option<f64>>,
    pub failure_rate_series: Vec<Option<f64>>,
    pub recovery_series: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from_day: i64,
    pub to_day: i64,
    /// The first day of each trend bucket; each runs to the next (the last to `to_day`).
    pub buckets: Vec<i64>,
    pub cards: Vec<KpiCard>,
    pub dora: Dora,
}

/// Days per trend bucket: daily up to 62 days, then wider so a trend has at most ~60 points.
pub fn bucket_days(days: i64) -> i64 {
    if days <= 62 {
        1
    } else {
        (days + 59) / 60
    }
}

/// The KPIs of `[from_day, to_day)` with targets, bands, the previous period and trends.
pub fn report(facts: &Facts, targets: &[Target], from_day: i64, to_day: i64) -> Report {
    let len = (to_day - from_day).max(1);
    let (current, keys) = measure_all(facts, from_day, to_day);
    let (previous, prev_keys) = measure_all(facts, from_day - len, from_day);
    let step = bucket_days(len);
    let buckets: Vec<i64> = (from_day..to_day).step_by(step as usize).collect();
    // Each bucket sees the alerts opened in it and the deployments that can count in it: those
    // that finished in it, and those rolled back in the lookback before it (they went live
    // before the bucket, and their failure may start in it). Both are sliced from one sorted
    // copy, so the trend costs about one pass over the facts, not one per bucket.
    let mut sorted = facts.deployments.clone();
    sorted.sort_unstable_by_key(|d| (d.finished_at, d.id));
    let mut alerts = facts.alerts.clone();
    alerts.sort_unstable_by_key(|a| (a.opened_at, a.id));
    let mut bucket_facts = Facts {
        run_days: facts.run_days.clone(),
        health_days: facts.health_days.clone(),
        alerts: Vec::new(),
        deployments: Vec::new(),
        incidents: facts.incidents.clone(),
        rollbacks: facts.rollbacks.clone(),
        ratings: facts.ratings.clone(),
    };
    let per_bucket: Vec<(Vec<(Kpi, Measure)>, FourKeys)> = buckets
        .iter()
        .map(|b| {
            let end = (*b + step).min(to_day);
            let (start, end_ms) = (*b * DAY_MS, end * DAY_MS);
            let lo = sorted.partition_point(|d| d.finished_at < start - LOOKBACK_DAYS * DAY_MS);
            let mid = sorted.partition_point(|d| d.finished_at < start);
            let hi = sorted.partition_point(|d| d.finished_at < end_ms);
            bucket_facts.deployments.clear();
            bucket_facts.deployments.extend(
                sorted[lo..mid]
                    .iter()
                    .filter(|d| d.outcome == dora::Outcome::RolledBack)
                    .cloned(),
            );
            bucket_facts.deployments.extend_from_slice(&sorted[mid..hi]);
            let (lo, hi) = (
                alerts.partition_point(|a| a.opened_at < start),
                alerts.partition_point(|a| a.opened_at < end_ms),
            );
            bucket_facts.alerts.clear();
            bucket_facts.alerts.extend_from_slice(&alerts[lo..hi]);
            measure_all(&bucket_facts, *b, end)
        })
        .collect();
    let targets = targets_with_defaults(targets);
    let cards = current
        .into_iter()
        .zip(previous)
        .enumerate()
        .map(|(i, ((kpi, m), (_, p)))| {
            let target = targets[i];
            KpiCard {
                kpi,
                // No failure in the period: the estimate is unbounded, past any target.
                band: target.band(if m.at_least {
                    Some(f64::INFINITY)
                } else {
                    m.value
                }),
                target,
                current: m,
                // A lower bound (no failure then) is no value to compare with.
                previous: p.value.filter(|_| !p.at_least),
                series: per_bucket.iter().map(|(b, _)| b[i].1.value).collect(),
            }
        })
        .collect();
    let series = |f: fn(&FourKeys) -> Option<f64>| per_bucket.iter().map(|(_, k)| f(k)).collect();
    Report {
        from_day,
        to_day,
        dora: Dora {
            frequency_series: series(|k| k.deployment_frequency),
            lead_time_series: series(|k| k.lead_time_ms),
            failure_rate_series: series(|k| k.change_failure_rate),
            recovery_series: series(|k| k.recovery_ms),
            current: keys,
            previous: prev_keys,
        },
        buckets,
        cards,
    }
}

/// A value for display: `97.3%`, `4 min 10 s`, `182 ms`, `4.6 / 5`.
pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Fraction => {
            if v > 0.0 && v < 0.01 {
                format!("{:.2}%", v * 100.0)
            } else {
                format!("{:.1}%", v * 100.0)
            }
        }
        Unit::Ms => format_span(v),
        Unit::Latency => format!("{v:.0} ms"),
        Unit::Rating => format!("{v:.1} / 5"),
    }
}

/// A duration for display: `42 s`, `4.2 min`, `3.5 h`, `12.0 d`.
pub fn format_span(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 60.0 {
        format!("{s:.0} s")
    } else if ms < HOUR_MS as f64 {
        format!("{:.1} min", ms / MIN)
    } else if ms < DAY_MS as f64 {
        format!("{:.1} h", ms / HOUR_MS as f64)
    } else {
        format!("{:.1} d", ms / DAY_MS as f64)
    }
}

/// The target as a rule: `≥ 90.0%`, `< 5.0 min`.
pub fn format_target(t: &Target) -> String {
    let s = t.kpi.spec();
    format!(
        "{} {}",
        if s.higher_is_better { "≥" } else { "<" },
        format_value(s.unit, t.target)
    )
}

/// DORA's four keys as the overview names them: `(id, label, definition)`.
pub const DORA_KEYS: [(&str, &str, &str); 4] = [
    (
        "dora_deployment_frequency",
        "Deployment frequency",
        "Deployments that went live per day (a deployment later rolled back did go live).",
    ),
    (
        "dora_lead_time",
        "Lead time for changes",
        "Median time from a change's first commit to its deployment going live (rollbacks ship no new change and are left out).",
    ),
    (
        "dora_change_failure_rate",
        "Change failure rate",
        "Deployments that failed, were rolled back or led to an incident, among the deployments that finished in the period.",
    ),
    (
        "dora_recovery_time",
        "Failed-deployment recovery time",
        "Median time from a failure (failed or rolled-back deployment, incident) to the next successful deployment or the incident's resolution; failures still open at the end are counted apart.",
    ),
];

/// The label, definition and items behind a KPI or DORA key of a report.
pub fn sources_of(report: &Report, id: &str) -> Option<(String, String, Sources)> {
    if let Some(k) = Kpi::parse(id) {
        let card = report.cards.iter().find(|c| c.kpi == k)?;
        let s = k.spec();
        return Some((
            s.label.to_string(),
            s.definition.to_string(),
            card.current.sources.clone(),
        ));
    }
    let (key, label, definition) = DORA_KEYS.iter().find(|(k, _, _)| *k == id)?;
    let d = &report.dora.current;
    let sources = match *key {
        "dora_deployment_frequency" | "dora_lead_time" => Sources {
            deployments: d.successful.clone(),
            ..Sources::default()
        },
        "dora_change_failure_rate" => Sources {
            deployments: d.failed_changes.clone(),
            ..Sources::default()
        },
        _ => Sources {
            deployments: d.failure_deployments.clone(),
            incidents: d.failure_incidents.clone(),
            ..Sources::default()
        },
    };
    Some((label.to_string(), definition.to_string(), sources))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Every KPI and DORA key as CSV: a row for the whole period (`period` = `total`), then one
/// per trend bucket. Values in stored units: fractions, milliseconds, deployments per day.
pub fn to_csv(report: &Report, project: &str, environment: &str) -> String {
    use super::time::format_day;
    let mut out = String::from(
        "project,environment,kpi,label,period,from,to,value,unit,target,at_risk,band\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let bucket_end = |i: usize| report.buckets.get(i + 1).copied().unwrap_or(report.to_day);
    let mut row = |id: &str,
                   label: &str,
                   period: &str,
                   from: i64,
                   to: i64,
                   v: Option<f64>,
                   unit: &str,
                   t: Option<&Target>,
                   band: &str| {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(project),
            csv_field(environment),
            id,
            csv_field(label),
            period,
            format_day(from),
            format_day(to - 1),
            num(v),
            unit,
            num(t.map(|t| t.target)),
            num(t.map(|t| t.at_risk)),
            band
        ));
    };
    for c in &report.cards {
        let s = c.kpi.spec();
        let unit = match s.unit {
            Unit::Fraction => "fraction",
            Unit::Ms | Unit::Latency => "ms",
            Unit::Rating => "rating",
        };
        row(
            s.id,
            s.label,
            "total",
            report.from_day,
            report.to_day,
            c.current.value,
            unit,
            Some(&c.target),
            c.band.as_str(),
        );
        for (i, v) in c.series.iter().enumerate() {
            let b = c.target.band(*v);
            row(
                s.id,
                s.label,
                "bucket",
                report.buckets[i],
                bucket_end(i),
                *v,
                unit,
                Some(&c.target),
                b.as_str(),
            );
        }
    }
    let d = &report.dora;
    type Pick = fn(&FourKeys) -> (Option<f64>, Option<dora::Performance>);
    let keys: [(usize, &str, Pick, &Vec<Option<f64>>); 4] = [
        (
            0,
            "per_day",
            |k| (k.deployment_frequency, k.bands.deployment_frequency),
            &d.frequency_series,
        ),
        (
            1,
            "ms",
            |k| (k.lead_time_ms, k.bands.lead_time),
            &d.lead_time_series,
        ),
        (
            2,
            "fraction",
            |k| (k.change_failure_rate, k.bands.change_failure_rate),
            &d.failure_rate_series,
        ),
        (
            3,
            "ms",
            |k| (k.recovery_ms, k.bands.recovery),
            &d.recovery_series,
        ),
    ];
    for (i, unit, pick, series) in keys {
        let (id, label, _) = DORA_KEYS[i];
        let (v, band) = pick(&d.current);
        row(
            id,
            label,
            "total",
            report.from_day,
            report.to_day,
            v,
            unit,
            None,
            band.map_or("no_data", |b| b.as_str()),
        );
        for (j, v) in series.iter().enumerate() {
            row(
                id,
                label,
                "bucket",
                report.buckets[j],
                bucket_end(j),
                *v,
                unit,
                None,
                "",
            );
        }
    }
    out
}

/// The ranges the overview offers, in days.
pub const RANGES: [i64; 3] = [7, 30, 90];
/// The longest range, in days.
pub const MAX_DAYS: i64 = 730;

/// `[from_day, to_day)` from `days` back from today (inclusive of today), or, without `days`,
/// from `from` to `to` (dates, both inclusive); 30 days when neither is given.
pub fn resolve_range(
    days: Option<i64>,
    from: Option<&str>,
    to: Option<&str>,
    today: i64,
) -> Result<(i64, i64), String> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let (from, to) = if days.is_some() {
        (None, None)
    } else {
        (given(from), given(to))
    };
    match (from, to) {
        (None, None) => {
            let d = days.unwrap_or(30);
            if !(1..=MAX_DAYS).contains(&d) {
                return Err(format!("days: 1 to {MAX_DAYS} (got {d})"));
            }
            Ok((today - d + 1, today + 1))
        }
        (Some(f), Some(t)) => {
            let f = super::time::parse_day(f).map_err(|e| format!("from: {e}"))?;
            let t = super::time::parse_day(t).map_err(|e| format!("to: {e}"))?;
            if t < f {
                return Err("to: the range ends before it starts".into());
            }
            if t - f + 1 > MAX_DAYS {
                return Err(format!("from/to: at most {MAX_DAYS} days"));
            }
            Ok((f, t + 1))
        }
        (Some(_), None) => Err("to: give the last day of the range too".into()),
        (None, Some(_)) => Err("from: give the first day of the range too".into()),
    }
}

/// A stored value in the words of the targets editor: fractions as they are (`0.98`),
/// durations with a unit (`5min`, `30d`), latencies in ms, ratings as they are.
fn edit_value(unit: Unit, v: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match unit {
        Unit::Ms => {
            let d = DAY_MS as f64;
            if v >= d && (v / d).fract() == 0.0 {
                format!("{}d", trim(v / d))
            } else if v >= HOUR_MS as f64 && (v / HOUR_MS as f64).fract() == 0.0 {
                format!("{}h", trim(v / HOUR_MS as f64))
            } else {
                format!("{}min", trim(v / MIN))
            }
        }
        Unit::Latency => format!("{}ms", trim(v)),
        _ => trim(v),
    }
}

pub fn parse_edit_value(unit: Unit, text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{t}` is not a number"))?;
    let scale = match (unit, suffix) {
        (Unit::Ms, "ms") | (Unit::Latency, "ms" | "") => 1.0,
        (Unit::Ms, "s") => 1000.0,
        (Unit::Ms, "min" | "") => MIN,
        (Unit::Ms, "h") => HOUR_MS as f64,
        (Unit::Ms, "d") => DAY_MS as f64,
        (Unit::Fraction | Unit::Rating, "") => 1.0,
        (Unit::Fraction, "%") => {
            return Err(format!(
                "`{t}`: write fractions, not percents (0.95, not 95%)"
            ))
        }
        _ => return Err(format!("`{t}`: unknown unit `{suffix}`")),
    };
    Ok(n * scale)
}

/// The targets editor's text: one line per KPI, `kpi target at_risk`.
pub fn format_targets(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| {
            let u = t.kpi.spec().unit;
            format!(
                "{} {} {}",
                t.kpi.id(),
                edit_value(u, t.target),
                edit_value(u, t.at_risk)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the targets editor's text. Lines equal to the seeds' defaults are not custom; a KPI
/// not listed goes back to the seeds' target. Blank lines and `#` comments are skipped.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [id, target, at_risk] = parts[..] else {
            return Err(at(format!(
                "write `kpi target at_risk`, like `test_pass_rate 0.98 0.95` (got `{line}`)"
            )));
        };
        let kpi = Kpi::parse(id).ok_or_else(|| {
            at(format!(
                "no KPI `{id}`; they are {}",
                SPECS.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
            ))
        })?;
        if out.iter().any(|t| t.kpi == kpi) {
            return Err(at(format!("`{id}` is listed twice")));
        }
        let unit = kpi.spec().unit;
        let t = Target {
            kpi,
            target: parse_edit_value(unit, target).map_err(at)?,
            at_risk: parse_edit_value(unit, at_risk).map_err(at)?,
            custom: true,
        };
        t.check().map_err(at)?;
        let d = Target::default_for(kpi);
        if (t.target - d.target).abs() > 1e-12 || (t.at_risk - d.at_risk).abs() > 1e-12 {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::dora::{Deployment, Incident, Outcome};

    const D0: i64 = 20_000; // a UTC day
    const T0: i64 = D0 * DAY_MS;

    fn card<'a>(r: &'a Report, k: Kpi) -> &'a KpiCard {
        r.cards.iter().find(|c| c.kpi == k).unwrap()
    }

    #[test]
    fn no_facts_give_no_data_except_a_bounded_mtbf() {
        let r = report(&Facts::default(), &[], D0, D0 + 7);
        for c in &r.cards {
            if c.kpi == Kpi::Mtbf {
                assert_eq!(c.current.value, Some(7.0 * DAY_MS as f64));
                assert!(c.current.at_least);
                assert_eq!(c.band, Band::Good, "no failure: an unbounded estimate");
            } else {
                assert_eq!(c.current.value, None, "{:?}", c.kpi);
                assert_eq!(c.band, Band::NoData, "{:?}", c.kpi);
            }
        }
        assert_eq!(r.buckets.len(), 7);
        assert_eq!(r.dora.current.change_failure_rate, None);
    }

    #[test]
    fn a_hand_computed_week() {
        let day = |d: i64, f: i64, e: i64| RunDay {
            day: D0 + d,
            finished: 10,
            failed: f,
            errored: e,
            tests_ran: 100,
            tests_passed: 100 - f * 2,
            coverage_sum: 8.2,
            coverage_n: 10,
            p50_sum: 900.0,
            p50_n: 10,
            p99_sum: 2500.0,
            p99_n: 10,
        };
        let alert = |id: i64, at_min: i64, ack_min: Option<i64>, failed: Option<bool>| AlertFact {
            id,
            risk: true,
            opened_at: T0 + at_min * 60_000,
            acknowledged_at: ack_min.map(|m| T0 + (at_min + m) * 60_000),
            run_failed: failed,
        };
        let facts = Facts {
            // 7 days × 10 runs; 4 failed (one an infrastructure error) over the week.
            run_days: vec![
                day(0, 1, 0),
                day(1, 0, 0),
                day(2, 2, 1),
                day(3, 0, 0),
                day(4, 1, 0),
                day(5, 0, 0),
                day(6, 0, 0),
                // The previous week: 10 runs, 5 failed.
                RunDay {
                    day: D0 - 3,
                    finished: 10,
                    failed: 5,
                    tests_ran: 10,
                    tests_passed: 5,
                    ..Default::default()
                },
            ],
            health_days: vec![HealthDay {
                day: D0 + 1,
                availability_sum: 9.5,
                availability_n: 10,
                error_sum: 0.02,
                error_n: 10,
            }],
            alerts: vec![
                alert(1, 10, Some(2), Some(true)),
                alert(2, 20, Some(4), Some(true)),
                alert(3, 30, Some(12), Some(false)),
                alert(4, 40, None, Some(true)),
                alert(5, 50, Some(6), None),
            ],
            deployments: vec![Deployment {
                id: 7,
                finished_at: T0 + DAY_MS,
                outcome: Outcome::Failed,
                first_commit_at: None,
                rolled_back_at: None,
                is_rollback: false,
            }],
            incidents: vec![Incident {
                id: 9,
                started_at: T0 + 2 * DAY_MS,
                resolved_at: Some(T0 + 2 * DAY_MS + 10 * 60_000),
                deployment_id: None,
            }],
            rollbacks: vec![
                RollbackFact {
                    id: 11,
                    decided_at: T0,
                    finished_at: T0 + 10 * 60_000,
                },
                RollbackFact {
                    id: 12,
                    decided_at: T0 + DAY_MS,
                    finished_at: T0 + DAY_MS + 20 * 60_000,
                },
            ],
            ratings: vec![(T0 + 5, 5), (T0 + 6, 4), (T0 - DAY_MS, 1)],
        };
        let r = report(&facts, &[], D0, D0 + 7);
        // Detection: alerts 1, 2 and 4 are on failed runs, of 4 failed runs.
        let c = card(&r, Kpi::FailureDetection);
        assert_eq!(c.current.value, Some(0.75));
        assert_eq!(c.current.sources.alerts, vec![1, 2, 4]);
        assert_eq!(c.band, Band::OffTarget);
        // Previous week: 5 failed, no alerts.
        assert_eq!(c.previous, Some(0.0));
        assert_eq!(c.improved(), Some(true));
        // False alerts: alert 3 of the 4 decided.
        let c = card(&r, Kpi::FalseAlerts);
        assert_eq!(c.current.value, Some(0.25));
        assert_eq!(c.band, Band::OffTarget);
        // Response: 2, 4, 12, 6 min → median 5 min, p90 (nearest rank 4 of 4) 12 min.
        let c = card(&r, Kpi::AlertResponse);
        assert_eq!(c.current.value, Some(5.0 * MIN));
        assert_eq!(c.current.secondary, Some(12.0 * MIN));
        assert_eq!(c.band, Band::AtRisk, "5 min is not under 5 min");
        // Uptime: 69 of 70 runs up, plus 9.5 of 10 samples: 78.5 / 80.
        let c = card(&r, Kpi::Uptime);
        assert!((c.current.value.unwrap() - 78.5 / 80.0).abs() < 1e-12);
        // Rollbacks: 10 and 20 min → median 15; one of two within the SLA.
        let c = card(&r, Kpi::RollbackTime);
        assert_eq!(c.current.value, Some(15.0 * MIN));
        assert_eq!(c.current.secondary, Some(0.5));
        assert_eq!(c.current.sources.deployments, vec![11, 12]);
        // MTTR: deployment 7 failed and never recovered; incident 9 took 10 min.
        let c = card(&r, Kpi::Mttr);
        assert_eq!(c.current.value, Some(10.0 * MIN));
        assert_eq!(c.current.sources.deployments, vec![7]);
        assert_eq!(c.current.sources.incidents, vec![9]);
        // MTBF: two failures in 7 days.
        let c = card(&r, Kpi::Mtbf);
        assert_eq!(c.current.value, Some(3.5 * DAY_MS as f64));
        assert!(!c.current.at_least);
        assert_eq!(c.band, Band::OffTarget);
        // Pass rate: 700 ran, 8 failed cases.
        let c = card(&r, Kpi::TestPassRate);
        assert_eq!(c.current.value, Some(692.0 / 700.0));
        assert_eq!(c.previous, Some(0.5));
        // Coverage, latency and error rate are means of what was measured.
        assert!((card(&r, Kpi::Coverage).current.value.unwrap() - 0.82).abs() < 1e-12);
        assert_eq!(card(&r, Kpi::LatencyP50).current.value, Some(90.0));
        assert_eq!(card(&r, Kpi::LatencyP99).current.value, Some(250.0));
        assert_eq!(card(&r, Kpi::LatencyP99).band, Band::AtRisk);
        assert!((card(&r, Kpi::ErrorRate).current.value.unwrap() - 0.002).abs() < 1e-12);
        // Satisfaction: 5 and 4 this week; the 1 was last week.
        let c = card(&r, Kpi::Satisfaction);
        assert_eq!(c.current.value, Some(4.5));
        assert_eq!(c.band, Band::Good);
        assert_eq!(c.previous, Some(1.0));
        // Daily trend: detection per day (day 0: alerts 1, 2, 4 all on day 0 for 1 failure).
        let c = card(&r, Kpi::TestPassRate);
        assert_eq!(c.series.len(), 7);
        assert_eq!(c.series[1], Some(1.0));
        assert_eq!(c.series[2], Some(0.96));
        // The four keys come from the same deployments and incidents.
        assert_eq!(r.dora.current.failed_changes, vec![7]);
        assert_eq!(r.dora.current.change_failure_rate, Some(1.0));
    }

    #[test]
    fn a_project_target_changes_the_band_and_is_checked() {
        let t = Target {
            kpi: Kpi::TestPassRate,
            target: 0.9,
            at_risk: 0.8,
            custom: true,
        };
        assert_eq!(t.band(Some(0.95)), Band::Good);
        assert_eq!(t.band(Some(0.85)), Band::AtRisk);
        assert_eq!(t.band(Some(0.5)), Band::OffTarget);
        assert!(t.check().is_ok());
        let percents = Target { target: 95.0, ..t };
        assert!(percents.check().unwrap_err().contains("fractions"));
        let reversed = Target {
            kpi: Kpi::Mttr,
            target: 10.0 * MIN,
            at_risk: 5.0 * MIN,
            custom: true,
        };
        assert!(reversed.check().unwrap_err().contains("at or above"));
        let all = targets_with_defaults(&[t]);
        assert_eq!(all.len(), SPECS.len());
        assert_eq!(all.iter().find(|x| x.kpi == Kpi::TestPassRate), Some(&t));
        assert!(!all.iter().find(|x| x.kpi == Kpi::Coverage).unwrap().custom);
    }

    #[test]
    fn ranges_and_the_targets_editor() {
        assert_eq!(resolve_range(None, None, None, D0), Ok((D0 - 29, D0 + 1)));
        assert_eq!(
            resolve_range(Some(7), Some(""), None, D0),
            Ok((D0 - 6, D0 + 1))
        );
        assert_eq!(
            resolve_range(None, Some("2024-01-01"), Some("2024-01-31"), D0).map(|(f, t)| t - f),
            Ok(31)
        );
        assert!(resolve_range(Some(0), None, None, D0)
            .unwrap_err()
            .starts_with("days"));
        assert!(
            resolve_range(None, Some("2024-02-01"), Some("2024-01-01"), D0)
                .unwrap_err()
                .starts_with("to:")
        );
        assert!(resolve_range(None, Some("2024-02-01"), None, D0)
            .unwrap_err()
            .starts_with("to:"));

        let text = format_targets(&targets_with_defaults(&[]));
        assert!(text.contains("mttr 5min 15min"), "{text}");
        assert!(text.contains("mtbf 30d 14d"), "{text}");
        assert!(text.contains("latency_p99 200ms 500ms"), "{text}");
        assert!(text.contains("test_pass_rate 0.98 0.95"), "{text}");
        // The defaults read back as no custom target at all.
        assert_eq!(parse_targets(&text), Ok(Vec::new()));
        let own = parse_targets("# ours\ncoverage 0.7 0.6\nrollback_time 10min 900s\n").unwrap();
        assert_eq!(own.len(), 2);
        assert_eq!(own[1].target, 10.0 * MIN);
        assert_eq!(own[1].at_risk, 15.0 * MIN);
        let e = parse_targets("coverage 80% 75%").unwrap_err();
        assert!(
            e.starts_with("line 1:") && e.contains("not percents"),
            "{e}"
        );
        assert!(parse_targets("speed 1 2")
            .unwrap_err()
            .contains("no KPI `speed`"));
        assert!(parse_targets("coverage 0.7")
            .unwrap_err()
            .contains("kpi target at_risk"));
        assert!(parse_targets("coverage 0.7 0.8")
            .unwrap_err()
            .contains("at or below"));
    }

    #[test]
    fn long_ranges_are_bucketed_and_values_format() {
        assert_eq!(bucket_days(30), 1);
        assert_eq!(bucket_days(90), 2);
        assert_eq!(bucket_days(365), 7);
        let r = report(&Facts::default(), &[], D0, D0 + 90);
        assert_eq!(r.buckets.len(), 45);
        assert_eq!(format_value(Unit::Fraction, 0.9731), "97.3%");
        assert_eq!(format_value(Unit::Fraction, 0.0005), "0.05%");
        assert_eq!(format_value(Unit::Ms, 250_000.0), "4.2 min");
        assert_eq!(format_value(Unit::Rating, 4.25), "4.2 / 5");
        assert_eq!(
            format_target(&Target::default_for(Kpi::FailureDetection)),
            "≥ 90.0%"
        );
        for (i, s) in SPECS.iter().enumerate() {
            assert_eq!(Kpi::parse(s.id), Some(s.kpi));
            assert!(Target::default_for(s.kpi).check().is_ok(), "{}", s.id);
            assert_eq!(SPECS.iter().position(|x| x.kpi == s.kpi), Some(i));
        }
    }
}
