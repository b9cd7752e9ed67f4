//! GitHub webhooks: signature check (`X-Hub-Signature-256`, HMAC-SHA256, constant time) and the
//! events Gatehouse reads — `workflow_run`, `workflow_job`, `check_suite`, `push`,
//! `deployment`, `deployment_status`, `ping`. Fields are read leniently: GitHub adds fields often
//! and leaves some null.

use app::logic::time::parse_rfc3339;
use app::model::RunStatus;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`. The
/// comparison takes the same time wherever the bytes differ.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `sha256=<hex>` for `body` (for tests and the CLI's webhook replays).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Account {
    pub login: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct WorkflowRun {
    pub id: i64,
    pub name: Option<String>,
    pub run_attempt: Option<i64>,
    pub run_number: Option<i64>,
    pub head_sha: Option<String>,
    pub head_branch: Option<String>,
    pub event: Option<String>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub run_started_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub html_url: Option<String>,
    pub actor: Option<Account>,
    pub triggering_actor: Option<Account>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct WorkflowJob {
    pub id: i64,
    pub run_id: i64,
    pub run_attempt: Option<i64>,
    pub name: String,
    pub workflow_name: Option<String>,
    pub head_sha: Option<String>,
    pub head_branch: Option<String>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct App {
    pub slug: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CheckSuite {
    pub id: i64,
    pub head_sha: Option<String>,
    pub head_branch: Option<String>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub app: Option<App>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CommitAuthor {
    pub name: Option<String>,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Commit {
    pub id: String,
    pub message: String,
    pub timestamp: Option<String>,
    pub url: Option<String>,
    pub author: Option<CommitAuthor>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Push {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    pub commits: Vec<Commit>,
}

impl Push {
    /// The branch pushed to (`refs/heads/main` → `main`); `None` for tags.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }
}

/// What a delivery is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ping,
    WorkflowRun {
        action: Option<String>,
        run: WorkflowRun,
    },
    WorkflowJob {
        action: Option<String>,
        job: WorkflowJob,
    },
    CheckSuite {
        action: Option<String>,
        suite: CheckSuite,
    },
    Push(Push),
    /// A GitHub deployment: recorded as a Gatehouse deployment of its environment.
    Deployment {
        action: Option<String>,
        deployment: GhDeployment,
    },
    /// A deployment's new state (`success`, `failure`…): moves the recorded deployment on.
    DeploymentStatus {
        action: Option<String>,
        status: GhDeploymentStatus,
        deployment: GhDeployment,
    },
    /// Answered 202 and not read.
    Ignored(String),
}

#[derive(Deserialize)]
struct Envelope<T> {
    action: Option<String>,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
struct RunBody {
    workflow_run: WorkflowRun,
}

#[derive(Deserialize)]
struct JobBody {
    workflow_job: WorkflowJob,
}

#[derive(Deserialize)]
struct SuiteBody {
    check_suite: CheckSuite,
}

/// The `deployment` object of `deployment` and `deployment_status` deliveries.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GhDeployment {
    pub id: i64,
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub creator: Option<Account>,
}

/// The `deployment_status` object: `state` is error, failure, inactive, in_progress, queued,
/// pending or success.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GhDeploymentStatus {
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub creator: Option<Account>,
}

#[derive(Deserialize)]
struct DeploymentBody {
    deployment: GhDeployment,
}

#[derive(Deserialize)]
struct DeploymentStatusBody {
    deployment_status: GhDeploymentStatus,
    deployment: GhDeployment,
}

fn read<T: serde::de::DeserializeOwned>(event: &str, body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("`{event}` payload: at `{}`: {}", e.path(), e.inner()))
}

/// Reads a delivery of type `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Event, String> {
    Ok(match event {
        "ping" => Event::Ping,
        "workflow_run" => {
            let e: Envelope<RunBody> = read(event, body)?;
            Event::WorkflowRun {
                action: e.action,
                run: e.body.workflow_run,
            }
        }
        "workflow_job" => {
            let e: Envelope<JobBody> = read(event, body)?;
            Event::WorkflowJob {
                action: e.action,
                job: e.body.workflow_job,
            }
        }
        "check_suite" => {
            let e: Envelope<SuiteBody> = read(event, body)?;
            Event::CheckSuite {
                action: e.action,
                suite: e.body.check_suite,
            }
        }
        "push" => Event::Push(read(event, body)?),
        "deployment" => {
            let e: Envelope<DeploymentBody> = read(event, body)?;
            Event::Deployment {
                action: e.action,
                deployment: e.body.deployment,
            }
        }
        "deployment_status" => {
            let e: Envelope<DeploymentStatusBody> = read(event, body)?;
            Event::DeploymentStatus {
                action: e.action,
                status: e.body.deployment_status,
                deployment: e.body.deployment,
            }
        }
        other => Event::Ignored(other.to_string()),
    })
}

/// A GitHub status and conclusion as a run status.
pub fn run_status(status: Option<&str>, conclusion: Option<&str>) -> RunStatus {
    match (status, conclusion) {
        (_, Some("success" | "neutral" | "skipped")) => RunStatus::Success,
        (_, Some("failure" | "timed_out" | "action_required")) => RunStatus::Failure,
        (_, Some("cancelled" | "stale")) => RunStatus::Cancelled,
        (_, Some("startup_failure")) => RunStatus::Error,
        (Some("in_progress"), _) => RunStatus::Running,
        (Some("completed"), _) => RunStatus::Success,
        _ => RunStatus::Queued,
    }
}

/// An RFC 3339 time from a payload, when present and readable.
pub fn time(value: &Option<String>) -> Option<i64> {
    value.as_deref().and_then(|t| parse_rfc3339(t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_right_secret_and_body() {
        let good = sign(b"s3cret", b"{}");
        assert!(verify_signature(b"s3cret", b"{}", Some(&good)));
        assert!(!verify_signature(b"other", b"{}", Some(&good)));
        assert!(!verify_signature(b"s3cret", b"{ }", Some(&good)));
        assert!(!verify_signature(b"s3cret", b"{}", None));
        assert!(!verify_signature(b"s3cret", b"{}", Some("sha1=abc")));
        assert!(!verify_signature(b"s3cret", b"{}", Some("sha256=zz")));
    }

    #[test]
    fn statuses_map_to_run_statuses() {
        assert_eq!(
            run_status(Some("completed"), Some("failure")),
            RunStatus::Failure
        );
        assert_eq!(
            run_status(Some("completed"), Some("timed_out")),
            RunStatus::Failure
        );
        assert_eq!(run_status(Some("in_progress"), None), RunStatus::Running);
        assert_eq!(run_status(Some("queued"), None), RunStatus::Queued);
        assert_eq!(
            run_status(Some("completed"), Some("cancelled")),
            RunStatus::Cancelled
        );
    }
}
