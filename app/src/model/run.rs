//! CI runs and what they carry: test results, coverage, jobs, performance and security figures.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The result of one test case. Ordered by severity: when a case reports several results, the
/// most severe one counts (error > failure > skipped > passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Passed,
    Skipped,
    Failed,
    Error,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 4] = [
        CaseStatus::Passed,
        CaseStatus::Skipped,
        CaseStatus::Failed,
        CaseStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Passed => "passed",
            CaseStatus::Skipped => "skipped",
            CaseStatus::Failed => "failed",
            CaseStatus::Error => "error",
        }
    }

    /// The compact code stored per test case (one byte instead of a word, on tens of millions
    /// of rows).
    pub fn code(self) -> i16 {
        match self {
            CaseStatus::Passed => 0,
            CaseStatus::Skipped => 1,
            CaseStatus::Failed => 2,
            CaseStatus::Error => 3,
        }
    }

    pub fn from_code(code: i16) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown test status `{s}` (passed, skipped, failed, error)"))
    }
}

/// Counts over test cases: one count per case by its most severe result; `flaky` counts the
/// passing cases that failed on an earlier attempt (Surefire's `flakyFailure`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TestTotals {
    pub tests: i64,
    pub passed: i64,
    pub failed: i64,
    pub errors: i64,
    pub skipped: i64,
    pub flaky: i64,
    /// Sum of the cases' own durations, in seconds.
    pub time_s: f64,
}

impl TestTotals {
    /// Counts one case.
    pub fn add(&mut self, status: CaseStatus, flaky: bool, duration_s: Option<f64>) {
        self.tests += 1;
        match status {
            CaseStatus::Passed => self.passed += 1,
            CaseStatus::Skipped => self.skipped += 1,
            CaseStatus::Failed => self.failed += 1,
            CaseStatus::Error => self.errors += 1,
        }
        if flaky && status == CaseStatus::Passed {
            self.flaky += 1;
        }
        self.time_s += duration_s.unwrap_or(0.0);
    }

    /// Passed ÷ (passed + failed + errors): skipped cases neither pass nor fail. `None` when
    /// nothing ran.
    pub fn pass_rate(&self) -> Option<f64> {
        let ran = self.passed + self.failed + self.errors;
        (ran > 0).then(|| self.passed as f64 / ran as f64)
    }
}

/// Which coverage format a report was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverageFormat {
    Cobertura,
    Lcov,
}

impl CoverageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageFormat::Cobertura => "cobertura",
            CoverageFormat::Lcov => "lcov",
        }
    }
}

impl FromStr for CoverageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cobertura" => Ok(CoverageFormat::Cobertura),
            "lcov" => Ok(CoverageFormat::Lcov),
            other => Err(format!("unknown coverage format `{other}`")),
        }
    }
}

/// Line and branch coverage of a report or a run. Rates are fractions in `[0, 1]`, `None` when
/// nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageTotals {
    pub line_rate: Option<f64>,
    pub branch_rate: Option<f64>,
    pub lines_covered: i64,
    pub lines_valid: i64,
    pub branches_covered: i64,
    pub branches_valid: i64,
}

/// Coverage of one source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageFile {
    pub path: String,
    pub lines_covered: i64,
    pub lines_valid: i64,
    pub branches_covered: i64,
    pub branches_valid: i64,
    pub line_rate: Option<f64>,
    pub branch_rate: Option<f64>,
}

/// Declares a string-valued enum with `as_str`, `ALL`, `Display` and `FromStr` (the error names
/// the accepted values).
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!(concat!("unknown ", $what, " `{}` (one of: {})"), s, all.join(", "))
                })
            }
        }
    };
}

word_enum!(
    /// The CI system a run comes from.
    Provider, "provider" {
        Github => "github",
        Gitlab => "gitlab",
        Jenkins => "jenkins",
        Generic => "generic",
    }
);

word_enum!(
    /// Where a run (or a job of it) stands.
    RunStatus, "status" {
        Queued => "queued",
        Running => "running",
        Success => "success",
        Failure => "failure",
        Cancelled => "cancelled",
        Error => "error",
    }
);

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// A job (GitHub, Jenkins) or stage (GitLab) of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub name: String,
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Performance figures a pipeline measured (load tests, smoke tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Performance {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Failed requests ÷ requests, a fraction in `[0, 1]`.
    pub error_rate: Option<f64>,
    pub throughput_rps: Option<f64>,
}

impl Performance {
    pub fn is_empty(&self) -> bool {
        *self == Performance::default()
    }
}

/// Security findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    pub critical: Option<i64>,
    pub high: Option<i64>,
    pub medium: Option<i64>,
    pub low: Option<i64>,
}

impl Security {
    pub fn is_empty(&self) -> bool {
        *self == Security::default()
    }
}

/// The size of the change a run tests, when the CI system knows it (a predictor feature).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSize {
    /// Lines added plus lines deleted.
    pub lines: Option<i64>,
    pub files: Option<i64>,
}

/// What a CI system reports when a run starts or ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub provider: Provider,
    pub external_id: String,
    pub attempt: i64,
    pub workflow: String,
    pub commit_sha: Option<String>,
    pub branch: Option<String>,
    pub author: Option<String>,
    pub trigger: Option<String>,
    pub url: Option<String>,
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub jobs: Vec<Job>,
    pub performance: Performance,
    pub security: Security,
    #[serde(default)]
    pub change: ChangeSize,
}

/// A run as stored, with its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: i64,
    pub project: String,
    pub provider: Provider,
    pub external_id: String,
    pub attempt: i64,
    pub workflow: String,
    pub commit_sha: Option<String>,
    pub branch: Option<String>,
    pub author: Option<String>,
    pub trigger: Option<String>,
    pub url: Option<String>,
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub tests: TestTotals,
    pub coverage: Option<CoverageTotals>,
    pub performance: Performance,
    pub security: Security,
    pub jobs: Vec<Job>,
    pub created_at: i64,
}

impl Run {
    /// Wall-clock seconds from start to finish, when both are known.
    pub fn duration_s(&self) -> Option<f64> {
        match (self.started_at, self.finished_at) {
            (Some(s), Some(f)) if f >= s => Some((f - s) as f64 / 1000.0),
            _ => None,
        }
    }
}

/// A coverage report as read: its format, totals and per-file figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    pub format: CoverageFormat,
    pub totals: CoverageTotals,
    pub files: Vec<CoverageFile>,
}

/// One `<testcase>` as read from a JUnit report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTestCase {
    /// The innermost enclosing `<testsuite>`'s name (empty when it has none).
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub status: CaseStatus,
    /// Failed on an earlier attempt of the same run (counts as flaky when it finally passed).
    pub retried: bool,
    /// Seconds; `None` when absent, unreadable or negative.
    pub duration_s: Option<f64>,
    /// The failure, error or skip message and details, cut to a few KB.
    pub message: Option<String>,
}

/// Filters for the runs list; `None` means any. Kept in the page's URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFilter {
    pub project: Option<String>,
    pub branch: Option<String>,
    pub status: Option<String>,
    /// Runs created in the last this-many days.
    pub days: Option<i64>,
    /// Matches workflow, branch, author, commit (prefix) or external id.
    pub text: Option<String>,
    /// Only runs older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub runs: Vec<Run>,
    pub next_before_id: Option<i64>,
}

/// One test case of a run, as the run page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRow {
    pub test_id: i64,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub status: CaseStatus,
    pub retried: bool,
    pub duration_s: Option<f64>,
    pub message: Option<String>,
}

/// Everything the run page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: Run,
    pub repository_url: Option<String>,
    /// Failed and errored cases first, then flaky passes; capped.
    pub problem_cases: Vec<CaseRow>,
    /// Problem cases beyond the cap.
    pub more_problems: i64,
    pub reports: i64,
    /// The failure-risk score the run got when it started, with the features behind it.
    pub risk: Option<crate::model::RunRisk>,
    /// When retention purged the run's failure output and per-file coverage.
    pub detail_purged_at: Option<i64>,
}

/// Why and by whom a test is quarantined: its failures stay visible but are not held against
/// a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantine {
    /// Epoch ms.
    pub at: i64,
    pub by: Option<String>,
    pub reason: String,
}

/// A test of a project: the same suite, class and name across runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestInfo {
    pub id: i64,
    pub project: String,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub quarantine: Option<Quarantine>,
}

/// One execution of a test, as its history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestExecution {
    pub run_id: i64,
    /// When the run started (epoch ms).
    pub at: i64,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub status: CaseStatus,
    /// Passed after failing on a retry within the run.
    pub retried: bool,
    pub duration_s: Option<f64>,
    /// The start of the failure message (failed and errored executions only).
    pub message: Option<String>,
}

/// Everything the test page shows: the test, its newest executions and an SVG chart of their
/// durations (drawn on the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestHistory {
    pub test: TestInfo,
    /// Newest first.
    pub executions: Vec<TestExecution>,
    /// Executions in the database, including those not listed.
    pub total: i64,
    pub duration_chart: Option<String>,
}
