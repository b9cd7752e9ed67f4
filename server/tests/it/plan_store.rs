//! Rollout plans in the store, on SQLite and Postgres: the seeds' roadmap as a plan, the
//! go-live checklist that guards "done", idempotent retries, bad input that stores nothing,
//! and criteria judged live against the KPIs (health samples of production) and the latest
//! gate evaluation of a real deployment request.

use crate::deploy_store::{ci, deploy, simple_project};
use crate::helpers::{backends, connect};
use app::logic::dora::{DAY_MS, HOUR_MS};
use app::logic::kpi::Kpi;
use app::logic::plan::{roadmap, Comparator, ItemKind, Link, PhaseDraft, PhaseStatus, Verdict};
use app::model::{DeployState, HealthSample, PastDeployment, Plan, Strategy};
use app::store::deploy_views::record_past;
use app::store::deployments::{self, Requester};
use app::store::plans::{self, NewPlan, PhaseEdit};
use app::store::{now_ms, StoreError};

fn lead() -> Requester {
    Requester {
        user_id: None,
        name: "noor".into(),
        ip: None,
    }
}

fn phase_titled<'a>(plan: &'a Plan, prefix: &str) -> &'a app::model::PlanPhase {
    plan.phases
        .iter()
        .find(|p| p.title.starts_with(prefix))
        .unwrap_or_else(|| panic!("no phase {prefix}"))
}

fn verdict_of(plan: &Plan, title: &str) -> (Verdict, String, Option<String>) {
    let c = plan
        .phases
        .iter()
        .flat_map(|p| &p.criteria)
        .find(|c| c.title == title)
        .unwrap_or_else(|| panic!("no criterion {title}"));
    (c.verdict, c.measured.clone(), c.href.clone())
}

#[tokio::test]
async fn a_roadmap_plan_is_guarded_by_its_checklists_and_judged_live() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        simple_project(&db, "plans", "production", 0).await;
        let today = now_ms() / DAY_MS;
        let new = NewPlan {
            title: "Production roadmap".into(),
            environment: None,
            template: Some("roadmap".into()),
            plan_key: Some("r-1".into()),
            phases: roadmap(today - 7, Some("production")),
        };
        let (id, created) = plans::create(&db, "plans", &new, &lead()).await.unwrap();
        assert!(created, "{label}");
        // A retry with the same key is the same plan.
        let (again, created) = plans::create(&db, "plans", &new, &lead()).await.unwrap();
        assert_eq!((again, created), (id, false), "{label}");
        // Two requests with a new key at the same moment: one plan, one of them created it.
        let mut twin = new.clone();
        twin.plan_key = Some("r-2".into());
        let who = lead();
        let (a, b) = tokio::join!(
            plans::create(&db, "plans", &twin, &who),
            plans::create(&db, "plans", &twin, &who)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.0, b.0, "{label}");
        assert!(a.1 != b.1, "{label}: exactly one created it");
        plans::delete(&db, a.0, &lead()).await.unwrap();
        let plan = plans::get(&db, id).await.unwrap();
        assert_eq!(plan.phases.len(), 11, "{label}");
        assert_eq!(plan.environment, "production", "{label}");
        assert_eq!(plan.phases[0].status, PhaseStatus::Done, "{label}");
        assert_eq!(plan.phases[0].progress(), 1.0, "{label}");
        assert_eq!(plan.phases[1].starts_on, Some(today - 7), "{label}");
        let p3 = phase_titled(&plan, "Phase 3");
        assert_eq!((p3.deliverables().count(), p3.checklist().count()), (5, 6));
        let summary = plans::list(&db, None).await.unwrap();
        assert_eq!(summary.len(), 1, "{label}");
        assert_eq!((summary[0].phases, summary[0].done), (11, 1), "{label}");
        assert_eq!(
            summary[0].current.as_deref(),
            Some("Phase 1: Live cluster deployment")
        );

        // Bad input says where, and stores nothing.
        let mut bad = new.clone();
        bad.plan_key = None;
        bad.phases[2].due_on = Some(today - 30);
        let e = plans::create(&db, "plans", &bad, &lead())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(m) if m.starts_with("phases[2]")),
            "{label}: {e}"
        );
        let mut bad = new.clone();
        bad.plan_key = None;
        bad.phases[5].criteria.push((
            "Gates on the moon".into(),
            Link::Gate {
                environment: "moon".into(),
                metric: None,
            },
        ));
        let e = plans::create(&db, "plans", &bad, &lead())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("phases[5].criteria[")
                && e.to_string().contains("no environment `moon`"),
            "{label}: {e}"
        );
        assert_eq!(plans::list(&db, None).await.unwrap().len(), 1, "{label}");

        // Done needs the go-live checklist: it names what is open.
        let p3 = phase_titled(&plan, "Phase 3").clone();
        let e = plans::set_status(&db, id, p3.id, PhaseStatus::Done, "", &lead())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Conflict(m) if m.contains("6 open")),
            "{label}: {e}"
        );
        let list: Vec<_> = p3.checklist().cloned().collect();
        for item in &list[..5] {
            plans::set_done(&db, id, item.id, true, &lead())
                .await
                .unwrap();
        }
        let e = plans::set_status(&db, id, p3.id, PhaseStatus::Done, "", &lead())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("1 open: No critical alerts"),
            "{label}: {e}"
        );
        plans::set_done(&db, id, list[5].id, true, &lead())
            .await
            .unwrap();
        // Ticking again keeps the first tick.
        plans::set_done(&db, id, list[5].id, true, &lead())
            .await
            .unwrap();
        plans::set_status(&db, id, p3.id, PhaseStatus::Done, "", &lead())
            .await
            .unwrap();
        plans::set_status(&db, id, p3.id, PhaseStatus::Done, "", &lead())
            .await
            .unwrap();
        // A done phase keeps its checklist ticked and takes no new checklist item.
        let e = plans::set_done(&db, id, list[0].id, false, &lead())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{label}: {e}");
        let e = plans::add_item(&db, id, p3.id, ItemKind::Checklist, "More", "", &lead())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{label}: {e}");
        // Reopened, it can be changed again.
        plans::set_status(&db, id, p3.id, PhaseStatus::InProgress, "", &lead())
            .await
            .unwrap();
        plans::set_done(&db, id, list[0].id, false, &lead())
            .await
            .unwrap();
        let e = plans::set_status(&db, id, p3.id, PhaseStatus::Blocked, " ", &lead())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("what blocks"), "{label}: {e}");
        plans::set_status(&db, id, p3.id, PhaseStatus::Blocked, "No TLS yet", &lead())
            .await
            .unwrap();
        let plan = plans::get(&db, id).await.unwrap();
        let p3 = phase_titled(&plan, "Phase 3");
        assert_eq!(p3.status, PhaseStatus::Blocked);
        assert_eq!(p3.status_note, "No TLS yet");
        assert_eq!(p3.status_by.as_deref(), Some("noor"));
        assert_eq!(p3.done_count(), (5, 11), "{label}");
        // Items from another plan's id are not found.
        let e = plans::set_done(&db, id + 1000, list[1].id, true, &lead())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{label}: {e}");

        // Criteria, judged now. Nothing measured yet: no data, and manual ones are open.
        let mut judged = plans::get(&db, id).await.unwrap();
        plans::evaluate(&db, &mut judged, today).await.unwrap();
        assert_eq!(verdict_of(&judged, "Error rate < 0.1%").0, Verdict::NoData);
        assert_eq!(
            verdict_of(&judged, "All nodes Running (kubectl get nodes)").0,
            Verdict::Open
        );
        let (v, said, _) = verdict_of(&judged, "Quality gates pass");
        assert_eq!(v, Verdict::NoData, "{label}");
        assert!(said.contains("no gate evaluation in production"), "{said}");

        // Production's health samples say an error rate of 0.4%: under 1% holds, under 0.1%
        // fails, and the criterion links to the KPI's drill-down.
        let at = now_ms() - 2 * HOUR_MS;
        let past = PastDeployment {
            environment: "production".into(),
            version: "0.9.0".into(),
            commit_sha: "c0ffee0".into(),
            git_ref: Some("main".into()),
            strategy: Strategy::Rolling,
            requested_by: "noor".into(),
            requested_at: at - 600_000,
            approvals: Vec::new(),
            started_at: Some(at - 300_000),
            finished_at: Some(at),
            outcome: DeployState::Succeeded,
            failure_reason: None,
            health: (0..4)
                .map(|i| HealthSample {
                    at: at + i * 60_000,
                    error_rate: Some(0.004),
                    p95_ms: None,
                    availability: Some(1.0),
                    smoke_pass_rate: None,
                    healthy: None,
                })
                .collect(),
            rollback_of: None,
            github_deployment_id: None,
            commits: Vec::new(),
        };
        record_past(&db, "plans", &past).await.unwrap();
        // A real request is evaluated at once: its key gate (error rate) is not measured, so
        // the evaluation fails.
        let (dep, _) = deployments::request(
            &db,
            "plans",
            &deploy("production", "1.0.0", "abc1234"),
            &ci(),
        )
        .await
        .unwrap();
        let first_manual = judged.phases[1].criteria[0].id;
        plans::confirm(&db, id, first_manual, true, &lead())
            .await
            .unwrap();
        let kpi_criterion = judged
            .phases
            .iter()
            .flat_map(|p| &p.criteria)
            .find(|c| matches!(c.link, Link::Kpi { .. }))
            .unwrap()
            .id;
        let e = plans::confirm(&db, id, kpi_criterion, true, &lead())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("judged live"), "{label}: {e}");

        let mut judged = plans::get(&db, id).await.unwrap();
        plans::evaluate(&db, &mut judged, today).await.unwrap();
        let (v, said, href) = verdict_of(&judged, "Error rate < 1% under load");
        assert_eq!(v, Verdict::Holds, "{label}: {said}");
        assert!(said.starts_with("0.40%"), "{label}: {said}");
        assert_eq!(
            href.as_deref(),
            Some("/kpis/error_rate?project=plans&environment=production&days=30")
        );
        assert_eq!(verdict_of(&judged, "Error rate < 0.1%").0, Verdict::Fails);
        let (v, said, href) = verdict_of(&judged, "Quality gates pass");
        assert_eq!(v, Verdict::Fails, "{label}: {said}");
        assert_eq!(href, Some(format!("/deployments/{dep}")), "{label}");
        let (v, said, _) = verdict_of(&judged, "No critical findings at the gate");
        assert_eq!(v, Verdict::NoData, "{label}: {said}");
        assert!(said.contains("no gate `critical_findings`"), "{said}");
        let (v, said, _) = verdict_of(&judged, "All nodes Running (kubectl get nodes)");
        assert_eq!(v, Verdict::Holds, "{label}");
        assert!(said.starts_with("confirmed by noor"), "{said}");

        // Editing: a phase, an item, a criterion linked to one gate.
        let added = plans::add_phase(
            &db,
            id,
            &PhaseEdit {
                title: "Phase 11: Hand-over".into(),
                objective: String::new(),
                starts_on: Some(today + 60),
                due_on: Some(today + 50),
            },
            &lead(),
        )
        .await
        .unwrap_err();
        assert!(added.to_string().contains("before the start"), "{added}");
        let p11 = plans::add_phase(
            &db,
            id,
            &PhaseEdit {
                title: "Phase 11: Hand-over".into(),
                objective: "Operations own it".into(),
                starts_on: Some(today + 50),
                due_on: None,
            },
            &lead(),
        )
        .await
        .unwrap();
        plans::edit_phase(
            &db,
            id,
            p11,
            &PhaseEdit {
                title: "Phase 11: Hand-over to operations".into(),
                objective: "Operations own it".into(),
                starts_on: Some(today + 50),
                due_on: Some(today + 56),
            },
            &lead(),
        )
        .await
        .unwrap();
        let item = plans::add_item(
            &db,
            id,
            p11,
            ItemKind::Deliverable,
            "Runbook reviewed",
            "SRE",
            &lead(),
        )
        .await
        .unwrap();
        plans::add_criterion(
            &db,
            id,
            p11,
            "Error-rate gate passes",
            &Link::Gate {
                environment: "production".into(),
                metric: Some("error_rate".into()),
            },
            &lead(),
        )
        .await
        .unwrap();
        let mut judged = plans::get(&db, id).await.unwrap();
        plans::evaluate(&db, &mut judged, today).await.unwrap();
        let last = judged.phases.last().unwrap();
        assert_eq!(last.title, "Phase 11: Hand-over to operations");
        assert_eq!(last.due_on, Some(today + 56));
        assert_eq!(last.items[0].owner, "SRE");
        let (v, said, _) = verdict_of(&judged, "Error-rate gate passes");
        assert_eq!(v, Verdict::Fails, "{label}: {said}");
        assert!(said.contains("Error rate not measured (fail)"), "{said}");
        plans::remove_item(&db, id, item, &lead()).await.unwrap();
        let crit = judged.phases.last().unwrap().criteria[0].id;
        plans::remove_criterion(&db, id, crit, &lead())
            .await
            .unwrap();
        let plan = plans::get(&db, id).await.unwrap();
        let last = plan.phases.last().unwrap();
        assert!(last.items.is_empty() && last.criteria.is_empty(), "{label}");

        // A hand-written plan with a KPI criterion; then both are deleted with all they hold.
        let (custom, _) = plans::create(
            &db,
            "plans",
            &NewPlan {
                title: "Canary".into(),
                environment: Some("production".into()),
                template: None,
                plan_key: None,
                phases: vec![PhaseDraft {
                    title: "5%".into(),
                    objective: String::new(),
                    starts_on: Some(today),
                    due_on: Some(today + 1),
                    status: PhaseStatus::InProgress,
                    note: String::new(),
                    deliverables: vec![("Weights".into(), "ops".into(), true)],
                    checklist: vec!["Rollback tested".into()],
                    criteria: vec![(
                        "MTTR under 5 min".into(),
                        Link::Kpi {
                            kpi: Kpi::Mttr,
                            comparator: Comparator::Lt,
                            threshold: 300_000.0,
                        },
                    )],
                }],
            },
            &lead(),
        )
        .await
        .unwrap();
        let c = plans::get(&db, custom).await.unwrap();
        assert_eq!(c.phases[0].done_count(), (1, 2), "{label}");
        assert_eq!(c.phases[0].items[0].done_by.as_deref(), Some("noor"));
        for p in [id, custom] {
            plans::delete(&db, p, &lead()).await.unwrap();
            assert!(matches!(
                plans::get(&db, p).await,
                Err(StoreError::NotFound(_))
            ));
        }
        assert!(plans::list(&db, None).await.unwrap().is_empty(), "{label}");
    }
}
