//! Demo deployment history: every demo project releases from green `main` runs every few days
//! over the 90 days of CI history, with conventional commits (so release notes and versions
//! follow from them), promoted staging → production, production approved by maya.lead and
//! lee.ops after its wait timer, canaries watched for 48 hours with health samples, a few
//! rejections and failures, and rollbacks when health went critical (one of them over the
//! 15-minute SLA). The newest release of each project is waiting in production right now,
//! requested through the same store call the API uses, so its gates read the real run.

use app::logic::release::{bump_of, next_version, parse_version};
use app::model::{DeployState, HealthSample, PastDeployment, RunFilter, Strategy};
use app::store::deployments::{self, NewCommit, NewDeployment, Person, Requester};
use app::store::{deploy_views, runs, users, Db, StoreError};
use rand::rngs::StdRng;
use rand::Rng;

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

/// `(project, first version, scopes)`.
pub(crate) const PROJECTS: &[(&str, &str, &[&str])] = &[
    (
        "shop",
        "1.4.0",
        &["cart", "checkout", "catalog", "search", "accounts"],
    ),
    (
        "payments",
        "2.7.0",
        &["ledger", "refunds", "webhooks", "fraud"],
    ),
    ("mobile-api", "0.9.0", &["sessions", "push", "profiles"]),
];

/// Commit authors: the approvers are left out, so their approvals are not self-approvals.
const AUTHORS: &[&str] = &["noor.dev", "ravi.qa", "ines.ml", "dana.kim", "kofi.mensah"];

const SUBJECTS: &[(&str, &str)] = &[
    ("feat", "add saved filters"),
    ("feat", "support partial refunds"),
    ("feat", "show delivery estimates"),
    ("feat", "export history as CSV"),
    ("fix", "round totals half-even"),
    ("fix", "retry webhook delivery on 502"),
    ("fix", "keep the session after a password change"),
    ("fix", "time zone of daily reports"),
    ("fix", "empty state when nothing matches"),
    ("perf", "cache price lookups for 60 s"),
    ("perf", "batch inserts of line items"),
    ("docs", "document the rollback runbook"),
    ("refactor", "split the pricing module"),
    ("chore", "bump dependencies"),
    ("test", "cover the currency edge cases"),
];

fn sha(rng: &mut StdRng) -> String {
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn commits(
    rng: &mut StdRng,
    scopes: &[&str],
    from: i64,
    to: i64,
    last_sha: &str,
) -> Vec<(String, String, Option<String>, i64)> {
    let n = rng.gen_range(2..=7);
    (0..n)
        .map(|i| {
            let (kind, subject) = SUBJECTS[rng.gen_range(0..SUBJECTS.len())];
            let scope = scopes[rng.gen_range(0..scopes.len())];
            let breaking = kind == "feat" && rng.gen_bool(0.03);
            let message = format!(
                "{kind}({scope}){}: {subject}",
                if breaking { "!" } else { "" }
            );
            let at = from + (to - from) * (i as i64 + 1) / (n as i64 + 1);
            let sha = if i + 1 == n {
                last_sha.to_string()
            } else {
                sha(rng)
            };
            let author = AUTHORS[rng.gen_range(0..AUTHORS.len())].to_string();
            (sha, message, Some(author), at)
        })
        .collect()
}

/// Health every `step` from `from` for `count` samples; `bad_from` turns critical from that
/// sample on.
fn health(
    rng: &mut StdRng,
    from: i64,
    step: i64,
    count: usize,
    bad_from: Option<usize>,
) -> Vec<HealthSample> {
    (0..count)
        .map(|i| {
            let bad = bad_from.is_some_and(|b| i >= b);
            HealthSample {
                at: from + step * i as i64,
                error_rate: Some(if bad {
                    rng.gen_range(0.03..0.08)
                } else if rng.gen_bool(0.05) {
                    rng.gen_range(0.001..0.004)
                } else {
                    rng.gen_range(0.0001..0.0009)
                }),
                p95_ms: Some(if bad {
                    rng.gen_range(450.0..900.0)
                } else {
                    rng.gen_range(110.0..190.0) + if rng.gen_bool(0.05) { 60.0 } else { 0.0 }
                }),
                availability: Some(if bad {
                    rng.gen_range(0.93..0.985)
                } else {
                    rng.gen_range(0.9992..1.0)
                }),
                smoke_pass_rate: Some(if bad { 0.9 } else { 1.0 }),
                healthy: Some(!bad),
            }
        })
        .collect()
}

struct Live {
    version: String,
    commit: String,
}

/// Writes the history; returns how many deployments it wrote.
pub async fn generate(db: &Db, rng: &mut StdRng, now: i64) -> Result<usize, StoreError> {
    let mut written = 0;
    for (p_index, (slug, first, scopes)) in PROJECTS.iter().enumerate() {
        if !deploy_views::releases(db, slug, 1).await?.is_empty() {
            continue;
        }
        // Green main runs, oldest first: each release is built by one of them.
        let mut green = Vec::new();
        let mut before = None;
        loop {
            let page = runs::list(
                db,
                &RunFilter {
                    project: Some(slug.to_string()),
                    branch: Some("main".into()),
                    status: Some("success".into()),
                    before_id: before,
                    limit: Some(200),
                    ..RunFilter::default()
                },
            )
            .await?;
            green.extend(
                page.runs
                    .into_iter()
                    .filter_map(|r| Some((r.id, r.commit_sha?, r.started_at?))),
            );
            match page.next_before_id {
                Some(b) if green.len() < 5000 => before = Some(b),
                _ => break,
            }
        }
        green.sort_by_key(|r| r.2);
        green.dedup_by(|a, b| a.1 == b.1);
        let Some(newest) = green.pop() else {
            continue;
        };
        let mut version = parse_version(first).map_err(StoreError::Invalid)?;
        let mut last_commit_at = green.first().map(|r| r.2 - 3 * 86_400_000).unwrap_or(now);
        let mut last_release_at = 0i64;
        let mut live: Option<Live> = None;
        let mut releases = 0;
        for (_, commit, at) in &green {
            let gap = 2 * 86_400_000 + rng.gen_range(0..3 * 86_400_000);
            if at - last_release_at < gap || *at > now - 3 * 86_400_000 {
                continue;
            }
            last_release_at = *at;
            let notes = commits(rng, scopes, last_commit_at, at - 10 * MIN, commit);
            last_commit_at = at - 10 * MIN;
            let bump = bump_of(notes.iter().map(|c| c.1.as_str()));
            version = if releases == 0 {
                version
            } else {
                next_version(Some(&version), bump, None)
            };
            releases += 1;
            let v = version.to_string();
            // Staging: rolling, straight after the run, from CI.
            let staged = at + 20 * MIN;
            let staging_ok = !rng.gen_bool(0.05);
            let staging_done = staged + rng.gen_range(4..12) * MIN;
            deploy_views::record_past(
                db,
                slug,
                &PastDeployment {
                    environment: "staging".into(),
                    version: v.clone(),
                    commit_sha: commit.clone(),
                    git_ref: Some("main".into()),
                    strategy: Strategy::Rolling,
                    requested_by: "token:github-actions".into(),
                    requested_at: staged,
                    approvals: Vec::new(),
                    started_at: Some(staged + MIN),
                    finished_at: Some(staging_done),
                    outcome: if staging_ok {
                        DeployState::Succeeded
                    } else {
                        DeployState::Failed
                    },
                    failure_reason: (!staging_ok)
                        .then(|| "smoke tests failed: 3 of 40 checks (checkout)".to_string()),
                    health: health(rng, staging_done + 5 * MIN, 10 * MIN, 6, None),
                    rollback_of: None,
                    github_deployment_id: None,
                    commits: notes,
                },
            )
            .await?;
            written += 1;
            // What CI built for the release: retention keeps these 30 days after the last
            // staging deployment, 90 after the last production one, and always for the live
            // release and its rollback target.
            deploy_views::attach_artifacts(
                db,
                slug,
                &v,
                &[
                    (
                        "container_image".into(),
                        format!("{slug}:{v}"),
                        format!("https://registry.example.com/{slug}:{v}"),
                    ),
                    (
                        "sbom".into(),
                        "SBOM (CycloneDX)".into(),
                        format!("https://artifacts.example.com/{slug}/{v}/sbom.json"),
                    ),
                ],
            )
            .await?;
            if !staging_ok {
                continue;
            }
            // Production: a canary, after two approvals and the five-minute timer.
            let requested = staging_done + rng.gen_range(2..20) * HOUR;
            let maya = requested + rng.gen_range(10..90) * MIN;
            let lee = requested + rng.gen_range(5..120) * MIN;
            let rejected = rng.gen_bool(0.06);
            let failed = !rejected && rng.gen_bool(0.05);
            let started = maya.max(lee) + 5 * MIN;
            let finished = started + rng.gen_range(25..45) * MIN;
            let degrade =
                (!rejected && !failed && rng.gen_bool(0.09)).then(|| rng.gen_range(1..30));
            let samples = match (rejected || failed, degrade) {
                (true, _) => Vec::new(),
                (false, Some(bad)) => {
                    health(rng, finished + 30 * MIN, 30 * MIN, bad + 3, Some(bad))
                }
                (false, None) => health(rng, finished + 30 * MIN, 30 * MIN, 96, None),
            };
            let (outcome, reason, approvals) = if rejected {
                (
                    DeployState::Rejected,
                    Some("rejected: p95 regressed on staging; wait for the cache fix".to_string()),
                    vec![("lee.ops".to_string(), lee)],
                )
            } else if failed {
                (
                    DeployState::Failed,
                    Some("canary at 25%: pods crash-looping (OOMKilled)".to_string()),
                    vec![
                        ("maya.lead".to_string(), maya),
                        ("lee.ops".to_string(), lee),
                    ],
                )
            } else {
                (
                    DeployState::Succeeded,
                    None,
                    vec![
                        ("maya.lead".to_string(), maya),
                        ("lee.ops".to_string(), lee),
                    ],
                )
            };
            let (prod, _) = deploy_views::record_past(
                db,
                slug,
                &PastDeployment {
                    environment: "production".into(),
                    version: v.clone(),
                    commit_sha: commit.clone(),
                    git_ref: Some("main".into()),
                    strategy: Strategy::Canary,
                    requested_by: "token:github-actions".into(),
                    requested_at: requested,
                    approvals,
                    started_at: (!rejected).then_some(started),
                    finished_at: Some(if rejected { lee } else { finished }),
                    outcome,
                    failure_reason: reason,
                    health: samples.clone(),
                    rollback_of: None,
                    github_deployment_id: None,
                    commits: Vec::new(),
                },
            )
            .await?;
            written += 1;
            if outcome != DeployState::Succeeded {
                continue;
            }
            match (degrade, &live) {
                (Some(_), Some(prev)) => {
                    // Health went critical: roll back to what was live before.
                    let decided = samples.last().map(|s| s.at).unwrap_or(finished) + 2 * MIN;
                    let slow = p_index == 1 && releases % 4 == 0;
                    let took = if slow { 17 } else { rng.gen_range(5..13) };
                    deploy_views::record_past(
                        db,
                        slug,
                        &PastDeployment {
                            environment: "production".into(),
                            version: prev.version.clone(),
                            commit_sha: prev.commit.clone(),
                            git_ref: Some("main".into()),
                            strategy: Strategy::Rolling,
                            requested_by: "gatehouse".into(),
                            requested_at: decided,
                            approvals: Vec::new(),
                            started_at: Some(decided),
                            finished_at: Some(decided + took * MIN),
                            outcome: DeployState::Succeeded,
                            failure_reason: None,
                            health: health(rng, decided + (took + 10) * MIN, 30 * MIN, 12, None),
                            rollback_of: Some((prod, decided)),
                            github_deployment_id: None,
                            commits: Vec::new(),
                        },
                    )
                    .await?;
                    written += 1;
                }
                _ => {
                    live = Some(Live {
                        version: v,
                        commit: commit.clone(),
                    });
                }
            }
        }
        // The newest green run: on staging since this morning, waiting for production now.
        let (run_id, commit, at) = newest;
        let notes = commits(rng, scopes, last_commit_at, at - 10 * MIN, &commit);
        let next = next_version(
            Some(&version),
            bump_of(notes.iter().map(|c| c.1.as_str())),
            None,
        )
        .to_string();
        let staged = (at + 20 * MIN).min(now - 6 * HOUR);
        deploy_views::record_past(
            db,
            slug,
            &PastDeployment {
                environment: "staging".into(),
                version: next.clone(),
                commit_sha: commit.clone(),
                git_ref: Some("main".into()),
                strategy: Strategy::Rolling,
                requested_by: "token:github-actions".into(),
                requested_at: staged,
                approvals: Vec::new(),
                started_at: Some(staged + MIN),
                finished_at: Some(staged + 8 * MIN),
                outcome: DeployState::Succeeded,
                failure_reason: None,
                health: health(rng, staged + 15 * MIN, 10 * MIN, 6, None),
                rollback_of: None,
                github_deployment_id: None,
                commits: notes,
            },
        )
        .await?;
        let ci = Requester {
            user_id: None,
            name: "token:github-actions".into(),
            ip: None,
        };
        let (id, _) = deployments::request(
            db,
            slug,
            &NewDeployment {
                environment: "production".into(),
                version: next,
                commit_sha: commit,
                git_ref: Some("main".into()),
                strategy: Strategy::Canary,
                canary_steps: None,
                request_key: None,
                ci_run_id: Some(run_id),
                commits: Vec::<NewCommit>::new(),
                artifacts: vec![(
                    "test_results".into(),
                    "JUnit report".into(),
                    format!("/runs/{run_id}"),
                )],
            },
            &ci,
        )
        .await?;
        written += 2;
        // Maya has ticked the checklist of two of them; one approval is already given on the
        // first project, so its page shows who is still needed.
        let person = |u: app::model::User| Person {
            user_id: u.id.0,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            ip: None,
        };
        if p_index < 2 {
            if let Some(maya) = users::find_by_username(db, "maya.lead")
                .await?
                .map(|r| r.user)
            {
                let production = app::store::environments::find(db, slug, "production").await?;
                for item in &production.checklist {
                    deployments::tick(db, id, item.id, true, &person(maya.clone())).await?;
                }
            }
        }
        if p_index == 0 {
            if let Some(lee) = users::find_by_username(db, "lee.ops")
                .await?
                .map(|r| r.user)
            {
                // Refused when the gates hold it in a state that takes no decision: fine.
                let _ = deployments::decide(
                    db,
                    id,
                    &person(lee),
                    true,
                    Some("canary plan and runbook reviewed"),
                )
                .await;
            }
        }
    }
    Ok(written)
}
