//! The mixed load of `make bench-load` (`scripts/bench-load` starts the server): signed-in
//! page views (overview, runs, a run, a deployment, calibration), CI ingestion (new runs,
//! JUnit reports, run updates), API reads and flag evaluations, sent open-loop at a fixed rate
//! so a slow answer cannot slow the sender down (latency counts from the moment each request
//! was due, not from when it left). Loopback only, bounded in time and in requests in flight.
//!
//! `cargo run --release -p gatehouse --example load_mix -- URL TOKEN USER PASSWORD [RATE] [SECONDS]`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (kind, weight in percent).
const MIX: &[(&str, u32)] = &[
    ("page: overview", 8),
    ("page: runs", 8),
    ("page: run", 8),
    ("page: deployment", 8),
    ("page: calibration", 8),
    ("ingest: new run", 12),
    ("ingest: junit report", 10),
    ("ingest: finish run", 8),
    ("api: run", 5),
    ("api: deployments", 5),
    ("flags: evaluate", 20),
];

/// Requests in flight at most; past it a due request is counted as dropped, not sent late.
const MAX_IN_FLIGHT: usize = 512;

struct Shared {
    base: String,
    token: String,
    cookies: Vec<String>,
    http: reqwest::Client,
    /// Runs this load created, for reports and updates.
    runs: Mutex<Vec<i64>>,
    /// Runs and a deployment of the demo data, for page views.
    demo_run: i64,
    deployment: i64,
    seq: AtomicU64,
    /// Per kind: latencies in microseconds, and status counts.
    results: Mutex<BTreeMap<&'static str, (Vec<u64>, BTreeMap<u16, u64>)>>,
}

fn junit(n: u64) -> String {
    let mut cases = String::new();
    for i in 0..20 {
        if i == 7 && n % 5 == 0 {
            cases.push_str(&format!(
                "<testcase classname=\"load.Suite{n}\" name=\"case_{i}\" time=\"0.0{i}\"><failure message=\"boom\">trace</failure></testcase>"
            ));
        } else {
            cases.push_str(&format!(
                "<testcase classname=\"load.Suite{n}\" name=\"case_{i}\" time=\"0.0{i}\"/>"
            ));
        }
    }
    format!(
        "<?xml version=\"1.0\"?><testsuites><testsuite name=\"load-{n}\" tests=\"20\">{cases}</testsuite></testsuites>"
    )
}

async fn one(s: &Shared, kind: &'static str, n: u64, rng_pick: usize) -> Result<u16, String> {
    let cookie = &s.cookies[rng_pick % s.cookies.len()];
    let page = |path: String| {
        s.http
            .get(format!("{}{path}", s.base))
            .header("cookie", cookie)
    };
    let api = |m: reqwest::Method, path: String| {
        s.http
            .request(m, format!("{}{path}", s.base))
            .bearer_auth(&s.token)
    };
    let some_run = || {
        let runs = s.runs.lock().unwrap();
        if runs.is_empty() {
            s.demo_run
        } else {
            runs[rng_pick % runs.len()]
        }
    };
    let req = match kind {
        "page: overview" => page("/?project=shop".into()),
        "page: runs" => page("/runs?project=shop".into()),
        "page: run" => page(format!("/runs/{}", s.demo_run)),
        "page: deployment" => page(format!("/deployments/{}", s.deployment)),
        "page: calibration" => page("/calibration?project=shop".into()),
        "ingest: new run" => api(reqwest::Method::POST, "/api/v1/projects/shop/runs".into())
            .json(&serde_json::json!({
                "provider": "github", "external_id": format!("load-{n}"), "attempt": 1,
                "workflow": "ci", "branch": "main", "commit_sha": format!("{:08x}", n * 2654435761 % (1 << 32)),
                "status": "running", "started_at": now_ms(),
            })),
        "ingest: junit report" => api(
            reqwest::Method::POST,
            format!("/api/v1/runs/{}/junit", some_run()),
        )
        .header("content-type", "application/xml")
        .body(junit(n)),
        "ingest: finish run" => api(reqwest::Method::PATCH, format!("/api/v1/runs/{}", some_run()))
            .json(&serde_json::json!({"status": "success", "finished_at": now_ms()})),
        "api: run" => api(reqwest::Method::GET, format!("/api/v1/runs/{}", some_run())),
        "api: deployments" => api(
            reqwest::Method::GET,
            "/api/v1/projects/shop/deployments?limit=20".into(),
        ),
        "flags: evaluate" => api(
            reqwest::Method::GET,
            format!("/api/v1/projects/shop/flags/production?key=user-{}", n % 5000),
        ),
        other => return Err(format!("unknown kind {other}")),
    };
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| e.to_string())?;
    if kind == "ingest: new run" && status == 201 {
        if let Some(id) = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_i64())
        {
            s.runs.lock().unwrap().push(id);
        }
    }
    Ok(status)
}

/// Now as epoch milliseconds, a JSON number (the API reads a string as RFC 3339 and answers
/// 422 to digits in quotes).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn sign_in(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let res = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .form(&[("username", user), ("password", password), ("next", "/")])
        .send()
        .await
        .expect("sign in");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gatehouse_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    cookie
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: load_mix URL TOKEN USER PASSWORD [RATE=600] [SECONDS=60]");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    assert!(
        base.starts_with("http://127.") || base.starts_with("http://localhost"),
        "load tests target loopback only"
    );
    let rate: f64 = args.get(5).map(|r| r.parse().unwrap()).unwrap_or(600.0);
    let seconds: u64 = args.get(6).map(|r| r.parse().unwrap()).unwrap_or(60);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut cookies = Vec::new();
    for _ in 0..4 {
        cookies.push(sign_in(&http, &base, &args[3], &args[4]).await);
    }
    let token = args[2].clone();
    let get_json = |path: &str| http.get(format!("{base}{path}")).bearer_auth(&token).send();
    let deployments: serde_json::Value = get_json("/api/v1/projects/shop/deployments?limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deployment = deployments["deployments"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a demo deployment of shop: {deployments}"));
    // A demo run of shop: the newest id the runs API answers for.
    let runs_page = http
        .post(format!("{base}/api/runs/list"))
        .header("cookie", &cookies[0])
        .header("origin", &base)
        .form(&[("filter[project]", "shop"), ("filter[limit]", "1")])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let demo_run = runs_page["runs"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a demo run of shop: {runs_page}"));
    let shared = Arc::new(Shared {
        base: base.clone(),
        token,
        cookies,
        http,
        runs: Mutex::new(Vec::new()),
        demo_run,
        deployment,
        seq: AtomicU64::new(0),
        results: Mutex::new(BTreeMap::new()),
    });

    let total_weight: u32 = MIX.iter().map(|m| m.1).sum();
    let mut rng = StdRng::seed_from_u64(0x10ad);
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let dropped = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut i: u64 = 0;
    loop {
        let due = start + period.mul_f64(i as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        i += 1;
        let mut w = rng.gen_range(0..total_weight);
        let kind = MIX
            .iter()
            .find(|(_, weight)| {
                if w < *weight {
                    true
                } else {
                    w -= weight;
                    false
                }
            })
            .unwrap()
            .0;
        let pick: usize = rng.gen_range(0..1 << 20);
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let s = shared.clone();
        let errors = errors.clone();
        tasks.spawn(async move {
            let n = s.seq.fetch_add(1, Ordering::Relaxed);
            let outcome = one(&s, kind, n, pick).await;
            let micros = due.elapsed().as_micros() as u64;
            drop(permit);
            let status = match outcome {
                Ok(code) => code,
                Err(e) => {
                    *errors.lock().unwrap().entry(e).or_default() += 1;
                    0
                }
            };
            let mut r = s.results.lock().unwrap();
            let entry = r.entry(kind).or_default();
            entry.0.push(micros);
            *entry.1.entry(status).or_default() += 1;
        });
        // Reap finished tasks now and then so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();

    let results = shared.results.lock().unwrap();
    let mut all = Vec::new();
    let (mut n5xx, mut non2xx, mut total) = (0u64, 0u64, 0u64);
    println!("| kind | requests | p50 ms | p99 ms | statuses |");
    println!("|---|---|---|---|---|");
    for (kind, (lat, statuses)) in results.iter() {
        let mut lat = lat.clone();
        lat.sort_unstable();
        all.extend_from_slice(&lat);
        let st: Vec<String> = statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        for (code, count) in statuses {
            total += count;
            if *code >= 500 || *code == 0 {
                n5xx += count;
            }
            if !(200..300).contains(code) {
                non2xx += count;
            }
        }
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {} |",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            st.join(", ")
        );
    }
    all.sort_unstable();
    let errs = errors.lock().unwrap();
    for (e, n) in errs.iter() {
        eprintln!("client error ×{n}: {e}");
    }
    println!();
    println!(
        "SUMMARY rate_target={rate} seconds={elapsed:.1} requests={total} achieved_rps={:.0} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} errors_5xx_or_failed={n5xx} non_2xx={non2xx} dropped={}",
        total as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        dropped.load(Ordering::Relaxed)
    );
}
