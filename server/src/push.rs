//! `gatehouse push`: the uploader CI scripts run. It talks to a Gatehouse server over the REST
//! API with a project token, retries what may succeed later (connection errors, 5xx, 429) with
//! exponential backoff, and stops at the first refusal (other 4xx), which it prints.
//!
//! Every call is safe to repeat: runs are idempotent on (project, provider, external id,
//! attempt), reports on their content digest. So a retry after a lost response changes nothing.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The Gatehouse server, e.g. https://gatehouse.example.com
    #[arg(long, env = "GATEHOUSE_URL")]
    pub url: String,
    /// A project token (from the environment is safer than the command line).
    #[arg(long, env = "GATEHOUSE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Attempts after the first one for connection errors, 5xx and 429.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// Seconds to wait for each response.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Subcommand, Debug)]
pub enum PushCommand {
    /// Create (or find again) a run; prints the run as JSON, then its id as the last line.
    Run {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        project: String,
        /// A JSON file (or - for standard input) with the whole run body; the flags below fill
        /// in or replace its fields.
        #[arg(long)]
        json: Option<PathBuf>,
        /// github, gitlab, jenkins or generic.
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        external_id: Option<String>,
        #[arg(long)]
        attempt: Option<i64>,
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        commit: Option<String>,
        #[arg(long)]
        branch: Option<String>,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        trigger: Option<String>,
        /// Link to the run in the CI system.
        #[arg(long)]
        run_url: Option<String>,
        /// queued, running, success, failure, error or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// RFC 3339 time or epoch milliseconds.
        #[arg(long)]
        started_at: Option<String>,
        #[arg(long)]
        finished_at: Option<String>,
    },
    /// Record how a run ended (status and finish time).
    Finish {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        run: i64,
        #[arg(long)]
        status: String,
        /// RFC 3339 time or epoch milliseconds; now when left out.
        #[arg(long)]
        finished_at: Option<String>,
    },
    /// Upload JUnit XML reports (plain or .gz) to a run; prints each report's totals.
    Junit {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        run: i64,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Upload a Cobertura XML or LCOV coverage report (plain or .gz) to a run.
    Coverage {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        run: i64,
        file: PathBuf,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The server answered with a refusal: retrying will not help.
    #[error("refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Retries ran out on connection errors or server errors.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error("{0}")]
    Usage(String),
    /// `gatehouse wait`: the deployment will not go (rejected, cancelled, failed, rolled back).
    #[error("no-go: deployment {id} is {state}: {reasons}")]
    NoGo {
        id: i64,
        state: String,
        reasons: String,
    },
    /// `gatehouse wait`: still pending when the time ran out.
    #[error("timed out: deployment {id} is still {state}: {hold}")]
    TimedOut {
        id: i64,
        state: String,
        hold: String,
    },
}

impl PushError {
    /// The process exit code: 1 refused, 2 usage, 75 (EX_TEMPFAIL) when retries ran out.
    pub fn exit_code(&self) -> u8 {
        match self {
            PushError::Refused { .. } => 1,
            PushError::Usage(_) => 2,
            PushError::NoGo { .. } => 1,
            PushError::TimedOut { .. } => 3,
            PushError::GaveUp { .. } => 75,
        }
    }
}

/// What a push printed: the JSON answers, and the line scripts capture.
#[derive(Debug)]
pub struct Pushed {
    pub answers: Vec<Value>,
    pub last_line: Option<String>,
}

/// Runs a push command and returns what it got back.
pub async fn run(cmd: PushCommand) -> Result<Pushed, PushError> {
    match cmd {
        PushCommand::Run {
            target,
            project,
            json: file,
            provider,
            external_id,
            attempt,
            workflow,
            commit,
            branch,
            author,
            trigger,
            run_url,
            status,
            started_at,
            finished_at,
        } => {
            let mut body = match file {
                Some(path) => read_json(&path)?,
                None => Map::new(),
            };
            let mut set = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    body.insert(k.to_string(), v);
                }
            };
            set("provider", provider.map(Value::from));
            set("external_id", external_id.map(Value::from));
            set("attempt", attempt.map(Value::from));
            set("workflow", workflow.map(Value::from));
            set("commit_sha", commit.map(Value::from));
            set("branch", branch.map(Value::from));
            set("author", author.map(Value::from));
            set("trigger", trigger.map(Value::from));
            set("url", run_url.map(Value::from));
            set("status", status.map(Value::from));
            set("started_at", started_at.map(time_value));
            set("finished_at", finished_at.map(time_value));
            body.entry("provider").or_insert_with(|| "generic".into());
            body.entry("status").or_insert_with(|| "running".into());
            if !body.contains_key("external_id") {
                return Err(PushError::Usage(
                    "--external-id is required (the CI system's run id), unless --json has it"
                        .into(),
                ));
            }
            let client = Client::new(&target)?;
            let path = format!("/api/v1/projects/{}/runs", segment(&project));
            let answer = client
                .send(reqwest::Method::POST, &path, || {
                    Ok(Upload::Json(Value::Object(body.clone())))
                })
                .await?;
            let id = answer.get("id").map(|v| v.to_string());
            Ok(Pushed {
                answers: vec![answer],
                last_line: id,
            })
        }
        PushCommand::Finish {
            target,
            run,
            status,
            finished_at,
        } => {
            let client = Client::new(&target)?;
            let finished = finished_at
                .map(time_value)
                .unwrap_or_else(|| Value::from(app::store::now_ms()));
            let body = json!({ "status": status, "finished_at": finished });
            let answer = client
                .send(
                    reqwest::Method::PATCH,
                    &format!("/api/v1/runs/{run}"),
                    || Ok(Upload::Json(body.clone())),
                )
                .await?;
            Ok(Pushed {
                answers: vec![answer],
                last_line: Some(run.to_string()),
            })
        }
        PushCommand::Junit { target, run, files } => {
            let client = Client::new(&target)?;
            let mut answers = Vec::new();
            for file in files {
                check_file(&file)?;
                let answer = client
                    .send(
                        reqwest::Method::POST,
                        &format!("/api/v1/runs/{run}/junit"),
                        || Ok(Upload::File(file.clone())),
                    )
                    .await
                    .map_err(|e| in_file(e, &file))?;
                answers.push(answer);
            }
            Ok(Pushed {
                answers,
                last_line: Some(run.to_string()),
            })
        }
        PushCommand::Coverage { target, run, file } => {
            check_file(&file)?;
            let client = Client::new(&target)?;
            let answer = client
                .send(
                    reqwest::Method::POST,
                    &format!("/api/v1/runs/{run}/coverage"),
                    || Ok(Upload::File(file.clone())),
                )
                .await
                .map_err(|e| in_file(e, &file))?;
            Ok(Pushed {
                answers: vec![answer],
                last_line: Some(run.to_string()),
            })
        }
    }
}

/// Epoch milliseconds stay numbers; anything else is sent as text for the server to check.
fn time_value(t: String) -> Value {
    match t.parse::<i64>() {
        Ok(ms) => Value::from(ms),
        Err(_) => Value::from(t),
    }
}

/// Percent-encodes a path segment (project slugs are plain, but never trust a flag).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn read_json(path: &Path) -> Result<Map<String, Value>, PushError> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| PushError::Usage(format!("reading standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| PushError::Usage(format!("reading {}: {e}", path.display())))?
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PushError::Usage(format!(
            "{}: the run body must be a JSON object",
            path.display()
        ))),
        Err(e) => Err(PushError::Usage(format!("{}: {e}", path.display()))),
    }
}

fn check_file(path: &Path) -> Result<(), PushError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(PushError::Usage(format!(
            "{} is not a file",
            path.display()
        ))),
        Err(e) => Err(PushError::Usage(format!("{}: {e}", path.display()))),
    }
}

fn in_file(e: PushError, path: &Path) -> PushError {
    match e {
        PushError::Refused { status, message } => PushError::Refused {
            status,
            message: format!("{}: {message}", path.display()),
        },
        other => other,
    }
}

enum Upload {
    /// No body (a GET).
    None,
    Json(Value),
    /// Streamed from disk, so a large report never sits in memory; gzip files say so.
    File(PathBuf),
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    retries: u32,
}

impl Client {
    fn new(target: &Target) -> Result<Client, PushError> {
        let base = target.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PushError::Usage(format!(
                "--url must start with http:// or https:// (got `{base}`)"
            )));
        }
        if target.token.trim().is_empty() {
            return Err(PushError::Usage(
                "no token: pass --token or set GATEHOUSE_TOKEN".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("gatehouse-push/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(target.timeout.max(1)))
            .build()
            .map_err(|e| PushError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token: target.token.trim().to_string(),
            retries: target.retries,
        })
    }

    /// Sends the request, retrying transient failures with exponential backoff (0.5 s, 1 s,
    /// 2 s, … capped at 30 s). The body is rebuilt for each attempt.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: impl Fn() -> Result<Upload, PushError>,
    ) -> Result<Value, PushError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.token)
                .header(reqwest::header::ACCEPT, "application/json");
            req = match body()? {
                Upload::None => req,
                Upload::Json(v) => req.json(&v),
                Upload::File(path) => {
                    let file = tokio::fs::File::open(&path)
                        .await
                        .map_err(|e| PushError::Usage(format!("{}: {e}", path.display())))?;
                    let len = file.metadata().await.map(|m| m.len()).ok();
                    let gz = path.extension().is_some_and(|e| e == "gz");
                    let mut req = req.body(reqwest::Body::wrap_stream(
                        tokio_util::io::ReaderStream::new(file),
                    ));
                    if let Some(len) = len {
                        req = req.header(reqwest::header::CONTENT_LENGTH, len);
                    }
                    if gz {
                        req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
                    }
                    req.header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                }
            };
            let failure = match req.send().await {
                Ok(res) => {
                    let status = res.status();
                    let text = res.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)));
                    }
                    let message = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                        .unwrap_or_else(|| text.chars().take(500).collect());
                    let transient = status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                    if !transient {
                        return Err(PushError::Refused {
                            status: status.as_u16(),
                            message,
                        });
                    }
                    format!("{} {message}", status.as_u16())
                }
                Err(e) => describe(&e),
            };
            if attempt > self.retries {
                return Err(PushError::GaveUp {
                    attempts: attempt,
                    last: failure,
                });
            }
            let wait = Duration::from_millis((500u64 << (attempt - 1).min(6)).min(30_000));
            eprintln!(
                "gatehouse push: attempt {attempt} failed ({failure}); retrying in {:.1} s",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// `gatehouse wait`: polls a deployment until it may go (exit 0), will not go (exit 1, with
/// the reasons), or `timeout_s` passes (exit 3, with what holds it). Prints what holds it
/// whenever that changes, so a CI log shows why it waits.
pub async fn wait(
    target: &Target,
    id: i64,
    timeout_s: u64,
    interval_s: u64,
) -> Result<Value, PushError> {
    let client = Client::new(target)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    let mut last_hold = String::new();
    loop {
        let d = client
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/deployments/{id}"),
                || Ok(Upload::None),
            )
            .await?;
        let state = d["state"].as_str().unwrap_or_default().to_string();
        let hold = d["hold"].as_str().unwrap_or_default().to_string();
        match d["decision"].as_str() {
            Some("go") => return Ok(d),
            Some("no_go") => {
                let reasons = d["transitions"]
                    .as_array()
                    .and_then(|t| t.last())
                    .and_then(|t| t["reason"].as_str())
                    .unwrap_or(&state)
                    .to_string();
                return Err(PushError::NoGo { id, state, reasons });
            }
            _ => {}
        }
        if hold != last_hold {
            eprintln!("gatehouse wait: deployment {id} is {state}: {hold}");
            last_hold = hold.clone();
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(PushError::TimedOut { id, state, hold });
        }
        let pause = Duration::from_secs(interval_s.max(1)).min(deadline - now);
        tokio::time::sleep(pause).await;
    }
}

/// A connection error in a line, without the token (reqwest errors carry the URL only).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_numbers_or_text() {
        assert_eq!(
            time_value("1700000000000".into()),
            json!(1_700_000_000_000i64)
        );
        assert_eq!(
            time_value("2026-11-23T10:00:00Z".into()),
            json!("2026-11-23T10:00:00Z")
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(segment("shop-web_1.0"), "shop-web_1.0");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn exit_codes_tell_refusal_from_giving_up() {
        let refused = PushError::Refused {
            status: 422,
            message: "x".into(),
        };
        let gave_up = PushError::GaveUp {
            attempts: 3,
            last: "x".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(gave_up.exit_code(), 75);
        assert_eq!(PushError::Usage("x".into()).exit_code(), 2);
    }
}
