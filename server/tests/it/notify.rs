//! The notification hub on SQLite and Postgres, against real receivers started here: an HTTP
//! server that records what Slack, Telegram and webhook channels send (and checks the HMAC),
//! aiosmtpd (STARTTLS with a CA made for the test) and Debian's Mosquitto. Rules route by kind,
//! severity and project; quiet hours hold and grouping folds; a receiver that is down, slow or
//! answers 500 is tried again, and nothing is lost when the sender's process goes away; two
//! replicas never claim one delivery at once; events of the deployment state machine raise
//! notifications in their own transaction.

use crate::deploy_store::{ci, deploy, finished_run, simple_project};
use crate::helpers::{backends, connect, project_with_token, spawn_app, ADMIN_PASSWORD};
use app::logic::notify::{backoff, ChannelKind, EventKind, Severity};
use app::model::{DeliveryEntry, DeliveryStatus, Scope};
use app::store::deployments::{self, Requester};
use app::store::notify::{self, NewEvent, NewRule, Outcome};
use app::store::{audit, now_ms, Db, StoreError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_server::notify::{drain, http::signature, http_client};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn admin() -> Requester {
    Requester {
        user_id: None,
        name: "ada".into(),
        ip: None,
    }
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
}

/// An HTTP receiver that records every request and answers `status` after `delay`.
#[derive(Clone, Default)]
struct Recorder {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<u16>>,
    delay: Arc<Mutex<Duration>>,
}

impl Recorder {
    async fn start() -> (Recorder, String) {
        let rec = Recorder::default();
        *rec.status.lock().unwrap() = 200;
        let app = axum::Router::new()
            .fallback(
                |State(rec): State<Recorder>,
                 uri: axum::http::Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    rec.got.lock().unwrap().push(Received {
                        path: uri.path().to_string(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let delay = *rec.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    let code = *rec.status.lock().unwrap();
                    // Echoes the path, as some servers do in their error pages.
                    let answer = format!("no route for {}", uri.path());
                    (StatusCode::from_u16(code).unwrap(), answer)
                },
            )
            .with_state(rec.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (rec, url)
    }

    fn answer(&self, code: u16) {
        *self.status.lock().unwrap() = code;
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn event(project_id: Option<i64>, kind: EventKind, severity: Severity, title: &str) -> NewEvent {
    NewEvent {
        project_id,
        kind,
        severity,
        title: title.into(),
        body: format!("{title}, in detail"),
        link: Some("/deployments/7".into()),
    }
}

fn rule(channel_id: i64, events: &[EventKind], min: Severity) -> NewRule {
    NewRule {
        channel_id,
        project: None,
        events: events.to_vec(),
        min_severity: min,
        quiet: None,
        group_window_s: 0,
    }
}

async fn log_of(db: &Db, channel: i64) -> Vec<DeliveryEntry> {
    notify::log(db, Some(channel), None, None, 500)
        .await
        .unwrap()
}

/// One delivery of a channel's log.
async fn entry(db: &Db, channel: i64, id: i64) -> DeliveryEntry {
    let log = log_of(db, channel).await;
    log.into_iter()
        .find(|e| e.id == id)
        .expect("the delivery is in its channel's log")
}

const PUBLIC: &str = "https://gatehouse.example.com";

#[tokio::test]
async fn deliveries_are_routed_signed_retried_and_survive_the_sender() {
    for backend in backends().await {
        let label = backend.label;
        // A receiver per backend: a late request of one run cannot land in the other's.
        let (rec, base) = Recorder::start().await;
        let (db, _) = project_with_token(&backend, "shop", &[Scope::Read]).await;
        let (shop,): (i64,) =
            sqlx_one(&db, "select project_id from project where slug = 'shop'").await;
        rec.take();
        rec.answer(200);

        // Channels: bad ones are refused, naming the field.
        for (kind, settings, secrets, wants) in [
            (ChannelKind::Webhook, map(&[]), map(&[]), "url: required"),
            (
                ChannelKind::Webhook,
                map(&[("url", "ftp://x")]),
                map(&[]),
                "url: an http(s) URL",
            ),
            (
                ChannelKind::Slack,
                map(&[("webhook_url", "https://x")]),
                map(&[]),
                "no field `webhook_url`",
            ),
            (
                ChannelKind::Email,
                map(&[("host", "h"), ("from", "a@b"), ("to", "nobody")]),
                map(&[]),
                "`nobody` is not an email address",
            ),
            (
                ChannelKind::Webhook,
                map(&[("url", "http://x"), ("template", "{\"a\": {{nope}}}")]),
                map(&[]),
                "nope",
            ),
        ] {
            let e = notify::create_channel(&db, "bad", kind, &settings, &secrets, &admin())
                .await
                .unwrap_err();
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains(wants)),
                "{label}: {e} (wanted {wants})"
            );
        }
        let hook = notify::create_channel(
            &db,
            "ops-webhook",
            ChannelKind::Webhook,
            &map(&[("url", &format!("{base}/hook"))]),
            &map(&[
                ("hmac_key", "s3cret-key"),
                ("authorization", "Bearer tok-123"),
            ]),
            &admin(),
        )
        .await
        .unwrap();
        let e = notify::create_channel(
            &db,
            "ops-webhook",
            ChannelKind::Webhook,
            &map(&[("url", "http://x")]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{label}: {e}");
        let slack = notify::create_channel(
            &db,
            "slack-releases",
            ChannelKind::Slack,
            &map(&[]),
            &map(&[("webhook_url", &format!("{base}/services/T0/B0/xyz"))]),
            &admin(),
        )
        .await
        .unwrap();
        let telegram = notify::create_channel(
            &db,
            "tg-oncall",
            ChannelKind::Telegram,
            &map(&[("chat_id", "-100200"), ("base_url", &base)]),
            &map(&[("bot_token", "123:ABC")]),
            &admin(),
        )
        .await
        .unwrap();

        // Secrets never come back: only their names.
        let listed = notify::channels(&db).await.unwrap();
        let h = listed.iter().find(|c| c.id == hook).unwrap();
        assert_eq!(h.secrets_set, vec!["authorization", "hmac_key"], "{label}");
        assert!(!format!("{listed:?}").contains("s3cret"), "{label}");
        assert!(!format!("{listed:?}").contains("123:ABC"), "{label}");

        // Rules: the webhook takes everything from info up; Slack only failures, critical;
        // Telegram only payments' events.
        notify::create_rule(&db, &rule(hook, &[], Severity::Info), &admin())
            .await
            .unwrap();
        notify::create_rule(
            &db,
            &rule(slack, &[EventKind::DeploymentFailed], Severity::Critical),
            &admin(),
        )
        .await
        .unwrap();
        let mut payments_only = rule(telegram, &[], Severity::Info);
        payments_only.project = Some("payments".into());
        let e = notify::create_rule(&db, &payments_only, &admin())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::NotFound(m) if m.contains("payments")),
            "{label}: {e}"
        );
        payments_only.project = Some("shop".into());
        let tg_rule = notify::create_rule(&db, &payments_only, &admin())
            .await
            .unwrap();

        let failed = notify::raise_now(
            &db,
            &event(
                Some(shop),
                EventKind::DeploymentFailed,
                Severity::Critical,
                "shop 1.4.2 → production failed",
            ),
        )
        .await
        .unwrap()
        .expect("routed");
        let info = notify::raise_now(
            &db,
            &event(
                Some(shop),
                EventKind::ApprovalRequested,
                Severity::Info,
                "shop 1.4.3 → production awaits approval",
            ),
        )
        .await
        .unwrap()
        .expect("routed");
        notify::delete_rule(&db, tg_rule, &admin()).await.unwrap();
        // No rule takes an info event of no project to Slack or Telegram; the webhook takes it.
        let none = notify::raise_now(
            &db,
            &event(None, EventKind::DeploymentSucceeded, Severity::Info, "x"),
        )
        .await
        .unwrap();
        assert!(none.is_some(), "{label}");

        let client = http_client(Duration::from_secs(2));
        let sent = drain(&db, &client, PUBLIC).await.unwrap();
        assert_eq!(
            sent, 6,
            "{label}: webhook ×3, Slack ×1, Telegram ×2 (raised before its rule went)"
        );
        let got = rec.take();
        let hooks: Vec<&Received> = got.iter().filter(|r| r.path == "/hook").collect();
        assert_eq!(hooks.len(), 3, "{label}: {got:?}");
        for r in &hooks {
            let sig = r.headers["x-gatehouse-signature-256"].to_str().unwrap();
            assert_eq!(sig, signature(b"s3cret-key", r.body.as_bytes()), "{label}");
            assert_eq!(r.headers["authorization"], "Bearer tok-123", "{label}");
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(
                r.headers["x-gatehouse-delivery"].to_str().unwrap(),
                v["delivery"].to_string(),
                "{label}"
            );
        }
        let failed_body: serde_json::Value = hooks
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .find(|v| v["kind"] == "deployment.failed")
            .unwrap();
        assert_eq!(failed_body["severity"], "critical", "{label}");
        assert_eq!(failed_body["project"], "shop", "{label}");
        assert_eq!(
            failed_body["url"], "https://gatehouse.example.com/deployments/7",
            "{label}"
        );
        let slack_got: Vec<&Received> = got
            .iter()
            .filter(|r| r.path == "/services/T0/B0/xyz")
            .collect();
        assert_eq!(slack_got.len(), 1, "{label}");
        let text: serde_json::Value = serde_json::from_str(&slack_got[0].body).unwrap();
        assert!(
            text["text"]
                .as_str()
                .unwrap()
                .starts_with("*[CRITICAL] shop 1.4.2 → production failed (shop)*"),
            "{label}: {text}"
        );
        let tg: Vec<&Received> = got
            .iter()
            .filter(|r| r.path == "/bot123:ABC/sendMessage")
            .collect();
        assert_eq!(tg.len(), 2, "{label}: {got:?}");
        let msg: serde_json::Value = tg
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .find(|v| v["text"].as_str().unwrap().contains("awaits approval"))
            .unwrap();
        assert_eq!(msg["chat_id"], "-100200", "{label}");
        let approval_text = msg["text"].as_str().unwrap();
        assert!(
            approval_text.contains(
                "Approve or reject (sign-in required): https://gatehouse.example.com/deployments/7"
            ),
            "{label}: {approval_text}"
        );
        for e in log_of(&db, hook).await {
            assert_eq!(
                (e.status, e.attempts, e.last_code),
                (DeliveryStatus::Delivered, 1, Some(200)),
                "{label}"
            );
        }
        assert_eq!(
            log_of(&db, slack).await[0].notification_id,
            failed,
            "{label}"
        );
        let _ = info;
        // Nothing is due now: a second drain sends nothing.
        assert_eq!(drain(&db, &client, PUBLIC).await.unwrap(), 0, "{label}");

        // A receiver answering 500 is tried again after a backoff; a 404 is not.
        rec.answer(500);
        notify::raise_now(
            &db,
            &event(
                Some(shop),
                EventKind::GateFailed,
                Severity::Warning,
                "gates fail",
            ),
        )
        .await
        .unwrap();
        let before = now_ms();
        drain(&db, &client, PUBLIC).await.unwrap();
        let e = &log_of(&db, hook).await[0];
        assert_eq!(
            (e.status, e.attempts, e.last_code),
            (DeliveryStatus::Pending, 1, Some(500)),
            "{label}"
        );
        assert!(
            e.last_error.as_deref().unwrap().starts_with("HTTP 500"),
            "{label}"
        );
        assert!(
            e.next_at >= before + backoff(1) && e.next_at <= now_ms() + backoff(1),
            "{label}"
        );
        let retried = e.id;

        // The sending process goes away ("restart"): a new pool on the same database picks the
        // delivery up once it is due; "retry now" makes it due at once, audited.
        drop(db);
        let db = connect(&backend).await;
        assert_eq!(
            drain(&db, &client, PUBLIC).await.unwrap(),
            0,
            "{label}: not due yet"
        );
        notify::retry_now(&db, retried, &admin()).await.unwrap();
        rec.answer(200);
        assert_eq!(drain(&db, &client, PUBLIC).await.unwrap(), 1, "{label}");
        let e = &log_of(&db, hook).await[0];
        assert_eq!(
            (e.id, e.status, e.last_code),
            (retried, DeliveryStatus::Delivered, Some(200)),
            "{label}"
        );
        let hits: Vec<Received> = rec.take();
        assert_eq!(hits.len(), 2, "{label}: the 500 try and the delivered one");
        assert_eq!(
            hits[0].headers["x-gatehouse-delivery"], hits[1].headers["x-gatehouse-delivery"],
            "{label}"
        );
        let e = notify::retry_now(&db, retried, &admin()).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict(_)),
            "{label}: a delivered one is not sent again"
        );
        let trail = audit::for_target(&db, "channel:ops-webhook", 10)
            .await
            .unwrap();
        assert!(trail.iter().any(|t| t.action == "notify.retry"), "{label}");
        assert!(
            !format!("{trail:?}").contains("s3cret"),
            "{label}: secrets stay out of the audit log"
        );

        rec.answer(404);
        notify::raise_now(
            &db,
            &event(
                Some(shop),
                EventKind::GateFailed,
                Severity::Warning,
                "gates fail again",
            ),
        )
        .await
        .unwrap();
        drain(&db, &client, PUBLIC).await.unwrap();
        let e = &log_of(&db, hook).await[0];
        assert_eq!(
            (e.status, e.last_code),
            (DeliveryStatus::Failed, Some(404)),
            "{label}"
        );
        rec.take();

        // Slow (past the client's timeout) and down receivers are tried again.
        rec.answer(200);
        *rec.delay.lock().unwrap() = Duration::from_secs(4);
        notify::raise_now(
            &db,
            &event(Some(shop), EventKind::GateFailed, Severity::Warning, "slow"),
        )
        .await
        .unwrap();
        drain(&db, &client, PUBLIC).await.unwrap();
        let e = &log_of(&db, hook).await[0];
        assert_eq!(
            (e.status, e.last_error.as_deref()),
            (DeliveryStatus::Pending, Some("timed out")),
            "{label}"
        );
        *rec.delay.lock().unwrap() = Duration::ZERO;
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        notify::update_channel(
            &db,
            hook,
            &map(&[("url", &format!("http://{closed}/hook"))]),
            &map(&[]),
            &[],
            true,
            &admin(),
        )
        .await
        .unwrap();
        notify::retry_now(&db, e.id, &admin()).await.unwrap();
        drain(&db, &client, PUBLIC).await.unwrap();
        let e = &log_of(&db, hook).await[0];
        assert_eq!(
            (e.status, e.last_error.as_deref()),
            (DeliveryStatus::Pending, Some("could not connect")),
            "{label}"
        );
        // The update kept the secrets it was not given; clearing one removes it.
        let h = notify::channels(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.id == hook)
            .unwrap();
        assert_eq!(h.secrets_set, vec!["authorization", "hmac_key"], "{label}");
        notify::update_channel(
            &db,
            hook,
            &map(&[("url", &format!("{base}/hook"))]),
            &map(&[]),
            &["authorization".into()],
            true,
            &admin(),
        )
        .await
        .unwrap();
        let h = notify::channels(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.id == hook)
            .unwrap();
        assert_eq!(h.secrets_set, vec!["hmac_key"], "{label}");
        rec.take();

        // A receiver that echoes the request's path (which holds Telegram's bot token) does
        // not get the token into the log.
        rec.answer(404);
        let test = notify::send_test(&db, telegram, &admin()).await.unwrap();
        drain(&db, &client, PUBLIC).await.unwrap();
        let e = entry(&db, telegram, test).await;
        assert_eq!(
            (e.status, e.last_code),
            (DeliveryStatus::Failed, Some(404)),
            "{label}"
        );
        let error = e.last_error.unwrap();
        assert!(
            error.contains("no route for /[redacted]") && !error.contains("123:ABC"),
            "{label}: {error}"
        );

        // A disabled channel takes no test and no retry; what waits for it is not sent.
        notify::update_channel(
            &db,
            telegram,
            &map(&[("chat_id", "-100200"), ("base_url", &base)]),
            &map(&[]),
            &[],
            false,
            &admin(),
        )
        .await
        .unwrap();
        let e = notify::send_test(&db, telegram, &admin())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Conflict(m) if m.contains("disabled")),
            "{label}: {e}"
        );
        let e = notify::retry_now(&db, test, &admin()).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Conflict(m) if m.contains("disabled")),
            "{label}: {e}"
        );
        // Credentials in a shown URL, and MQTT wildcards, are refused.
        for (kind, settings, wants) in [
            (
                ChannelKind::Webhook,
                map(&[("url", "https://user:pw@example.com/x")]),
                "no user or password",
            ),
            (
                ChannelKind::Mqtt,
                map(&[("host", "broker"), ("topic", "gatehouse/#")]),
                "wildcards",
            ),
        ] {
            let e = notify::create_channel(&db, "bad", kind, &settings, &map(&[]), &admin())
                .await
                .unwrap_err();
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains(wants)),
                "{label}: {e}"
            );
        }
        rec.take();
    }
}

async fn sqlx_one(db: &Db, sql: &str) -> (i64,) {
    let mut tx = app::store::tx::Tx::read(db).await.unwrap();
    let row: (i64,) = tx.one(sql, app::vals![]).await.unwrap();
    tx.commit().await.unwrap();
    row
}

#[tokio::test]
async fn quiet_hours_hold_grouping_folds_and_replicas_never_share_a_delivery() {
    for backend in backends().await {
        let label = backend.label;
        let (db, _) = project_with_token(&backend, "shop", &[Scope::Read]).await;
        let (shop,): (i64,) =
            sqlx_one(&db, "select project_id from project where slug = 'shop'").await;
        let quiet = notify::create_channel(
            &db,
            "night",
            ChannelKind::Webhook,
            &map(&[("url", "http://127.0.0.1:9/x")]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        let grouped = notify::create_channel(
            &db,
            "grouped",
            ChannelKind::Webhook,
            &map(&[("url", "http://127.0.0.1:9/y")]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        // Quiet all day but one minute, an hour from now.
        let now = now_ms();
        let minute = (now / 60_000) % 1440;
        let mut r = rule(
            quiet,
            &[EventKind::DeploymentStarted, EventKind::RollbackTriggered],
            Severity::Info,
        );
        r.quiet = Some(((minute + 61) % 1440, (minute + 60) % 1440));
        notify::create_rule(&db, &r, &admin()).await.unwrap();
        let mut g = rule(grouped, &[EventKind::HighRiskAlert], Severity::Info);
        g.group_window_s = 600;
        notify::create_rule(&db, &g, &admin()).await.unwrap();

        let mut tx = app::store::tx::Tx::write(&db).await.unwrap();
        notify::raise(
            &mut tx,
            &event(
                Some(shop),
                EventKind::DeploymentStarted,
                Severity::Info,
                "started",
            ),
            now,
        )
        .await
        .unwrap();
        notify::raise(
            &mut tx,
            &event(
                Some(shop),
                EventKind::RollbackTriggered,
                Severity::Critical,
                "rollback",
            ),
            now,
        )
        .await
        .unwrap();
        // Two alerts at once: the second rides with the first, which has not gone yet.
        for i in 0..2 {
            notify::raise(
                &mut tx,
                &event(
                    Some(shop),
                    EventKind::HighRiskAlert,
                    Severity::Warning,
                    &format!("risky run {i}"),
                ),
                now + i,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();

        let night = log_of(&db, quiet).await;
        let held = night
            .iter()
            .find(|e| e.kind == EventKind::DeploymentStarted)
            .unwrap();
        let end_of_quiet = (now - now.rem_euclid(86_400_000)) + ((minute + 60) % 1440) * 60_000;
        let end_of_quiet = if end_of_quiet <= now {
            end_of_quiet + 86_400_000
        } else {
            end_of_quiet
        };
        assert_eq!(
            held.next_at, end_of_quiet,
            "{label}: held until the quiet hours end"
        );
        let critical = night
            .iter()
            .find(|e| e.kind == EventKind::RollbackTriggered)
            .unwrap();
        assert_eq!(
            critical.next_at, now,
            "{label}: critical events go out at once"
        );

        // A claimed delivery whose sender dies is taken again once its lease ends; the dead
        // sender's late answer records nothing.
        let first = notify::claim(&db, now, 10, 60_000).await.unwrap();
        let mut ids: Vec<i64> = first.iter().map(|d| d.delivery_id).collect();
        ids.sort();
        assert_eq!(
            ids.len(),
            2,
            "{label}: the critical one and the first alert: {ids:?}"
        );
        assert!(
            notify::claim(&db, now + 1000, 10, 60_000)
                .await
                .unwrap()
                .is_empty(),
            "{label}: leased"
        );
        // "Retry now" cannot take a delivery a sender holds.
        let e = notify::retry_now(&db, ids[0], &admin()).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Conflict(m) if m.contains("is sending")),
            "{label}: {e}"
        );
        let again = notify::claim(&db, now + 61_000, 10, 60_000).await.unwrap();
        let mut again_ids: Vec<i64> = again.iter().map(|d| d.delivery_id).collect();
        again_ids.sort();
        assert_eq!(again_ids, ids, "{label}");
        assert!(again.iter().all(|d| d.attempt == 2), "{label}");
        notify::finish(
            &db,
            &first[0],
            &Outcome::Delivered { code: Some(200) },
            now + 62_000,
        )
        .await
        .unwrap();
        let e = entry(&db, first[0].channel_id, first[0].delivery_id).await;
        assert_eq!(
            e.status,
            DeliveryStatus::Sending,
            "{label}: the stale try recorded nothing"
        );
        // The later try answers 503; "retry now"; a third try is claimed. The first, dead
        // sender's answer still records nothing: tries are counted on, never reset.
        let second = again
            .iter()
            .find(|d| d.delivery_id == first[0].delivery_id)
            .unwrap()
            .clone();
        let second = &second;
        let busy = Outcome::Retry {
            code: Some(503),
            error: "HTTP 503: busy".into(),
        };
        notify::finish(&db, second, &busy, now + 62_000)
            .await
            .unwrap();
        notify::retry_now(&db, second.delivery_id, &admin())
            .await
            .unwrap();
        let third = notify::claim(&db, now + 62_000, 10, 60_000).await.unwrap();
        let third: Vec<_> = third
            .into_iter()
            .filter(|d| d.delivery_id == second.delivery_id)
            .collect();
        assert_eq!((third[0].attempt, third[0].tries), (3, 1), "{label}");
        notify::finish(
            &db,
            &first[0],
            &Outcome::Delivered { code: Some(200) },
            now + 63_000,
        )
        .await
        .unwrap();
        let e = entry(&db, first[0].channel_id, first[0].delivery_id).await;
        assert_eq!(
            e.status,
            DeliveryStatus::Sending,
            "{label}: still the third try's"
        );
        let again: Vec<_> = again
            .into_iter()
            .filter(|d| d.delivery_id != second.delivery_id)
            .chain(third)
            .collect();
        for d in &again {
            notify::finish(
                &db,
                d,
                &Outcome::Delivered { code: Some(200) },
                now + 62_000,
            )
            .await
            .unwrap();
        }
        let e = entry(&db, first[0].channel_id, first[0].delivery_id).await;
        assert_eq!(e.status, DeliveryStatus::Delivered, "{label}");

        // Two more alerts within the ten minutes after the first went: they wait for the
        // window's end, as one message.
        let mut tx = app::store::tx::Tx::write(&db).await.unwrap();
        for i in 2..4 {
            notify::raise(
                &mut tx,
                &event(
                    Some(shop),
                    EventKind::HighRiskAlert,
                    Severity::Warning,
                    &format!("risky run {i}"),
                ),
                now + 62_000 + i,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let mut alerts = log_of(&db, grouped).await;
        alerts.reverse();
        let got: Vec<(DeliveryStatus, i64, Option<i64>, i64)> = alerts
            .iter()
            .map(|e| (e.status, e.next_at, e.grouped_into, e.folded))
            .collect();
        assert_eq!(
            got,
            vec![
                (DeliveryStatus::Delivered, now, None, 1),
                (DeliveryStatus::Grouped, now + 1, Some(alerts[0].id), 0),
                (DeliveryStatus::Pending, now + 600_000, None, 1),
                (DeliveryStatus::Grouped, now + 62_003, Some(alerts[2].id), 0),
            ],
            "{label}"
        );

        // Two replicas (two pools) claim 300 deliveries at once: each is taken exactly once.
        let many = notify::create_channel(
            &db,
            "many",
            ChannelKind::Webhook,
            &map(&[("url", "http://127.0.0.1:9/z")]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        notify::create_rule(
            &db,
            &rule(many, &[EventKind::DeploymentSucceeded], Severity::Info),
            &admin(),
        )
        .await
        .unwrap();
        let mut tx = app::store::tx::Tx::write(&db).await.unwrap();
        for i in 0..300 {
            notify::raise(
                &mut tx,
                &event(
                    Some(shop),
                    EventKind::DeploymentSucceeded,
                    Severity::Info,
                    &format!("ok {i}"),
                ),
                now,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let other = connect(&backend).await;
        let claimer = |db: Db| async move {
            let mut mine = Vec::new();
            loop {
                let got = notify::claim(&db, now + 1000, 7, 600_000).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(
                    got.into_iter()
                        .filter(|d| d.channel_id == many)
                        .map(|d| d.delivery_id),
                );
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(claimer(db.clone())),
            tokio::spawn(claimer(other.clone()))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut all: Vec<i64> = a.iter().chain(b.iter()).copied().collect();
        all.sort();
        let total = all.len();
        all.dedup();
        assert_eq!(
            (total, all.len()),
            (300, 300),
            "{label}: {} + {} claims",
            a.len(),
            b.len()
        );
    }
}

#[tokio::test]
async fn the_deployment_state_machine_raises_notifications_with_links() {
    for backend in backends().await {
        let label = backend.label;
        let db = connect(&backend).await;
        let project_id = simple_project(&db, "shop", "production", 1).await;
        let (rec, base) = Recorder::start().await;
        let hook = notify::create_channel(
            &db,
            "all",
            ChannelKind::Webhook,
            &map(&[("url", &format!("{base}/hook"))]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        notify::create_rule(&db, &rule(hook, &[], Severity::Info), &admin())
            .await
            .unwrap();
        // Gates fail first (no run yet), then pass and the release awaits approval.
        let (id, _) =
            deployments::request(&db, "shop", &deploy("production", "1.0.0", COMMIT), &ci())
                .await
                .unwrap();
        finished_run(&db, project_id, "100", COMMIT, 0.0).await;
        let log = log_of(&db, hook).await;
        let kinds: Vec<EventKind> = log.iter().rev().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![EventKind::GateFailed, EventKind::ApprovalRequested],
            "{label}: {log:?}"
        );
        let link = format!("/deployments/{id}");
        assert!(
            log.iter().all(|e| e.link.as_deref() == Some(link.as_str())),
            "{label}"
        );
        drain(&db, &http_client(Duration::from_secs(2)), PUBLIC)
            .await
            .unwrap();
        let got = rec.take();
        assert_eq!(got.len(), 2, "{label}");
        let v: serde_json::Value = got
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
            .find(|v| v["kind"] == "approval.requested")
            .unwrap();
        assert_eq!(v["url"], format!("{PUBLIC}/deployments/{id}"), "{label}");
        // A change that fails after raising keeps nothing: the notification lives and dies with
        // the transaction of its event.
        let mut tx = app::store::tx::Tx::write(&db).await.unwrap();
        notify::raise(
            &mut tx,
            &event(
                Some(project_id),
                EventKind::DeploymentFailed,
                Severity::Critical,
                "rolled back with the change",
            ),
            now_ms(),
        )
        .await
        .unwrap();
        drop(tx);
        assert_eq!(log_of(&db, hook).await.len(), 2, "{label}");
    }
}

/// An admin manages channels and rules through the server functions; viewers may not; the
/// page lists the channel without its secret, and the log shows the test delivered.
#[tokio::test]
async fn admins_manage_channels_in_the_browser_and_viewers_cannot() {
    let (rec, base) = Recorder::start().await;
    let backend = backends().await.remove(0);
    let app = spawn_app(&backend).await;
    let admin_client = app.signed_in("admin", ADMIN_PASSWORD).await;
    let form = [
        ("name", "release-hook".to_string()),
        ("kind", "webhook".to_string()),
        ("settings[url]", format!("{base}/hook")),
        ("settings[template]", String::new()),
        ("secrets[hmac_key]", "k3y-never-shown".to_string()),
    ];
    let res = admin_client
        .post(app.url("/api/notify/channel-create"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id: i64 = res.json().await.unwrap();
    // Bad input names the field.
    let res = admin_client
        .post(app.url("/api/notify/channel-create"))
        .form(&[
            ("name", "x"),
            ("kind", "pager"),
            ("settings[url]", "http://x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("kind: slack, telegram, email, mqtt or webhook"));
    let res = admin_client
        .post(app.url("/api/notify/rule-create"))
        .form(&[
            ("channel_id", id.to_string().as_str()),
            ("project", ""),
            ("events[approval.requested]", "on"),
            ("events[deployment.failed]", "on"),
            ("min_severity", "info"),
            ("quiet_from", "22:00"),
            ("quiet_to", "07:30"),
            ("group_minutes", "5"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    for (from, to, wants) in [
        ("25:00", "07:00", "quiet from: a time of day"),
        ("07:00", "07:00", "the same time"),
        ("22:00", "", "give both"),
    ] {
        let res = admin_client
            .post(app.url("/api/notify/rule-create"))
            .form(&[
                ("channel_id", id.to_string().as_str()),
                ("project", ""),
                ("min_severity", "info"),
                ("quiet_from", from),
                ("quiet_to", to),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let text = res.text().await.unwrap();
        assert!(text.contains(wants), "{text}");
    }
    let res = admin_client
        .post(app.url("/api/notify/channel-test"))
        .form(&[("id", id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    app.add_user(&admin_client, "vic", "viewer", "viewer-password-1")
        .await;
    let viewer = app.signed_in("vic", "viewer-password-1").await;
    for (path, body) in [
        ("/api/notify/page", vec![]),
        ("/api/notify/channel-test", vec![("id", id.to_string())]),
        ("/api/notify/channel-delete", vec![("id", id.to_string())]),
    ] {
        let res = viewer.post(app.url(path)).form(&body).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let anonymous = app
        .client()
        .post(app.url("/api/notify/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The outbox delivers the test; the page shows it, and never the secret.
    let db = connect(&backend).await;
    drain(&db, &http_client(Duration::from_secs(2)), PUBLIC)
        .await
        .unwrap();
    let got = rec.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-gatehouse-event"], "test");
    let page = admin_client
        .get(app.url("/settings/notifications"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("release-hook"), "the channel is listed");
    assert!(page.contains("hmac_key set"), "the secret's name is shown");
    assert!(page.contains("22:00–07:30 UTC"), "the rule's quiet hours");
    assert!(
        page.contains("data-status=\"delivered\""),
        "the test is in the log"
    );
    assert!(!page.contains("k3y-never-shown"), "the secret is not");
}

/// Email through aiosmtpd with STARTTLS (a CA and a server certificate made here) and MQTT
/// through Mosquitto. Both are installed by `scripts/setup`; CI (GATEHOUSE_REQUIRE_POSTGRES=1)
/// fails when they are missing instead of skipping.
#[tokio::test]
async fn email_goes_over_starttls_and_mqtt_reaches_the_broker() {
    let python = std::env::var("GATEHOUSE_TEST_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/gatehouse/pyenv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let mosquitto = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let have_smtpd = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    let required = std::env::var("GATEHOUSE_REQUIRE_POSTGRES").as_deref() == Ok("1");
    let (Some(mosquitto), true) = (mosquitto, have_smtpd) else {
        assert!(
            !required,
            "aiosmtpd ({python}) or mosquitto is missing: run scripts/setup"
        );
        eprintln!("skipped: aiosmtpd or mosquitto is missing (run scripts/setup)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A CA, and a certificate for localhost signed by it.
    let sh = |args: &str| {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=gatehouse-test-ca");
    sh("openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost");
    std::fs::write(
        d.join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh("openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext");
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let smtp_port = free_port();
    let maildir = d.join("mail");
    let _smtpd = Kill(
        std::process::Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{smtp_port}"),
            ])
            .arg("--tlscert")
            .arg(d.join("srv.pem"))
            .arg("--tlskey")
            .arg(d.join("srv.key"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mqtt_port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!("listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let _broker = Kill(
        std::process::Command::new(mosquitto)
            .arg("-c")
            .arg(d.join("mosquitto.conf"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    for port in [smtp_port, mqtt_port] {
        let mut up = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "port {port} did not open");
    }
    // A subscriber sees what Gatehouse publishes.
    let mut opts = rumqttc::MqttOptions::new("test-sub", "127.0.0.1", mqtt_port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (sub, mut events) = rumqttc::AsyncClient::new(opts, 10);
    sub.subscribe("gatehouse/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx_msg, mut rx_msg) = tokio::sync::mpsc::unbounded_channel();
    let subscribed = Arc::new(tokio::sync::Notify::new());
    let sub_ready = subscribed.clone();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => sub_ready.notify_one(),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = tx_msg.send((
                        p.topic.clone(),
                        String::from_utf8_lossy(&p.payload).into_owned(),
                    ));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed.notified())
        .await
        .expect("subscribed");

    for backend in backends().await {
        let label = backend.label;
        let (db, _) = project_with_token(&backend, "shop", &[Scope::Read]).await;
        let (shop,): (i64,) =
            sqlx_one(&db, "select project_id from project where slug = 'shop'").await;
        let ca = d.join("ca.pem").display().to_string();
        let port = smtp_port.to_string();
        let email = notify::create_channel(
            &db,
            "mail",
            ChannelKind::Email,
            &map(&[
                ("host", "localhost"),
                ("port", &port),
                ("from", "gatehouse@example.com"),
                ("to", "leads@example.com, oncall@example.com"),
                ("ca_file", &ca),
            ]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        // The same server without the CA: the certificate is not trusted, and nothing is sent.
        let untrusting = notify::create_channel(
            &db,
            "mail-no-ca",
            ChannelKind::Email,
            &map(&[
                ("host", "localhost"),
                ("port", &port),
                ("from", "gatehouse@example.com"),
                ("to", "leads@example.com"),
            ]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        let mqtt_port_s = mqtt_port.to_string();
        let mqtt = notify::create_channel(
            &db,
            "home-assistant",
            ChannelKind::Mqtt,
            &map(&[("host", "127.0.0.1"), ("port", &mqtt_port_s)]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        for ch in [email, untrusting, mqtt] {
            notify::create_rule(
                &db,
                &rule(ch, &[EventKind::RollbackTriggered], Severity::Warning),
                &admin(),
            )
            .await
            .unwrap();
        }
        notify::raise_now(
            &db,
            &event(
                Some(shop),
                EventKind::RollbackTriggered,
                Severity::Critical,
                &format!("rollback on {label}"),
            ),
        )
        .await
        .unwrap();
        drain(&db, &http_client(Duration::from_secs(5)), PUBLIC)
            .await
            .unwrap();
        let e = &log_of(&db, email).await[0];
        assert_eq!(
            (e.status, e.last_code),
            (DeliveryStatus::Delivered, Some(250)),
            "{label}: {e:?}"
        );
        let e = &log_of(&db, untrusting).await[0];
        assert_ne!(e.status, DeliveryStatus::Delivered, "{label}: {e:?}");
        assert!(
            e.last_error.as_deref().unwrap_or("").contains("SMTP"),
            "{label}: {e:?}"
        );
        let e = &log_of(&db, mqtt).await[0];
        assert_eq!(e.status, DeliveryStatus::Delivered, "{label}: {e:?}");

        let (topic, payload) = tokio::time::timeout(Duration::from_secs(5), rx_msg.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(topic, "gatehouse/shop/rollback.triggered", "{label}");
        let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(v["title"], format!("rollback on {label}"), "{label}");
        assert_eq!(v["severity"], "critical", "{label}");

        // The message in the mailbox, to both recipients.
        let mut found = None;
        for _ in 0..50 {
            if let Ok(rd) = std::fs::read_dir(maildir.join("new")) {
                for f in rd.flatten() {
                    let text = std::fs::read_to_string(f.path()).unwrap();
                    if text.contains(&format!("rollback on {label}")) {
                        found = Some(text);
                    }
                }
            }
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = found.unwrap_or_else(|| panic!("{label}: no mail"));
        assert!(
            text.contains(&format!("Subject: [CRITICAL] rollback on {label} (shop)")),
            "{label}: {text}"
        );
        assert!(
            text.contains("leads@example.com") && text.contains("oncall@example.com"),
            "{label}"
        );
        assert!(
            text.contains("https://gatehouse.example.com/deployments/7"),
            "{label}"
        );
    }
}

/// A child process stopped when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo's channels are valid for their kinds, routed, and left disabled, on both backends.
#[tokio::test]
async fn the_demo_channels_are_valid_routed_and_disabled() {
    for backend in backends().await {
        let label = backend.label;
        let (db, _) = project_with_token(&backend, "shop", &[Scope::Read]).await;
        let (_, _) = project_with_token(&backend, "payments", &[Scope::Read]).await;
        gatehouse_server::demo_notify::generate(&db, now_ms())
            .await
            .unwrap();
        let channels = notify::channels(&db).await.unwrap();
        assert_eq!(channels.len(), 6, "{label}");
        assert!(channels.iter().all(|c| !c.enabled), "{label}");
        let kinds: std::collections::BTreeSet<&str> =
            channels.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds.len(), 5, "{label}: every kind of channel");
        assert_eq!(notify::rules(&db).await.unwrap().len(), 6, "{label}");
        // A delivery left waiting past its day fails, saying why and what it last heard.
        let (shop,): (i64,) =
            sqlx_one(&db, "select project_id from project where slug = 'shop'").await;
        let hook = notify::create_channel(
            &db,
            "late",
            ChannelKind::Webhook,
            &map(&[("url", "http://127.0.0.1:9/late")]),
            &map(&[]),
            &admin(),
        )
        .await
        .unwrap();
        notify::create_rule(&db, &rule(hook, &[], Severity::Info), &admin())
            .await
            .unwrap();
        let at = now_ms() - 2 * 86_400_000;
        let mut tx = app::store::tx::Tx::write(&db).await.unwrap();
        let ev = event(Some(shop), EventKind::GateFailed, Severity::Warning, "old");
        notify::raise(&mut tx, &ev, at).await.unwrap();
        tx.commit().await.unwrap();
        let due = notify::claim(&db, at, 10, 60_000).await.unwrap();
        let retry = Outcome::Retry {
            code: Some(503),
            error: "HTTP 503: busy".into(),
        };
        notify::finish(&db, &due[0], &retry, at).await.unwrap();
        assert!(
            notify::claim(&db, now_ms(), 10, 60_000)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );
        let e = &log_of(&db, hook).await[0];
        assert_eq!(e.status, DeliveryStatus::Failed, "{label}");
        assert_eq!(
            e.last_error.as_deref(),
            Some("not sent within a day; last answer: HTTP 503: busy"),
            "{label}"
        );
    }
}
