//! `kill -9` of a real `gatehouse serve` process in the middle of heavy ingestion, deployments
//! and approvals, then a restart on the same database (SQLite and Postgres). Every request
//! that got a 2xx is stored exactly once; no run holds half a report; every deployment's
//! state is the end of its recorded transitions; and requests that got no answer, retried
//! after the restart, are stored once.

use crate::helpers::{backends, connect, TestDb, ADMIN_PASSWORD};
use app::model::{Protection, Scope};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::{environments, Db};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CASES: i64 = 50;

fn report(n: usize) -> String {
    let mut xml = format!("<testsuite name=\"crash-{n}\">");
    for i in 0..CASES {
        xml.push_str(&format!(
            "<testcase classname=\"crash.S{n}\" name=\"t{i}\" time=\"0.01\"/>"
        ));
    }
    xml + "</testsuite>"
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `gatehouse serve` process.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub async fn start_with(db: &TestDb, site: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .envs(env.iter().copied())
            .env("DATABASE_URL", &db.url)
            .env("GATEHOUSE_ADDR", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_SITE_ROOT", site)
            .env("GATEHOUSE_DEMO_DATA", "0")
            .env("GATEHOUSE_ADMIN_USER", "admin")
            .env("GATEHOUSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("GATEHOUSE_LOG", "warn")
            .env("GATEHOUSE_DB_MAX_CONNECTIONS", "8")
            .stdout(Stdio::null())
            .spawn()
            .expect("start gatehouse serve");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let t = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "server at {base} did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Server { child, base }
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn count(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// What the clients were told before the kill.
#[derive(Default)]
struct Told {
    /// external id → run id, for every run answered 201 or 200.
    runs: Vec<(String, i64)>,
    /// runs whose report was answered 2xx.
    reports: Vec<i64>,
    /// runs whose report got no answer (to retry after the restart), with the report number.
    unanswered: Vec<(i64, usize)>,
    /// deployments answered 2xx on request, and those approved with a 2xx.
    deployments: Vec<i64>,
    approved: Vec<i64>,
}

async fn sign_in(http: &reqwest::Client, base: &str) {
    let res = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/", "admin signs in");
}

#[tokio::test]
async fn kill_9_mid_ingestion_and_approvals_loses_nothing_and_halves_nothing() {
    for backend in backends().await {
        let label = backend.label;
        let db = connect(&backend).await;
        projects::create(
            &db,
            &NewProject::named(app::model::Slug::parse("shop").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        // Staging: no gates. Production: one approval, nothing else, so approvals flow fast.
        let staging = environments::find(&db, "shop", "staging").await.unwrap();
        environments::set_gates(&db, staging.id, &[], &Actor::system())
            .await
            .unwrap();
        let prod = environments::find(&db, "shop", "production").await.unwrap();
        environments::set_gates(&db, prod.id, &[], &Actor::system())
            .await
            .unwrap();
        environments::set_checklist(&db, prod.id, &[], &Actor::system())
            .await
            .unwrap();
        let protection = Protection {
            required_approvals: 1,
            ..Protection::default()
        };
        environments::update_protection(&db, prod.id, &protection, &Actor::system())
            .await
            .unwrap();
        let token = app::store::tokens::create(
            &db,
            "shop",
            "ci",
            &[Scope::Ingest, Scope::Deploy, Scope::Read],
            &Actor::system(),
        )
        .await
        .unwrap()
        .secret;
        let site = tempfile::tempdir().unwrap();
        // A short lease, so what the killed process had claimed is sent soon after.
        let lease = [("GATEHOUSE_NOTIFY_LEASE_SECS", "6")];
        let mut server = Server::start_with(&backend, site.path(), &lease).await;
        let base = server.base.clone();
        // Deployment news goes to a receiver that is down (503) until after the restart: at
        // the kill every notification is still in the outbox, waiting for its next try.
        let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (seen, hook) = crate::replicas::receiver(down.clone()).await;
        crate::replicas::notify_receiver(
            &base,
            &hook,
            &[
                "deployment.started",
                "deployment.succeeded",
                "approval.requested",
                "approval.granted",
            ],
        )
        .await;
        let told = Arc::new(Mutex::new(Told::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

        // Eight ingestion clients: a run, then its report, as fast as they can.
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8usize {
            let (base, token, told, stop) =
                (base.clone(), token.clone(), told.clone(), stop.clone());
            tasks.spawn(async move {
                let http = reqwest::Client::new();
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let n = worker * 100_000 + i;
                    let external = format!("crash-{n}");
                    let Ok(res) = http
                        .post(format!("{base}/api/v1/projects/shop/runs"))
                        .bearer_auth(&token)
                        .json(&json!({"provider": "github", "external_id": external, "status": "running"}))
                        .send()
                        .await
                    else {
                        break;
                    };
                    if !res.status().is_success() {
                        break;
                    }
                    let Ok(v) = res.json::<Value>().await else { break };
                    let run = v["id"].as_i64().unwrap();
                    told.lock().unwrap().runs.push((external, run));
                    let answer = http
                        .post(format!("{base}/api/v1/runs/{run}/junit"))
                        .bearer_auth(&token)
                        .body(report(n))
                        .send()
                        .await;
                    match answer {
                        Ok(r) if r.status().is_success() => told.lock().unwrap().reports.push(run),
                        _ => {
                            told.lock().unwrap().unanswered.push((run, n));
                            break;
                        }
                    }
                }
            });
        }
        // A deployer and an approver: staging deployments succeed, production ones wait for
        // the admin's approval.
        {
            let (base, token, told, stop) =
                (base.clone(), token.clone(), told.clone(), stop.clone());
            tasks.spawn(async move {
                let deployer = reqwest::Client::new();
                let approver = reqwest::Client::builder()
                    .cookie_store(true)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                sign_in(&approver, &base).await;
                for v in 1.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    for env in ["staging", "production"] {
                        let Ok(res) = deployer
                            .post(format!("{base}/api/v1/projects/shop/deployments"))
                            .bearer_auth(&token)
                            .json(&json!({"environment": env, "version": format!("1.0.{v}"),
                                          "commit": format!("{:040x}", v), "ref": "main"}))
                            .send()
                            .await
                        else {
                            return;
                        };
                        // A refusal (the previous production deployment still waits, say)
                        // is an answer, not a crash: go on with the next version.
                        if !res.status().is_success() {
                            continue;
                        }
                        let Ok(d) = res.json::<Value>().await else {
                            return;
                        };
                        let id = d["id"].as_i64().unwrap();
                        told.lock().unwrap().deployments.push(id);
                        if env == "production" {
                            let Ok(res) = approver
                                .post(format!("{base}/api/deployments/decide"))
                                .header("origin", &base)
                                .form(&[
                                    ("id", id.to_string().as_str()),
                                    ("decision", "approve"),
                                    ("comment", "ship"),
                                ])
                                .send()
                                .await
                            else {
                                return;
                            };
                            if res.status().is_success() {
                                told.lock().unwrap().approved.push(id);
                            }
                        }
                        let _ = deployer
                            .post(format!("{base}/api/v1/deployments/{id}/events"))
                            .bearer_auth(&token)
                            .json(&json!({"kind": "succeeded"}))
                            .send()
                            .await;
                    }
                }
            });
        }
        // Kill once the load is in full swing.
        let t = Instant::now();
        while told.lock().unwrap().reports.len() < 150 && t.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while tasks.join_next().await.is_some() {}
        let told = std::mem::take(&mut *told.lock().unwrap());
        assert!(told.reports.len() >= 150, "{label}: load before the kill");

        let db = connect(&backend).await;
        let waiting_at_kill = count(
            &db,
            "select count(*) from delivery where status <> 'delivered'",
        )
        .await;

        // Restart on the same database.
        let server = Server::start_with(&backend, site.path(), &lease).await;
        let restarted = Instant::now();
        down.store(false, std::sync::atomic::Ordering::SeqCst);
        let base = server.base.clone();
        for (external, run) in &told.runs {
            let n = count(
                &db,
                &format!("select count(*) from ci_run where external_id = '{external}'"),
            )
            .await;
            assert_eq!(n, 1, "{label}: run {external} ({run}) stored once");
        }
        for run in &told.reports {
            let tests = count(
                &db,
                &format!("select cast(tests as bigint) from ci_run where ci_run_id = {run}"),
            )
            .await;
            assert_eq!(
                tests, CASES,
                "{label}: the acknowledged report of run {run}"
            );
        }
        // No run holds half a report: its totals are its cases, all or none.
        let torn = count(
            &db,
            "select count(*) from ci_run r where r.tests <> \
             (select count(*) from test_case c where c.ci_run_id = r.ci_run_id) \
             or r.tests not in (0, 50)", // CASES
        )
        .await;
        assert_eq!(torn, 0, "{label}: runs with a torn report");
        let reports_twice = count(
            &db,
            "select count(*) from (select ci_run_id from test_report group by ci_run_id having count(*) > 1) x",
        )
        .await;
        assert_eq!(reports_twice, 0, "{label}: a report stored twice");
        // Every deployment is where its last transition left it, and the transitions chain.
        let off = count(
            &db,
            "select count(*) from deployment d where d.state <> (select t.to_state from \
             deployment_transition t where t.deployment_id = d.deployment_id \
             order by t.deployment_transition_id desc limit 1)",
        )
        .await;
        assert_eq!(
            off, 0,
            "{label}: deployments whose state is not their last transition"
        );
        let broken = count(
            &db,
            "select count(*) from (select from_state, lag(to_state) over (partition by deployment_id \
             order by deployment_transition_id) as prev from deployment_transition) x \
             where prev is not null and coalesce(from_state, '') <> prev",
        )
        .await;
        assert_eq!(broken, 0, "{label}: transitions that do not chain");
        for id in &told.deployments {
            let n = count(
                &db,
                &format!("select count(*) from deployment where deployment_id = {id}"),
            )
            .await;
            assert_eq!(n, 1, "{label}: deployment {id}");
        }
        for id in &told.approved {
            let n = count(
                &db,
                &format!("select count(*) from approval where deployment_id = {id}"),
            )
            .await;
            assert_eq!(n, 1, "{label}: the approval of deployment {id}");
        }
        // The reports that got no answer, retried now, are stored once.
        let http = reqwest::Client::new();
        for (run, n) in &told.unanswered {
            for _ in 0..2 {
                let res = http
                    .post(format!("{base}/api/v1/runs/{run}/junit"))
                    .bearer_auth(&token)
                    .body(report(*n))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    res.status().is_success(),
                    "{label}: retry of run {run}: {}",
                    res.status()
                );
            }
            let tests = count(
                &db,
                &format!("select cast(tests as bigint) from ci_run where ci_run_id = {run}"),
            )
            .await;
            assert_eq!(tests, CASES, "{label}: retried report of run {run}");
        }
        // The outbox resumes: every notification raised before the kill (in the transaction
        // of its deployment change), refused with 503 until then, reaches the receiver after
        // the restart, once: the killed process sent nothing that was taken.
        let raised = count(&db, "select count(*) from delivery").await;
        assert_eq!(
            waiting_at_kill, raised,
            "{label}: nothing is delivered while the receiver is down"
        );
        assert!(
            raised as usize >= told.deployments.len(),
            "{label}: {raised} notifications for {} deployments",
            told.deployments.len()
        );
        crate::replicas::wait_all_delivered(&db, raised, label).await;
        let ids = crate::replicas::delivery_ids(&db).await;
        let seen = seen.lock().unwrap().clone();
        let lost = ids.iter().filter(|id| !seen.contains_key(id)).count();
        assert_eq!(lost, 0, "{label}: notifications that never arrived");
        assert_eq!(
            seen.len(),
            ids.len(),
            "{label}: arrivals of unknown deliveries"
        );
        let twice = seen.values().filter(|n| **n > 1).count();
        assert_eq!(twice, 0, "{label}: notifications taken more than once");
        eprintln!(
            "{label}: kill -9 after {} runs, {} reports, {} deployments, {} approvals acknowledged; {} unanswered reports retried; \
             {raised} notifications, {waiting_at_kill} unsent at the kill, all delivered {:?} after the restart, each once; all consistent",
            told.runs.len(),
            told.reports.len(),
            told.deployments.len(),
            told.approved.len(),
            told.unanswered.len(),
            restarted.elapsed()
        );
        drop(server);
    }
}
