//! Channels over HTTP: Slack incoming webhooks, Telegram's Bot API and signed webhooks.

use super::Message;
use app::logic::notify::render;
use app::store::notify::{Due, Outcome};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// What an answer means for the delivery: 2xx delivered; 408, 429 and 5xx tried again; other
/// codes failed (the receiver refuses it and would go on refusing).
fn judge(
    res: Result<reqwest::Response, reqwest::Error>,
) -> impl std::future::Future<Output = Outcome> {
    async move {
        match res {
            Ok(r) => {
                let code = r.status().as_u16() as i64;
                if r.status().is_success() {
                    return Outcome::Delivered { code: Some(code) };
                }
                let text: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                let error = format!("HTTP {code}: {text}");
                if code == 408 || code == 429 || code >= 500 {
                    Outcome::Retry {
                        code: Some(code),
                        error,
                    }
                } else {
                    Outcome::Fail {
                        code: Some(code),
                        error,
                    }
                }
            }
            // Refused, reset, timed out: the receiver may be back later. The error's text can
            // hold the URL; only its kind is kept.
            Err(e) => Outcome::Retry {
                code: None,
                error: if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "could not connect".into()
                } else {
                    "request failed".into()
                },
            },
        }
    }
}

fn missing(field: &str) -> Outcome {
    Outcome::Fail {
        code: None,
        error: format!("the channel has no `{field}`"),
    }
}

pub async fn slack(client: &reqwest::Client, d: &Due, m: &Message) -> Outcome {
    let Some(url) = d.secrets.get("webhook_url") else {
        return missing("webhook_url");
    };
    let body = json!({"text": format!("*{}*\n{}", m.subject, m.text)});
    judge(
        client
            .post(url)
            .header("X-Gatehouse-Delivery", d.delivery_id.to_string())
            .json(&body)
            .send()
            .await,
    )
    .await
}

pub async fn telegram(client: &reqwest::Client, d: &Due, m: &Message) -> Outcome {
    let Some(token) = d.secrets.get("bot_token") else {
        return missing("bot_token");
    };
    let Some(chat) = d.settings.get("chat_id") else {
        return missing("chat_id");
    };
    let base = d
        .settings
        .get("base_url")
        .map(|b| b.trim_end_matches('/').to_string())
        .unwrap_or_else(|| "https://api.telegram.org".into());
    let body = json!({
        "chat_id": chat,
        "text": format!("{}\n{}", m.subject, m.text),
        "disable_web_page_preview": true,
    });
    judge(
        client
            .post(format!("{base}/bot{token}/sendMessage"))
            .json(&body)
            .send()
            .await,
    )
    .await
}

/// `sha256=<hex>` of the body under `key` (the GitHub webhook convention).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

pub async fn webhook(client: &reqwest::Client, d: &Due, m: &Message) -> Outcome {
    let Some(url) = d.settings.get("url") else {
        return missing("url");
    };
    let fields = [
        ("kind", d.kind.as_str().to_string()),
        ("severity", d.severity.as_str().to_string()),
        ("title", d.title.clone()),
        ("body", d.body.clone()),
        ("project", d.project.clone().unwrap_or_default()),
        ("url", m.url.clone().unwrap_or_default()),
        ("id", d.delivery_id.to_string()),
        ("at", app::logic::time::to_rfc3339(app::store::now_ms())),
    ];
    let body = match d.settings.get("template") {
        Some(t) => match render(t, &fields) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Fail {
                    code: None,
                    error: e,
                }
            }
        },
        None => json!({
            "delivery": d.delivery_id,
            "kind": d.kind.as_str(),
            "severity": d.severity.as_str(),
            "title": d.title,
            "body": d.body,
            "project": d.project,
            "url": m.url,
            "folded": d.folded,
        })
        .to_string(),
    };
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "Gatehouse")
        .header("X-Gatehouse-Event", d.kind.as_str())
        .header("X-Gatehouse-Delivery", d.delivery_id.to_string());
    if let Some(key) = d.secrets.get("hmac_key") {
        req = req.header(
            "X-Gatehouse-Signature-256",
            signature(key.as_bytes(), body.as_bytes()),
        );
    }
    if let Some(auth) = d.secrets.get("authorization") {
        req = req.header("authorization", auth);
    }
    judge(req.body(body).send().await).await
}
