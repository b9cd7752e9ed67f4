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

    /// Failed or errored: the case did not pass.
    pub fn is_failure(self) -> bool {
        matches!(self, CaseStatus::Failed | CaseStatus::Error)
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

    pub fn merge(&mut self, other: &TestTotals) {
        self.tests += other.tests;
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
        self.time_s += other.time_s;
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
