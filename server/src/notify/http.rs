//! Channels over HTTP: Slack incoming webhooks, Telegram's Bot API and signed webhooks.

use super::Message;
use app::logic::notify::render;
use app::store::notify::{Due, Outcome};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// `text` without the channel's secrets and the path and query of `url` (a Slack webhook URL
/// is a secret; a Telegram bot token is in the path): a receiver may echo them in its answer,
/// which the delivery log shows. Each is also matched JSON-escaped and percent-encoded, and a
/// secret's long words alone (the token of `Bearer <token>`).
fn redact(text: &str, d: &Due, url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let tail = rest.find(['/', '?']).map(|i| &rest[i + 1..]);
    let mut needles: Vec<String> = Vec::new();
    // The path first: it may hold a secret, and then would no longer match whole.
    for secret in tail
        .into_iter()
        .chain(d.secrets.values().map(String::as_str))
    {
        let words = secret.split_whitespace().filter(|w| w.len() >= 8);
        for s in std::iter::once(secret).chain(words) {
            if s.len() >= 4 {
                needles.push(s.to_string());
                needles.push(s.replace('/', "\\/"));
                needles.push(s.replace(':', "%3A"));
            }
        }
    }
    let mut out = text.to_string();
    for n in needles {
        out = out.replace(&n, "[redacted]");
    }
    out
}

/// Up to `limit` bytes of an answer's body, as text.
async fn read_some(mut r: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// What an answer means for the delivery: 2xx delivered; 408, 429 and 5xx tried again; other
/// codes failed (the receiver refuses it and would go on refusing).
async fn judge(res: Result<reqwest::Response, reqwest::Error>, d: &Due, url: &str) -> Outcome {
    match res {
        Ok(r) => {
            let code = r.status().as_u16() as i64;
            if r.status().is_success() {
                return Outcome::Delivered { code: Some(code) };
            }
            // Redacted whole, then cut: a secret across the cut would half survive.
            let text = read_some(r, 64 * 1024).await;
            let text: String = redact(&text, d, url).chars().take(300).collect();
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
        // A request that cannot be built (a header value with a line break) stays broken.
        Err(e) if e.is_builder() => Outcome::Fail {
            code: None,
            error: "the request cannot be built from the channel's settings (a URL or header value is malformed)".into(),
        },
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
        d,
        url,
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
    let url = format!("{base}/bot{token}/sendMessage");
    judge(client.post(&url).json(&body).send().await, d, &url).await
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
    judge(req.body(body).send().await, d, url).await
}
