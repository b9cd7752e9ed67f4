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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const LEASE_SECS: &str = "6";

type Seen = Arc<Mutex<HashMap<i64, u32>>>;

async fn receiver() -> (Seen, String) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                let id: i64 = headers["x-gatehouse-delivery"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                *s.lock().unwrap().entry(id).or_default() += 1;
                "ok"
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
    let (seen, hook) = receiver().await;
    let site = tempfile::tempdir().unwrap();
    let env = [("GATEHOUSE_NOTIFY_LEASE_SECS", LEASE_SECS)];
    let mut a = Server::start_with(&backend, site.path(), &env).await;
    let b = Server::start_with(&backend, site.path(), &env).await;

    // The channel and rule, through replica A as an admin would.
    let app = TestApp::at(&a.base);
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
    let res = app
        .call(
            &admin,
            "/api/notify/rule-create",
            &[
                ("channel_id", channel.to_string().as_str()),
                ("project", "shop"),
                ("events[deployment.succeeded]", "on"),
                ("min_severity", "info"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

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
    let t = Instant::now();
    loop {
        let delivered = count(
            &db,
            "select count(*) from delivery where status = 'delivered'",
        )
        .await;
        if delivered as usize == EVENTS {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{delivered} of {EVENTS} delivered 90 s after the events"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let done = started.elapsed();
    let ids: Vec<i64> = match &db {
        app::store::Db::Postgres(p) => sqlx::query_scalar("select delivery_id from delivery")
            .fetch_all(p)
            .await
            .unwrap(),
        _ => unreachable!(),
    };
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
