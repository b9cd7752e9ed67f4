//! Projects, tokens and CI runs in the store, on SQLite and Postgres.

use crate::helpers::{backends, connect, fixtures_dir};
use app::model::{Job, NewRun, Performance, Provider, RunStatus, Scope, Security, Slug};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::runs::{self, Ingested};
use app::store::{tokens, StoreError};
use gatehouse_server::ingest::{self, IngestError};

pub fn new_run(external_id: &str) -> NewRun {
    NewRun {
        provider: Provider::Github,
        external_id: external_id.into(),
        attempt: 1,
        workflow: "ci".into(),
        commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        branch: Some("main".into()),
        author: Some("octocat".into()),
        trigger: Some("push".into()),
        url: None,
        status: RunStatus::Running,
        started_at: Some(1_700_000_000_000),
        finished_at: None,
        jobs: vec![Job {
            name: "build".into(),
            status: RunStatus::Success,
            started_at: Some(1_700_000_000_000),
            finished_at: Some(1_700_000_060_000),
        }],
        performance: Performance {
            p95_ms: Some(120.0),
            error_rate: Some(0.002),
            ..Performance::default()
        },
        security: Security {
            critical: Some(0),
            ..Security::default()
        },
        change: Default::default(),
    }
}

#[tokio::test]
async fn projects_and_tokens_are_created_checked_and_revoked() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let actor = Actor::system();
        let shop = projects::create(
            &db,
            &NewProject::named(Slug::parse("shop").unwrap()),
            &actor,
        )
        .await
        .unwrap();
        assert_eq!(
            shop.environments,
            ["dev", "staging", "production"],
            "{label}"
        );
        assert!(!shop.has_webhook_secret);
        let again = projects::create(
            &db,
            &NewProject::named(Slug::parse("shop").unwrap()),
            &actor,
        )
        .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{label}: {again:?}"
        );

        let created = tokens::create(
            &db,
            "shop",
            "github actions",
            &[Scope::Ingest, Scope::Read],
            &actor,
        )
        .await
        .unwrap();
        assert!(
            created.secret.starts_with("gth_") && created.secret.len() == 68,
            "{label}"
        );
        assert!(created.secret.starts_with(&created.token.prefix));
        let grant = tokens::authenticate(&db, &created.secret)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(grant.project, "shop");
        assert!(
            grant.allows(Scope::Ingest) && !grant.allows(Scope::Deploy),
            "{label}"
        );
        let listed = tokens::list(&db, Some("shop")).await.unwrap();
        assert!(
            listed[0].last_used_at.is_some(),
            "{label}: last use recorded"
        );
        assert!(tokens::authenticate(&db, "gth_wrong")
            .await
            .unwrap()
            .is_none());

        // Another replica (its own pool) holds the grant from a request just now.
        let replica = connect(&backend).await;
        assert!(tokens::authenticate(&replica, &created.secret)
            .await
            .unwrap()
            .is_some());
        tokens::revoke(&db, created.token.id, &actor).await.unwrap();
        assert!(
            tokens::authenticate(&db, &created.secret)
                .await
                .unwrap()
                .is_none(),
            "{label}: refused at once where it was revoked"
        );
        tokio::time::sleep(tokens::GRANT_RECHECK + std::time::Duration::from_millis(100)).await;
        assert!(
            tokens::authenticate(&replica, &created.secret)
                .await
                .unwrap()
                .is_none(),
            "{label}: refused by the other replica within a second"
        );
        let missing = tokens::create(&db, "nope", "x", &[Scope::Read], &actor).await;
        assert!(matches!(missing, Err(StoreError::NotFound(_))), "{label}");
    }
}

#[tokio::test]
async fn runs_reports_and_coverage_are_stored_once() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project = projects::create(
            &db,
            &NewProject::named(Slug::parse("api").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        let (run, created) = runs::create_or_get(&db, project.id, &new_run("42"))
            .await
            .unwrap();
        assert!(created, "{label}");
        assert_eq!(run.jobs.len(), 1);
        assert_eq!(run.performance.error_rate, Some(0.002));
        let (same, created) = runs::create_or_get(&db, project.id, &new_run("42"))
            .await
            .unwrap();
        assert!(!created && same.id == run.id, "{label}: idempotent");

        // A real Surefire report with a flaky pass, then the same file again.
        let dir = fixtures_dir().join("junit");
        let report = dir.join("enricomi/junit-xml__junit.multiresult.xml");
        let digest = ingest::file_digest(&report).unwrap();
        let stored = ingest::junit_file(&db, run.id, report.clone(), false, &digest)
            .await
            .unwrap();
        assert!(matches!(stored, Ingested::Stored(_)), "{label}");
        let t = *stored.totals();
        assert_eq!(
            (t.tests, t.failed, t.errors, t.skipped),
            (4, 1, 1, 1),
            "{label}"
        );
        let repeat = ingest::junit_file(&db, run.id, report, false, &digest)
            .await
            .unwrap();
        assert!(matches!(repeat, Ingested::Repeated(_)), "{label}");

        let flaky = dir.join("jenkins/gh-237__TEST-io.olamy.FlakyTest.xml");
        let digest = ingest::file_digest(&flaky).unwrap();
        ingest::junit_file(&db, run.id, flaky, false, &digest)
            .await
            .unwrap();
        let run_now = runs::require(&db, run.id).await.unwrap();
        assert_eq!(
            (run_now.tests.tests, run_now.tests.flaky),
            (5, 1),
            "{label}: totals over both reports"
        );
        let (problems, more) = runs::problem_cases(&db, run.id, 10).await.unwrap();
        // An error, a failure, then the flaky pass.
        assert_eq!((problems.len(), more), (3, 0), "{label}");
        assert!(problems[2].retried, "{label}");
        let page = runs::list(
            &db,
            &app::model::RunFilter {
                text: Some("0123456".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(page.runs.len(), 1, "{label}: commit prefix search");

        // A broken report keeps nothing.
        let corrupt = dir.join("enricomi/junit-xml__pytest__corrupt-xml.xml");
        let digest = ingest::file_digest(&corrupt).unwrap();
        let refused = ingest::junit_file(&db, run.id, corrupt, false, &digest).await;
        assert!(
            matches!(&refused, Err(IngestError::Refused(m)) if m.contains("line 11")),
            "{label}: {refused:?}"
        );
        assert_eq!(
            runs::require(&db, run.id).await.unwrap().tests.tests,
            5,
            "{label}"
        );

        // Coverage: one report's own rates, then the same again.
        let cov = fixtures_dir().join("coverage/gcovr/simple__stdout__gcc-5.lcov");
        let digest = ingest::file_digest(&cov).unwrap();
        let stored = ingest::coverage_file(&db, run.id, cov.clone(), false, &digest)
            .await
            .unwrap();
        assert!(!stored.repeated);
        let again = ingest::coverage_file(&db, run.id, cov, false, &digest)
            .await
            .unwrap();
        assert!(again.repeated, "{label}");
        let c = runs::require(&db, run.id).await.unwrap().coverage.unwrap();
        assert_eq!((c.lines_covered, c.lines_valid), (7, 11), "{label}");
        assert!((c.line_rate.unwrap() - 7.0 / 11.0).abs() < 1e-9);
    }
}

/// Many writers at once (CI systems uploading in parallel, with conflicts among them) wait
/// for each other instead of failing with "database is locked".
#[tokio::test]
async fn concurrent_writers_wait_for_each_other() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        projects::create(
            &db,
            &NewProject::named(Slug::parse("busy").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        let project = projects::require(&db, "busy").await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                // A conflict (rolled back) among the writes, as in real traffic.
                let _ = projects::create(
                    &db,
                    &NewProject::named(Slug::parse("busy").unwrap()),
                    &Actor::system(),
                )
                .await;
                tokens::create(
                    &db,
                    "busy",
                    &format!("t{i}"),
                    &[Scope::Read],
                    &Actor::system(),
                )
                .await?;
                runs::create_or_get(&db, project.id, &new_run(&format!("r{}", i % 6))).await?;
                Ok::<_, StoreError>(())
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        assert_eq!(
            tokens::list(&db, Some("busy")).await.unwrap().len(),
            24,
            "{label}"
        );
        let page = runs::list(
            &db,
            &app::model::RunFilter {
                project: Some("busy".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(page.runs.len(), 6, "{label}: one run per external id");
    }
}

#[tokio::test]
async fn the_runs_list_searches_by_substring_and_filters_together() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let mut ids = std::collections::HashMap::new();
        for slug in ["web", "api"] {
            projects::create(
                &db,
                &NewProject::named(Slug::parse(slug).unwrap()),
                &Actor::system(),
            )
            .await
            .unwrap();
        }
        let web = projects::get(&db, "web").await.unwrap().unwrap().id;
        let api = projects::get(&db, "api").await.unwrap().unwrap().id;
        // (project, external id, workflow, branch, author, commit, status)
        let runs = [
            (
                web,
                "7",
                "ci",
                "feature/Dark-Mode",
                "Ana Lima",
                "aaaa111",
                RunStatus::Failure,
            ),
            (
                web,
                "17",
                "ci",
                "main",
                "octocat",
                "bbbb222",
                RunStatus::Success,
            ),
            (
                web,
                "18",
                "a_b",
                "main",
                "octocat",
                "cccc333",
                RunStatus::Success,
            ),
            (
                api,
                "19",
                "axb",
                "feature/dark-mode",
                "octocat",
                "dddd444",
                RunStatus::Failure,
            ),
            (
                api,
                "20",
                "release 50%",
                "main",
                "octocat",
                "eeee555",
                RunStatus::Success,
            ),
        ];
        for (project, ext, workflow, branch, author, sha, status) in runs {
            let mut new = new_run(ext);
            new.workflow = workflow.into();
            new.branch = Some(branch.into());
            new.author = Some(author.into());
            new.commit_sha = Some(format!("{sha}0000000000000000000000000000000000"));
            new.status = status;
            let (run, _) = runs::create_or_get(&db, project, &new).await.unwrap();
            ids.insert(ext, run.id);
        }
        let find = |text: &str, project: Option<&str>, status: Option<&str>| {
            let filter = app::model::RunFilter {
                text: Some(text.into()),
                project: project.map(Into::into),
                status: status.map(Into::into),
                ..Default::default()
            };
            let db = db.clone();
            async move {
                let mut found: Vec<String> = runs::list(&db, &filter)
                    .await
                    .unwrap()
                    .runs
                    .into_iter()
                    .map(|r| r.external_id)
                    .collect();
                found.sort();
                found
            }
        };
        assert_eq!(
            find("DARK-mode", None, None).await,
            ["19", "7"],
            "{label}: any case"
        );
        assert_eq!(
            find("dark", Some("api"), None).await,
            ["19"],
            "{label}: with a project"
        );
        assert_eq!(find("ana lim", None, None).await, ["7"], "{label}: author");
        assert_eq!(find("cccc3", None, None).await, ["18"], "{label}: commit");
        assert_eq!(
            find("7", None, None).await,
            ["7"],
            "{label}: short: exact run id"
        );
        assert_eq!(
            find("a_b", None, None).await,
            ["18"],
            "{label}: `_` is literal"
        );
        assert_eq!(
            find("50%", None, None).await,
            ["20"],
            "{label}: `%` is literal"
        );
        assert_eq!(
            find("main", None, Some("success")).await,
            ["17", "18", "20"],
            "{label}"
        );
        assert!(find("nowhere", None, None).await.is_empty(), "{label}");

        // Keyset paging through a search.
        let first = runs::list(
            &db,
            &app::model::RunFilter {
                text: Some("main".into()),
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(first.runs.len(), 2, "{label}");
        let next = runs::list(
            &db,
            &app::model::RunFilter {
                text: Some("main".into()),
                limit: Some(2),
                before_id: first.next_before_id,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(next.runs.len(), 1, "{label}");
        assert_eq!(next.runs[0].id, ids["17"], "{label}: oldest last");
    }
}
