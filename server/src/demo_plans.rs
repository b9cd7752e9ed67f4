//! Demo rollout plans: the shop's production roadmap from the seeds' template, started three
//! and a half weeks ago and part way through (phases 0–4 done, phase 5 in progress, phase 6
//! blocked), and
//! a short canary plan of payments written by hand. Their criteria are judged live against
//! the demo's KPIs and gates.

use app::logic::dora::DAY_MS;
use app::logic::kpi::Kpi;
use app::logic::plan::{roadmap, Comparator, ItemKind, Link, PhaseDraft, PhaseStatus};
use app::store::deployments::Requester;
use app::store::plans::{self, NewPlan};
use app::store::{Db, StoreError};

/// Returns how many plans it wrote.
pub async fn generate(db: &Db, now: i64) -> Result<usize, StoreError> {
    let today = now.div_euclid(DAY_MS);
    let lead = Requester {
        user_id: None,
        name: "noor".into(),
        ip: None,
    };
    let (id, _) = plans::create(
        db,
        "shop",
        &NewPlan {
            title: "Production roadmap".into(),
            environment: None,
            template: Some("roadmap".into()),
            plan_key: Some("demo-roadmap".into()),
            phases: roadmap(today - 24, Some("production")),
        },
        &lead,
    )
    .await?;
    let plan = plans::get(db, id).await?;
    for (n, phase) in plan.phases.iter().enumerate() {
        // Phases 1–4 are finished; phase 5 is half way; phase 6 waits on security.
        let share = match n {
            1..=4 => 1.0,
            5 => 0.6,
            6 => 0.3,
            _ => 0.0,
        };
        let items: Vec<_> = phase.items.iter().collect();
        let ticked = (items.len() as f64 * share).round() as usize;
        for item in items.iter().take(ticked) {
            plans::set_done(db, id, item.id, true, &lead).await?;
        }
        if (1..=4).contains(&n) {
            for c in phase.criteria.iter().filter(|c| c.link == Link::Manual) {
                plans::confirm(db, id, c.id, true, &lead).await?;
            }
        }
        let (status, note) = match n {
            1..=4 => (PhaseStatus::Done, ""),
            5 => (PhaseStatus::InProgress, ""),
            6 => (
                PhaseStatus::Blocked,
                "Waiting for the security team's KMS key policy",
            ),
            _ => continue,
        };
        plans::set_status(db, id, phase.id, status, note, &lead).await?;
    }

    let canary = vec![
        PhaseDraft {
            title: "Canary 5% in production".into(),
            objective: "The new ledger writer on one pod behind a 5% weight".into(),
            starts_on: Some(today - 6),
            due_on: Some(today - 4),
            status: PhaseStatus::NotStarted,
            note: String::new(),
            deliverables: vec![
                (
                    "Canary weights in the rollout".into(),
                    "DevOps engineer".into(),
                    true,
                ),
                (
                    "Dashboards for the canary pod".into(),
                    "DevOps engineer".into(),
                    true,
                ),
            ],
            checklist: vec![
                "Rollback procedure tested".into(),
                "No critical alerts".into(),
            ],
            criteria: vec![(
                "Error rate < 1%".into(),
                Link::Kpi {
                    kpi: Kpi::ErrorRate,
                    comparator: Comparator::Lt,
                    threshold: 0.01,
                },
            )],
        },
        PhaseDraft {
            title: "50% of traffic".into(),
            objective: "Half the traffic on the new writer for two days".into(),
            starts_on: Some(today - 3),
            due_on: Some(today + 1),
            status: PhaseStatus::InProgress,
            note: String::new(),
            deliverables: vec![(
                "Reconciliation job comparing both writers".into(),
                "Backend engineer".into(),
                false,
            )],
            checklist: vec!["Reconciliation shows no difference".into()],
            criteria: vec![
                (
                    "p99 < 500 ms".into(),
                    Link::Kpi {
                        kpi: Kpi::LatencyP99,
                        comparator: Comparator::Lt,
                        threshold: 500.0,
                    },
                ),
                (
                    "Production gates pass".into(),
                    Link::Gate {
                        environment: "production".into(),
                        metric: None,
                    },
                ),
            ],
        },
        PhaseDraft {
            title: "Full rollout".into(),
            objective: "All traffic; the old writer removed".into(),
            starts_on: Some(today + 2),
            due_on: Some(today + 5),
            status: PhaseStatus::NotStarted,
            note: String::new(),
            deliverables: vec![(
                "Old writer removed".into(),
                "Backend engineer".into(),
                false,
            )],
            checklist: vec!["On-call runbook updated".into()],
            criteria: vec![(
                "MTTR < 5 minutes".into(),
                Link::Kpi {
                    kpi: Kpi::Mttr,
                    comparator: Comparator::Lt,
                    threshold: 300_000.0,
                },
            )],
        },
    ];
    let (id, _) = plans::create(
        db,
        "payments",
        &NewPlan {
            title: "Ledger writer canary".into(),
            environment: Some("production".into()),
            template: None,
            plan_key: Some("demo-canary".into()),
            phases: canary,
        },
        &lead,
    )
    .await?;
    let plan = plans::get(db, id).await?;
    if let Some(first) = plan.phases.first() {
        for item in first.items.iter().filter(|i| i.kind == ItemKind::Checklist) {
            plans::set_done(db, id, item.id, true, &lead).await?;
        }
        plans::set_status(db, id, first.id, PhaseStatus::Done, "", &lead).await?;
    }
    Ok(2)
}
