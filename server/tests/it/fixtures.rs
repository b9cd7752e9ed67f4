//! Parsers against real files other projects wrote (`../shared/fixtures/`).

use crate::helpers::{fixtures_dir, manifest};
use app::model::CaseStatus;
use gatehouse_server::ingest::{coverage, junit};
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
