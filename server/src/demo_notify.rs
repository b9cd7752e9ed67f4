//! Demo notification channels from the seeds (Slack for deployment news, email for critical
//! alerts, Telegram for the on-call, MQTT for a Home Assistant dashboard, GitHub issues and a
//! `repository_dispatch` remediation hook), their routing rules, and a week of deliveries for
//! the demo's latest deployments, answered as real receivers would (a Slack 503 retried, a
//! GitHub token refused). The channels are left disabled: they point at placeholder addresses,
//! and a demo should send nothing anywhere until an admin points one at a real receiver.

use app::logic::notify::{ChannelKind, EventKind, Severity};
use app::model::DeployState;
use app::store::deployments::{self, ListFilter, Requester};
use app::store::notify::{self, NewEvent, NewRule, Outcome};
use app::store::tx::Tx;
use app::store::{projects, Db, StoreError};
use std::collections::BTreeMap;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct DemoChannel {
    name: &'static str,
    kind: ChannelKind,
    settings: &'static [(&'static str, &'static str)],
    secrets: &'static [(&'static str, &'static str)],
    /// Events (empty: all), minimum severity, project, quiet hours, group window (s).
    rule: (
        &'static [EventKind],
        Severity,
        Option<&'static str>,
        Option<(i64, i64)>,
        i64,
    ),
}

const CHANNELS: &[DemoChannel] = &[
    DemoChannel {
        name: "slack-deployments",
        kind: ChannelKind::Slack,
        settings: &[],
        secrets: &[("webhook_url", "https://hooks.slack.com/services/T00000000/B00000000/demo-placeholder")],
        rule: (&[], Severity::Info, None, None, 600),
    },
    DemoChannel {
        name: "email-critical",
        kind: ChannelKind::Email,
        settings: &[
            ("host", "smtp.example.com"),
            ("port", "587"),
            ("from", "gatehouse@example.com"),
            ("to", "team1@example.com,team2@example.com"),
            ("username", "gatehouse@example.com"),
        ],
        secrets: &[("password", "demo-app-password")],
        rule: (&[], Severity::Critical, None, None, 0),
    },
    DemoChannel {
        name: "telegram-oncall",
        kind: ChannelKind::Telegram,
        settings: &[("chat_id", "-1001234567890")],
        secrets: &[("bot_token", "123456:demo-placeholder")],
        rule: (
            &[
                EventKind::DeploymentFailed,
                EventKind::RollbackTriggered,
                EventKind::RollbackFinished,
                EventKind::ApprovalRequested,
            ],
            Severity::Info,
            Some("payments"),
            Some((22 * 60, 7 * 60)),
            0,
        ),
    },
    DemoChannel {
        name: "home-assistant",
        kind: ChannelKind::Mqtt,
        settings: &[("host", "homeassistant.local"), ("topic", "gatehouse/{project}/{kind}")],
        secrets: &[],
        rule: (&[], Severity::Info, None, None, 0),
    },
    DemoChannel {
        name: "github-issues",
        kind: ChannelKind::Webhook,
        settings: &[
            ("url", "https://api.github.com/repos/acme/shop/issues"),
            ("template", "{\"title\": \"{{title}}\", \"body\": \"{{body}}\\n\\n{{url}}\", \"labels\": [\"gatehouse\", \"{{kind}}\"]}"),
        ],
        secrets: &[("authorization", "Bearer demo-placeholder-token")],
        rule: (&[EventKind::DeploymentFailed], Severity::Warning, Some("shop"), None, 0),
    },
    DemoChannel {
        name: "remediation-dispatch",
        kind: ChannelKind::Webhook,
        settings: &[
            ("url", "https://api.github.com/repos/acme/shop/dispatches"),
            ("template", "{\"event_type\": \"gatehouse.{{kind}}\", \"client_payload\": {\"delivery\": \"{{id}}\", \"project\": \"{{project}}\", \"title\": \"{{title}}\", \"url\": \"{{url}}\"}}"),
        ],
        secrets: &[
            ("authorization", "Bearer demo-placeholder-token"),
            ("hmac_key", "demo-signing-key"),
        ],
        rule: (&[EventKind::RollbackTriggered], Severity::Warning, Some("shop"), None, 0),
    },
];

/// How the placeholder receivers "answer" a try, so the log reads as it would in use.
fn answer(channel: &str, attempt: i64, n: usize) -> Outcome {
    match (channel, attempt) {
        ("slack-deployments", 1) if n % 5 == 2 => Outcome::Retry {
            code: Some(503),
            error: "HTTP 503: service unavailable".into(),
        },
        ("github-issues", _) if n % 2 == 0 => Outcome::Fail {
            code: Some(401),
            error: "HTTP 401: {\"message\":\"Bad credentials\"}".into(),
        },
        ("email-critical", _) => Outcome::Delivered { code: Some(250) },
        ("home-assistant", _) => Outcome::Delivered { code: None },
        _ => Outcome::Delivered { code: Some(200) },
    }
}

/// Creates the channels and rules and a week of deliveries; returns how many deliveries. A
/// database that has channels already is left alone (its outbox is not the demo's to answer).
pub async fn generate(db: &Db, now: i64) -> Result<usize, StoreError> {
    if !notify::channels(db).await?.is_empty() {
        return Ok(0);
    }
    let by = Requester {
        user_id: None,
        name: "demo".into(),
        ip: None,
    };
    let mut ids = Vec::new();
    for c in CHANNELS {
        let id = notify::create_channel(db, c.name, c.kind, &map(c.settings), &map(c.secrets), &by)
            .await?;
        let (events, min, project, quiet, window) = c.rule;
        notify::create_rule(
            db,
            &NewRule {
                channel_id: id,
                project: project.map(String::from),
                events: events.to_vec(),
                min_severity: min,
                quiet,
                group_window_s: window,
            },
            &by,
        )
        .await?;
        ids.push(id);
    }
    // The week's finished deployments, oldest first, as their events.
    let mut recent = deployments::list(
        db,
        &ListFilter {
            project: None,
            environment: None,
            state: None,
            pending: false,
            before_id: None,
            limit: 200,
        },
    )
    .await?;
    // Finished a day ago or earlier: everything they raise has come due by now (quiet hours
    // last at most a day), so no demo delivery is left waiting for a real receiver.
    recent.retain(|d| {
        d.finished_at
            .is_some_and(|f| f > now - 7 * 86_400_000 && f < now - 86_400_000)
    });
    recent.sort_by_key(|d| d.finished_at);
    let ids_of: BTreeMap<String, i64> = projects::list(db)
        .await?
        .into_iter()
        .map(|p| (p.slug, p.id))
        .collect();
    let mut names: BTreeMap<i64, &str> = BTreeMap::new();
    for (id, c) in ids.iter().zip(CHANNELS) {
        names.insert(*id, c.name);
    }
    let mut n = 0;
    for d in recent.iter().take(24) {
        let at = d.finished_at.unwrap_or(now);
        let (kind, severity, verb) = match d.state {
            DeployState::Succeeded => (EventKind::DeploymentSucceeded, Severity::Info, "succeeded"),
            DeployState::Failed => (EventKind::DeploymentFailed, Severity::Critical, "failed"),
            DeployState::RolledBack => (
                EventKind::RollbackTriggered,
                Severity::Critical,
                "was rolled back",
            ),
            _ => continue,
        };
        let ev = NewEvent {
            project_id: ids_of.get(&d.project).copied(),
            kind,
            severity,
            title: format!("{} {} → {} {verb}", d.project, d.version, d.environment),
            body: format!("Requested by {}.", d.requested_by),
            link: Some(format!("/deployments/{}", d.id)),
        };
        let mut tx = Tx::write(db).await?;
        notify::raise(&mut tx, &ev, at).await?;
        tx.commit().await?;
        // What was due by a few seconds later goes out then, and a retry after its first wait
        // (held ones go when their quiet hours end, at a later event's turn).
        for (claim_at, answer_at) in [(at + 5_000, at + 6_000), (at + 17_000, at + 18_000)] {
            for due in notify::claim(db, claim_at, 100, 60_000).await? {
                let name = names.get(&due.channel_id).copied().unwrap_or("");
                n += 1;
                notify::finish(db, &due, &answer(name, due.attempt, n), answer_at).await?;
            }
        }
    }
    // The rest that came due since (the end of quiet hours, grouped repeats), and their
    // retries.
    for (claim_at, answer_at) in [(now - 60_000, now - 59_000), (now - 30_000, now - 29_000)] {
        for due in notify::claim(db, claim_at, 500, 60_000).await? {
            let name = names.get(&due.channel_id).copied().unwrap_or("");
            n += 1;
            notify::finish(db, &due, &answer(name, due.attempt, n), answer_at).await?;
        }
    }
    for (id, c) in ids.iter().zip(CHANNELS) {
        notify::update_channel(db, *id, &map(c.settings), &BTreeMap::new(), &[], false, &by)
            .await?;
    }
    Ok(notify::log(db, None, None, None, 500).await?.len())
}
