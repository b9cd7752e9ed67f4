//! Demo CI history: three projects with 90 days of runs, jobs, JUnit results (with real
//! failures, flaky tests and an infrastructure outage), coverage, performance and security
//! figures. Deterministic for a given seed and scale, placed relative to now.

use app::model::{
    CaseStatus, CoverageFile, CoverageFormat, CoverageReport, CoverageTotals, Job, NewRun,
    NewTestCase, Performance, Provider, RunStatus, Security, Slug, TestTotals,
};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::runs::{self, Feed};
use app::store::{now_ms, Db, StoreError};
use rand::rngs::StdRng;
use rand::Rng;

struct DemoProject {
    slug: &'static str,
    name: &'static str,
    provider: Provider,
    repo: &'static str,
    packages: &'static [&'static str],
    tests: usize,
    runs_per_day: (u32, u32),
}

const PROJECTS: &[DemoProject] = &[
    DemoProject {
        slug: "shop",
        name: "Shop web",
        provider: Provider::Github,
        repo: "https://github.com/acme/shop",
        packages: &["cart", "checkout", "catalog", "search", "accounts"],
        tests: 84,
        runs_per_day: (3, 7),
    },
    DemoProject {
        slug: "payments",
        name: "Payments API",
        provider: Provider::Gitlab,
        repo: "https://gitlab.com/acme/payments",
        packages: &["ledger", "refunds", "webhooks", "fraud"],
        tests: 62,
        runs_per_day: (2, 5),
    },
    DemoProject {
        slug: "mobile-api",
        name: "Mobile API",
        provider: Provider::Jenkins,
        repo: "https://github.com/acme/mobile-api",
        packages: &["sessions", "push", "profiles"],
        tests: 48,
        runs_per_day: (1, 4),
    },
];

const VERBS: &[&str] = &[
    "creates",
    "rejects",
    "updates",
    "lists",
    "retries",
    "expires",
    "validates",
    "rounds",
    "caches",
    "paginates",
    "merges",
    "refunds",
    "signs",
    "parses",
];
const OBJECTS: &[&str] = &[
    "empty_input",
    "large_order",
    "expired_token",
    "duplicate_request",
    "unicode_name",
    "zero_amount",
    "missing_field",
    "concurrent_update",
    "stale_cache",
    "timezone_edge",
    "negative_quantity",
    "long_description",
];
const AUTHORS: &[&str] = &[
    "maya.lead",
    "lee.ops",
    "noor.dev",
    "ravi.qa",
    "ines.ml",
    "sam.manager",
];
const FEATURES: &[&str] = &[
    "feature/faster-search",
    "feature/gift-cards",
    "fix/rounding",
    "feature/dark-mode",
    "chore/deps",
    "fix/timeout",
    "feature/refund-api",
];

struct DemoTest {
    classname: String,
    name: String,
    file: String,
    mean_s: f64,
    /// Probability of failing once and passing on retry.
    flake: f64,
}

fn test_pool(p: &DemoProject, rng: &mut StdRng) -> Vec<DemoTest> {
    (0..p.tests)
        .map(|i| {
            let package = p.packages[i % p.packages.len()];
            let class = format!(
                "{}.{}.{}Test",
                p.slug.replace('-', "_"),
                package,
                capitalize(package)
            );
            let name = format!(
                "test_{}_{}_{i}",
                VERBS[rng.gen_range(0..VERBS.len())],
                OBJECTS[rng.gen_range(0..OBJECTS.len())]
            );
            DemoTest {
                file: format!("tests/{package}/test_{package}.py"),
                classname: class,
                name,
                mean_s: rng.gen_range(0.01..2.5),
                flake: if i % 19 == 7 {
                    rng.gen_range(0.08..0.2)
                } else {
                    0.0
                },
            }
        })
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn sha(rng: &mut StdRng) -> String {
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Writes the demo CI history; returns the number of runs.
/// With `cases_per_run`, each run executes one rotating shard of that many tests (as sharded CI
/// jobs do): benchmarks reach a million runs without 70 million cases.
pub async fn generate(
    db: &Db,
    rng: &mut StdRng,
    scale: u32,
    cases_per_run: Option<usize>,
) -> Result<usize, StoreError> {
    let system = Actor::system();
    let now = now_ms();
    let day = 86_400_000i64;
    let mut total = 0;
    // Projects first, then their runs interleaved day by day, so run ids follow time as
    // they do when real CI systems report.
    let mut live = Vec::new();
    for p in PROJECTS {
        if projects::get(db, p.slug).await?.is_some() {
            continue;
        }
        let project = projects::create(
            db,
            &NewProject {
                slug: Slug::parse(p.slug).map_err(StoreError::Invalid)?,
                name: p.name.into(),
                default_branch: "main".into(),
                repository_url: Some(p.repo.into()),
                environments: Vec::new(),
            },
            &system,
        )
        .await?;
        let tests = test_pool(p, rng);
        // One outage day per project: most tests fail for reasons outside the code.
        let outage_day = rng.gen_range(10..80);
        let number = 1000 + rng.gen_range(0..500);
        live.push((p, project.id, tests, outage_day, number));
    }
    let mut broken_branches: std::collections::HashMap<(i64, String), bool> =
        std::collections::HashMap::new();
    let reviewer = Actor {
        user_id: None,
        username: Some("ines.ml".into()),
        ip: None,
    };
    for d in (0..90i64).rev() {
        // Thirty days ago a reviewer trained a learned model, which has run in shadow since.
        if d == 30 {
            let at = now - 30 * day;
            for (_, project_id, ..) in live.iter() {
                let trained = app::store::predictor::train_learned(
                    db,
                    *project_id,
                    now - 91 * day,
                    at,
                    0.35,
                    &reviewer,
                    at,
                )
                .await;
                if let Err(e) = trained {
                    eprintln!("demo data: no learned model for project {project_id}: {e}");
                }
            }
        }
        for (p, project_id, tests, outage_day, number) in live.iter_mut() {
            let runs_today = rng.gen_range(p.runs_per_day.0..=p.runs_per_day.1) * scale;
            for k in 0..runs_today {
                *number += 1;
                let started = now - d * day + (k as i64) * (day / (runs_today as i64 + 1))
                    - rng.gen_range(0..3_600_000);
                if started > now - 600_000 {
                    continue;
                }
                let main = rng.gen_bool(0.6);
                let branch = if main {
                    "main".to_string()
                } else {
                    FEATURES[rng.gen_range(0..FEATURES.len())].to_string()
                };
                let commit = sha(rng);
                // What makes a run fail is learnable, as in real teams: big changes, some
                // authors' habits, and a feature branch that was broken last time.
                let author = rng.gen_range(0..AUTHORS.len());
                let lines = (10.0 * 200f64.powf(rng.gen::<f64>())) as i64;
                let sent_lines = rng.gen_bool(0.85).then_some(lines);
                let habit = 1.0 + (author % 3) as f64 * 0.7;
                let still_broken =
                    broken_branches.get(&(*project_id, branch.clone())) == Some(&true);
                let p_broken = if main {
                    0.02 * (1.0 + lines as f64 / 600.0)
                } else if still_broken {
                    0.75
                } else {
                    0.07 * habit * (1.0 + lines as f64 / 300.0)
                };
                let broken = rng.gen_bool(p_broken.min(0.9));
                broken_branches.insert((*project_id, branch.clone()), broken);
                let outage = d == *outage_day && k == 0;
                let degraded = (33..=40).contains(&d) || (8..=12).contains(&d);
                let run = DemoRun {
                    number: *number,
                    attempt: 1,
                    branch: &branch,
                    commit: &commit,
                    started,
                    broken,
                    outage,
                    main,
                    author,
                    lines: sent_lines,
                    degraded,
                };
                let shard = shard_of(tests, cases_per_run, *number);
                let first = demo_run(db, *project_id, p, shard, rng, run).await?;
                total += 1;
                if total % 20_000 == 0 {
                    eprintln!("demo data: {total} runs written");
                }
                // Failed runs are often retried on the same commit: flaky tests pass then.
                if first == RunStatus::Failure && !broken && rng.gen_bool(0.7) {
                    let retry = DemoRun {
                        number: *number,
                        attempt: 2,
                        branch: &branch,
                        commit: &commit,
                        started: started + 900_000,
                        broken: false,
                        outage: false,
                        main,
                        author,
                        lines: sent_lines,
                        degraded,
                    };
                    demo_run(db, *project_id, p, shard, rng, retry).await?;
                    total += 1;
                }
            }
        }
    }
    // Reviewers acknowledged most risk alerts within minutes; a few waited for hours.
    for (_, project_id, ..) in &live {
        let alerts = app::store::predictor::alerts(db, *project_id, 10_000).await?;
        for (i, a) in alerts.iter().enumerate() {
            if a.opened_at > now - 2 * 3_600_000 || i % 7 == 3 {
                continue; // recent ones and a few older ones are still open
            }
            let delay = if i % 9 == 0 {
                rng.gen_range(20..240) * 60_000
            } else {
                rng.gen_range(30..420) * 1000
            };
            let who = if i % 2 == 0 { &reviewer } else { &lead_ravi() };
            app::store::predictor::acknowledge_at(db, a.id, who, a.opened_at + delay).await?;
        }
        // The weekly retraining has been claimed for this week (the shadow model is recent).
        let due = crate::jobs::last_sunday_2am(now);
        if app::store::predictor::claim_retrain(db, *project_id, due, now).await? {
            app::store::predictor::record_retrain(
                db,
                *project_id,
                "demo history: v2 trained 30 days ago",
            )
            .await?;
        }
    }
    // A team lead has quarantined each project's flakiest test of the last two weeks.
    let lead = Actor {
        user_id: None,
        username: Some("maya.lead".into()),
        ip: None,
    };
    for (p, project_id, ..) in &live {
        let flaky = app::store::runs::flaky_tests(db, *project_id, now - 14 * day).await?;
        if let Some(worst) = flaky.first() {
            let reason = format!(
                "flakes in {:.0}% of runs on the shared {} runners; tracked in QA-{}",
                worst.flake_rate * 100.0,
                p.provider,
                400 + worst.test_id % 100
            );
            app::store::test_history::set_quarantine(db, worst.test_id, Some(&reason), &lead)
                .await?;
        }
    }
    Ok(total)
}

fn lead_ravi() -> Actor {
    Actor {
        user_id: None,
        username: Some("ravi.qa".into()),
        ip: None,
    }
}

/// The tests a run executes: all of them, or the run number's shard of `per_run` tests.
fn shard_of(tests: &[DemoTest], per_run: Option<usize>, number: u32) -> &[DemoTest] {
    match per_run {
        Some(k) if k > 0 && k < tests.len() => {
            let shards = tests.len().div_ceil(k);
            let start = (number as usize % shards) * k;
            &tests[start..(start + k).min(tests.len())]
        }
        _ => tests,
    }
}

struct DemoRun<'a> {
    number: u32,
    attempt: i64,
    branch: &'a str,
    commit: &'a str,
    started: i64,
    broken: bool,
    outage: bool,
    main: bool,
    /// Index into [`AUTHORS`].
    author: usize,
    /// Lines changed, when the CI system sends it.
    lines: Option<i64>,
    /// A week of overloaded runners: slow builds and more timeouts (the seeds' rules see it).
    degraded: bool,
}

async fn demo_run(
    db: &Db,
    project_id: i64,
    p: &DemoProject,
    tests: &[DemoTest],
    rng: &mut StdRng,
    r: DemoRun<'_>,
) -> Result<RunStatus, StoreError> {
    // Test results first, so the run's status follows from them.
    let broken: Vec<usize> = if r.broken {
        (0..rng.gen_range(1..4))
            .map(|_| rng.gen_range(0..tests.len()))
            .collect()
    } else {
        Vec::new()
    };
    let mut cases = Vec::with_capacity(tests.len());
    let mut totals = TestTotals::default();
    for (i, t) in tests.iter().enumerate() {
        let slow = if r.degraded { 3.0 } else { 1.0 };
        let duration = (t.mean_s * slow * rng.gen_range(0.7..1.4)).max(0.001);
        let (status, retried, message) = if r.outage && rng.gen_bool(0.9) {
            (
                CaseStatus::Error,
                false,
                Some(
                    "ConnectionError: could not reach postgres:5432 (runner network down)"
                        .to_string(),
                ),
            )
        } else if broken.contains(&i) {
            (
                CaseStatus::Failed,
                false,
                Some(format!(
                    "AssertionError: expected {} but got {}\n  at {}:{}",
                    rng.gen_range(1..100),
                    rng.gen_range(100..200),
                    t.file,
                    rng.gen_range(10..400)
                )),
            )
        } else if t.flake > 0.0
            && rng.gen_bool((t.flake * if r.degraded { 2.5 } else { 1.0 }).min(0.9))
        {
            if r.attempt == 1 && rng.gen_bool(0.35) {
                (
                    CaseStatus::Failed,
                    false,
                    Some("TimeoutError: element not visible after 5000 ms".to_string()),
                )
            } else {
                (CaseStatus::Passed, true, None)
            }
        } else if rng.gen_bool(0.03) {
            (
                CaseStatus::Skipped,
                false,
                Some("skipped: requires GPU runner".to_string()),
            )
        } else {
            (CaseStatus::Passed, false, None)
        };
        totals.add(status, retried, Some(duration));
        cases.push(NewTestCase {
            suite: format!("{}-tests", p.slug),
            classname: t.classname.clone(),
            name: t.name.clone(),
            file: Some(t.file.clone()),
            status,
            retried,
            duration_s: Some(duration),
            message,
        });
    }
    let failed = totals.failed + totals.errors > 0;
    let status = if r.outage {
        RunStatus::Error
    } else if failed {
        RunStatus::Failure
    } else if rng.gen_bool(0.02) {
        RunStatus::Cancelled
    } else {
        RunStatus::Success
    };
    let build = rng.gen_range(60_000..200_000) * if r.degraded { 3 } else { 1 };
    let test_ms = (totals.time_s * 1000.0) as i64 + rng.gen_range(20_000..90_000);
    let mut jobs = vec![
        Job {
            name: "build".into(),
            status: RunStatus::Success,
            started_at: Some(r.started),
            finished_at: Some(r.started + build),
        },
        Job {
            name: "lint".into(),
            status: RunStatus::Success,
            started_at: Some(r.started + build),
            finished_at: Some(r.started + build + rng.gen_range(20_000..70_000)),
        },
        Job {
            name: "test".into(),
            status: if failed {
                RunStatus::Failure
            } else {
                RunStatus::Success
            },
            started_at: Some(r.started + build),
            finished_at: Some(r.started + build + test_ms),
        },
    ];
    let mut finished = r.started + build + test_ms;
    if r.main && !failed && status == RunStatus::Success {
        let perf = rng.gen_range(120_000..300_000);
        jobs.push(Job {
            name: "load-test".into(),
            status: RunStatus::Success,
            started_at: Some(finished),
            finished_at: Some(finished + perf),
        });
        finished += perf;
    }
    let performance = if r.main && !failed {
        let p95 = rng.gen_range(140.0..280.0);
        Performance {
            p50_ms: Some(p95 * rng.gen_range(0.35..0.5)),
            p95_ms: Some(p95),
            p99_ms: Some(p95 * rng.gen_range(1.4..2.1)),
            error_rate: Some(rng.gen_range(0.0002..0.004)),
            throughput_rps: Some(rng.gen_range(700.0..1300.0)),
        }
    } else {
        Performance::default()
    };
    let security = Security {
        critical: Some(if rng.gen_bool(0.03) { 1 } else { 0 }),
        high: Some(rng.gen_range(0..3)),
        medium: Some(rng.gen_range(0..6)),
        low: Some(rng.gen_range(2..12)),
    };
    let new = NewRun {
        provider: p.provider,
        external_id: r.number.to_string(),
        attempt: r.attempt,
        workflow: match p.provider {
            Provider::Gitlab => "pipeline".into(),
            Provider::Jenkins => "mobile-api/main".into(),
            _ => "ci".into(),
        },
        commit_sha: Some(r.commit.into()),
        branch: Some(r.branch.into()),
        author: Some(AUTHORS[r.author].into()),
        trigger: Some(if r.main { "push" } else { "pull_request" }.into()),
        url: Some(match p.provider {
            Provider::Gitlab => format!("{}/-/pipelines/{}", p.repo, r.number),
            Provider::Jenkins => format!("https://jenkins.acme.dev/job/{}/{}/", p.slug, r.number),
            _ => format!("{}/actions/runs/{}", p.repo, r.number),
        }),
        status,
        started_at: Some(r.started),
        finished_at: Some(finished),
        jobs,
        performance,
        security,
        change: app::model::ChangeSize {
            lines: r.lines,
            files: r.lines.map(|l| (l / 40).clamp(1, 60)),
        },
    };
    let (run, _) = runs::create_or_get(db, project_id, &new).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tx.send(Feed::Cases(cases)).await.ok();
    tx.send(Feed::Done(totals)).await.ok();
    let digest = format!("demo-{}-{}-{}", p.slug, r.number, r.attempt);
    runs::ingest_junit(db, run.id, &digest, rx).await?;
    let line_rate = rng.gen_range(0.78..0.9);
    let lines_valid = 4200 + rng.gen_range(0..300);
    let lines_covered = (lines_valid as f64 * line_rate) as i64;
    let branches_valid = 900;
    let branches_covered = (branches_valid as f64 * (line_rate - rng.gen_range(0.05..0.15))) as i64;
    let report = CoverageReport {
        format: CoverageFormat::Cobertura,
        totals: CoverageTotals {
            line_rate: Some(lines_covered as f64 / lines_valid as f64),
            branch_rate: Some(branches_covered as f64 / branches_valid as f64),
            lines_covered,
            lines_valid,
            branches_covered,
            branches_valid,
        },
        files: p
            .packages
            .iter()
            .map(|pkg| CoverageFile {
                path: format!("src/{pkg}.py"),
                lines_covered: lines_covered / p.packages.len() as i64,
                lines_valid: lines_valid / p.packages.len() as i64,
                branches_covered: branches_covered / p.packages.len() as i64,
                branches_valid: branches_valid / p.packages.len() as i64,
                line_rate: Some(line_rate),
                branch_rate: None,
            })
            .collect(),
    };
    runs::store_coverage(db, run.id, &format!("{digest}-cov"), &report).await?;
    Ok(status)
}
