//! Warn/fail bands for the figures a run carries, with the seeds' defaults (test pass rate
//! ≥ 95%, coverage ≥ 80%, p95 latency warning > 200 ms and critical > 500 ms, p99 < 500 ms,
//! error rate warning > 0.1% and critical > 1%, zero critical findings). The release gates of
//! each environment make these configurable; these are the defaults shown on run pages.

use serde::{Deserialize, Serialize};

/// Where a figure falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pass => "pass",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// A band: values beyond `warn` warn, beyond `fail` fail. `higher_is_better` flips "beyond".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub warn: f64,
    pub fail: f64,
    pub higher_is_better: bool,
}

impl Band {
    pub fn level(&self, value: f64) -> Level {
        let worse = |limit: f64| {
            if self.higher_is_better {
                value < limit
            } else {
                value > limit
            }
        };
        if worse(self.fail) {
            Level::Fail
        } else if worse(self.warn) {
            Level::Warn
        } else {
            Level::Pass
        }
    }

    /// `target ≥ 95%, fail < 90%`: the band in words, values formatted by `fmt`.
    pub fn describe(&self, fmt: impl Fn(f64) -> String) -> String {
        if self.higher_is_better {
            format!("target ≥ {}, fail < {}", fmt(self.warn), fmt(self.fail))
        } else {
            format!("target ≤ {}, fail > {}", fmt(self.warn), fmt(self.fail))
        }
    }
}

pub const PASS_RATE: Band = Band {
    warn: 0.95,
    fail: 0.90,
    higher_is_better: true,
};
pub const LINE_COVERAGE: Band = Band {
    warn: 0.85,
    fail: 0.80,
    higher_is_better: true,
};
pub const P95_MS: Band = Band {
    warn: 200.0,
    fail: 500.0,
    higher_is_better: false,
};
pub const P99_MS: Band = Band {
    warn: 200.0,
    fail: 500.0,
    higher_is_better: false,
};
pub const ERROR_RATE: Band = Band {
    warn: 0.001,
    fail: 0.01,
    higher_is_better: false,
};
pub const CRITICAL_FINDINGS: Band = Band {
    warn: 0.0,
    fail: 0.0,
    higher_is_better: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_the_seeds_bands() {
        assert_eq!(PASS_RATE.level(0.97), Level::Pass);
        assert_eq!(PASS_RATE.level(0.95), Level::Pass);
        assert_eq!(PASS_RATE.level(0.93), Level::Warn);
        assert_eq!(PASS_RATE.level(0.80), Level::Fail);
        assert_eq!(P95_MS.level(150.0), Level::Pass);
        assert_eq!(P95_MS.level(300.0), Level::Warn);
        assert_eq!(P95_MS.level(501.0), Level::Fail);
        assert_eq!(ERROR_RATE.level(0.005), Level::Warn);
        assert_eq!(CRITICAL_FINDINGS.level(1.0), Level::Fail);
        assert_eq!(CRITICAL_FINDINGS.level(0.0), Level::Pass);
    }
}
