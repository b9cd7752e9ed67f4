//! Releases and deployments in the store, on SQLite and Postgres: gates that hold a promotion
//! until a new run passes, approvals with their refusals, exactly-once transitions under
//! concurrency, canary steps, freezes, health samples and automatic rollback.

use crate::helpers::{backends, connect};
use crate::runs_store::new_run;
use app::model::{
    CanaryStep, DeployState, FreezeKind, GateMetric, HealthSample, Protection, Role, RunStatus,
    Slug, Strategy, Username,
};
use app::store::audit::Actor;
use app::store::deployments::{self, NewDeployment, NewSample, Person, Report, Requester};
use app::store::environments::{self, GateSpec};
use app::store::projects::{self, NewProject};
use app::store::users::{self, NewUser};
use app::store::{runs, Db, StoreError};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

pub(crate) async fn person(db: &Db, name: &str, role: Role) -> Person {
    let user = users::create(
        db,
        &NewUser {
            username: Username::parse(name).unwrap(),
            display_name: format!("{name} (display)"),
            role,
            password_hash: "not-a-real-hash".into(),
        },
        &Actor::system(),
    )
    .await
    .unwrap();
    Person {
        user_id: user.id.0,
        username: user.username,
        display_name: user.display_name,
        role,
        ip: None,
    }
}

pub(crate) fn ci() -> Requester {
    Requester {
        user_id: None,
        name: "token:ci".into(),
        ip: None,
    }
}

pub(crate) fn deploy(env: &str, version: &str, commit: &str) -> NewDeployment {
    NewDeployment {
        environment: env.into(),
        version: version.into(),
        commit_sha: commit.into(),
        git_ref: Some("main".into()),
        strategy: Strategy::Rolling,
        canary_steps: None,
        request_key: None,
        ci_run_id: None,
        commits: Vec::new(),
        artifacts: Vec::new(),
    }
}

/// A project whose `env` has exactly the given approvals, no timer, no checklist, no
/// promotion rule, and one key gate: error rate ≤ 0.1% (fail above 1%).
pub(crate) async fn simple_project(db: &Db, slug: &str, env: &str, approvals: i64) -> i64 {
    let project = projects::create(
        db,
        &NewProject::named(Slug::parse(slug).unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap();
    let e = environments::find(db, slug, env).await.unwrap();
    environments::update_protection(
        db,
        e.id,
        &Protection {
            required_approvals: approvals,
            ref_pattern: "main, v*".into(),
            ..Protection::default()
        },
        &Actor::system(),
    )
    .await
    .unwrap();
    environments::set_checklist(db, e.id, &[], &Actor::system())
        .await
        .unwrap();
    environments::set_gates(
        db,
        e.id,
        &[GateSpec {
            metric: GateMetric::ErrorRate,
            higher_is_better: false,
            warn: 0.001,
            fail: 0.01,
            weight: 1.0,
            key: true,
        }],
        &Actor::system(),
    )
    .await
    .unwrap();
    project.id
}

/// A finished run on `commit` with this error rate.
pub(crate) async fn finished_run(
    db: &Db,
    project_id: i64,
    id: &str,
    commit: &str,
    error_rate: f64,
) {
    let mut run = new_run(id);
    run.commit_sha = Some(commit.into());
    run.author = Some("noor".into());
    run.status = RunStatus::Success;
    run.finished_at = Some(app::store::now_ms());
    run.performance.error_rate = Some(error_rate);
    // Storing the run re-evaluates the deployments waiting on its commit.
    runs::create_or_get(db, project_id, &run).await.unwrap();
}

fn message(e: StoreError) -> String {
    e.to_string()
}

#[tokio::test]
async fn a_promotion_waits_for_a_passing_run_then_two_approvals_and_starts_once() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project_id = simple_project(&db, "shop", "production", 2).await;
        finished_run(&db, project_id, "100", COMMIT, 0.05).await;

        // Wrong branch: refused before anything is stored.
        let mut wrong = deploy("production", "1.0.0", COMMIT);
        wrong.git_ref = Some("feature/x".into());
        let e = deployments::request(&db, "shop", &wrong, &ci())
            .await
            .unwrap_err();
        assert!(
            message(e).contains("`feature/x` may not deploy to this environment"),
            "{label}"
        );

        let (id, created) =
            deployments::request(&db, "shop", &deploy("production", "v1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        assert!(created);
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Evaluating, "{label}");
        assert_eq!(d.release.version, "1.0.0", "the leading v is dropped");
        let hold = d.hold.unwrap();
        assert!(
            hold.starts_with("quality gates fail: key gate failed: Error rate 5.0%"),
            "{label}: {hold}"
        );
        let eval = d.evaluation.unwrap();
        assert_eq!(eval.gates[0].value, Some(0.05));
        // Polling a held deployment does not pile up identical evaluations.
        deployments::refresh(&db, id).await.unwrap();
        deployments::refresh(&db, id).await.unwrap();
        let polled = deployments::get(&db, id).await.unwrap().evaluation.unwrap();
        assert_eq!(polled.id, eval.id, "{label}");
        assert!(
            eval.gates[0].source.starts_with("run #100"),
            "{}",
            eval.gates[0].source
        );

        // A retry of the same request returns the same deployment.
        let (again, created) =
            deployments::request(&db, "shop", &deploy("production", "1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        assert_eq!((again, created), (id, false), "{label}");
        // A version names one commit.
        let other = deploy(
            "production",
            "1.0.0",
            "fedcba9876543210fedcba9876543210fedcba98",
        );
        let e = deployments::request(&db, "shop", &other, &ci())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{label}");

        // The deployer cannot start it.
        let e = deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap_err();
        assert!(
            message(e).starts_with("not started: quality gates fail"),
            "{label}"
        );

        // A new run on the commit passes: the deployment now awaits approval.
        finished_run(&db, project_id, "101", COMMIT, 0.0005).await;
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::AwaitingApproval, "{label}");
        assert_eq!(
            d.hold.as_deref(),
            Some("insufficient approvals: 0 of 2 given, 2 more needed")
        );
        let e = deployments::report(
            &db,
            id,
            &Report::Progress {
                step: None,
                traffic: Some(0.5),
            },
            &ci(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            message(e),
            "not started: insufficient approvals: 0 of 2 given, 2 more needed",
            "{label}"
        );

        let maya = person(&db, "maya", Role::Approver).await;
        let lee = person(&db, "lee", Role::Approver).await;
        let ravi = person(&db, "ravi", Role::Reviewer).await;
        let noor = person(&db, "noor", Role::Approver).await;
        let admin = person(&db, "root", Role::Admin).await;
        let e = deployments::decide(&db, id, &ravi, true, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Forbidden(_)),
            "{label}: reviewers do not approve"
        );
        let e = deployments::decide(&db, id, &noor, true, None)
            .await
            .unwrap_err();
        assert_eq!(
            message(e),
            "self-approval is not allowed in this environment: noor authored commits in this release",
            "{label}"
        );
        deployments::decide(&db, id, &maya, true, Some("looks good"))
            .await
            .unwrap();
        let e = deployments::decide(&db, id, &maya, true, None)
            .await
            .unwrap_err();
        assert_eq!(message(e), "maya has already decided on this deployment");
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::AwaitingApproval);
        assert_eq!(d.approvals_needed, 1);
        deployments::decide(&db, id, &lee, true, None)
            .await
            .unwrap();
        let e = deployments::decide(&db, id, &admin, true, None)
            .await
            .unwrap_err();
        assert_eq!(
            message(e),
            "cannot approve: the deployment is in progress",
            "{label}"
        );

        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::InProgress, "{label}");
        assert_eq!(d.summary.approvers, ["maya", "lee"]);
        let path: Vec<DeployState> = d.transitions.iter().map(|t| t.to).collect();
        assert_eq!(
            path,
            [
                DeployState::Requested,
                DeployState::Evaluating,
                DeployState::AwaitingApproval,
                DeployState::InProgress
            ],
            "{label}"
        );
        assert_eq!(d.transitions[3].actor, "lee");
        deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap();
        // Repeating the report is a no-op.
        deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Succeeded);
        assert_eq!(d.summary.traffic, 1.0);
        assert!(d.monitor_until.is_some());
        assert_eq!(d.transitions.len(), 5, "{label}");

        let audit = app::store::audit::list(
            &db,
            &app::model::AuditFilter {
                action: Some("deployment.approved".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(audit.events.len(), 2, "{label}");
    }
}

#[tokio::test]
async fn a_rejection_needs_a_comment_and_ends_the_deployment() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let project_id = simple_project(&db, "shop", "production", 1).await;
        finished_run(&db, project_id, "1", COMMIT, 0.0).await;
        let (id, _) =
            deployments::request(&db, "shop", &deploy("production", "2.0.0", COMMIT), &ci())
                .await
                .unwrap();
        let maya = person(&db, "maya", Role::Approver).await;
        let e = deployments::decide(&db, id, &maya, false, Some(" "))
            .await
            .unwrap_err();
        assert_eq!(message(e), "say why: a rejection needs a comment");
        deployments::decide(&db, id, &maya, false, Some("migration not reviewed"))
            .await
            .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Rejected, "{}", backend.label);
        assert_eq!(
            d.transitions.last().unwrap().reason,
            "rejected: migration not reviewed"
        );
        // A rejected deployment no longer blocks a new request for the same release.
        let (next, created) =
            deployments::request(&db, "shop", &deploy("production", "2.0.0", COMMIT), &ci())
                .await
                .unwrap();
        assert!(created && next != id);
    }
}

#[tokio::test]
async fn fifty_simultaneous_approvals_record_exactly_two_and_start_once() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project_id = simple_project(&db, "shop", "production", 2).await;
        finished_run(&db, project_id, "1", COMMIT, 0.0).await;
        let (id, _) =
            deployments::request(&db, "shop", &deploy("production", "1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        let mut people = Vec::new();
        for i in 0..50 {
            people.push(person(&db, &format!("approver{i}"), Role::Approver).await);
        }
        let mut tasks = Vec::new();
        for p in people {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                deployments::decide(&db, id, &p, true, None).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("{label}: unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 2, "{label}");
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.approvals.len(), 2, "{label}");
        assert_eq!(d.summary.state, DeployState::InProgress, "{label}");
        let starts = d
            .transitions
            .iter()
            .filter(|t| t.to == DeployState::InProgress)
            .count();
        assert_eq!(starts, 1, "{label}");
    }
}

#[tokio::test]
async fn canary_steps_advance_after_their_pause_and_health_rolls_back() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project_id = simple_project(&db, "shop", "staging", 0).await;
        let old = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        finished_run(&db, project_id, "1", old, 0.0).await;
        finished_run(&db, project_id, "2", COMMIT, 0.0).await;
        let (first, _) = deployments::request(&db, "shop", &deploy("staging", "1.0.0", old), &ci())
            .await
            .unwrap();
        assert_eq!(
            deployments::get(&db, first).await.unwrap().summary.state,
            DeployState::InProgress,
            "{label}: no approvals required"
        );
        deployments::report(&db, first, &Report::Succeeded, &ci())
            .await
            .unwrap();

        // The seeds' canary pauses five minutes per step.
        let mut canary = deploy("staging", "1.1.0", COMMIT);
        canary.strategy = Strategy::Canary;
        let (id, _) = deployments::request(&db, "shop", &canary, &ci())
            .await
            .unwrap();
        let step = |n| Report::Progress {
            step: Some(n),
            traffic: None,
        };
        deployments::report(&db, id, &step(0), &ci()).await.unwrap();
        let e = deployments::report(&db, id, &step(1), &ci())
            .await
            .unwrap_err();
        assert!(
            message(e).starts_with("step 0 (10% traffic) pauses until"),
            "{label}"
        );
        let e = deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap_err();
        assert_eq!(
            message(e),
            "the canary is at step 1 of 4: report each step before success"
        );
        deployments::cancel(&db, id, &ci(), "pauses too long for this test")
            .await
            .unwrap();

        // Steps without pauses advance at once.
        let mut quick = deploy("staging", "1.1.0", COMMIT);
        quick.strategy = Strategy::Canary;
        quick.canary_steps = Some(vec![
            CanaryStep {
                traffic: 0.5,
                pause_s: 0,
            },
            CanaryStep {
                traffic: 1.0,
                pause_s: 0,
            },
        ]);
        let (id, created) = deployments::request(&db, "shop", &quick, &ci())
            .await
            .unwrap();
        assert!(created);
        deployments::report(&db, id, &step(0), &ci()).await.unwrap();
        deployments::report(&db, id, &step(0), &ci()).await.unwrap();
        deployments::report(&db, id, &step(1), &ci()).await.unwrap();
        deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Succeeded, "{label}");
        let reasons: Vec<&str> = d.transitions.iter().map(|t| t.reason.as_str()).collect();
        assert!(
            reasons.contains(&"canary step 1 of 2: 50% of traffic"),
            "{reasons:?}"
        );
        assert_eq!(d.rollback_targets.len(), 1);
        assert_eq!(d.rollback_targets[0].version, "1.0.0");

        // Bad input is refused with the field named.
        let bad = NewSample {
            key: None,
            sample: HealthSample {
                error_rate: Some(5.0),
                ..HealthSample::default()
            },
        };
        let e = deployments::add_health(&db, id, &[bad]).await.unwrap_err();
        assert!(
            message(e).starts_with("samples[0].error_rate: a fraction"),
            "{label}"
        );

        let sample = |key: &str, error_rate: f64| NewSample {
            key: Some(key.into()),
            sample: HealthSample {
                error_rate: Some(error_rate),
                availability: Some(0.9995),
                healthy: Some(true),
                ..HealthSample::default()
            },
        };
        let (stored, rollback) = deployments::add_health(&db, id, &[sample("a", 0.0004)])
            .await
            .unwrap();
        assert_eq!((stored, rollback), (1, None), "{label}");
        let (stored, rollback) = deployments::add_health(&db, id, &[sample("a", 0.0004)])
            .await
            .unwrap();
        assert_eq!(
            (stored, rollback),
            (0, None),
            "{label}: a retried sample is stored once"
        );
        let (_, rollback) = deployments::add_health(&db, id, &[sample("b", 0.08)])
            .await
            .unwrap();
        let rollback = rollback.expect("error rate 8% trips the rollback");
        let (_, again) = deployments::add_health(&db, id, &[sample("c", 0.09)])
            .await
            .unwrap();
        assert_eq!(again, Some(rollback), "{label}: one rollback, not two");

        let r = deployments::get(&db, rollback).await.unwrap();
        assert_eq!(r.summary.state, DeployState::InProgress, "{label}");
        assert_eq!(r.summary.rollback_of, Some(id));
        assert_eq!(r.release.version, "1.0.0");
        assert!(
            r.transitions[0]
                .reason
                .contains("automatic: error rate 8.0% is above"),
            "{}",
            r.transitions[0].reason
        );
        deployments::report(&db, rollback, &Report::Succeeded, &ci())
            .await
            .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::RolledBack, "{label}");
        assert_eq!(d.rolled_back_by, Some(rollback));
        let last = d.transitions.last().unwrap();
        assert!(
            last.reason.contains("after the decision (SLA 15 min)"),
            "{}",
            last.reason
        );
    }
}

#[tokio::test]
async fn a_freeze_holds_an_approved_deployment_until_it_ends() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project_id = simple_project(&db, "shop", "production", 1).await;
        finished_run(&db, project_id, "1", COMMIT, 0.0).await;
        let env = environments::find(&db, "shop", "production").await.unwrap();
        let now = app::store::now_ms();
        let frozen = environments::add_freeze(
            &db,
            env.id,
            &FreezeKind::Once {
                starts_at: now - 60_000,
                ends_at: now + 3_600_000,
            },
            "Black Friday: no changes",
            &Actor::system(),
        )
        .await
        .unwrap();
        let (id, _) =
            deployments::request(&db, "shop", &deploy("production", "1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        let maya = person(&db, "maya", Role::Approver).await;
        deployments::decide(&db, id, &maya, true, None)
            .await
            .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Waiting, "{label}");
        let e = deployments::report(&db, id, &Report::Succeeded, &ci())
            .await
            .unwrap_err();
        let m = message(e);
        assert!(
            m.starts_with("not started: the environment is frozen until"),
            "{label}: {m}"
        );
        assert!(m.ends_with("Black Friday: no changes"));
        environments::remove_freeze(&db, frozen.freezes[0].id, &Actor::system())
            .await
            .unwrap();
        assert_eq!(
            deployments::settle_waiting(&db).await.unwrap(),
            1,
            "{label}"
        );
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::InProgress, "{label}");
    }
}

#[tokio::test]
async fn new_projects_get_the_seeds_rules_and_production_needs_staging_first() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project = projects::create(
            &db,
            &NewProject::named(Slug::parse("shop").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        let envs = environments::list(&db, "shop").await.unwrap();
        let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "staging", "production"], "{label}");
        assert!(envs[0].gates.is_empty());
        let prod = &envs[2];
        assert_eq!(prod.protection.required_approvals, 2);
        assert_eq!(prod.protection.wait_timer_s, 300);
        assert!(prod.protection.require_previous);
        assert_eq!(prod.protection.monitoring_window_s, 48 * 3600);
        assert_eq!(prod.checklist.len(), 3);
        assert!(prod
            .gates
            .iter()
            .any(|g| g.metric == GateMetric::TestPassRate && g.key));
        // Gates must be written the right way round, as fractions.
        let e = environments::set_gates(
            &db,
            prod.id,
            &[GateSpec {
                metric: GateMetric::LineCoverage,
                higher_is_better: true,
                warn: 85.0,
                fail: 80.0,
                weight: 1.0,
                key: true,
            }],
            &Actor::system(),
        )
        .await
        .unwrap_err();
        assert!(
            message(e).contains("fractions from 0 to 1 (0.95, not 95)"),
            "{label}"
        );

        finished_run(&db, project.id, "1", COMMIT, 0.0).await;
        let (id, _) =
            deployments::request(&db, "shop", &deploy("production", "1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        let d = deployments::get(&db, id).await.unwrap();
        assert_eq!(d.summary.state, DeployState::Evaluating, "{label}");
        assert_eq!(d.environment.checklist.len(), 3);
        let changes = app::store::audit::list(
            &db,
            &app::model::AuditFilter {
                action: Some("deployment.requested".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(changes.events.len(), 1, "{label}");
    }
}
