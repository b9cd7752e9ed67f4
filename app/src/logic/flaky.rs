//! Which tests are flaky, from their executions.
//!
//! A test flakes when it passes on a retry within one run (Surefire's `flakyFailure`, …), or
//! when it both passed and failed on the same commit (a re-run went green). Runs where more
//! than 80% of the tests failed are infrastructure failures and are left out before anything
//! is counted: a dead database is not a flaky test.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Above this fraction of failed tests a run is an infrastructure failure.
pub const INFRA_FAILURE_FRACTION: f64 = 0.8;

/// Whether a run with these totals failed for reasons outside the code.
pub fn is_infrastructure_failure(tests: i64, failed_or_errored: i64) -> bool {
    tests > 0 && failed_or_errored as f64 > INFRA_FAILURE_FRACTION * tests as f64
}

/// One execution of a test in a (non-infrastructure) run.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub test_id: i64,
    pub run_id: i64,
    pub commit: Option<String>,
    /// When the run started (epoch ms).
    pub at: i64,
    pub passed: bool,
    pub failed: bool,
    /// Passed after failing on a retry within the run.
    pub retried: bool,
    pub duration_s: Option<f64>,
}

/// A flaky test over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyTest {
    pub test_id: i64,
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// Executions in the window (infrastructure failures left out).
    pub executions: i64,
    /// Executions that flaked: retried passes, and failures on a commit where it also passed.
    pub flakes: i64,
    /// `flakes / executions`.
    pub flake_rate: f64,
    pub first_flaked: i64,
    pub last_flaked: i64,
    /// Distinct commits on which it flaked.
    pub commits: i64,
    /// Seconds spent on executions that flaked: the failed executions, and one extra
    /// execution (estimated at the passing one's length) per retried pass.
    pub time_lost_s: f64,
    pub quarantined: bool,
}

/// The flaky tests among `executions`, most flakes first. Names come from `names`
/// (test id → suite, class, name, quarantined).
pub fn analyse(
    executions: &[Execution],
    names: &HashMap<i64, (String, String, String, bool)>,
) -> Vec<FlakyTest> {
    // Commits on which each test both passed and failed.
    let mut outcomes: HashMap<(i64, &str), (bool, bool)> = HashMap::new();
    for e in executions {
        if let Some(commit) = e.commit.as_deref() {
            let entry = outcomes.entry((e.test_id, commit)).or_default();
            entry.0 |= e.passed;
            entry.1 |= e.failed;
        }
    }
    struct Acc {
        executions: i64,
        flakes: i64,
        first: i64,
        last: i64,
        commits: BTreeSet<String>,
        lost: f64,
    }
    let mut per_test: BTreeMap<i64, Acc> = BTreeMap::new();
    for e in executions {
        let acc = per_test.entry(e.test_id).or_insert(Acc {
            executions: 0,
            flakes: 0,
            first: i64::MAX,
            last: i64::MIN,
            commits: BTreeSet::new(),
            lost: 0.0,
        });
        acc.executions += 1;
        let mixed_commit = e
            .commit
            .as_deref()
            .and_then(|c| outcomes.get(&(e.test_id, c)))
            .is_some_and(|(p, f)| *p && *f);
        let flaked = (e.passed && e.retried) || (e.failed && mixed_commit);
        if flaked {
            acc.flakes += 1;
            acc.first = acc.first.min(e.at);
            acc.last = acc.last.max(e.at);
            if let Some(c) = &e.commit {
                acc.commits.insert(c.clone());
            }
            acc.lost += e.duration_s.unwrap_or(0.0);
        }
    }
    let mut out: Vec<FlakyTest> = per_test
        .into_iter()
        .filter(|(_, a)| a.flakes > 0)
        .map(|(test_id, a)| {
            let (suite, classname, name, quarantined) =
                names.get(&test_id).cloned().unwrap_or_default();
            FlakyTest {
                test_id,
                suite,
                classname,
                name,
                executions: a.executions,
                flakes: a.flakes,
                flake_rate: a.flakes as f64 / a.executions as f64,
                first_flaked: a.first,
                last_flaked: a.last,
                commits: a.commits.len() as i64,
                time_lost_s: a.lost,
                quarantined,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.flakes
            .cmp(&a.flakes)
            .then(b.flake_rate.total_cmp(&a.flake_rate))
            .then(a.test_id.cmp(&b.test_id))
    });
    out
}

/// The flaky tests as CSV (header first; rates as fractions, times as RFC 3339).
pub fn to_csv(tests: &[FlakyTest]) -> String {
    let mut out = String::from(
        "test_id,suite,classname,name,executions,flakes,flake_rate,first_flaked,last_flaked,commits,time_lost_s,quarantined\n",
    );
    for t in tests {
        let row = [
            t.test_id.to_string(),
            csv_field(&t.suite),
            csv_field(&t.classname),
            csv_field(&t.name),
            t.executions.to_string(),
            t.flakes.to_string(),
            format!("{:.4}", t.flake_rate),
            super::time::to_rfc3339(t.first_flaked),
            super::time::to_rfc3339(t.last_flaked),
            t.commits.to_string(),
            format!("{:.3}", t.time_lost_s),
            t.quarantined.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Quotes a CSV field when needed; a leading `=`, `+`, `-` or `@` is prefixed with `'` so
/// spreadsheets do not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(test_id: i64, run_id: i64, commit: &str, passed: bool, retried: bool) -> Execution {
        Execution {
            test_id,
            run_id,
            commit: Some(commit.into()),
            at: run_id * 1000,
            passed,
            failed: !passed,
            retried,
            duration_s: Some(2.0),
        }
    }

    fn names() -> HashMap<i64, (String, String, String, bool)> {
        (1..=4)
            .map(|i| (i, ("s".into(), "C".into(), format!("t{i}"), false)))
            .collect()
    }

    #[test]
    fn a_pass_and_a_failure_on_one_commit_is_a_flake_but_a_fix_is_not() {
        let execs = vec![
            exec(1, 1, "aaa", false, false), // failed on aaa…
            exec(1, 2, "aaa", true, false),  // …passed on a re-run of aaa: flaky
            exec(2, 1, "aaa", false, false), // failed on aaa…
            exec(2, 3, "bbb", true, false),  // …passed on the fixing commit bbb: not flaky
            exec(3, 1, "aaa", true, false),
        ];
        let flaky = analyse(&execs, &names());
        assert_eq!(flaky.len(), 1);
        assert_eq!(
            (flaky[0].test_id, flaky[0].flakes, flaky[0].executions),
            (1, 1, 2)
        );
        assert_eq!(flaky[0].flake_rate, 0.5);
        assert_eq!(flaky[0].commits, 1);
        assert_eq!(flaky[0].time_lost_s, 2.0);
    }

    #[test]
    fn a_pass_after_a_retry_in_the_run_is_a_flake() {
        let execs = vec![
            exec(4, 1, "ccc", true, true),
            exec(4, 2, "ddd", true, false),
        ];
        let flaky = analyse(&execs, &names());
        assert_eq!(
            (flaky[0].flakes, flaky[0].executions, flaky[0].first_flaked),
            (1, 2, 1000)
        );
    }

    #[test]
    fn runs_with_more_than_80_percent_failing_are_infrastructure_failures() {
        assert!(is_infrastructure_failure(10, 9));
        assert!(!is_infrastructure_failure(10, 8));
        assert!(!is_infrastructure_failure(0, 0));
    }

    #[test]
    fn csv_quotes_fields_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
