//! Retention: how long each kind of data is kept, and what the last purge removed.

use serde::{Deserialize, Serialize};

/// A kind of data with its own retention. The defaults are the seeds' (CI artifacts 7 days,
/// staging deployment artifacts 30, production 90, rollback test results 365; runs and test
/// cases 90). Deployment history is not a kind: it is never purged (DORA figures, rollback
/// targets and approvals all read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RetentionKind {
    CiArtifacts,
    Runs,
    StagingArtifacts,
    ProductionArtifacts,
    RollbackResults,
    Notifications,
    WebhookLog,
    Events,
    AuditLog,
}

impl RetentionKind {
    pub const ALL: [RetentionKind; 9] = [
        RetentionKind::CiArtifacts,
        RetentionKind::Runs,
        RetentionKind::StagingArtifacts,
        RetentionKind::ProductionArtifacts,
        RetentionKind::RollbackResults,
        RetentionKind::Notifications,
        RetentionKind::WebhookLog,
        RetentionKind::Events,
        RetentionKind::AuditLog,
    ];

    /// The name stored and sent in forms.
    pub fn key(self) -> &'static str {
        match self {
            RetentionKind::CiArtifacts => "ci_artifacts",
            RetentionKind::Runs => "runs",
            RetentionKind::StagingArtifacts => "staging_artifacts",
            RetentionKind::ProductionArtifacts => "production_artifacts",
            RetentionKind::RollbackResults => "rollback_results",
            RetentionKind::Notifications => "notifications",
            RetentionKind::WebhookLog => "webhook_log",
            RetentionKind::Events => "events",
            RetentionKind::AuditLog => "audit_log",
        }
    }

    pub fn parse(key: &str) -> Option<RetentionKind> {
        RetentionKind::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            RetentionKind::CiArtifacts => "CI artifacts",
            RetentionKind::Runs => "Runs and test cases",
            RetentionKind::StagingArtifacts => "Staging deployment artifacts",
            RetentionKind::ProductionArtifacts => "Production deployment artifacts",
            RetentionKind::RollbackResults => "Rollback test results",
            RetentionKind::Notifications => "Notifications",
            RetentionKind::WebhookLog => "Webhook log",
            RetentionKind::Events => "Domain events",
            RetentionKind::AuditLog => "Audit log",
        }
    }

    /// What a purge of this kind removes, in words.
    pub fn what(self) -> &'static str {
        match self {
            RetentionKind::CiArtifacts => {
                "Failure output of test cases and per-file coverage of finished runs; the run, its totals and its test results stay."
            }
            RetentionKind::Runs => {
                "CI runs with their jobs, test cases, coverage, figures and risk scores. Runs that built a release or raised a risk alert stay; daily KPI roll-ups keep their figures."
            }
            RetentionKind::StagingArtifacts => {
                "Artifact links of releases that never reached production, counted from their last deployment. Each environment's live release, the three a rollback offers, and releases being deployed keep theirs."
            }
            RetentionKind::ProductionArtifacts => {
                "Artifact links of releases deployed to production, counted from their last production deployment. Each environment's live release, the three a rollback offers, and releases being deployed keep theirs."
            }
            RetentionKind::RollbackResults => {
                "Health samples of ended deployments (what rollback decisions read); daily health roll-ups keep their figures."
            }
            RetentionKind::Notifications => {
                "Notifications and their delivery log, once no delivery is still waiting."
            }
            RetentionKind::WebhookLog => {
                "Payloads of GitHub webhook deliveries; their ids stay, so a replayed delivery is still recognised."
            }
            RetentionKind::Events => "Domain events behind notifications.",
            RetentionKind::AuditLog => {
                "Audit entries. Kept forever unless you set a number of days; the purge itself is audited."
            }
        }
    }

    pub fn default_days(self) -> Option<i64> {
        match self {
            RetentionKind::CiArtifacts => Some(7),
            RetentionKind::Runs => Some(90),
            RetentionKind::StagingArtifacts => Some(30),
            RetentionKind::ProductionArtifacts => Some(90),
            RetentionKind::RollbackResults => Some(365),
            RetentionKind::Notifications => Some(90),
            RetentionKind::WebhookLog => Some(30),
            RetentionKind::Events => Some(365),
            RetentionKind::AuditLog => None,
        }
    }
}

/// Longest retention that can be set, in days (100 years).
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// One kind's retention and its purges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub kind: RetentionKind,
    /// None: kept forever.
    pub days: Option<i64>,
    pub updated_at: i64,
    pub updated_by: Option<String>,
    pub last_purge_at: Option<i64>,
    pub last_purged: i64,
    pub total_purged: i64,
}

/// What one purge removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Rows removed (or cleared, for CI artifacts) per kind, in [`RetentionKind::ALL`] order.
    pub purged: Vec<(RetentionKind, i64)>,
    pub batches: i64,
    /// The longest single batch transaction, in milliseconds.
    pub longest_batch_ms: i64,
    pub took_ms: i64,
}

impl PurgeReport {
    pub fn total(&self) -> i64 {
        self.purged.iter().map(|(_, n)| n).sum()
    }
}

/// The retention page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPageData {
    pub policies: Vec<RetentionPolicy>,
    /// The replica that last started the purge job, and when.
    pub last_job: Option<(String, i64)>,
    pub now: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_the_seeds_defaults_hold() {
        for k in RetentionKind::ALL {
            assert_eq!(RetentionKind::parse(k.key()), Some(k));
        }
        assert_eq!(RetentionKind::parse("deployments"), None);
        assert_eq!(RetentionKind::CiArtifacts.default_days(), Some(7));
        assert_eq!(RetentionKind::StagingArtifacts.default_days(), Some(30));
        assert_eq!(RetentionKind::ProductionArtifacts.default_days(), Some(90));
        assert_eq!(RetentionKind::RollbackResults.default_days(), Some(365));
        assert_eq!(RetentionKind::Runs.default_days(), Some(90));
        assert_eq!(RetentionKind::AuditLog.default_days(), None);
    }
}
