//! Demo data for the overview: production incidents (most caused by a deployment that was then
//! rolled back or failed, a few from elsewhere), monthly satisfaction ratings with comments,
//! and one project's own targets. Runs after the CI and deployment history exists.

use app::logic::dora::DAY_MS;
use app::logic::kpi::{Kpi, Target};
use app::model::DeployState;
use app::store::audit::Actor;
use app::store::deployments::{self, Requester};
use app::store::kpis::{self, NewIncident};
use app::store::{users, Db, StoreError};
use rand::rngs::StdRng;
use rand::Rng;

const MIN: i64 = 60_000;

const CAUSES: &[&str] = &[
    "Checkout error rate above 2% after the release",
    "p99 latency over 800 ms on product pages",
    "Payment webhook retries piling up",
    "Search returning empty results for some locales",
];

const OTHER: &[&str] = &[
    "Database failover during maintenance",
    "CDN certificate renewal failed",
];

const COMMENTS: &[&str] = &[
    "Approving from the deployment page with the diff and gates in one place saves me a lot of clicking.",
    "Rollbacks are quick now; the SLA timer keeps us honest.",
    "Too many risk alerts on docs-only changes.",
    "I would like the overview emailed weekly.",
    "",
    "",
];

/// Returns how many incidents and ratings it wrote.
pub async fn generate(
    db: &Db,
    rng: &mut StdRng,
    projects: &[&str],
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let today = now.div_euclid(DAY_MS);
    let monitor = Requester {
        user_id: None,
        name: "token:pagerduty".into(),
        ip: None,
    };
    let mut incidents = 0;
    for (p_index, slug) in projects.iter().enumerate() {
        let Ok(scope) = kpis::scope(db, slug, Some("production")).await else {
            continue;
        };
        let o = kpis::overview(db, scope.clone(), today - 89, today + 1).await?;
        // Failed and rolled-back deployments: most raised an incident, resolved once service
        // was restored.
        for (n, id) in o.report.dora.current.failure_deployments.iter().enumerate() {
            if n % 4 == 3 {
                continue;
            }
            let d = deployments::get(db, *id).await?;
            let Some(live) = d.summary.finished_at else {
                continue;
            };
            let started = live + rng.gen_range(3..25) * MIN;
            let took = if d.summary.state == DeployState::RolledBack {
                rng.gen_range(10..40)
            } else {
                rng.gen_range(4..20)
            };
            let new = NewIncident {
                environment: "production".into(),
                title: CAUSES[rng.gen_range(0..CAUSES.len())].into(),
                severity: if n % 3 == 0 { "critical" } else { "warning" }.into(),
                started_at: started,
                resolved_at: Some((started + took * MIN).min(now)),
                deployment_id: Some(*id),
                incident_key: Some(format!("demo-{slug}-{id}")),
            };
            kpis::record_incident(db, slug, &new, &monitor).await?;
            incidents += 1;
        }
        // Incidents no deployment caused.
        for (n, title) in OTHER.iter().enumerate() {
            let started =
                (today - 20 - 30 * n as i64 - p_index as i64 * 7) * DAY_MS + 9 * 3_600_000;
            let new = NewIncident {
                environment: "production".into(),
                title: (*title).into(),
                severity: "warning".into(),
                started_at: started,
                resolved_at: Some(started + rng.gen_range(15..90) * MIN),
                deployment_id: None,
                incident_key: Some(format!("demo-{slug}-other-{n}")),
            };
            kpis::record_incident(db, slug, &new, &monitor).await?;
            incidents += 1;
        }
    }
    // Two of the last three months rated by the team; this month by some of them (the demo
    // admin and a few others still see the prompt).
    let mut ratings = 0;
    let people = [
        "maya.lead",
        "lee.ops",
        "ravi.qa",
        "ines.ml",
        "sam.manager",
        "noor.dev",
    ];
    for (i, name) in people.iter().enumerate() {
        let Some(user) = users::find_by_username(db, name).await? else {
            continue;
        };
        for month_back in 0..3 {
            if month_back == 0 && i % 2 == 1 {
                continue;
            }
            let at = now - month_back * 30 * DAY_MS - rng.gen_range(0..5) * DAY_MS;
            let slug = projects[(i + month_back as usize) % projects.len()];
            let Some(project) = app::store::projects::get(db, slug).await? else {
                continue;
            };
            let rating = if rng.gen_bool(0.2) {
                3
            } else {
                rng.gen_range(4..=5)
            };
            let comment = COMMENTS[rng.gen_range(0..COMMENTS.len())];
            if kpis::rate(db, user.user.id.0, project.id, rating, comment, at)
                .await
                .is_ok()
            {
                ratings += 1;
            }
        }
    }
    // The payments team holds itself to a stricter pass rate than the seeds.
    if let Some(slug) = projects.get(1) {
        if let Some(p) = app::store::projects::get(db, slug).await? {
            kpis::save_targets(
                db,
                p.id,
                &[Target {
                    kpi: Kpi::TestPassRate,
                    target: 0.99,
                    at_risk: 0.97,
                    custom: true,
                }],
                &[],
                &Actor::system(),
            )
            .await?;
        }
    }
    Ok((incidents, ratings))
}
