//! What the console reads about deployments, on SQLite and Postgres: history written with its
//! own times (demo data, imports), what is live where, releases and their comparison, the
//! decisions a person may take, the change stamp and the approvals badge.

use crate::deploy_store::{ci, deploy, finished_run, person, simple_project};
use crate::helpers::{backends, connect};
use app::model::{DeployState, HealthSample, PastDeployment, Role, Slug, Strategy};
use app::store::audit::Actor;
use app::store::deploy_views;
use app::store::deployments;
use app::store::projects::{self, NewProject};
use app::store::StoreError;

const DAY: i64 = 86_400_000;
const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn past(env: &str, version: &str, commit: &str, at: i64) -> PastDeployment {
    PastDeployment {
        environment: env.into(),
        version: version.into(),
        commit_sha: commit.into(),
        git_ref: Some("main".into()),
        strategy: Strategy::Rolling,
        requested_by: "token:ci".into(),
        requested_at: at,
        approvals: Vec::new(),
        started_at: Some(at + 60_000),
        finished_at: Some(at + 600_000),
        outcome: DeployState::Succeeded,
        failure_reason: None,
        health: Vec::new(),
        rollback_of: None,
        github_deployment_id: None,
        commits: Vec::new(),
    }
}

#[tokio::test]
async fn history_is_written_as_it_happened_and_read_back() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        projects::create(
            &db,
            &NewProject::named(Slug::parse("shop").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        let maya = person(&db, "maya", Role::Approver).await;
        person(&db, "lee", Role::Approver).await;
        let t0 = app::store::now_ms() - 10 * DAY;

        let mut first = past("production", "1.0.0", A, t0);
        first.approvals = vec![
            ("maya".into(), t0 + 1000),
            ("lee".into(), t0 + 2000),
            ("ghost".into(), t0),
        ];
        first.commits = vec![(
            A.into(),
            "feat(cart): saved carts".into(),
            Some("noor".into()),
            t0 - DAY,
        )];
        first.strategy = Strategy::Canary;
        first.github_deployment_id = Some(77);
        let (d1, created) = deploy_views::record_past(&db, "shop", &first)
            .await
            .unwrap();
        assert!(created, "{label}");
        let again = deploy_views::record_past(&db, "shop", &first)
            .await
            .unwrap();
        assert_eq!(
            again,
            (d1, false),
            "{label}: the same GitHub deployment is stored once"
        );

        let mut second = past("production", "1.1.0", B, t0 + DAY);
        second.commits = vec![
            (
                "c".repeat(40),
                "fix(cart): rounding".into(),
                Some("ravi".into()),
                t0 + DAY / 3,
            ),
            (
                B.into(),
                "feat(search)!: new index".into(),
                Some("ines".into()),
                t0 + DAY / 2,
            ),
        ];
        second.health = vec![HealthSample {
            at: t0 + DAY + 700_000,
            error_rate: Some(0.08),
            ..HealthSample::default()
        }];
        let (d2, _) = deploy_views::record_past(&db, "shop", &second)
            .await
            .unwrap();
        let mut back = past("production", "1.0.0", A, t0 + DAY + 800_000);
        back.rollback_of = Some((d2, t0 + DAY + 750_000));
        let (d3, _) = deploy_views::record_past(&db, "shop", &back).await.unwrap();

        let one = deployments::get(&db, d1).await.unwrap();
        assert_eq!(one.summary.state, DeployState::Succeeded, "{label}");
        assert_eq!(
            one.summary.approvers,
            vec!["maya", "lee"],
            "{label}: unknown users are skipped"
        );
        assert_eq!(one.summary.traffic, 1.0);
        assert_eq!(
            one.canary_step,
            Some(3),
            "{label}: a finished canary reached its last step"
        );
        let states: Vec<DeployState> = one.transitions.iter().map(|t| t.to).collect();
        assert_eq!(
            states,
            [
                DeployState::Requested,
                DeployState::AwaitingApproval,
                DeployState::InProgress,
                DeployState::Succeeded
            ],
            "{label}"
        );
        assert_eq!(
            one.transitions[3].at,
            t0 + 600_000,
            "{label}: at its own time"
        );
        let two = deployments::get(&db, d2).await.unwrap();
        assert_eq!(two.summary.state, DeployState::RolledBack, "{label}");
        assert_eq!(two.rolled_back_by, Some(d3));
        assert_eq!(two.health.len(), 1);
        assert!(
            two.transitions
                .last()
                .unwrap()
                .reason
                .contains("restored 10 min after the decision"),
            "{label}: {:?}",
            two.transitions
        );
        let notes: Vec<&str> = two.notes.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            notes,
            ["Breaking changes", "Features", "Bug fixes"],
            "{label}"
        );

        // Live: the rollback put 1.0.0 back in production; staging has nothing.
        let live = deploy_views::live(&db, Some("shop")).await.unwrap();
        let names: Vec<&str> = live.iter().map(|e| e.environment.as_str()).collect();
        assert_eq!(names, ["dev", "staging", "production"], "{label}");
        let prod = &live[2];
        assert_eq!(
            prod.live.as_ref().map(|l| (l.id, l.version.as_str())),
            Some((d3, "1.0.0")),
            "{label}"
        );
        assert!(live[1].live.is_none());
        assert_eq!(
            prod.rules, "2 approvals · 5 min timer · 7 gates · 3-item checklist",
            "{label}"
        );
        assert_eq!(live[0].rules, "no rules: deploys straight away");
        assert_eq!(deploy_views::live(&db, None).await.unwrap().len(), 3);

        let releases = deploy_views::releases(&db, "shop", 10).await.unwrap();
        let versions: Vec<&str> = releases
            .iter()
            .map(|r| r.release.version.as_str())
            .collect();
        assert_eq!(versions, ["1.1.0", "1.0.0"], "{label}: newest first");
        assert_eq!(
            releases[0].environments,
            vec![("production".to_string(), DeployState::RolledBack, d2)]
        );
        assert_eq!(
            releases[1].environments,
            vec![("production".to_string(), DeployState::Succeeded, d3)],
            "{label}: the latest deployment per environment"
        );

        for (from, to) in [("1.0.0", "1.1.0"), ("1.1.0", "1.0.0")] {
            let c = deploy_views::compare(&db, "shop", from, to).await.unwrap();
            assert_eq!(
                (c.from.version.as_str(), c.to.version.as_str(), c.commits),
                ("1.0.0", "1.1.0", 2),
                "{label}"
            );
        }
        let missing = deploy_views::compare(&db, "shop", "1.0.0", "9.9.9")
            .await
            .unwrap_err();
        assert!(
            matches!(missing, StoreError::NotFound(ref m) if m == "shop has no release 9.9.9"),
            "{label}: {missing}"
        );

        // Refusals: an open outcome, another commit under a known version.
        let mut open = past("production", "1.2.0", B, t0);
        open.outcome = DeployState::InProgress;
        assert!(matches!(
            deploy_views::record_past(&db, "shop", &open).await,
            Err(StoreError::Invalid(_))
        ));
        let clash = past("staging", "1.0.0", B, t0);
        assert!(
            matches!(
                deploy_views::record_past(&db, "shop", &clash).await,
                Err(StoreError::Conflict(_))
            ),
            "{label}"
        );
        let _ = maya;
    }
}

#[tokio::test]
async fn rights_stamp_and_badge_follow_the_rules() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project_id = simple_project(&db, "shop", "production", 2).await;
        let maya = person(&db, "maya", Role::Approver).await;
        let lee = person(&db, "lee", Role::Approver).await;
        let noor = person(&db, "noor", Role::Approver).await;
        let sam = person(&db, "sam", Role::Viewer).await;
        finished_run(
            &db,
            project_id,
            "1",
            "0123456789abcdef0123456789abcdef01234567",
            0.0001,
        )
        .await;
        let (id, _) = deployments::request(
            &db,
            "shop",
            &deploy(
                "production",
                "1.0.0",
                "0123456789abcdef0123456789abcdef01234567",
            ),
            &ci(),
        )
        .await
        .unwrap();

        let r = deploy_views::rights(&db, id, &maya).await.unwrap();
        assert_eq!(
            (r.approve, r.reject, r.is_admin, r.can_operate),
            (None, None, false, true),
            "{label}"
        );
        let r = deploy_views::rights(&db, id, &noor).await.unwrap();
        assert!(
            r.approve.unwrap().contains("authored commits"),
            "{label}: the run's author"
        );
        assert_eq!(r.reject, None, "{label}: an author may still reject");
        let r = deploy_views::rights(&db, id, &sam).await.unwrap();
        assert!(
            r.approve.is_some() && r.reject.is_some() && !r.can_operate,
            "{label}"
        );

        assert_eq!(
            deploy_views::queue_count(&db, &maya).await.unwrap(),
            1,
            "{label}"
        );
        let before = deploy_views::stamp(&db, id).await.unwrap();
        deployments::decide(&db, id, &maya, true, None)
            .await
            .unwrap();
        assert_ne!(
            deploy_views::stamp(&db, id).await.unwrap(),
            before,
            "{label}: an approval changes the stamp"
        );
        assert_eq!(
            deploy_views::queue_count(&db, &maya).await.unwrap(),
            0,
            "{label}: decided"
        );
        assert_eq!(
            deploy_views::queue_count(&db, &lee).await.unwrap(),
            1,
            "{label}"
        );
        let r = deploy_views::rights(&db, id, &maya).await.unwrap();
        assert!(r.approve.unwrap().contains("already decided"), "{label}");
        assert!(matches!(
            deploy_views::stamp(&db, id + 100).await,
            Err(StoreError::NotFound(_))
        ));
    }
}
