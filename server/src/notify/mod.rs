//! Delivering notifications: a background job on every replica claims due deliveries from the
//! outbox (`store::notify`), sends each through its channel, and records the answer.
//!
//! Every message carries its delivery id (`X-Gatehouse-Delivery` on HTTP, `delivery` in JSON
//! bodies): after a sender dies mid-send, its lease runs out and the delivery is tried again,
//! so a receiver may see one delivery twice and can tell.

pub mod email;
pub mod http;
pub mod mqtt;

use app::logic::notify::ChannelKind;
use app::store::notify::{self, Due, Outcome};
use app::store::{now_ms, Db};
use std::time::Duration;

/// How long a sender holds a delivery before another may take it.
pub const LEASE: Duration = Duration::from_secs(60);
/// How long one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries claimed at once.
const BATCH: i64 = 20;

/// What a message says, whatever the channel.
pub struct Message {
    pub subject: String,
    pub text: String,
    /// The console's page of the event, absolute.
    pub url: Option<String>,
}

/// The words of a delivery: `[CRITICAL] Deployment failed: shop 1.4.2 to production`, the body,
/// how many repeats it carries, and where to look (approval requests say that approving needs
/// signing in).
pub fn message(d: &Due, public_url: &str) -> Message {
    let url = d
        .link
        .as_ref()
        .map(|l| format!("{}{l}", public_url.trim_end_matches('/')));
    let mut subject = format!("[{}] {}", d.severity.as_str().to_uppercase(), d.title);
    if let Some(p) = &d.project {
        subject = format!("{subject} ({p})");
    }
    let mut text = d.body.clone();
    if d.folded > 0 {
        text.push_str(&format!(
            "\n\n…and {} more like it since the first.",
            d.folded
        ));
    }
    if let Some(u) = &url {
        let verb = match d.kind {
            app::logic::notify::EventKind::ApprovalRequested => {
                "Approve or reject (sign-in required)"
            }
            _ => "Open in Gatehouse",
        };
        text.push_str(&format!("\n\n{verb}: {u}"));
    }
    Message { subject, text, url }
}

/// Sends one delivery and says how it went, within [`SEND_TIMEOUT`] and a few seconds (an
/// SMTP server's timeouts are per command).
pub async fn send(client: &reqwest::Client, d: &Due, public_url: &str) -> Outcome {
    let m = message(d, public_url);
    let sending = async {
        match d.channel_kind {
            ChannelKind::Slack => http::slack(client, d, &m).await,
            ChannelKind::Telegram => http::telegram(client, d, &m).await,
            ChannelKind::Webhook => http::webhook(client, d, &m).await,
            ChannelKind::Email => email::send(d, &m, SEND_TIMEOUT).await,
            ChannelKind::Mqtt => mqtt::send(d, &m, SEND_TIMEOUT).await,
        }
    };
    match tokio::time::timeout(SEND_TIMEOUT + Duration::from_secs(5), sending).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Retry {
            code: None,
            error: "timed out".into(),
        },
    }
}

/// Claims and sends due deliveries until none is due; each answer is recorded as soon as it
/// comes, well within the lease. Returns how many were tried.
pub async fn drain(
    db: &Db,
    client: &reqwest::Client,
    public_url: &str,
) -> Result<usize, app::store::StoreError> {
    drain_with_lease(db, client, public_url, LEASE).await
}

/// [`drain`] with claims held for `lease` (the client's timeout must be well within it).
pub async fn drain_with_lease(
    db: &Db,
    client: &reqwest::Client,
    public_url: &str,
    lease: Duration,
) -> Result<usize, app::store::StoreError> {
    let mut sent = 0;
    loop {
        let due = notify::claim(db, now_ms(), BATCH, lease.as_millis() as i64).await?;
        if due.is_empty() {
            return Ok(sent);
        }
        sent += due.len();
        futures::future::join_all(due.iter().map(|d| async move {
            let outcome = send(client, d, public_url).await;
            if let Outcome::Retry { error, .. } | Outcome::Fail { error, .. } = &outcome {
                // The channel's name and the error, never its URL or secret.
                tracing::warn!(channel = %d.channel, delivery = d.delivery_id, %error, "notification not delivered");
            }
            // Not recorded (the database is away): the lease runs out and it is tried again.
            if let Err(e) = notify::finish(db, d, &outcome, now_ms()).await {
                tracing::warn!(delivery = d.delivery_id, error = %e, "could not record a delivery's answer");
            }
        }))
        .await;
    }
}

/// The client deliveries go out with: no redirects followed (a receiver's URL is configured,
/// not discovered), every send bounded by `timeout`.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// Sends due notifications every second.
pub fn spawn_outbox(db: Db, public_url: String, lease: Duration) -> crate::jobs::JobHandle {
    crate::jobs::JobHandle::spawn(async move {
        // Every send ends well within the lease, so no answer is recorded after it ran out.
        let client = http_client(SEND_TIMEOUT.min(lease / 3));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = drain_with_lease(&db, &client, &public_url, lease).await {
                tracing::warn!(error = %e, "could not send notifications");
            }
        }
    })
}
