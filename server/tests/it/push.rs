//! `gatehouse push` against a real server: a CI script's whole journey (run, JUnit plain and
//! gzip, coverage, finish), retried calls that change nothing, refusals with exit code 1, and
//! giving up (exit code 75) when nothing answers.

use crate::helpers::{backends, fixtures_dir, project_with_token, spawn_app};
use app::model::Scope;
use app::store::runs;
use clap::Parser;
use gatehouse_server::cli::{Cli, Command};
use gatehouse_server::push::{self, PushError, Pushed};
use std::io::Write;

async fn push(args: &[&str]) -> Result<Pushed, PushError> {
    let mut argv = vec!["gatehouse", "push"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv)
        .expect("valid command line")
        .command
    {
        Some(Command::Push(cmd)) => push::run(cmd).await,
        other => panic!("not a push command: {other:?}"),
    }
}

#[tokio::test]
async fn a_ci_script_pushes_a_run_its_reports_and_its_end() {
    for db in backends().await {
        let label = db.label;
        let app = spawn_app(&db).await;
        let (store, token) = project_with_token(&db, "shop", &[Scope::Ingest]).await;
        let url = app.url("");
        let target = ["--url", url.as_str(), "--token", token.as_str()];
        let started = (app::store::now_ms() - 3_600_000).to_string();
        let mut run_args = vec![
            "run",
            "--project",
            "shop",
            "--provider",
            "github",
            "--external-id",
            "981",
            "--workflow",
            "ci",
            "--branch",
            "main",
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--started-at",
            &started,
        ];
        run_args.extend_from_slice(&target);
        let first = push(&run_args).await.expect("run created");
        let id: i64 = first.last_line.as_deref().unwrap().parse().unwrap();
        assert_eq!(first.answers[0]["status"], "running", "{label}");
        let again = push(&run_args).await.expect("retried run");
        assert_eq!(
            again.last_line, first.last_line,
            "{label}: a retry finds the same run"
        );

        // JUnit: a real Surefire report plain, then gzip-compressed from a .gz file.
        let run = id.to_string();
        let surefire = fixtures_dir().join(
            "junit/surefire/parser__fixture__testsuitexmlparser__TEST-org.acme.FlakyTest.xml",
        );
        let dir = tempfile::tempdir().unwrap();
        let gz_path = dir.path().join("other.xml.gz");
        let pytest =
            std::fs::read(fixtures_dir().join("junit/enricomi/junit-xml__pytest__junit.fail.xml"))
                .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&pytest).unwrap();
        std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
        let (s, g) = (surefire.to_str().unwrap(), gz_path.to_str().unwrap());
        let mut junit_args = vec!["junit", "--run", run.as_str(), s, g];
        junit_args.extend_from_slice(&target);
        let pushed = push(&junit_args).await.expect("reports stored");
        assert_eq!(pushed.answers.len(), 2, "{label}");
        assert_eq!(
            pushed.answers[0]["flaky"], 1,
            "{label}: {:?}",
            pushed.answers
        );
        let again = push(&junit_args).await.expect("repeated upload");
        assert_eq!(
            again.answers[1]["repeated"], true,
            "{label}: {:?}",
            again.answers
        );
        let stored = runs::require(&store, id).await.unwrap();
        let expected_tests = 2 + pushed.answers[1]["tests"].as_i64().unwrap();
        assert_eq!(stored.tests.tests, expected_tests, "{label}: counted once");

        // Coverage (LCOV, detected).
        let lcov = fixtures_dir().join("coverage/gcovr/nested__standard__gcc-5.lcov");
        let mut cov_args = vec!["coverage", "--run", run.as_str(), lcov.to_str().unwrap()];
        cov_args.extend_from_slice(&target);
        let cov = push(&cov_args).await.expect("coverage stored");
        assert_eq!(cov.answers[0]["lines_covered"], 25, "{label}");

        // The run ends.
        let mut finish = vec!["finish", "--run", run.as_str(), "--status", "failure"];
        finish.extend_from_slice(&target);
        push(&finish).await.expect("run finished");
        let stored = runs::require(&store, id).await.unwrap();
        assert_eq!(stored.status.as_str(), "failure", "{label}");
        assert!(stored.finished_at.is_some(), "{label}");

        // A malformed report is refused with where it broke, and nothing is stored.
        let corrupt = fixtures_dir().join("junit/enricomi/junit-xml__pytest__corrupt-xml.xml");
        let mut bad = vec!["junit", "--run", run.as_str(), corrupt.to_str().unwrap()];
        bad.extend_from_slice(&target);
        match push(&bad).await {
            Err(e @ PushError::Refused { status: 422, .. }) => {
                assert_eq!(e.exit_code(), 1);
                assert!(e.to_string().contains("line"), "{label}: {e}");
            }
            other => panic!("{label}: expected a 422 refusal, got {other:?}"),
        }
        assert_eq!(
            runs::require(&store, id).await.unwrap().tests.tests,
            expected_tests,
            "{label}"
        );

        // A wrong token is refused at once (no retries on 401).
        let wrong = ["--url", url.as_str(), "--token", "gth_wrong"];
        let mut args = vec!["finish", "--run", run.as_str(), "--status", "success"];
        args.extend_from_slice(&wrong);
        match push(&args).await {
            Err(PushError::Refused { status: 401, .. }) => {}
            other => panic!("{label}: expected 401, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn push_gives_up_after_its_retries_when_nothing_answers() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let result = push(&[
        "finish",
        "--run",
        "1",
        "--status",
        "success",
        "--url",
        &url,
        "--token",
        "gth_x",
        "--retries",
        "2",
    ])
    .await;
    match result {
        Err(e @ PushError::GaveUp { attempts: 3, .. }) => assert_eq!(e.exit_code(), 75),
        other => panic!("expected to give up after 3 attempts, got {other:?}"),
    }
    // Backoff of 0.5 s then 1 s between the three attempts.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1400));
}

#[tokio::test]
async fn push_refuses_bad_usage_before_sending() {
    let r = push(&[
        "run",
        "--project",
        "shop",
        "--url",
        "ftp://x",
        "--token",
        "t",
        "--external-id",
        "1",
    ])
    .await;
    assert!(
        matches!(r, Err(PushError::Usage(ref m)) if m.contains("--url")),
        "{r:?}"
    );
    let r = push(&[
        "run",
        "--project",
        "shop",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "t",
    ])
    .await;
    assert!(
        matches!(r, Err(PushError::Usage(ref m)) if m.contains("--external-id")),
        "{r:?}"
    );
    let r = push(&[
        "junit",
        "--run",
        "1",
        "/nonexistent.xml",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "t",
    ])
    .await;
    assert!(matches!(r, Err(PushError::Usage(_))), "{r:?}");
}
