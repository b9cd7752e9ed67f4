//! Two `gatehouse serve` processes on one Postgres behave as one: 10,000 events are raised
//! while both replicas send the outbox to a receiver; one replica is killed with SIGKILL
//! midway. Every notification reaches the receiver, each is recorded delivered once, and the
//! only repeats are deliveries the dead replica had sent but not yet recorded, which carry
//! the same `X-Gatehouse-Delivery` id (receivers drop repeats by it).

use crate::crash::{count, Server};
use crate::helpers::{backends, connect, TestApp};
use app::logic::notify::{EventKind, Severity};
use app::store::audit::Actor;
use app::store::notify::NewEvent;
use app::store::projects::{self, NewProject};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const LEASE_SECS: &str = "6";

pub type Seen = Arc<Mutex<HashMap<i64, u32>>>;

/// A webhook receiver counting what it took per `X-Gatehouse-Delivery` id. While `down` is
/// set it takes nothing and answers 503 (the sender must try again later).
pub async fn receiver(down: Arc<AtomicBool>) -> (Seen, String) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let s = s.clone();
            let down = down.clone();
            async move {
                if down.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down for now");
                }
                let id: i64 = headers["x-gatehouse-delivery"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                *s.lock().unwrap().entry(id).or_default() += 1;
                (axum::http::StatusCode::OK, "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, base)
}

#[tokio::test]
async fn two_replicas_deliver_every_notification_when_one_is_killed() {
    let Some(backend) = backends().await.into_iter().find(|b| b.label == "postgres") else {
        eprintln!("skipped: replicas share Postgres (set GATEHOUSE_TEST_POSTGRES_URL)");
        return;
    };
    let db = connect(&backend).await;
    let project = projects::create(
        &db,
        &NewProject::named(app::model::Slug::parse("shop").unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap();
    let (seen, hook) = receiver(Arc::default()).await;
    let site = tempfile::tempdir().unwrap();
    let env = [("GATEHOUSE_NOTIFY_LEASE_SECS", LEASE_SECS)];
    let mut a = Server::start_with(&backend, site.path(), &env).await;
    let b = Server::start_with(&backend, site.path(), &env).await;

    // The channel and rule, through replica A as an admin would.
    notify_receiver(&a.base, &hook, &["deployment.succeeded"]).await;

    // 10,000 events from eight writers, while both replicas send.
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let db = db.clone();
        let project_id = project.id;
        writers.spawn(async move {
            for i in (w..EVENTS).step_by(8) {
                let ev = NewEvent {
                    project_id: Some(project_id),
                    kind: EventKind::DeploymentSucceeded,
                    severity: Severity::Info,
                    title: format!("shop 1.0.{i} is live in staging"),
                    body: String::new(),
                    link: Some(format!("/deployments/{i}")),
                };
                app::store::notify::raise_now(&db, &ev).await.unwrap();
            }
        });
    }
    // Kill A once a third has arrived.
    while seen.lock().unwrap().len() < EVENTS / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "deliveries started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill9();
    let at_kill = seen.lock().unwrap().len();
    while writers.join_next().await.is_some() {}
    let raised = started.elapsed();

    // B alone finishes, including what A held when it died (after the lease).
    let deliveries = count(&db, "select count(*) from delivery").await;
    assert_eq!(
        deliveries as usize, EVENTS,
        "one delivery per event and channel"
    );
    wait_all_delivered(&db, EVENTS as i64, "replicas").await;
    let done = started.elapsed();
    let ids = delivery_ids(&db).await;
    let seen = seen.lock().unwrap().clone();
    let missing = ids.iter().filter(|id| !seen.contains_key(id)).count();
    let repeats: Vec<(i64, u32)> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, n)| (*i, *n))
        .collect();
    assert_eq!(missing, 0, "every notification reached the receiver");
    assert_eq!(seen.len(), EVENTS, "nothing but these deliveries arrived");
    // Only what A had claimed and sent but not recorded can arrive twice: one claim's batch.
    assert!(
        repeats.len() <= 20,
        "repeats beyond the dead replica's batch: {repeats:?}"
    );
    assert!(repeats.iter().all(|(_, n)| *n == 2), "{repeats:?}");
    let by_b = count(&db, "select count(*) from delivery where attempts > 1").await;
    eprintln!(
        "replicas: {EVENTS} events raised in {raised:?}; A killed after {at_kill} arrived; all delivered after {done:?}; \
         {} arrived twice (sent by A, unrecorded), {by_b} deliveries took more than one try",
        repeats.len()
    );
    drop(b);
}

/// The scheduled jobs every replica runs are claimed in the database: for each window, of 16
/// concurrent attempts from two replicas' pools exactly one wins (the hourly retention purge,
/// the weekly retraining per project), on both backends.
#[tokio::test]
async fn scheduled_jobs_run_once_per_window_across_replicas() {
    for backend in backends().await {
        let label = backend.label;
        let (one, two) = (connect(&backend).await, connect(&backend).await);
        let project = projects::create(
            &one,
            &NewProject::named(app::model::Slug::parse("shop").unwrap()),
            &Actor::system(),
        )
        .await
        .unwrap();
        let hour = 3_600_000;
        let base = app::store::now_ms();
        for window in 0..5 {
            let now = base + window * (hour + 1);
            let mut purges = tokio::task::JoinSet::new();
            let mut trains = tokio::task::JoinSet::new();
            for attempt in 0..16 {
                let db = if attempt % 2 == 0 {
                    one.clone()
                } else {
                    two.clone()
                };
                let holder = format!("replica-{}-{attempt}", attempt % 2);
                let d = db.clone();
                purges.spawn(async move {
                    gatehouse_server::jobs::run_retention(&d, &holder, now)
                        .await
                        .unwrap()
                        .is_some()
                });
                trains.spawn(async move {
                    app::store::predictor::claim_retrain(&db, project.id, now - 1, now)
                        .await
                        .unwrap()
                });
            }
            let purged = purges.join_all().await.into_iter().filter(|w| *w).count();
            let trained = trains.join_all().await.into_iter().filter(|w| *w).count();
            assert_eq!(purged, 1, "{label}: purges in window {window}");
            assert_eq!(trained, 1, "{label}: retrainings in window {window}");
        }
    }
}

/// Adds, as an admin would in the browser, a webhook channel to `hook`'s `/hook` and a rule
/// sending it shop's events of `kinds` from severity info up.
pub async fn notify_receiver(base: &str, hook: &str, kinds: &[&str]) {
    let app = TestApp::at(base);
    let admin = app.signed_in("admin", crate::helpers::ADMIN_PASSWORD).await;
    let res = app
        .call(
            &admin,
            "/api/notify/channel-create",
            &[
                ("name", "receiver"),
                ("kind", "webhook"),
                ("settings[url]", &format!("{hook}/hook")),
                ("settings[template]", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let channel: i64 = res.json().await.unwrap();
    let events: Vec<String> = kinds.iter().map(|k| format!("events[{k}]")).collect();
    let channel = channel.to_string();
    let mut form = vec![
        ("channel_id", channel.as_str()),
        ("project", "shop"),
        ("min_severity", "info"),
    ];
    form.extend(events.iter().map(|e| (e.as_str(), "on")));
    let res = app.call(&admin, "/api/notify/rule-create", &form).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Waits (up to 90 s) until `expected` deliveries are recorded delivered.
pub async fn wait_all_delivered(db: &app::store::Db, expected: i64, label: &str) {
    let t = Instant::now();
    loop {
        let delivered = count(
            db,
            "select count(*) from delivery where status = 'delivered'",
        )
        .await;
        if delivered == expected {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{label}: {delivered} of {expected} notifications delivered after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every delivery's id.
pub async fn delivery_ids(db: &app::store::Db) -> Vec<i64> {
    let sql = "select delivery_id from delivery";
    match db {
        app::store::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        app::store::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap()
}
