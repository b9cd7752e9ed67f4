//! MQTT publish (rumqttc) with QoS 1: delivered once the broker acknowledges it. For Home
//! Assistant dashboards and the like; the payload is JSON.

use super::Message;
use app::store::notify::{Due, Outcome};
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS};
use serde_json::json;

/// `gatehouse/{project}/{kind}` unless the channel names a topic (which may use the same two
/// fields).
pub fn topic(d: &Due) -> String {
    let project = d.project.clone().unwrap_or_else(|| "all".into());
    d.settings
        .get("topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .unwrap_or("gatehouse/{project}/{kind}")
        .replace("{project}", &project)
        .replace("{kind}", d.kind.as_str())
}

pub async fn send(d: &Due, m: &Message, timeout: std::time::Duration) -> Outcome {
    let Some(host) = d
        .settings
        .get("host")
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    else {
        return Outcome::Fail {
            code: None,
            error: "the channel has no `host`".into(),
        };
    };
    let port = match d.settings.get("port").map(|p| p.trim().parse::<u16>()) {
        None => 1883,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            return Outcome::Fail {
                code: None,
                error: "port: not a number".into(),
            }
        }
    };
    let mut options = MqttOptions::new(format!("gatehouse-{}", d.delivery_id), host, port);
    options.set_keep_alive(std::time::Duration::from_secs(10));
    if let Some(user) = d.settings.get("username").filter(|u| !u.trim().is_empty()) {
        options.set_credentials(
            user.trim(),
            d.secrets.get("password").cloned().unwrap_or_default(),
        );
    }
    let payload = json!({
        "delivery": d.delivery_id,
        "kind": d.kind.as_str(),
        "severity": d.severity.as_str(),
        "title": d.title,
        "text": m.text,
        "project": d.project,
        "url": m.url,
        "folded": d.folded,
    })
    .to_string();
    let (client, mut events) = AsyncClient::new(options, 10);
    let topic = topic(d);
    let run = async {
        if let Err(e) = client
            .publish(topic, QoS::AtLeastOnce, false, payload.into_bytes())
            .await
        {
            return Outcome::Retry {
                code: None,
                error: format!("MQTT: {e}"),
            };
        }
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    let _ = client.disconnect().await;
                    // Let the disconnect go out.
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_millis(200), events.poll())
                            .await;
                    return Outcome::Delivered { code: None };
                }
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => {
                    let error = format!("MQTT: the broker refused the connection ({code:?})");
                    return match code {
                        ConnectReturnCode::BadUserNamePassword
                        | ConnectReturnCode::NotAuthorized => Outcome::Fail { code: None, error },
                        _ => Outcome::Retry { code: None, error },
                    };
                }
                Err(ConnectionError::Io(e)) => {
                    return Outcome::Retry {
                        code: None,
                        error: format!("MQTT: {}", e.kind()),
                    }
                }
                Err(e) => {
                    return Outcome::Retry {
                        code: None,
                        error: format!("MQTT: {e}"),
                    }
                }
            }
        }
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Retry {
            code: None,
            error: "MQTT: timed out".into(),
        },
    }
}
