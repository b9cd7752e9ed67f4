//! Parsers against real files other projects wrote (`../shared/fixtures/`).

use crate::helpers::{fixtures_dir, manifest};
use app::model::CaseStatus;
use gatehouse_server::ingest::{coverage, github, junit};
use std::io::BufReader;

fn open(path: &std::path::Path) -> BufReader<std::fs::File> {
    BufReader::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Every JUnit fixture is read or refused with a located message; EnricoMi's files with
/// expected results give exactly the expected counts.
#[test]
fn junit_fixtures_are_read_or_refused_and_match_the_expected_counts() {
    let dir = fixtures_dir().join("junit");
    let rows = manifest("junit");
    assert!(
        rows.len() >= 100,
        "expected the whole manifest, got {}",
        rows.len()
    );
    let (mut read, mut refused, mut checked) = (0, 0, 0);
    for row in &rows {
        let file = &row["file"];
        let path = dir.join(file);
        let result = junit::read_all(open(&path));
        let features = &row["features"];
        let expect_ok = row["exp_parse_ok"].as_str();
        match result {
            Ok((cases, totals)) => {
                read += 1;
                assert!(
                    !features.contains("not-well-formed") && expect_ok != "no",
                    "{file}: should have been refused"
                );
                // Counts agree with the cases read, and never exceed the <testcase> elements.
                let by = |s: CaseStatus| cases.iter().filter(|c| c.status == s).count() as i64;
                assert_eq!(totals.tests, cases.len() as i64, "{file}");
                assert_eq!(
                    totals.passed + totals.failed + totals.errors + totals.skipped,
                    totals.tests,
                    "{file}"
                );
                assert_eq!(totals.failed, by(CaseStatus::Failed), "{file}");
                assert_eq!(totals.errors, by(CaseStatus::Error), "{file}");
                if let Ok(n) = row["n_testcase_elements"].parse::<i64>() {
                    assert!(
                        totals.tests <= n,
                        "{file}: {} cases > {n} elements",
                        totals.tests
                    );
                }
                assert!(totals.time_s.is_finite() && totals.time_s >= 0.0, "{file}");
                if expect_ok == "yes" {
                    checked += 1;
                    let want = |k: &str| {
                        row[k]
                            .parse::<i64>()
                            .unwrap_or_else(|_| panic!("{file}: {k}"))
                    };
                    assert_eq!(
                        (totals.tests, totals.failed, totals.errors, totals.skipped),
                        (
                            want("exp_tests"),
                            want("exp_failures"),
                            want("exp_errors"),
                            want("exp_skipped")
                        ),
                        "{file}: tests, failures, errors, skipped"
                    );
                    let want_time: f64 = row["exp_time_s"].parse().unwrap();
                    assert!(
                        (totals.time_s - want_time).abs() < 1e-3,
                        "{file}: time {} != {want_time}",
                        totals.time_s
                    );
                }
            }
            Err(e) => {
                refused += 1;
                let located = e.locate(std::fs::File::open(&path).unwrap());
                assert!(
                    expect_ok == "no"
                        || features.contains("not-well-formed")
                        || features.contains("doctype"),
                    "{file}: refused unexpectedly: {located}"
                );
                assert!(located.line >= 1 && !located.message.is_empty(), "{file}");
                eprintln!("refused {file}: {located}");
            }
        }
    }
    eprintln!(
        "junit fixtures: {read} read, {refused} refused, {checked} checked against expected counts"
    );
    assert!(
        checked >= 25,
        "only {checked} files checked against expected counts"
    );
}

/// The refusal names the place expat names for the same file.
#[test]
fn a_corrupt_pytest_report_is_refused_at_its_line() {
    let path = fixtures_dir().join("junit/enricomi/junit-xml__pytest__corrupt-xml.xml");
    let err = junit::read_all(open(&path)).unwrap_err();
    let located = err.locate(std::fs::File::open(&path).unwrap());
    // expat: "no element found: line 11, column 21" (the end of the file).
    assert_eq!(located.line, 11, "{located}");
}

/// Surefire's flaky and rerun records: a pass after retries is flaky, a failure is not.
#[test]
fn surefire_retries_read_as_flaky_passes() {
    let dir = fixtures_dir().join("junit");
    let (cases, totals) = junit::read_all(open(
        &dir.join("jenkins/gh-237__TEST-io.olamy.FlakyTest.xml"),
    ))
    .unwrap();
    assert_eq!(
        (totals.tests, totals.passed, totals.flaky),
        (1, 1, 1),
        "{cases:?}"
    );
    let (_, totals) = junit::read_all(open(
        &dir.join("jenkins/gh-237__TEST-io.olamy.AlwaysFailTest.xml"),
    ))
    .unwrap();
    assert_eq!((totals.tests, totals.failed, totals.flaky), (1, 1, 0));
}

fn close(a: Option<f64>, b: f64, what: &str) {
    let a = a.unwrap_or_else(|| panic!("{what}: no rate, expected {b}"));
    assert!((a - b).abs() < 1e-4, "{what}: {a} != {b}");
}

/// Every coverage fixture is read or refused; rates equal what the producer states, and each
/// gcovr Cobertura/LCOV pair gives the totals gcovr printed for the same run.
#[test]
fn coverage_fixtures_match_their_stated_totals() {
    let dir = fixtures_dir().join("coverage");
    let rows = manifest("coverage");
    assert!(
        rows.len() >= 34,
        "expected the whole manifest, got {}",
        rows.len()
    );
    let (mut read, mut refused, mut stated) = (0, 0, 0);
    for row in &rows {
        let file = &row["file"];
        let path = dir.join(file);
        let notes = &row["notes"];
        match coverage::read(open(&path)) {
            Err(e) => {
                refused += 1;
                let e = e.locate(std::fs::File::open(&path).unwrap());
                assert!(
                    notes.contains("not-well-formed") || notes.contains("empty file"),
                    "{file}: refused unexpectedly: {e}"
                );
                eprintln!("refused {file}: {e}");
            }
            Ok(report) => {
                read += 1;
                assert!(
                    !notes.contains("not-well-formed") && !notes.contains("empty file"),
                    "{file}: should be refused"
                );
                let t = report.totals;
                let num = |k: &str| row[k].trim().parse::<f64>().ok();
                if let Some(rate) = num("file_root_line-rate") {
                    close(t.line_rate, rate, &format!("{file} line rate"));
                }
                match row["file_root_branch-rate"].trim() {
                    "NaN" => assert_eq!(t.branch_rate, None, "{file}: NaN branch rate"),
                    other => {
                        if let Ok(rate) = other.parse::<f64>() {
                            if t.branches_valid > 0 || rate > 0.0 {
                                close(t.branch_rate, rate, &format!("{file} branch rate"));
                            }
                        }
                    }
                }
                if let (Some(c), Some(v)) = (num("stated_lines_covered"), num("stated_lines_valid"))
                {
                    stated += 1;
                    assert_eq!(
                        (t.lines_covered, t.lines_valid),
                        (c as i64, v as i64),
                        "{file}: stated lines"
                    );
                }
                if let Some((c, v)) = row["stated_branches_covered/valid"].split_once('/') {
                    if let (Ok(c), Ok(v)) = (c.parse::<i64>(), v.parse::<i64>()) {
                        assert_eq!(
                            (t.branches_covered, t.branches_valid),
                            (c, v),
                            "{file}: stated branches"
                        );
                    }
                }
                if let Some((h, f)) = row["ours_lcov_LH/LF_sum"].split_once('/') {
                    if let (Ok(h), Ok(f)) = (h.parse::<i64>(), f.parse::<i64>()) {
                        assert_eq!(
                            (t.lines_covered, t.lines_valid),
                            (h, f),
                            "{file}: LH/LF sums"
                        );
                    }
                }
                for f in &report.files {
                    assert!(f.lines_covered <= f.lines_valid, "{file}: {}", f.path);
                }
            }
        }
    }
    eprintln!("coverage fixtures: {read} read, {refused} refused, {stated} checked against gcovr's totals");
    assert!(
        stated >= 12,
        "only {stated} files checked against stated totals"
    );
}

/// GitHub's documented signature test vector.
#[test]
fn github_signature_test_vector_verifies() {
    let text =
        std::fs::read_to_string(fixtures_dir().join("github-webhooks/_signature_test_vector.json"))
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let secret = v["secret"].as_str().unwrap().as_bytes();
    let payload = v["payload"].as_str().unwrap().as_bytes();
    let header = v["X-Hub-Signature-256"].as_str().unwrap();
    assert!(github::verify_signature(secret, payload, Some(header)));
    assert_eq!(github::sign(secret, payload), header);
    assert!(!github::verify_signature(b"wrong", payload, Some(header)));
}

/// Every webhook payload example is read, and the fields the manifest quotes match.
#[test]
fn github_webhook_payloads_are_read_with_their_quoted_fields() {
    let dir = fixtures_dir().join("github-webhooks");
    let rows = manifest("github-webhooks");
    assert!(rows.len() >= 60, "{}", rows.len());
    let mut checked = 0;
    for row in &rows {
        let file = &row["file"];
        let body = std::fs::read(dir.join(file)).unwrap();
        let event = github::parse(&row["event"], &body).unwrap_or_else(|e| panic!("{file}: {e}"));
        let fields: std::collections::HashMap<&str, &str> = row["key_fields(quoted from payload)"]
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let eq = |k: &str, got: Option<&str>| {
            if let Some(want) = fields.get(k) {
                let got = got.unwrap_or("None");
                assert!(
                    got.starts_with(want) || (*want == "None" && got == "None"),
                    "{file}: {k} = {got}, manifest {want}"
                );
            }
        };
        match &event {
            github::Event::WorkflowRun { run, .. } => {
                eq("status", run.status.as_deref());
                eq("conclusion", run.conclusion.as_deref());
                eq("head_branch", run.head_branch.as_deref());
                eq("head_sha", run.head_sha.as_deref());
                eq(
                    "run_attempt",
                    run.run_attempt.map(|a| a.to_string()).as_deref(),
                );
                eq("event", run.event.as_deref());
                checked += 1;
            }
            github::Event::WorkflowJob { job, .. } => {
                eq("status", job.status.as_deref());
                eq("conclusion", job.conclusion.as_deref());
                eq(
                    "run_attempt",
                    job.run_attempt.map(|a| a.to_string()).as_deref(),
                );
                eq("started_at", job.started_at.as_deref());
                eq("completed_at", job.completed_at.as_deref());
                if job.started_at.is_some() {
                    assert!(
                        github::time(&job.started_at).is_some(),
                        "{file}: started_at readable"
                    );
                }
                checked += 1;
            }
            github::Event::CheckSuite { suite, .. } => {
                eq("status", suite.status.as_deref());
                eq("conclusion", suite.conclusion.as_deref());
                eq("head_branch", suite.head_branch.as_deref());
                eq("head_sha", suite.head_sha.as_deref());
                eq("app", suite.app.as_ref().and_then(|a| a.slug.as_deref()));
                checked += 1;
            }
            github::Event::Push(push) => {
                eq("ref", Some(&push.git_ref));
                eq("commits", Some(&push.commits.len().to_string()));
                let flag = |b: bool| if b { "True" } else { "False" };
                eq("created", Some(flag(push.created)));
                eq("deleted", Some(flag(push.deleted)));
                eq("forced", Some(flag(push.forced)));
                checked += 1;
            }
            github::Event::Deployment { action, deployment } => {
                assert_eq!(action.as_deref(), Some(row["action"].as_str()), "{file}");
                eq("environment", Some(&deployment.environment));
                eq("ref", deployment.git_ref.as_deref());
                eq("sha", Some(&deployment.sha));
                checked += 1;
            }
            github::Event::DeploymentStatus {
                action,
                status,
                deployment,
            } => {
                assert_eq!(action.as_deref(), Some(row["action"].as_str()), "{file}");
                eq("state", Some(&status.state));
                eq("environment", Some(&deployment.environment));
                eq("deployment.sha", Some(&deployment.sha));
                checked += 1;
            }
            github::Event::Ignored(kind) => {
                assert!(
                    ["pull_request", "check_run"].contains(&kind.as_str()),
                    "{file}: {kind}"
                );
            }
            github::Event::Ping => {}
        }
    }
    assert!(checked >= 30, "only {checked} payloads checked");
}
