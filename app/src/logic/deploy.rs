//! The deployment state machine, without I/O. A pending deployment moves forward through
//! `evaluating` (gates and promotion rules) → `awaiting_approval` → `waiting` (timer, freezes)
//! → `in_progress`; [`settle`] says how far the facts let it go and what holds it. Explicit
//! actions (approve, reject, report progress, cancel) are checked here and refused with a
//! reason a person can act on.

use crate::logic::bands::{Band, Level};
use crate::model::{
    CanaryStep, DeployState, Freeze, FreezeKind, HealthSample, Protection, Role, Unit,
};
use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const WEEK_MIN: i64 = 7 * 24 * 60;

/// Why a pending deployment does not go on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "hold", rename_all = "snake_case")]
pub enum Hold {
    /// The gate evaluation fails (and no admin has overridden it).
    Gates {
        summary: String,
    },
    /// The previous environment has not had this release (long enough).
    Promotion {
        reason: String,
    },
    Approvals {
        have: i64,
        need: i64,
    },
    Timer {
        until: i64,
    },
    Frozen {
        reason: String,
        until: i64,
    },
}

impl Hold {
    /// The state a deployment held this way is in.
    pub fn state(&self) -> DeployState {
        match self {
            Hold::Gates { .. } | Hold::Promotion { .. } => DeployState::Evaluating,
            Hold::Approvals { .. } => DeployState::AwaitingApproval,
            Hold::Timer { .. } | Hold::Frozen { .. } => DeployState::Waiting,
        }
    }

    pub fn message(&self) -> String {
        match self {
            // `store::deployments` recognises this beginning.
            Hold::Gates { summary } => format!("quality gates fail: {summary}"),
            Hold::Promotion { reason } => reason.clone(),
            Hold::Approvals { have, need } => format!(
                "insufficient approvals: {have} of {need} given, {} more needed",
                need - have
            ),
            Hold::Timer { until } => format!(
                "the wait timer has not elapsed: it ends at {}",
                crate::logic::time::format_utc(*until)
            ),
            Hold::Frozen { reason, until } => format!(
                "the environment is frozen until {}: {reason}",
                crate::logic::time::format_utc(*until)
            ),
        }
    }
}

/// What decides how far a pending deployment may go.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub now: i64,
    /// The latest gate evaluation passes or warns, or an admin overrode it; else its summary.
    pub gates: Result<(), String>,
    /// The promotion rule (previous environment, soak time) holds; else why not.
    pub promotion: Result<(), String>,
    pub approvals: i64,
    pub required_approvals: i64,
    pub wait_timer_s: i64,
    /// When the deployment entered `waiting` (if it has).
    pub waiting_since: Option<i64>,
    /// An active freeze window: its reason and end.
    pub freeze: Option<(String, i64)>,
}

/// Where a deployment should be now: the states it passes on the way (each with the reason
/// recorded on its transition) and what holds it, if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub path: Vec<(DeployState, String)>,
    pub hold: Option<Hold>,
}

impl Settled {
    pub fn target(&self, from: DeployState) -> DeployState {
        self.path.last().map_or(from, |(s, _)| *s)
    }
}

/// Moves a pending deployment as far forward as the facts allow. Never moves backwards:
/// gates once passed and approvals once given stay behind it. Non-pending states stay.
pub fn settle(from: DeployState, f: &Facts) -> Settled {
    let mut path = Vec::new();
    if !from.is_pending() {
        return Settled { path, hold: None };
    }
    let start = from.rank();
    let step = |to: DeployState, why: String, path: &mut Vec<(DeployState, String)>| {
        let reached = path
            .last()
            .map_or(start, |(s, _): &(DeployState, String)| s.rank());
        if to.rank() > reached {
            path.push((to, why));
        }
    };
    // Stage 1: gates and the promotion rule.
    if start <= DeployState::Evaluating.rank() {
        step(
            DeployState::Evaluating,
            "evaluating quality gates and promotion rules".into(),
            &mut path,
        );
        if let Err(summary) = &f.gates {
            return held(
                path,
                Hold::Gates {
                    summary: summary.clone(),
                },
            );
        }
        if let Err(reason) = &f.promotion {
            return held(
                path,
                Hold::Promotion {
                    reason: reason.clone(),
                },
            );
        }
    }
    // Stage 2: approvals.
    if start <= DeployState::AwaitingApproval.rank() && f.required_approvals > 0 {
        if start < DeployState::AwaitingApproval.rank() {
            step(
                DeployState::AwaitingApproval,
                format!(
                    "gates pass; {} approval{} required",
                    f.required_approvals,
                    plural(f.required_approvals)
                ),
                &mut path,
            );
        }
        if f.approvals < f.required_approvals {
            return held(
                path,
                Hold::Approvals {
                    have: f.approvals,
                    need: f.required_approvals,
                },
            );
        }
    }
    // Stage 3: the wait timer and freeze windows.
    let since = if start == DeployState::Waiting.rank() {
        f.waiting_since.unwrap_or(f.now)
    } else {
        f.now
    };
    let until = since + f.wait_timer_s * 1000;
    if f.now < until {
        step(
            DeployState::Waiting,
            format!(
                "approved; wait timer of {} runs",
                duration_words(f.wait_timer_s)
            ),
            &mut path,
        );
        return held(path, Hold::Timer { until });
    }
    if let Some((reason, until)) = &f.freeze {
        step(
            DeployState::Waiting,
            format!("approved; the environment is frozen: {reason}"),
            &mut path,
        );
        return held(
            path,
            Hold::Frozen {
                reason: reason.clone(),
                until: *until,
            },
        );
    }
    let why = if f.required_approvals > 0 {
        format!(
            "go: gates pass, {} approval{} given",
            f.approvals,
            plural(f.approvals)
        )
    } else {
        "go: gates pass, no approval required".to_string()
    };
    step(DeployState::InProgress, why, &mut path);
    Settled { path, hold: None }
}

fn held(path: Vec<(DeployState, String)>, hold: Hold) -> Settled {
    Settled {
        path,
        hold: Some(hold),
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `5 min`, `90 s`, `2 h`, `1 h 30 min`.
pub fn duration_words(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Why an action on a deployment is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// The action does not apply in this state.
    State {
        state: DeployState,
        action: String,
    },
    NotAnApprover {
        who: String,
        allowed: String,
    },
    SelfApproval {
        who: String,
        because: String,
    },
    AlreadyDecided {
        who: String,
    },
    /// Approvals are complete: another one would not be counted.
    Enough {
        need: i64,
    },
    CommentRequired,
    WrongRef {
        git_ref: String,
        pattern: String,
    },
    /// The deployment may not start yet.
    Held(Hold),
    /// A canary step was reported before the previous step's pause ended, or out of order.
    Step {
        message: String,
    },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::State { state, action } => {
                format!("cannot {action}: the deployment is {}", state.label().to_lowercase())
            }
            Refusal::NotAnApprover { who, allowed } => {
                format!("{who} may not approve in this environment (approvers: {allowed})")
            }
            Refusal::SelfApproval { who, because } => format!(
                "self-approval is not allowed in this environment: {who} {because}"
            ),
            Refusal::AlreadyDecided { who } => format!("{who} has already decided on this deployment"),
            Refusal::Enough { need } => format!(
                "the deployment already has the {need} approval{} it needs",
                plural(*need)
            ),
            Refusal::CommentRequired => "say why: a rejection needs a comment".into(),
            Refusal::WrongRef { git_ref, pattern } => format!(
                "`{git_ref}` may not deploy to this environment (allowed branches and tags: {pattern})"
            ),
            Refusal::Held(hold) => format!("not started: {}", hold.message()),
            Refusal::Step { message } => message.clone(),
        }
    }

    /// Whether the caller lacks a right (403) rather than the deployment being in the way (409).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Refusal::NotAnApprover { .. } | Refusal::SelfApproval { .. }
        )
    }
}

/// The person deciding on a deployment.
#[derive(Debug, Clone)]
pub struct Decider<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
}

/// The people the self-approval rule is about.
#[derive(Debug, Clone, Default)]
pub struct Involved {
    pub requester: String,
    pub authors: Vec<String>,
}

/// Who may approve, in words, for refusals and the deployment page.
pub fn approvers_words(p: &Protection) -> String {
    let roles = effective_roles(p);
    let mut parts: Vec<String> = roles.iter().map(|r| format!("{r}s")).collect();
    parts.extend(p.approver_users.iter().cloned());
    parts.join(", ")
}

fn effective_roles(p: &Protection) -> Vec<String> {
    if p.approver_roles.is_empty() && p.approver_users.is_empty() {
        vec!["approver".into(), "admin".into()]
    } else {
        p.approver_roles.clone()
    }
}

/// Whether `who` may approve or reject here, before looking at the deployment.
pub fn may_decide(p: &Protection, who: &Decider) -> bool {
    effective_roles(p).iter().any(|r| r == who.role.as_str())
        || p.approver_users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(who.username))
}

/// Checks an approval (`approve`) or rejection by `who`. `decided` lists who has decided;
/// `approvals` counts approvals so far.
#[allow(clippy::too_many_arguments)]
pub fn check_decision(
    state: DeployState,
    p: &Protection,
    who: &Decider,
    involved: &Involved,
    decided: &[String],
    approvals: i64,
    approve: bool,
    comment: Option<&str>,
) -> Result<(), Refusal> {
    let action = if approve { "approve" } else { "reject" };
    if !matches!(
        state,
        DeployState::Evaluating | DeployState::AwaitingApproval
    ) {
        return Err(Refusal::State {
            state,
            action: action.into(),
        });
    }
    if !may_decide(p, who) {
        return Err(Refusal::NotAnApprover {
            who: who.username.to_string(),
            allowed: approvers_words(p),
        });
    }
    if decided.iter().any(|d| d.eq_ignore_ascii_case(who.username)) {
        return Err(Refusal::AlreadyDecided {
            who: who.username.to_string(),
        });
    }
    if !approve {
        return match comment.map(str::trim) {
            Some(c) if !c.is_empty() => Ok(()),
            _ => Err(Refusal::CommentRequired),
        };
    }
    if !p.allow_self_approval {
        let me = |name: &str| {
            let name = name.trim();
            !name.is_empty()
                && (name.eq_ignore_ascii_case(who.username)
                    || name.eq_ignore_ascii_case(who.display_name))
        };
        if me(&involved.requester) {
            return Err(Refusal::SelfApproval {
                who: who.username.to_string(),
                because: "requested this deployment".into(),
            });
        }
        if involved.authors.iter().any(|a| me(a)) {
            return Err(Refusal::SelfApproval {
                who: who.username.to_string(),
                because: "authored commits in this release".into(),
            });
        }
    }
    if p.required_approvals > 0 && approvals >= p.required_approvals {
        return Err(Refusal::Enough {
            need: p.required_approvals,
        });
    }
    if p.required_approvals == 0 {
        return Err(Refusal::State {
            state,
            action: "approve (this environment requires no approvals)".into(),
        });
    }
    Ok(())
}

/// Checks that `git_ref` may deploy under `pattern` (comma-separated globs; empty allows all).
pub fn check_ref(pattern: &str, git_ref: &str) -> Result<(), Refusal> {
    if ref_allowed(pattern, git_ref) {
        Ok(())
    } else {
        Err(Refusal::WrongRef {
            git_ref: git_ref.to_string(),
            pattern: pattern.to_string(),
        })
    }
}

pub fn ref_allowed(pattern: &str, git_ref: &str) -> bool {
    let globs: Vec<&str> = pattern
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .collect();
    globs.is_empty() || globs.iter().any(|g| glob(g.as_bytes(), git_ref.as_bytes()))
}

/// `*` matches within one path segment, `**` across segments, `?` one character.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&b'/') {
                    break;
                }
            }
            false
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// The freeze window in force at `now`, with its end (the latest end when several overlap).
pub fn active_freeze(freezes: &[Freeze], now: i64) -> Option<(String, i64)> {
    freezes
        .iter()
        .filter_map(|f| freeze_end(&f.kind, now).map(|end| (f.reason.clone(), end)))
        .max_by_key(|(_, end)| *end)
}

fn freeze_end(kind: &FreezeKind, now: i64) -> Option<i64> {
    match *kind {
        FreezeKind::Once { starts_at, ends_at } => {
            (starts_at <= now && now < ends_at).then_some(ends_at)
        }
        FreezeKind::Weekly { start, end } => {
            let m = minute_of_week(now);
            let inside = if start <= end {
                start <= m && m < end
            } else {
                m >= start || m < end
            };
            inside.then(|| {
                let left = (end - m).rem_euclid(WEEK_MIN);
                now - now.rem_euclid(MINUTE_MS) + left * MINUTE_MS
            })
        }
    }
}

/// Minutes since Monday 00:00 UTC (1970-01-01 was a Thursday).
pub fn minute_of_week(ms: i64) -> i64 {
    let minutes = ms.div_euclid(MINUTE_MS);
    (minutes + 3 * 24 * 60).rem_euclid(WEEK_MIN)
}

/// `Fri 18:00` for a minute of the week.
pub fn week_minute_words(m: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let m = m.rem_euclid(WEEK_MIN);
    format!(
        "{} {:02}:{:02}",
        DAYS[(m / 1440) as usize],
        (m % 1440) / 60,
        m % 60
    )
}

/// Reads `Fri 18:00` (a day name or its first three letters, any case, and a 24-hour time)
/// as a minute of the week, Monday 00:00 UTC being 0.
pub fn parse_week_minute(text: &str) -> Result<i64, String> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let bad = || {
        format!(
            "`{}`: write a day and a time, like `Fri 18:00`",
            text.trim()
        )
    };
    let mut parts = text.split_whitespace();
    let (Some(day), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let day = day.to_ascii_lowercase();
    let d = DAYS
        .iter()
        .position(|d| day.len() >= 3 && d.starts_with(&day[..3]))
        .ok_or_else(bad)?;
    let (h, m) = time.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(d as i64 * 1440 + h * 60 + m)
}

/// Checks a reported canary step: steps come in order (repeating the current one is a no-op),
/// and the next starts only when the current step's pause has ended.
pub fn check_step(
    steps: &[CanaryStep],
    current: Option<usize>,
    current_since: i64,
    next: usize,
    now: i64,
) -> Result<bool, Refusal> {
    if next >= steps.len() {
        return Err(Refusal::Step {
            message: format!(
                "step {} does not exist: this canary has {} steps (0 to {})",
                next,
                steps.len(),
                steps.len().saturating_sub(1)
            ),
        });
    }
    match current {
        Some(c) if next == c => Ok(false),
        Some(c) if next < c => Err(Refusal::Step {
            message: format!("step {next} is behind the current step {c}"),
        }),
        Some(c) if next > c + 1 => Err(Refusal::Step {
            message: format!("step {next} skips step {}: report each step", c + 1),
        }),
        Some(c) => {
            let until = current_since + steps[c].pause_s * 1000;
            if now < until {
                Err(Refusal::Step {
                    message: format!(
                        "step {c} ({:.0}% traffic) pauses until {}; step {next} may start then",
                        steps[c].traffic * 100.0,
                        crate::logic::time::format_utc(until)
                    ),
                })
            } else {
                Ok(true)
            }
        }
        None if next == 0 => Ok(true),
        None => Err(Refusal::Step {
            message: format!("step {next} comes before step 0: report each step"),
        }),
    }
}

/// The seeds' monitoring thresholds: `(metric, label, band)` with warning and critical limits
/// (test pass rate critical < 0.95, warning < 0.98; error rate critical > 0.01, warning > 0.001;
/// p95 latency critical > 500 ms, warning > 200 ms; availability critical < 0.99, warning < 0.999).
pub const HEALTH_BANDS: [(&str, &str, Band); 4] = [
    (
        "smoke_pass_rate",
        "Smoke-test pass rate",
        Band {
            warn: 0.98,
            fail: 0.95,
            higher_is_better: true,
        },
    ),
    (
        "error_rate",
        "Error rate",
        Band {
            warn: 0.001,
            fail: 0.01,
            higher_is_better: false,
        },
    ),
    (
        "p95_ms",
        "p95 latency",
        Band {
            warn: 200.0,
            fail: 500.0,
            higher_is_better: false,
        },
    ),
    (
        "availability",
        "Availability",
        Band {
            warn: 0.999,
            fail: 0.99,
            higher_is_better: true,
        },
    ),
];

/// The value of a health metric named as in [`HEALTH_BANDS`].
pub fn health_value(s: &HealthSample, metric: &str) -> Option<f64> {
    match metric {
        "smoke_pass_rate" => s.smoke_pass_rate,
        "error_rate" => s.error_rate,
        "p95_ms" => s.p95_ms,
        "availability" => s.availability,
        _ => None,
    }
}

/// The worst level a sample reaches, with the figures beyond their warning limits in words.
pub fn health_level(s: &HealthSample) -> (Level, Vec<String>) {
    let mut worst = Level::Pass;
    let mut words = Vec::new();
    for (metric, label, band) in HEALTH_BANDS {
        if let Some(v) = health_value(s, metric) {
            let level = band.level(v);
            if level != Level::Pass {
                let unit = if metric == "p95_ms" {
                    Unit::Millis
                } else {
                    Unit::Fraction
                };
                words.push(format!(
                    "{label} {} ({})",
                    unit.format(v),
                    match level {
                        Level::Fail => "critical",
                        _ => "warning",
                    }
                ));
            }
            worst = worst.max(level);
        }
    }
    if s.healthy == Some(false) {
        words.push("health check failed".into());
    }
    (worst, words)
}

/// Error rate above which a sample rolls back on its own.
pub const ROLLBACK_ERROR_RATE: f64 = 0.05;
/// Availability below which a sample rolls back on its own.
pub const ROLLBACK_AVAILABILITY: f64 = 0.95;
/// Failed health checks in a row that roll back.
pub const ROLLBACK_FAILED_CHECKS: usize = 3;

/// Whether the latest samples (oldest first) trip an automatic rollback, and why.
pub fn rollback_trigger(samples: &[HealthSample]) -> Option<String> {
    let last = samples.last()?;
    if let Some(e) = last.error_rate.filter(|e| *e > ROLLBACK_ERROR_RATE) {
        return Some(format!(
            "error rate {} is above the rollback trigger of {}",
            Unit::Fraction.format(e),
            Unit::Fraction.format(ROLLBACK_ERROR_RATE)
        ));
    }
    if let Some(a) = last.availability.filter(|a| *a < ROLLBACK_AVAILABILITY) {
        return Some(format!(
            "availability {} is below the rollback trigger of {}",
            Unit::Fraction.format(a),
            Unit::Fraction.format(ROLLBACK_AVAILABILITY)
        ));
    }
    let failed = samples
        .iter()
        .rev()
        .take_while(|s| s.healthy == Some(false))
        .count();
    (failed >= ROLLBACK_FAILED_CHECKS).then(|| format!("{failed} consecutive failed health checks"))
}

/// The rollback SLA: service restored within 15 minutes of the decision.
pub const ROLLBACK_SLA_MS: i64 = 15 * 60_000;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn facts() -> Facts {
        Facts {
            now: NOW,
            gates: Ok(()),
            promotion: Ok(()),
            approvals: 0,
            required_approvals: 2,
            wait_timer_s: 300,
            waiting_since: None,
            freeze: None,
        }
    }

    fn states(s: &Settled) -> Vec<DeployState> {
        s.path.iter().map(|(s, _)| *s).collect()
    }

    use DeployState::*;

    #[test]
    fn failing_gates_hold_in_evaluating() {
        let f = Facts {
            gates: Err("Test pass rate 90%".into()),
            ..facts()
        };
        let s = settle(Requested, &f);
        assert_eq!(states(&s), [Evaluating]);
        assert_eq!(s.hold.as_ref().map(Hold::state), Some(Evaluating));
        assert!(s.hold.unwrap().message().contains("Test pass rate 90%"));
        // Still failing: no transition.
        assert!(settle(Evaluating, &f).path.is_empty());
    }

    #[test]
    fn promotion_rule_holds_in_evaluating() {
        let f = Facts {
            promotion: Err("1.2.0 has not succeeded in staging".into()),
            ..facts()
        };
        let s = settle(Requested, &f);
        assert_eq!(
            s.hold.unwrap().message(),
            "1.2.0 has not succeeded in staging"
        );
    }

    #[test]
    fn passing_gates_wait_for_approvals() {
        let s = settle(Evaluating, &facts());
        assert_eq!(states(&s), [AwaitingApproval]);
        assert_eq!(s.hold, Some(Hold::Approvals { have: 0, need: 2 }));
        let one = Facts {
            approvals: 1,
            ..facts()
        };
        let s = settle(AwaitingApproval, &one);
        assert!(s.path.is_empty());
        assert_eq!(
            s.hold.unwrap().message(),
            "insufficient approvals: 1 of 2 given, 1 more needed"
        );
    }

    #[test]
    fn the_last_approval_starts_the_timer_then_the_deployment_goes() {
        let f = Facts {
            approvals: 2,
            ..facts()
        };
        let s = settle(AwaitingApproval, &f);
        assert_eq!(states(&s), [Waiting]);
        assert_eq!(
            s.hold,
            Some(Hold::Timer {
                until: NOW + 300_000
            })
        );
        // Four minutes later: still waiting.
        let later = Facts {
            now: NOW + 240_000,
            waiting_since: Some(NOW),
            ..f.clone()
        };
        let s = settle(Waiting, &later);
        assert!(s.path.is_empty());
        assert!(matches!(s.hold, Some(Hold::Timer { .. })));
        // Five minutes: go.
        let done = Facts {
            now: NOW + 300_000,
            ..later
        };
        let s = settle(Waiting, &done);
        assert_eq!(states(&s), [InProgress]);
        assert_eq!(s.hold, None);
        assert!(s.path[0].1.contains("2 approvals given"));
    }

    #[test]
    fn nothing_required_goes_straight_through() {
        let f = Facts {
            required_approvals: 0,
            wait_timer_s: 0,
            ..facts()
        };
        let s = settle(Requested, &f);
        assert_eq!(states(&s), [Evaluating, InProgress]);
        assert!(s.path[1].1.contains("no approval required"));
    }

    #[test]
    fn a_freeze_holds_an_approved_deployment() {
        let f = Facts {
            approvals: 2,
            wait_timer_s: 0,
            freeze: Some(("Black Friday".into(), NOW + 3_600_000)),
            ..facts()
        };
        let s = settle(AwaitingApproval, &f);
        assert_eq!(states(&s), [Waiting]);
        let hold = s.hold.unwrap();
        assert_eq!(hold.state(), Waiting);
        assert!(
            hold.message().contains("frozen until"),
            "{}",
            hold.message()
        );
        assert!(hold.message().ends_with("Black Friday"));
        // Refused as a start, with the same words.
        let r = Refusal::Held(hold);
        assert!(r
            .message()
            .starts_with("not started: the environment is frozen"));
    }

    #[test]
    fn settled_states_never_move_backwards_or_leave_terminal_states() {
        // Gates failing again after approval do not pull a deployment back.
        let f = Facts {
            gates: Err("x".into()),
            approvals: 2,
            wait_timer_s: 0,
            ..facts()
        };
        assert_eq!(states(&settle(AwaitingApproval, &f)), [InProgress]);
        for s in [
            InProgress, Succeeded, Failed, Cancelled, Rejected, RolledBack,
        ] {
            assert!(settle(s, &facts()).path.is_empty(), "{s}");
        }
    }

    fn approver() -> Decider<'static> {
        Decider {
            username: "maya.lead",
            display_name: "Maya Okafor",
            role: Role::Approver,
        }
    }

    fn decide(
        state: DeployState,
        p: &Protection,
        who: &Decider,
        involved: &Involved,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<(), Refusal> {
        check_decision(state, p, who, involved, &[], 0, approve, comment)
    }

    fn two() -> Protection {
        Protection {
            required_approvals: 2,
            ..Protection::default()
        }
    }

    #[test]
    fn approvers_approve_others_are_refused() {
        let p = two();
        let none = Involved::default();
        assert_eq!(
            decide(AwaitingApproval, &p, &approver(), &none, true, None),
            Ok(())
        );
        assert_eq!(
            decide(Evaluating, &p, &approver(), &none, true, None),
            Ok(())
        );
        let viewer = Decider {
            role: Role::Viewer,
            ..approver()
        };
        let r = decide(AwaitingApproval, &p, &viewer, &none, true, None).unwrap_err();
        assert!(r.is_forbidden());
        assert_eq!(
            r.message(),
            "maya.lead may not approve in this environment (approvers: approvers, admins)"
        );
        // A named user approves whatever the role; roles can be narrowed to admins.
        let named = Protection {
            approver_roles: vec!["admin".into()],
            approver_users: vec!["Maya.Lead".into()],
            ..two()
        };
        assert_eq!(
            decide(AwaitingApproval, &named, &viewer, &none, true, None),
            Ok(())
        );
        let admins = Protection {
            approver_roles: vec!["admin".into()],
            ..two()
        };
        assert!(decide(AwaitingApproval, &admins, &approver(), &none, true, None).is_err());
    }

    #[test]
    fn self_approval_is_refused_unless_allowed() {
        let p = two();
        let mine = Involved {
            requester: "maya.lead".into(),
            authors: vec![],
        };
        let r = decide(AwaitingApproval, &p, &approver(), &mine, true, None).unwrap_err();
        assert_eq!(
            r.message(),
            "self-approval is not allowed in this environment: maya.lead requested this deployment"
        );
        let authored = Involved {
            requester: "ci-bot".into(),
            authors: vec!["Maya Okafor".into()],
        };
        let r = decide(AwaitingApproval, &p, &approver(), &authored, true, None).unwrap_err();
        assert!(r.message().ends_with("authored commits in this release"));
        // Rejecting your own is fine; an admin may allow self-approval per environment.
        assert_eq!(
            decide(
                AwaitingApproval,
                &p,
                &approver(),
                &mine,
                false,
                Some("wrong build")
            ),
            Ok(())
        );
        let allowed = Protection {
            allow_self_approval: true,
            ..two()
        };
        assert_eq!(
            decide(AwaitingApproval, &allowed, &approver(), &mine, true, None),
            Ok(())
        );
    }

    #[test]
    fn decisions_are_once_per_person_and_stop_at_enough() {
        let p = two();
        let none = Involved::default();
        let r = check_decision(
            AwaitingApproval,
            &p,
            &approver(),
            &none,
            &["MAYA.LEAD".into()],
            1,
            true,
            None,
        );
        assert_eq!(
            r.unwrap_err().message(),
            "maya.lead has already decided on this deployment"
        );
        let r = check_decision(AwaitingApproval, &p, &approver(), &none, &[], 2, true, None);
        assert_eq!(
            r.unwrap_err().message(),
            "the deployment already has the 2 approvals it needs"
        );
    }

    #[test]
    fn rejection_needs_a_comment_and_a_pending_state() {
        let p = two();
        let none = Involved::default();
        for c in [None, Some("  ")] {
            assert_eq!(
                decide(AwaitingApproval, &p, &approver(), &none, false, c),
                Err(Refusal::CommentRequired)
            );
        }
        for s in [Waiting, InProgress, Succeeded, Rejected, Cancelled] {
            let r = decide(s, &p, &approver(), &none, true, None).unwrap_err();
            assert!(matches!(r, Refusal::State { .. }), "{s}");
        }
        let r = decide(InProgress, &p, &approver(), &none, true, None).unwrap_err();
        assert_eq!(r.message(), "cannot approve: the deployment is in progress");
    }

    #[test]
    fn branch_and_tag_patterns() {
        assert!(ref_allowed("", "anything"));
        assert!(ref_allowed("main, release/*", "release/2.4"));
        assert!(!ref_allowed("main, release/*", "release/2.4/hotfix"));
        assert!(ref_allowed("release/**", "release/2.4/hotfix"));
        assert!(ref_allowed("v*", "v1.2.3"));
        assert!(ref_allowed("v?.?.?", "v1.2.3"));
        assert!(!ref_allowed("main", "main2"));
        assert!(!ref_allowed("main,v*", "feature/x"));
        let r = check_ref("main, v*", "feature/x").unwrap_err();
        assert_eq!(
            r.message(),
            "`feature/x` may not deploy to this environment (allowed branches and tags: main, v*)"
        );
    }

    #[test]
    fn weekly_and_one_off_freezes() {
        // 2023-11-17 was a Friday. 18:00 UTC that day:
        let fri_18 = 1_700_244_000_000;
        assert_eq!(week_minute_words(minute_of_week(fri_18)), "Fri 18:00");
        let weekend = Freeze {
            id: 1,
            kind: FreezeKind::Weekly {
                start: 4 * 1440 + 17 * 60, // Fri 17:00
                end: 60 * 6,               // Mon 06:00, across the week's end
            },
            reason: "no weekend deploys".into(),
        };
        let (reason, until) = active_freeze(std::slice::from_ref(&weekend), fri_18).unwrap();
        assert_eq!(reason, "no weekend deploys");
        assert_eq!(until - fri_18, (6 + 2 * 24 + 6) * 3_600_000);
        assert_eq!(week_minute_words(minute_of_week(until)), "Mon 06:00");
        // Thursday noon is not frozen.
        assert!(active_freeze(std::slice::from_ref(&weekend), fri_18 - 30 * 3_600_000).is_none());
        let once = Freeze {
            id: 2,
            kind: FreezeKind::Once {
                starts_at: fri_18 - 1,
                ends_at: fri_18 + 10 * 86_400_000,
            },
            reason: "year-end freeze".into(),
        };
        let (reason, _) = active_freeze(&[weekend, once.clone()], fri_18).unwrap();
        assert_eq!(reason, "year-end freeze", "the later end wins");
        assert!(
            active_freeze(&[once], fri_18 + 10 * 86_400_000).is_none(),
            "end is exclusive"
        );
    }

    #[test]
    fn canary_steps_come_in_order_after_their_pause() {
        let steps = crate::model::default_canary_steps();
        assert_eq!(check_step(&steps, None, 0, 0, NOW), Ok(true));
        assert!(check_step(&steps, None, 0, 1, NOW).is_err());
        // Step 0 reached at NOW pauses 5 minutes.
        let r = check_step(&steps, Some(0), NOW, 1, NOW + 60_000).unwrap_err();
        assert!(
            r.message().starts_with("step 0 (10% traffic) pauses until"),
            "{}",
            r.message()
        );
        assert_eq!(check_step(&steps, Some(0), NOW, 1, NOW + 300_000), Ok(true));
        assert_eq!(
            check_step(&steps, Some(1), NOW, 1, NOW),
            Ok(false),
            "repeat is a no-op"
        );
        assert!(
            check_step(&steps, Some(1), NOW, 3, NOW + 900_000).is_err(),
            "no skipping"
        );
        assert!(
            check_step(&steps, Some(2), NOW, 1, NOW + 900_000).is_err(),
            "no going back"
        );
        assert!(
            check_step(&steps, Some(3), NOW, 4, NOW + 900_000).is_err(),
            "no step 4"
        );
    }

    fn sample(error_rate: f64, availability: f64, healthy: bool) -> HealthSample {
        HealthSample {
            at: NOW,
            error_rate: Some(error_rate),
            availability: Some(availability),
            healthy: Some(healthy),
            ..HealthSample::default()
        }
    }

    #[test]
    fn health_levels_follow_the_seeds_thresholds() {
        assert_eq!(health_level(&sample(0.0005, 0.9995, true)).0, Level::Pass);
        let (level, words) = health_level(&sample(0.005, 0.9995, true));
        assert_eq!(level, Level::Warn);
        assert_eq!(words, ["Error rate 0.50% (warning)"]);
        let (level, words) = health_level(&sample(0.0005, 0.98, false));
        assert_eq!(level, Level::Fail);
        assert_eq!(
            words,
            ["Availability 98.0% (critical)", "health check failed"]
        );
    }

    #[test]
    fn rollback_triggers() {
        let good = sample(0.001, 0.999, true);
        assert_eq!(rollback_trigger(&[good]), None);
        assert_eq!(rollback_trigger(&[]), None);
        let r = rollback_trigger(&[good, sample(0.062, 0.999, true)]).unwrap();
        assert_eq!(r, "error rate 6.2% is above the rollback trigger of 5.0%");
        // Exactly at the trigger does not fire.
        assert_eq!(rollback_trigger(&[sample(0.05, 0.95, true)]), None);
        let r = rollback_trigger(&[sample(0.0, 0.90, true)]).unwrap();
        assert!(r.starts_with("availability 90.0% is below"), "{r}");
        let bad = sample(0.0, 1.0, false);
        assert_eq!(rollback_trigger(&[good, bad, bad]), None);
        assert_eq!(
            rollback_trigger(&[bad, good, bad, bad, bad]).as_deref(),
            Some("3 consecutive failed health checks")
        );
    }

    #[test]
    fn week_minutes_read_and_written() {
        assert_eq!(parse_week_minute("Fri 18:00"), Ok(4 * 1440 + 18 * 60));
        assert_eq!(parse_week_minute("monday 00:00"), Ok(0));
        assert_eq!(parse_week_minute(" sun 23:59 "), Ok(7 * 1440 - 1));
        assert_eq!(
            week_minute_words(parse_week_minute("Sat 06:30").unwrap()),
            "Sat 06:30"
        );
        for bad in [
            "",
            "Fri",
            "Fri 24:00",
            "Fri 18",
            "Fr 18:00",
            "noday 10:00",
            "Fri 10:00 x",
        ] {
            assert!(parse_week_minute(bad).is_err(), "{bad}");
        }
    }
}
