//! DORA's four keys over one environment's deployments, with the 2023 performance bands. Every
//! panel, export and API computes them through [`four_keys`], so the numbers cannot disagree.
//!
//! Definitions (DORA, "Accelerate State of DevOps 2023"):
//! - **Deployment frequency**: deployments that went live per day over the period (a
//!   deployment later rolled back did go live, and also counts as a failed change).
//! - **Lead time for changes**: from a change's first commit to its deployment going live;
//!   the median over the period's live deployments that know their first commit (a rollback
//!   to an earlier release ships no change and has none).
//! - **Change failure rate**: deployments that failed, were rolled back or led to an incident,
//!   divided by the deployments that finished (succeeded, failed or rolled back) in the period.
//! - **Failed-deployment recovery time**: from a failure (a failed or rolled-back deployment,
//!   or an incident's start) to the next successful deployment of the environment (or the
//!   incident's resolution); the median over failures that started in the period and have
//!   recovered by its end. A failure still open at the end is counted as open, not as a time.
//!
//! The 2023 report describes its clusters in words ("between once per day and once per
//! week"), and its low and medium clusters share deployment frequency and lead time. Each key
//! is therefore banded on its own, with the report's boundaries: elite deploys at least daily,
//! high at least weekly, medium at least monthly; lead time under a day, a week, a month;
//! change failure rate at most 5%, 10%, 15%; recovery under an hour, a day, a week.

use serde::{Deserialize, Serialize};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// DORA's "month" boundary.
pub const MONTH_MS: i64 = 30 * DAY_MS;

/// How a finished deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    RolledBack,
}

/// A finished deployment of the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: i64,
    /// When it finished (went live, failed or was rolled back), epoch ms.
    pub finished_at: i64,
    pub outcome: Outcome,
    /// The first commit of the change it shipped, when known.
    pub first_commit_at: Option<i64>,
    /// When it was rolled back (a rolled-back deployment first went live).
    pub rolled_back_at: Option<i64>,
    /// It rolled back to an earlier release: it counts as a deployment, but shipped no new
    /// change, so it has no lead time.
    #[serde(default)]
    pub is_rollback: bool,
}

/// An incident in the environment, linked to the deployment that caused it when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    pub deployment_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Performance {
    Elite,
    High,
    Medium,
    Low,
}

impl Performance {
    pub fn as_str(self) -> &'static str {
        match self {
            Performance::Elite => "elite",
            Performance::High => "high",
            Performance::Medium => "medium",
            Performance::Low => "low",
        }
    }
}

/// The four keys of one environment over `[from, to)`, with the ids they were computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FourKeys {
    pub from: i64,
    pub to: i64,
    /// Successful deployments per day; `None` for an empty period.
    pub deployment_frequency: Option<f64>,
    pub successful: Vec<i64>,
    /// Median lead time in ms; `None` without a successful deployment knowing its commit.
    pub lead_time_ms: Option<f64>,
    pub lead_time_samples: usize,
    /// A fraction; `None` without finished deployments.
    pub change_failure_rate: Option<f64>,
    pub finished: Vec<i64>,
    /// Deployments counted as failed changes (failed, rolled back, or causing an incident).
    pub failed_changes: Vec<i64>,
    /// Median recovery time in ms of the failures that started in the period and recovered.
    pub recovery_ms: Option<f64>,
    pub recovered: usize,
    /// Failures that started in the period and had not recovered by its end.
    pub still_failing: usize,
    /// The mean of the same recovery times (MTTR).
    pub recovery_mean_ms: Option<f64>,
    /// The failures that started in the period: failed or rolled-back deployments, incidents.
    pub failure_deployments: Vec<i64>,
    pub failure_incidents: Vec<i64>,
    pub bands: Bands,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    pub deployment_frequency: Option<Performance>,
    pub lead_time: Option<Performance>,
    pub change_failure_rate: Option<Performance>,
    pub recovery: Option<Performance>,
}

pub fn frequency_band(per_day: f64) -> Performance {
    if per_day >= 1.0 {
        Performance::Elite
    } else if per_day >= 1.0 / 7.0 {
        Performance::High
    } else if per_day >= 1.0 / 30.0 {
        Performance::Medium
    } else {
        Performance::Low
    }
}

pub fn lead_time_band(ms: f64) -> Performance {
    below(ms, [DAY_MS, WEEK_MS, MONTH_MS])
}

pub fn recovery_band(ms: f64) -> Performance {
    below(ms, [HOUR_MS, DAY_MS, WEEK_MS])
}

pub fn failure_rate_band(rate: f64) -> Performance {
    if rate <= 0.05 {
        Performance::Elite
    } else if rate <= 0.10 {
        Performance::High
    } else if rate <= 0.15 {
        Performance::Medium
    } else {
        Performance::Low
    }
}

fn below(v: f64, limits: [i64; 3]) -> Performance {
    if v < limits[0] as f64 {
        Performance::Elite
    } else if v < limits[1] as f64 {
        Performance::High
    } else if v < limits[2] as f64 {
        Performance::Medium
    } else {
        Performance::Low
    }
}

/// The median of `v` (the mean of the middle two for an even count); `None` when empty.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The four keys of one environment over `[from, to)`. `deployments` and `incidents` may reach
/// outside the period (recoveries look past a failure to the next success); only what
/// finished or started inside it is counted.
pub fn four_keys(
    deployments: &[Deployment],
    incidents: &[Incident],
    from: i64,
    to: i64,
) -> FourKeys {
    let inside = |t: i64| t >= from && t < to;
    let mut by_time: Vec<&Deployment> = deployments.iter().collect();
    by_time.sort_by_key(|d| (d.finished_at, d.id));
    let period: Vec<&Deployment> = by_time
        .iter()
        .copied()
        .filter(|d| inside(d.finished_at))
        .collect();

    // A rolled-back deployment went live first: it counts as a deployment that happened, and
    // as a failed change.
    let successful: Vec<i64> = period
        .iter()
        .filter(|d| d.outcome != Outcome::Failed)
        .map(|d| d.id)
        .collect();
    let days = (to - from) as f64 / DAY_MS as f64;
    let deployment_frequency = (days > 0.0).then(|| successful.len() as f64 / days);

    let mut leads: Vec<f64> = period
        .iter()
        .filter(|d| d.outcome != Outcome::Failed && !d.is_rollback)
        .filter_map(|d| d.first_commit_at.map(|c| (d.finished_at - c).max(0) as f64))
        .collect();
    let lead_time_samples = leads.len();
    let lead_time_ms = median(&mut leads);

    let finished: Vec<i64> = period.iter().map(|d| d.id).collect();
    let mut with_incident: Vec<i64> = incidents.iter().filter_map(|i| i.deployment_id).collect();
    with_incident.sort_unstable();
    let caused_incident = |id: i64| with_incident.binary_search(&id).is_ok();
    let failed_changes: Vec<i64> = period
        .iter()
        .filter(|d| d.outcome != Outcome::Succeeded || caused_incident(d.id))
        .map(|d| d.id)
        .collect();
    let change_failure_rate =
        (!finished.is_empty()).then(|| failed_changes.len() as f64 / finished.len() as f64);

    // Failures: failed deployments and rollbacks recover at the next success after them;
    // incidents at their resolution.
    let successes: Vec<i64> = by_time
        .iter()
        .filter(|d| d.outcome == Outcome::Succeeded)
        .map(|d| d.finished_at)
        .collect();
    let next_success = |after: i64| {
        successes
            .get(successes.partition_point(|t| *t <= after))
            .copied()
    };
    // (start, end, deployment id or incident id)
    let mut failures: Vec<(i64, Option<i64>, Result<i64, i64>)> = Vec::new();
    for d in &by_time {
        let at = match d.outcome {
            Outcome::Failed => d.finished_at,
            Outcome::RolledBack => d.rolled_back_at.unwrap_or(d.finished_at),
            Outcome::Succeeded => continue,
        };
        failures.push((at, next_success(at), Ok(d.id)));
    }
    for i in incidents {
        failures.push((i.started_at, i.resolved_at, Err(i.id)));
    }
    let mut times = Vec::new();
    let mut still_failing = 0;
    let (mut failure_deployments, mut failure_incidents) = (Vec::new(), Vec::new());
    for (start, end, id) in failures.into_iter().filter(|(s, _, _)| inside(*s)) {
        match id {
            Ok(d) => failure_deployments.push(d),
            Err(i) => failure_incidents.push(i),
        }
        match end.filter(|e| *e < to) {
            Some(e) => times.push((e - start).max(0) as f64),
            None => still_failing += 1,
        }
    }
    let recovered = times.len();
    let recovery_mean_ms =
        (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64);
    let recovery_ms = median(&mut times);

    FourKeys {
        from,
        to,
        bands: Bands {
            deployment_frequency: deployment_frequency
                .filter(|_| !successful.is_empty() || !finished.is_empty())
                .map(frequency_band),
            lead_time: lead_time_ms.map(lead_time_band),
            change_failure_rate: change_failure_rate.map(failure_rate_band),
            recovery: recovery_ms.map(recovery_band),
        },
        deployment_frequency,
        successful,
        lead_time_ms,
        lead_time_samples,
        change_failure_rate,
        finished,
        failed_changes,
        recovery_ms,
        recovered,
        still_failing,
        recovery_mean_ms,
        failure_deployments,
        failure_incidents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_790_000_000_000;

    fn dep(id: i64, day: f64, outcome: Outcome, lead_hours: Option<f64>) -> Deployment {
        let finished_at = T0 + (day * DAY_MS as f64) as i64;
        Deployment {
            id,
            finished_at,
            outcome,
            first_commit_at: lead_hours.map(|h| finished_at - (h * HOUR_MS as f64) as i64),
            rolled_back_at: (outcome == Outcome::RolledBack).then_some(finished_at + HOUR_MS),
            is_rollback: false,
        }
    }

    #[test]
    fn no_deployments_give_no_numbers_and_no_bands() {
        let k = four_keys(&[], &[], T0, T0 + 7 * DAY_MS);
        assert_eq!(k.deployment_frequency, Some(0.0));
        assert_eq!(k.lead_time_ms, None);
        assert_eq!(k.change_failure_rate, None);
        assert_eq!(k.recovery_ms, None);
        assert_eq!(k.bands.deployment_frequency, None);
        assert_eq!(k.bands.change_failure_rate, None);
        assert_eq!((k.recovered, k.still_failing), (0, 0));
    }

    #[test]
    fn a_hand_computed_week() {
        // 7 days: four successes (leads 2 h, 10 h, 30 h, 50 h), one failure on day 2 at 12:00
        // recovered by the success on day 3 at 00:00, one rollback on day 5 (rolled back an
        // hour after it went live, not recovered by the end).
        let deployments = vec![
            dep(1, 0.5, Outcome::Succeeded, Some(2.0)),
            dep(2, 1.5, Outcome::Succeeded, Some(10.0)),
            dep(3, 2.5, Outcome::Failed, Some(5.0)),
            dep(4, 3.0, Outcome::Succeeded, Some(30.0)),
            dep(5, 4.0, Outcome::Succeeded, Some(50.0)),
            dep(6, 5.0, Outcome::RolledBack, None),
        ];
        let k = four_keys(&deployments, &[], T0, T0 + 7 * DAY_MS);
        // Five went live (four successes and the rollback) in 7 days.
        assert_eq!(k.successful, vec![1, 2, 4, 5, 6]);
        assert!((k.deployment_frequency.unwrap() - 5.0 / 7.0).abs() < 1e-12);
        assert_eq!(k.bands.deployment_frequency, Some(Performance::High));
        // Leads of the live ones knowing their commit: 2, 10, 30, 50 h → median 20 h.
        assert_eq!(k.lead_time_samples, 4);
        assert_eq!(k.lead_time_ms, Some(20.0 * HOUR_MS as f64));
        assert_eq!(k.bands.lead_time, Some(Performance::Elite));
        // Failed changes: 3 (failed) and 6 (rolled back) of 6 finished.
        assert_eq!(k.failed_changes, vec![3, 6]);
        assert!((k.change_failure_rate.unwrap() - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(k.bands.change_failure_rate, Some(Performance::Low));
        // Recovery: the failure at day 2.5 recovered at day 3.0 (12 h); the rollback is open.
        assert_eq!(k.recovered, 1);
        assert_eq!(k.still_failing, 1);
        assert_eq!(k.recovery_ms, Some(12.0 * HOUR_MS as f64));
        assert_eq!(k.bands.recovery, Some(Performance::High));
        assert_eq!(k.recovery_mean_ms, Some(12.0 * HOUR_MS as f64));
        assert_eq!(k.failure_deployments, vec![3, 6]);
        assert!(k.failure_incidents.is_empty());
    }

    #[test]
    fn all_failed() {
        let deployments: Vec<Deployment> = (0..4)
            .map(|i| dep(i, i as f64, Outcome::Failed, Some(1.0)))
            .collect();
        let k = four_keys(&deployments, &[], T0, T0 + 30 * DAY_MS);
        assert_eq!(k.deployment_frequency, Some(0.0));
        assert_eq!(k.bands.deployment_frequency, Some(Performance::Low));
        assert_eq!(k.lead_time_ms, None, "nothing went live");
        assert_eq!(k.change_failure_rate, Some(1.0));
        assert_eq!(k.bands.change_failure_rate, Some(Performance::Low));
        assert_eq!((k.recovered, k.still_failing), (0, 4));
        assert_eq!(k.recovery_ms, None);
    }

    #[test]
    fn incidents_count_the_deployment_that_caused_them_and_may_span_periods() {
        let deployments = vec![
            dep(1, 1.0, Outcome::Succeeded, Some(3.0)),
            dep(2, 2.0, Outcome::Succeeded, Some(3.0)),
        ];
        // Deployment 2 caused an incident that started on day 6 and was resolved on day 9,
        // after the first week ended; another from before the week was resolved inside it.
        let incidents = vec![
            Incident {
                id: 10,
                started_at: T0 + 6 * DAY_MS,
                resolved_at: Some(T0 + 9 * DAY_MS),
                deployment_id: Some(2),
            },
            Incident {
                id: 11,
                started_at: T0 - DAY_MS,
                resolved_at: Some(T0 + HOUR_MS),
                deployment_id: None,
            },
        ];
        let week1 = four_keys(&deployments, &incidents, T0, T0 + 7 * DAY_MS);
        assert_eq!(week1.failed_changes, vec![2]);
        assert_eq!(week1.change_failure_rate, Some(0.5));
        // Incident 10 started in week 1 but recovered after it: open at the end of week 1.
        // Incident 11 started before the week: not this week's failure.
        assert_eq!((week1.recovered, week1.still_failing), (0, 1));
        assert_eq!(week1.recovery_ms, None);
        // Over both weeks it counts once, with its 3 days.
        let both = four_keys(&deployments, &incidents, T0, T0 + 14 * DAY_MS);
        assert_eq!((both.recovered, both.still_failing), (1, 0));
        assert_eq!(both.recovery_ms, Some(3.0 * DAY_MS as f64));
        assert_eq!(both.failure_incidents, vec![10]);
        assert_eq!(both.bands.recovery, Some(Performance::Medium));
        // Week 2 holds no deployment: no change failure rate, and no recovery started in it.
        let week2 = four_keys(&deployments, &incidents, T0 + 7 * DAY_MS, T0 + 14 * DAY_MS);
        assert_eq!(week2.change_failure_rate, None);
        assert_eq!((week2.recovered, week2.still_failing), (0, 0));
    }

    #[test]
    fn band_boundaries_follow_the_2023_report() {
        assert_eq!(frequency_band(1.0), Performance::Elite);
        assert_eq!(frequency_band(0.99), Performance::High);
        assert_eq!(frequency_band(1.0 / 7.0), Performance::High);
        assert_eq!(frequency_band(1.0 / 30.0), Performance::Medium);
        assert_eq!(frequency_band(0.03), Performance::Low);
        assert_eq!(lead_time_band((DAY_MS - 1) as f64), Performance::Elite);
        assert_eq!(lead_time_band(DAY_MS as f64), Performance::High);
        assert_eq!(lead_time_band(MONTH_MS as f64), Performance::Low);
        assert_eq!(failure_rate_band(0.05), Performance::Elite);
        assert_eq!(failure_rate_band(0.15), Performance::Medium);
        assert_eq!(failure_rate_band(0.1501), Performance::Low);
        assert_eq!(recovery_band((HOUR_MS - 1) as f64), Performance::Elite);
        assert_eq!(recovery_band(WEEK_MS as f64), Performance::Low);
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&mut v), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
