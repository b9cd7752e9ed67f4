//! Rollout plans: phases with a status, deliverables, a go-live checklist that must be complete
//! before a phase is done, and success criteria judged live against a KPI or a quality gate.
//! Also the seeds' 10-phase roadmap as a template, and the timeline's geometry.

use super::bands::Level;
use super::kpi::{format_value, parse_edit_value, Kpi, KpiCard, Unit};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    NotStarted,
    InProgress,
    Done,
    Blocked,
}

impl PhaseStatus {
    pub const ALL: [PhaseStatus; 4] = [
        PhaseStatus::NotStarted,
        PhaseStatus::InProgress,
        PhaseStatus::Done,
        PhaseStatus::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::NotStarted => "not_started",
            PhaseStatus::InProgress => "in_progress",
            PhaseStatus::Done => "done",
            PhaseStatus::Blocked => "blocked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PhaseStatus::NotStarted => "Not started",
            PhaseStatus::InProgress => "In progress",
            PhaseStatus::Done => "Done",
            PhaseStatus::Blocked => "Blocked",
        }
    }

    pub fn parse(s: &str) -> Result<PhaseStatus, String> {
        PhaseStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| format!("status: not_started, in_progress, done or blocked (got `{s}`)"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Deliverable,
    /// An item of the phase's go-live checklist.
    Checklist,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Deliverable => "deliverable",
            ItemKind::Checklist => "checklist",
        }
    }

    pub fn parse(s: &str) -> Result<ItemKind, String> {
        match s.trim() {
            "deliverable" => Ok(ItemKind::Deliverable),
            "checklist" => Ok(ItemKind::Checklist),
            other => Err(format!("kind: deliverable or checklist (got `{other}`)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub const ALL: [Comparator; 4] = [
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Lt => "lt",
            Comparator::Le => "le",
            Comparator::Gt => "gt",
            Comparator::Ge => "ge",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "≤",
            Comparator::Gt => ">",
            Comparator::Ge => "≥",
        }
    }

    /// `lt`, `le`, `gt`, `ge`, or the symbols `<`, `<=`, `≤`, `>`, `>=`, `≥`.
    pub fn parse(s: &str) -> Result<Comparator, String> {
        match s.trim() {
            "lt" | "<" => Ok(Comparator::Lt),
            "le" | "<=" | "≤" => Ok(Comparator::Le),
            "gt" | ">" => Ok(Comparator::Gt),
            "ge" | ">=" | "≥" => Ok(Comparator::Ge),
            other => Err(format!("comparator: lt, le, gt or ge (got `{other}`)")),
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparator::Lt => value < threshold,
            Comparator::Le => value <= threshold,
            Comparator::Gt => value > threshold,
            Comparator::Ge => value >= threshold,
        }
    }
}

/// What a success criterion is judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Link {
    /// A person confirms it.
    Manual,
    /// A KPI of the plan's environment over the last 30 days against a threshold in the KPI's
    /// unit (fractions as fractions, durations and latencies in ms).
    Kpi {
        kpi: Kpi,
        comparator: Comparator,
        threshold: f64,
    },
    /// The latest gate evaluation of an environment: one gate (`metric`, a gate key such as
    /// `p99_ms`) or, without it, the whole evaluation.
    Gate {
        environment: String,
        metric: Option<String>,
    },
}

impl Link {
    /// The rule in words: `p99 latency < 200 ms`, `gate p99_ms in production passes`.
    pub fn describe(&self) -> String {
        match self {
            Link::Manual => "confirmed by a person".into(),
            Link::Kpi {
                kpi,
                comparator,
                threshold,
            } => {
                let s = kpi.spec();
                format!(
                    "{} {} {}",
                    s.label,
                    comparator.symbol(),
                    format_value(s.unit, *threshold)
                )
            }
            Link::Gate {
                environment,
                metric: Some(m),
            } => format!("gate {m} in {environment} passes"),
            Link::Gate {
                environment,
                metric: None,
            } => format!("quality gates in {environment} pass"),
        }
    }
}

/// Reads a KPI criterion's threshold in the KPI's unit: `0.001`, `200` or `200ms`, `5min`.
/// Percents are refused (fractions, not percents).
pub fn parse_threshold(kpi: Kpi, text: &str) -> Result<f64, String> {
    let unit = kpi.spec().unit;
    let v = parse_edit_value(unit, text).map_err(|e| format!("threshold: {e}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("threshold: `{text}` must be a number ≥ 0"));
    }
    if unit == Unit::Fraction && v > 1.0 {
        return Err(format!(
            "threshold: `{text}` is above 1; write fractions, not percents (0.001 for 0.1%)"
        ));
    }
    Ok(v)
}

/// Whether a criterion holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    /// A gate in its warn band.
    AtRisk,
    Fails,
    /// Nothing measured yet.
    NoData,
    /// A manual criterion nobody has confirmed.
    Open,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::AtRisk => "at_risk",
            Verdict::Fails => "fails",
            Verdict::NoData => "no_data",
            Verdict::Open => "open",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::AtRisk => "at risk",
            Verdict::Fails => "fails",
            Verdict::NoData => "no data",
            Verdict::Open => "to confirm",
        }
    }
}

/// A KPI criterion against the KPI's card of the last 30 days: the verdict and what was
/// measured, in words.
pub fn judge_kpi(
    card: Option<&KpiCard>,
    comparator: Comparator,
    threshold: f64,
) -> (Verdict, String) {
    let Some(c) = card else {
        return (Verdict::NoData, "not measured".into());
    };
    let unit = c.kpi.spec().unit;
    let Some(v) = c.current.value else {
        return (
            Verdict::NoData,
            format!(
                "nothing to measure in the last 30 days ({})",
                c.current.basis
            ),
        );
    };
    let shown = format!(
        "{}{} over the last 30 days ({})",
        if c.current.at_least { "at least " } else { "" },
        format_value(unit, v),
        c.current.basis
    );
    if comparator.holds(v, threshold) {
        return (Verdict::Holds, shown);
    }
    // A lower bound (MTBF with no failure) that does not reach the threshold says nothing.
    if c.current.at_least && matches!(comparator, Comparator::Gt | Comparator::Ge) {
        return (Verdict::NoData, shown);
    }
    (Verdict::Fails, shown)
}

/// A gate criterion against the level of the environment's latest gate evaluation (or of one
/// gate in it).
pub fn judge_gate(level: Option<Level>) -> Verdict {
    match level {
        Some(Level::Pass) => Verdict::Holds,
        Some(Level::Warn) => Verdict::AtRisk,
        Some(Level::Fail) => Verdict::Fails,
        None => Verdict::NoData,
    }
}

/// A phase may be marked done only when every item of its go-live checklist is ticked;
/// otherwise the error names the open ones.
pub fn check_done(open_checklist: &[String]) -> Result<(), String> {
    if open_checklist.is_empty() {
        return Ok(());
    }
    Err(format!(
        "status: the go-live checklist is not complete ({} open: {})",
        open_checklist.len(),
        open_checklist.join("; ")
    ))
}

/// A phase's share of items done (deliverables and checklist); a done phase is complete.
pub fn progress(status: PhaseStatus, done: usize, total: usize) -> f64 {
    if status == PhaseStatus::Done {
        1.0
    } else if total == 0 {
        0.0
    } else {
        done as f64 / total as f64
    }
}

/// A phase as the timeline draws it: its first and last day (both included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub starts_on: Option<i64>,
    pub due_on: Option<i64>,
}

/// Where a phase's bar sits, as fractions of the timeline's width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub left: f64,
    pub width: f64,
    /// No due day: the bar runs to the timeline's end.
    pub open_ended: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// First day shown, and the day after the last.
    pub from_day: i64,
    pub to_day: i64,
    /// One per phase, `None` for a phase without a start day.
    pub bars: Vec<Option<Bar>>,
    /// Today's position, when today is on the timeline.
    pub today: Option<f64>,
    /// Mondays (or the first day) to label: `(position, day)`.
    pub ticks: Vec<(f64, i64)>,
}

/// Lays the phases out between the earliest start and the latest due day (today included
/// when near; an open-ended phase runs a week past the last day).
pub fn timeline(spans: &[Span], today: i64) -> Option<Timeline> {
    let starts: Vec<i64> = spans.iter().filter_map(|s| s.starts_on).collect();
    let from = *starts.iter().min()?;
    let mut to = spans
        .iter()
        .filter_map(|s| s.due_on.or(s.starts_on))
        .max()
        .unwrap_or(from)
        + 1;
    if spans
        .iter()
        .any(|s| s.starts_on.is_some() && s.due_on.is_none())
    {
        to = to.max(today + 1) + 7;
    }
    // Today is shown when the plan starts within the coming week.
    let from = if (from - 7..from).contains(&today) {
        today
    } else {
        from
    };
    let to = to.max(from + 1);
    let len = (to - from) as f64;
    let pos = |d: i64| ((d - from) as f64 / len).clamp(0.0, 1.0);
    let bars = spans
        .iter()
        .map(|s| {
            let start = s.starts_on?;
            let end = s.due_on.map(|d| d + 1).unwrap_or(to);
            Some(Bar {
                left: pos(start),
                width: (pos(end.max(start + 1)) - pos(start)).max(0.0),
                open_ended: s.due_on.is_none(),
            })
        })
        .collect();
    let today_pos = (from..to).contains(&today).then(|| pos(today));
    // 1970-01-01 was a Thursday: day + 3 is a multiple of 7 on Mondays.
    let step = if to - from > 120 { 28 } else { 7 };
    let first_monday = from + (7 - (from + 3).rem_euclid(7)) % 7;
    let ticks = (0..)
        .map(|i| first_monday + i * step)
        .take_while(|d| *d < to)
        .map(|d| (pos(d), d))
        .collect();
    Some(Timeline {
        from_day: from,
        to_day: to,
        bars,
        today: today_pos,
        ticks,
    })
}

/// A phase of a new plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseDraft {
    pub title: String,
    pub objective: String,
    pub starts_on: Option<i64>,
    pub due_on: Option<i64>,
    pub status: PhaseStatus,
    /// Why it is blocked, or any word on its status.
    pub note: String,
    /// `(title, owner, done)`.
    pub deliverables: Vec<(String, String, bool)>,
    pub checklist: Vec<String>,
    /// `(title, link)`.
    pub criteria: Vec<(String, Link)>,
}

/// The templates a plan can start from: `(id, name, description)`.
pub const TEMPLATES: [(&str, &str, &str); 2] = [
    (
        "roadmap",
        "10-phase production roadmap",
        "The seeds' deployment roadmap: phase 0 (prerequisites, done) to phase 10 (cost optimisation), with their deliverables and owners, the go-live checklists of phases 1–3, 4–5, 6–7 and 8–10, and success criteria linked to KPIs and gates.",
    ),
    ("blank", "Blank plan", "No phase yet: add your own."),
];

const DEVOPS: &str = "DevOps engineer";
const BACKEND: &str = "Backend engineer";
const SECURITY: &str = "Security engineer";

fn kpi(kpi: Kpi, comparator: Comparator, threshold: f64) -> Link {
    Link::Kpi {
        kpi,
        comparator,
        threshold,
    }
}

/// The seeds' 10-phase roadmap (`004`: Complete End-to-End Deployment Roadmap) starting on
/// `start` (phase 1's first day). Weeks become days from `start`; phase 0 is already done.
/// Each go-live checklist ("before marking phase 1–3 complete") belongs to the last phase of
/// its group, so the group is complete when that phase is. Gate criteria use `gate_env`
/// (the project's production environment) when given.
pub fn roadmap(start: i64, gate_env: Option<&str>) -> Vec<PhaseDraft> {
    use Comparator::*;
    use PhaseStatus::*;
    let week = |from: i64, to: i64| (Some(start + (from - 1) * 7), Some(start + to * 7 - 1));
    let items = |owner: &str, titles: &[&str]| -> Vec<(String, String, bool)> {
        titles
            .iter()
            .map(|t| (t.to_string(), owner.to_string(), false))
            .collect()
    };
    let list = |titles: &[&str]| titles.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    let manual = |t: &str| (t.to_string(), Link::Manual);
    let gates = |metric: Option<&str>| {
        gate_env.map(|e| Link::Gate {
            environment: e.to_string(),
            metric: metric.map(str::to_string),
        })
    };
    let phase = |title: &str, objective: &str, (s, d): (Option<i64>, Option<i64>)| PhaseDraft {
        title: title.into(),
        objective: objective.into(),
        starts_on: s,
        due_on: d,
        status: NotStarted,
        note: String::new(),
        deliverables: Vec::new(),
        checklist: Vec::new(),
        criteria: Vec::new(),
    };
    let mut p0 = phase(
        "Phase 0: Prerequisites",
        "Predictive propositions service implemented and the application ready to deploy",
        (Some(start - 14), Some(start - 1)),
    );
    p0.status = Done;
    p0.deliverables = vec![
        (
            "Predictive propositions service implemented".into(),
            BACKEND.into(),
            true,
        ),
        (
            "Application containerised (Docker)".into(),
            DEVOPS.into(),
            true,
        ),
        ("Development server deployed".into(), DEVOPS.into(), true),
    ];

    let mut p1 = phase(
        "Phase 1: Live cluster deployment",
        "Set up the production Kubernetes cluster",
        week(1, 2),
    );
    p1.deliverables = items(
        DEVOPS,
        &[
            "EKS/GKE/AKS cluster created (3 nodes, t3.medium)",
            "IAM roles and security groups configured",
            "VPC and networking setup complete",
            "Auto-scaling configured (min 3, max 10)",
            "Cluster health verified",
        ],
    );
    p1.criteria = vec![
        manual("All nodes Running (kubectl get nodes)"),
        manual("All system pods Running (kubectl get pods -A)"),
    ];

    let mut p2 = phase(
        "Phase 2: Custom domain & SSL/TLS",
        "Secure the domain with production certificates",
        week(2, 2),
    );
    p2.deliverables = items(
        DEVOPS,
        &[
            "Domain registered",
            "DNS records configured",
            "Let's Encrypt certificates issued",
            "cert-manager installed and configured",
        ],
    );
    p2.deliverables
        .push(("Security headers configured".into(), SECURITY.into(), false));

    let mut p3 = phase(
        "Phase 3: Advanced observability stack",
        "Complete monitoring and logging infrastructure",
        week(2, 3),
    );
    p3.deliverables = items(
        DEVOPS,
        &[
            "Prometheus installed (metrics collection)",
            "Grafana installed (dashboards)",
            "Loki installed (log aggregation)",
            "Alerting rules configured",
            "Custom dashboards created",
        ],
    );
    p3.checklist = list(&[
        "All nodes healthy",
        "Ingress working",
        "SSL certificate valid",
        "Monitoring showing data",
        "Backup process verified",
        "No critical alerts",
    ]);
    p3.criteria = vec![(
        "Alert response time < 5 min".into(),
        kpi(Kpi::AlertResponse, Lt, 5.0 * 60_000.0),
    )];

    let mut p4 = phase(
        "Phase 4: Advanced deployment patterns",
        "Production-grade deployment automation",
        week(3, 4),
    );
    p4.deliverables = items(
        DEVOPS,
        &[
            "Helm charts created and tested",
            "ArgoCD installed",
            "GitOps workflow implemented",
            "Automated deployments from git",
            "Multi-environment support",
        ],
    );

    let mut p5 = phase(
        "Phase 5: CI/CD enhancements",
        "Fully automated deployment pipeline",
        week(4, 4),
    );
    p5.deliverables = items(
        DEVOPS,
        &[
            "GitHub Actions pipeline configured",
            "Automated image building and pushing",
            "Automated manifest updates",
            "Rollback procedures implemented",
            "Canary deployments configured",
        ],
    );
    p5.checklist = list(&[
        "GitOps pipeline working",
        "Automated deployments successful",
        "Rollback procedure tested",
        "CI/CD pipeline green",
    ]);
    p5.criteria = vec![
        (
            "Rollback within the 15-minute SLA".into(),
            kpi(Kpi::RollbackTime, Lt, 15.0 * 60_000.0),
        ),
        (
            "Test pass rate ≥ 98%".into(),
            kpi(Kpi::TestPassRate, Ge, 0.98),
        ),
    ];
    if let Some(g) = gates(None) {
        p5.criteria.push(("Quality gates pass".into(), g));
    }

    let mut p6 = phase(
        "Phase 6: Database & data management",
        "Production database with encryption and backups",
        week(4, 5),
    );
    p6.deliverables = items(
        BACKEND,
        &[
            "RDS PostgreSQL instance created",
            "Encryption at rest enabled",
            "Encryption in transit (TLS) configured",
            "Automated daily backups",
            "Backup retention: 30 days",
        ],
    );
    p6.deliverables.push((
        "Secrets management configured".into(),
        SECURITY.into(),
        false,
    ));

    let mut p7 = phase(
        "Phase 7: Testing & quality assurance",
        "Validate application reliability and security",
        week(5, 5),
    );
    p7.deliverables = items(
        BACKEND,
        &[
            "Load testing completed (k6)",
            "Chaos engineering experiments",
        ],
    );
    p7.deliverables.extend(items(
        SECURITY,
        &[
            "Security scanning (SAST/DAST)",
            "Vulnerability assessment",
            "Penetration testing",
        ],
    ));
    p7.checklist = list(&[
        "Database backups running",
        "Load tests passed",
        "Security scan passed",
        "No vulnerabilities",
    ]);
    p7.criteria = vec![
        manual("Load: 1,000 requests/s for 10 minutes"),
        (
            "Error rate < 1% under load".into(),
            kpi(Kpi::ErrorRate, Lt, 0.01),
        ),
        ("p99 < 500 ms".into(), kpi(Kpi::LatencyP99, Lt, 500.0)),
        manual("0 critical vulnerabilities"),
    ];
    if let Some(g) = gates(Some("critical_findings")) {
        p7.criteria
            .push(("No critical findings at the gate".into(), g));
    }

    let mut p8 = phase(
        "Phase 8: Scaling & performance optimisation",
        "Auto-scaling and performance optimisation",
        week(6, 7),
    );
    p8.deliverables = items(
        BACKEND,
        &[
            "HPA configured (min 3, max 10 pods)",
            "Redis cache deployed",
            "CDN integration",
            "Database connection pooling",
            "Query optimisation",
        ],
    );
    p8.criteria = vec![
        (
            "p50 response time < 100 ms".into(),
            kpi(Kpi::LatencyP50, Lt, 100.0),
        ),
        (
            "p99 response time < 200 ms".into(),
            kpi(Kpi::LatencyP99, Lt, 200.0),
        ),
        ("Error rate < 0.1%".into(), kpi(Kpi::ErrorRate, Lt, 0.001)),
    ];

    let mut p9 = phase(
        "Phase 9: Disaster recovery & business continuity",
        "High availability and recovery capabilities",
        week(6, 7),
    );
    p9.deliverables = items(
        DEVOPS,
        &[
            "Multi-region deployment (3 regions minimum)",
            "Cross-region replication",
            "Automated backup testing (monthly)",
            "RTO: < 1 hour",
            "RPO: < 15 minutes",
            "On-call rotation established",
        ],
    );
    p9.criteria = vec![
        ("Uptime ≥ 99.99%".into(), kpi(Kpi::Uptime, Ge, 0.9999)),
        (
            "MTTR < 5 minutes".into(),
            kpi(Kpi::Mttr, Lt, 5.0 * 60_000.0),
        ),
        (
            "MTBF > 30 days".into(),
            kpi(Kpi::Mtbf, Gt, 30.0 * 86_400_000.0),
        ),
    ];

    let mut p10 = phase(
        "Phase 10: Cost optimisation & cleanup",
        "Minimise cloud costs while keeping the SLAs (ongoing)",
        (Some(start + 35), None),
    );
    p10.deliverables = items(
        DEVOPS,
        &[
            "Spot instances for non-critical workloads",
            "Resource quotas configured",
            "Cost monitoring enabled",
            "Unused resources cleaned up",
            "Reserved instances purchased (if cost-effective)",
        ],
    );
    p10.checklist = list(&[
        "Auto-scaling tested",
        "DR procedures documented",
        "Cost monitoring active",
        "On-call rotation established",
    ]);
    p10.criteria = vec![manual("Total cloud cost ≤ $380/month")];

    vec![p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::kpi::{Band, Measure, Target};

    fn card(kpi: Kpi, value: Option<f64>, at_least: bool) -> KpiCard {
        let s = kpi.spec();
        KpiCard {
            kpi,
            target: Target {
                kpi,
                target: s.target,
                at_risk: s.at_risk,
                custom: false,
            },
            band: Band::Good,
            current: Measure {
                value,
                at_least,
                basis: "basis".into(),
                secondary: None,
                sources: Default::default(),
            },
            previous: None,
            series: Vec::new(),
        }
    }

    #[test]
    fn statuses_kinds_and_comparators_read_back() {
        for s in PhaseStatus::ALL {
            assert_eq!(PhaseStatus::parse(s.as_str()), Ok(s));
        }
        assert!(PhaseStatus::parse("finished")
            .unwrap_err()
            .contains("finished"));
        assert_eq!(ItemKind::parse("checklist"), Ok(ItemKind::Checklist));
        assert!(ItemKind::parse("task").is_err());
        assert_eq!(Comparator::parse("<="), Ok(Comparator::Le));
        assert_eq!(Comparator::parse("≥"), Ok(Comparator::Ge));
        assert!(Comparator::parse("==").is_err());
        assert!(Comparator::Lt.holds(199.0, 200.0));
        assert!(!Comparator::Lt.holds(200.0, 200.0));
        assert!(Comparator::Le.holds(200.0, 200.0));
        assert!(Comparator::Ge.holds(0.9999, 0.9999));
        assert!(!Comparator::Gt.holds(0.9999, 0.9999));
    }

    #[test]
    fn thresholds_take_the_kpis_unit_and_refuse_percents() {
        assert_eq!(parse_threshold(Kpi::ErrorRate, "0.001"), Ok(0.001));
        assert!(parse_threshold(Kpi::ErrorRate, "0.1%")
            .unwrap_err()
            .contains("not percents"));
        assert!(parse_threshold(Kpi::ErrorRate, "5")
            .unwrap_err()
            .contains("above 1"));
        assert_eq!(parse_threshold(Kpi::LatencyP99, "200ms"), Ok(200.0));
        assert_eq!(parse_threshold(Kpi::LatencyP99, "200"), Ok(200.0));
        assert_eq!(parse_threshold(Kpi::Mttr, "5min"), Ok(300_000.0));
        assert_eq!(parse_threshold(Kpi::Mtbf, "30d"), Ok(30.0 * 86_400_000.0));
        assert!(parse_threshold(Kpi::Mttr, "soon").is_err());
    }

    #[test]
    fn kpi_criteria_are_judged_against_the_card() {
        let (v, said) = judge_kpi(
            Some(&card(Kpi::LatencyP99, Some(180.0), false)),
            Comparator::Lt,
            200.0,
        );
        assert_eq!(v, Verdict::Holds);
        assert!(said.starts_with("180 ms"), "{said}");
        let (v, _) = judge_kpi(
            Some(&card(Kpi::ErrorRate, Some(0.004), false)),
            Comparator::Lt,
            0.001,
        );
        assert_eq!(v, Verdict::Fails);
        let (v, said) = judge_kpi(
            Some(&card(Kpi::ErrorRate, None, false)),
            Comparator::Lt,
            0.001,
        );
        assert_eq!(v, Verdict::NoData);
        assert!(said.contains("nothing to measure"));
        assert_eq!(judge_kpi(None, Comparator::Lt, 1.0).0, Verdict::NoData);
        // MTBF with no failure in 30 days is "at least 30 d": it meets "≥ 30 d" but says
        // nothing about "> 60 d".
        let month = 30.0 * 86_400_000.0;
        let mtbf = card(Kpi::Mtbf, Some(month), true);
        assert_eq!(
            judge_kpi(Some(&mtbf), Comparator::Ge, month).0,
            Verdict::Holds
        );
        assert_eq!(
            judge_kpi(Some(&mtbf), Comparator::Gt, 2.0 * month).0,
            Verdict::NoData
        );
        // A real MTBF below the threshold fails.
        let short = card(Kpi::Mtbf, Some(month / 3.0), false);
        assert_eq!(
            judge_kpi(Some(&short), Comparator::Gt, month).0,
            Verdict::Fails
        );
    }

    #[test]
    fn gates_map_to_verdicts_and_done_needs_the_checklist() {
        assert_eq!(judge_gate(Some(Level::Pass)), Verdict::Holds);
        assert_eq!(judge_gate(Some(Level::Warn)), Verdict::AtRisk);
        assert_eq!(judge_gate(Some(Level::Fail)), Verdict::Fails);
        assert_eq!(judge_gate(None), Verdict::NoData);
        assert_eq!(check_done(&[]), Ok(()));
        let e =
            check_done(&["Ingress working".into(), "SSL certificate valid".into()]).unwrap_err();
        assert!(
            e.contains("2 open: Ingress working; SSL certificate valid"),
            "{e}"
        );
        assert_eq!(progress(PhaseStatus::InProgress, 2, 8), 0.25);
        assert_eq!(progress(PhaseStatus::Done, 0, 8), 1.0);
        assert_eq!(progress(PhaseStatus::NotStarted, 0, 0), 0.0);
    }

    #[test]
    fn the_roadmap_has_the_seeds_phases_checklists_and_criteria() {
        let start = 20_000;
        let r = roadmap(start, Some("production"));
        assert_eq!(r.len(), 11);
        assert!(r[0].title.starts_with("Phase 0"));
        assert!(r[10].title.starts_with("Phase 10"));
        assert_eq!(r[0].status, PhaseStatus::Done);
        assert!(r[0].deliverables.iter().all(|d| d.2));
        assert!(r[1..].iter().all(|p| p.status == PhaseStatus::NotStarted));
        // Week 1-2 is the first fortnight; week 2 is the second week; phase 10 is ongoing.
        assert_eq!(
            (r[1].starts_on, r[1].due_on),
            (Some(start), Some(start + 13))
        );
        assert_eq!(
            (r[2].starts_on, r[2].due_on),
            (Some(start + 7), Some(start + 13))
        );
        assert_eq!(
            (r[7].starts_on, r[7].due_on),
            (Some(start + 28), Some(start + 34))
        );
        assert_eq!(r[10].due_on, None);
        // The go-live checklists sit on the last phase of each group: 3, 5, 7, 10.
        let with_list: Vec<usize> = (0..11).filter(|i| !r[*i].checklist.is_empty()).collect();
        assert_eq!(with_list, vec![3, 5, 7, 10]);
        assert_eq!(r[3].checklist.len(), 6);
        assert_eq!(r[5].checklist.len(), 4);
        // The seeds' numbers become KPI links: p99 < 200 ms and error rate < 0.1% in phase 8.
        assert!(r[8].criteria.iter().any(|(_, l)| *l
            == Link::Kpi {
                kpi: Kpi::LatencyP99,
                comparator: Comparator::Lt,
                threshold: 200.0
            }));
        assert!(r[8]
            .criteria
            .iter()
            .any(|(_, l)| l.describe() == "Error rate < 0.10%"));
        assert!(r[5]
            .criteria
            .iter()
            .any(|(_, l)| l.describe() == "quality gates in production pass"));
        // Without a production environment there is no gate criterion.
        let plain = roadmap(start, None);
        assert!(plain.iter().all(|p| p
            .criteria
            .iter()
            .all(|(_, l)| !matches!(l, Link::Gate { .. }))));
        // Every deliverable has an owner.
        assert!(r
            .iter()
            .all(|p| p.deliverables.iter().all(|d| !d.1.is_empty())));
    }

    #[test]
    fn the_timeline_places_bars_today_and_mondays() {
        // 2026-11-30 is a Monday (day 20,422).
        let monday = crate::logic::time::parse_day("2026-11-30").unwrap();
        let spans = [
            Span {
                starts_on: Some(monday),
                due_on: Some(monday + 13),
            },
            Span {
                starts_on: Some(monday + 7),
                due_on: Some(monday + 13),
            },
            Span {
                starts_on: None,
                due_on: None,
            },
        ];
        let t = timeline(&spans, monday + 7).unwrap();
        assert_eq!((t.from_day, t.to_day), (monday, monday + 14));
        let a = t.bars[0].unwrap();
        assert_eq!((a.left, a.width), (0.0, 1.0));
        let b = t.bars[1].unwrap();
        assert_eq!((b.left, b.width), (0.5, 0.5));
        assert_eq!(t.bars[2], None);
        assert_eq!(t.today, Some(0.5));
        assert_eq!(t.ticks, vec![(0.0, monday), (0.5, monday + 7)]);
        // Today far past the plan: not drawn. An open-ended phase runs a week past today.
        assert_eq!(timeline(&spans, monday + 100).unwrap().today, None);
        let open = [Span {
            starts_on: Some(monday),
            due_on: None,
        }];
        let t = timeline(&open, monday + 3).unwrap();
        assert_eq!(t.to_day, monday + 11);
        assert!(t.bars[0].unwrap().open_ended);
        assert_eq!(t.bars[0].unwrap().width, 1.0);
        assert_eq!(timeline(&spans[2..], monday), None);
    }
}
