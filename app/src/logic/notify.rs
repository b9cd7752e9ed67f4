//! The rules of notifications: which events exist and how severe they are, which routing
//! rules take an event, quiet hours, grouping of repeats, retry backoff, and the payload
//! templates of generic webhooks.

use serde::{Deserialize, Serialize};

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| {
                format!(
                    "severity: info, warning or critical (got `{}`)",
                    text.trim()
                )
            })
    }
}

/// What happened, from the other areas of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    ApprovalRequested,
    ApprovalGranted,
    ApprovalRejected,
    GateFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentFailed,
    RollbackTriggered,
    RollbackFinished,
    HighRiskAlert,
    DriftDetected,
    CalibrationMissed,
    MonitoringThreshold,
    /// "Send test" from the channels page.
    Test,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::ApprovalRequested,
        EventKind::ApprovalGranted,
        EventKind::ApprovalRejected,
        EventKind::GateFailed,
        EventKind::DeploymentStarted,
        EventKind::DeploymentSucceeded,
        EventKind::DeploymentFailed,
        EventKind::RollbackTriggered,
        EventKind::RollbackFinished,
        EventKind::HighRiskAlert,
        EventKind::DriftDetected,
        EventKind::CalibrationMissed,
        EventKind::MonitoringThreshold,
        EventKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ApprovalRequested => "approval.requested",
            EventKind::ApprovalGranted => "approval.granted",
            EventKind::ApprovalRejected => "approval.rejected",
            EventKind::GateFailed => "gate.failed",
            EventKind::DeploymentStarted => "deployment.started",
            EventKind::DeploymentSucceeded => "deployment.succeeded",
            EventKind::DeploymentFailed => "deployment.failed",
            EventKind::RollbackTriggered => "rollback.triggered",
            EventKind::RollbackFinished => "rollback.finished",
            EventKind::HighRiskAlert => "risk.high",
            EventKind::DriftDetected => "predictor.drift",
            EventKind::CalibrationMissed => "calibration.missed",
            EventKind::MonitoringThreshold => "monitoring.threshold",
            EventKind::Test => "test",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventKind::ApprovalRequested => "Approval requested",
            EventKind::ApprovalGranted => "Approval granted",
            EventKind::ApprovalRejected => "Approval rejected",
            EventKind::GateFailed => "Quality gate failed",
            EventKind::DeploymentStarted => "Deployment started",
            EventKind::DeploymentSucceeded => "Deployment succeeded",
            EventKind::DeploymentFailed => "Deployment failed",
            EventKind::RollbackTriggered => "Rollback triggered",
            EventKind::RollbackFinished => "Rollback finished",
            EventKind::HighRiskAlert => "High-risk run",
            EventKind::DriftDetected => "Predictor drift",
            EventKind::CalibrationMissed => "Calibration target missed",
            EventKind::MonitoringThreshold => "Monitoring threshold crossed",
            EventKind::Test => "Test message",
        }
    }

    /// The kind of notification a timeline event of the console raises, if any.
    pub fn of_domain(kind: &str) -> Option<EventKind> {
        match kind {
            "health.rollback_trigger" => Some(EventKind::MonitoringThreshold),
            "test" => None,
            k => EventKind::parse(k).ok(),
        }
    }

    pub fn parse(text: &str) -> Result<EventKind, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| format!("no event kind `{}`", text.trim()))
    }
}

/// Which events a rule takes: all, or a list of kinds.
pub fn parse_kinds(text: &str) -> Result<Vec<EventKind>, String> {
    let t = text.trim();
    if t.is_empty() || t == "*" {
        return Ok(Vec::new());
    }
    let mut kinds = Vec::new();
    for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let k = EventKind::parse(part)?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok(kinds)
}

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// When quiet hours from `from` to `to` (minutes of the UTC day; `to` before `from` wraps past
/// midnight) that hold `now` end, or `None` when `now` is outside them.
pub fn quiet_until(now: i64, from: i64, to: i64) -> Option<i64> {
    if from == to {
        return None;
    }
    let day = now.div_euclid(DAY_MS) * DAY_MS;
    let minute = (now - day) / MINUTE_MS;
    let inside = if from < to {
        minute >= from && minute < to
    } else {
        minute >= from || minute < to
    };
    if !inside {
        return None;
    }
    let end = day + to * MINUTE_MS;
    Some(if end > now { end } else { end + DAY_MS })
}

/// Retries stop this long after a notification was raised: it is then failed.
pub const GIVE_UP_MS: i64 = DAY_MS;

/// The wait before attempt `attempts + 1`: 10 s, doubling, at most an hour.
pub fn backoff(attempts: i64) -> i64 {
    let exp = (attempts - 1).clamp(0, 20) as u32;
    (10_000i64.saturating_mul(1 << exp)).min(3_600_000)
}

/// Renders a payload template: each `{{name}}` becomes the value of `name`, escaped for a JSON
/// string (so a template is written as JSON with the placeholders inside strings). An unknown
/// name is an error naming it.
pub fn render(template: &str, fields: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "template: a `{{` is not closed by `}}`".to_string())?;
        let name = after[..end].trim();
        let value = fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                format!(
                    "template: no field `{name}` (the fields are {})",
                    fields.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                )
            })?;
        escape_json_into(&mut out, value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_json_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Where a channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChannelKind {
    Slack,
    Telegram,
    Email,
    Mqtt,
    Webhook,
}

/// A field of a channel's configuration: its name, whether it is secret, whether it is
/// required, and what it holds.
pub struct Field {
    pub name: &'static str,
    pub secret: bool,
    pub required: bool,
    pub about: &'static str,
}

const fn field(name: &'static str, secret: bool, required: bool, about: &'static str) -> Field {
    Field {
        name,
        secret,
        required,
        about,
    }
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Slack,
        ChannelKind::Telegram,
        ChannelKind::Email,
        ChannelKind::Mqtt,
        ChannelKind::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Email => "email",
            ChannelKind::Mqtt => "mqtt",
            ChannelKind::Webhook => "webhook",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Slack => "Slack incoming webhook",
            ChannelKind::Telegram => "Telegram bot",
            ChannelKind::Email => "Email (SMTP)",
            ChannelKind::Mqtt => "MQTT publish",
            ChannelKind::Webhook => "HTTPS webhook (HMAC-signed)",
        }
    }

    pub fn parse(text: &str) -> Result<ChannelKind, String> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| {
                format!(
                    "kind: slack, telegram, email, mqtt or webhook (got `{}`)",
                    text.trim()
                )
            })
    }

    /// The fields this kind of channel takes.
    pub fn fields(self) -> &'static [Field] {
        const SLACK: &[Field] = &[field(
            "webhook_url",
            true,
            true,
            "the incoming webhook URL (https://hooks.slack.com/services/…)",
        )];
        const TELEGRAM: &[Field] = &[
            field("chat_id", false, true, "the chat to post in"),
            field(
                "base_url",
                false,
                false,
                "the Bot API (default https://api.telegram.org)",
            ),
            field("bot_token", true, true, "the bot's token from @BotFather"),
        ];
        const EMAIL: &[Field] = &[
            field("host", false, true, "the SMTP server"),
            field("port", false, false, "default 587"),
            field(
                "tls",
                false,
                false,
                "starttls (default), tls, or none (local relays only)",
            ),
            field("from", false, true, "the sender address"),
            field("to", false, true, "recipients, comma-separated"),
            field("username", false, false, "to sign in to the server"),
            field("password", true, false, "to sign in to the server"),
            field(
                "ca_file",
                false,
                false,
                "a PEM file on the server: the private CA that signed the server's certificate",
            ),
        ];
        const MQTT: &[Field] = &[
            field("host", false, true, "the broker"),
            field("port", false, false, "default 1883"),
            field("topic", false, false, "default gatehouse/{project}/{kind}"),
            field("username", false, false, "to sign in to the broker"),
            field("password", true, false, "to sign in to the broker"),
        ];
        const WEBHOOK: &[Field] = &[
            field("url", false, true, "where to POST"),
            field(
                "template",
                false,
                false,
                "the JSON body with {{kind}}, {{severity}}, {{title}}, {{body}}, {{project}}, {{url}}, {{id}}, {{at}} (default: all of them)",
            ),
            field("hmac_key", true, false, "signs the body: X-Gatehouse-Signature-256: sha256=<hex>"),
            field("authorization", true, false, "sent as the Authorization header (e.g. `Bearer <GitHub token>` for repository_dispatch)"),
        ];
        match self {
            ChannelKind::Slack => SLACK,
            ChannelKind::Telegram => TELEGRAM,
            ChannelKind::Email => EMAIL,
            ChannelKind::Mqtt => MQTT,
            ChannelKind::Webhook => WEBHOOK,
        }
    }
}

/// The fields a payload template may name.
pub const TEMPLATE_FIELDS: [&str; 8] = [
    "kind", "severity", "title", "body", "project", "url", "id", "at",
];

fn http_url(v: &str, name: &str) -> Result<(), String> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    if authority.is_some_and(|a| a.contains('@')) {
        return Err(format!(
            "{name}: no user or password in the URL (it would be shown): use the authorization secret"
        ));
    }
    if authority.is_some_and(|a| !a.is_empty()) && !v.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("{name}: an http(s) URL"))
    }
}

/// Checks a channel's settings and secrets: known fields only, required ones present (a
/// secret may be kept from before: `kept` names those already stored), values well formed.
pub fn check_channel(
    kind: ChannelKind,
    settings: &std::collections::BTreeMap<String, String>,
    secrets: &std::collections::BTreeMap<String, String>,
    kept: &[String],
) -> Result<(), String> {
    let fields = kind.fields();
    for (map, secret) in [(settings, false), (secrets, true)] {
        for name in map.keys() {
            if !fields.iter().any(|f| f.name == name && f.secret == secret) {
                return Err(format!(
                    "{}: a {} channel has no {}field `{name}` (it takes {})",
                    name,
                    kind.as_str(),
                    if secret { "secret " } else { "" },
                    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        let present = if f.secret {
            secrets.get(f.name).is_some_and(|v| !v.trim().is_empty())
                || kept.iter().any(|k| k == f.name)
        } else {
            settings.get(f.name).is_some_and(|v| !v.trim().is_empty())
        };
        if !present {
            return Err(format!(
                "{}: required for a {} channel ({})",
                f.name,
                kind.as_str(),
                f.about
            ));
        }
    }
    let get = |k: &str| settings.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    for key in ["webhook_url", "base_url", "url"] {
        if let Some(v) = secrets
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .or(get(key))
        {
            http_url(v, key)?;
        }
    }
    if let Some(p) = get("port") {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return Err(format!("port: a number from 1 to 65535 (got `{p}`)")),
        }
    }
    if let Some(t) = get("topic") {
        if t.contains(['+', '#']) || t.starts_with('/') || t.len() > 200 {
            return Err(format!(
                "topic: a topic to publish to, without the wildcards + and # (got `{t}`)"
            ));
        }
    }
    if let Some(t) = get("tls") {
        if !["starttls", "tls", "none"].contains(&t) {
            return Err(format!("tls: starttls, tls or none (got `{t}`)"));
        }
    }
    for key in ["from", "to"] {
        if let Some(v) = get(key) {
            for addr in v.split(',').map(str::trim) {
                if !addr.contains('@') || addr.contains(char::is_whitespace) {
                    return Err(format!("{key}: `{addr}` is not an email address"));
                }
            }
        }
    }
    if let Some(t) = get("template") {
        let sample: Vec<(&str, String)> = TEMPLATE_FIELDS
            .iter()
            .map(|f| (*f, "x".to_string()))
            .collect();
        let text = render(t, &sample)?;
        #[cfg(feature = "ssr")]
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| format!("template: not JSON once filled in ({e})"))?;
        let _ = text;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn quiet_hours_hold_messages_until_they_end() {
        let day = 20_000 * DAY_MS;
        // 22:00 to 07:00 wraps midnight.
        assert_eq!(
            quiet_until(day + 23 * 60 * MIN, 22 * 60, 7 * 60),
            Some(day + DAY_MS + 7 * 60 * MIN)
        );
        assert_eq!(
            quiet_until(day + 3 * 60 * MIN, 22 * 60, 7 * 60),
            Some(day + 7 * 60 * MIN)
        );
        assert_eq!(quiet_until(day + 12 * 60 * MIN, 22 * 60, 7 * 60), None);
        assert_eq!(quiet_until(day + 7 * 60 * MIN, 22 * 60, 7 * 60), None);
        // 12:00 to 13:00 within a day.
        assert_eq!(
            quiet_until(day + 12 * 60 * MIN + 5, 12 * 60, 13 * 60),
            Some(day + 13 * 60 * MIN)
        );
        assert_eq!(quiet_until(day, 12 * 60, 12 * 60), None);
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff(1), 10_000);
        assert_eq!(backoff(2), 20_000);
        assert_eq!(backoff(5), 160_000);
        assert_eq!(backoff(12), 3_600_000);
        assert_eq!(backoff(400), 3_600_000);
        // Nine doublings from 10 s (85 min in all), then hourly: 24 hours hold 32 attempts.
        let mut t = 0;
        let mut n = 0;
        while t < GIVE_UP_MS {
            n += 1;
            t += backoff(n);
        }
        assert_eq!(n, 32);
    }

    #[test]
    fn templates_fill_in_escaped_values() {
        let f = [
            ("title", "Deploy \"1.4\"\nfailed".to_string()),
            ("url", "http://x/d/1".to_string()),
        ];
        assert_eq!(
            render(r#"{"event_type":"trigger-remediation","client_payload":{"t":"{{ title }}","u":"{{url}}"}}"#, &f).unwrap(),
            r#"{"event_type":"trigger-remediation","client_payload":{"t":"Deploy \"1.4\"\nfailed","u":"http://x/d/1"}}"#
        );
        assert!(render("{{nope}}", &f)
            .unwrap_err()
            .contains("no field `nope`"));
        assert!(render("{{title", &f).unwrap_err().contains("not closed"));
    }

    #[test]
    fn channels_are_checked_field_by_field() {
        use std::collections::BTreeMap;
        let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_channel(
            ChannelKind::Slack,
            &m(&[]),
            &m(&[("webhook_url", "https://hooks.slack.com/services/T/B/X")]),
            &[]
        )
        .is_ok());
        let e = check_channel(ChannelKind::Slack, &m(&[]), &m(&[]), &[]).unwrap_err();
        assert!(e.starts_with("webhook_url: required"), "{e}");
        // A secret kept from before satisfies the requirement.
        assert!(check_channel(
            ChannelKind::Slack,
            &m(&[]),
            &m(&[]),
            &["webhook_url".into()]
        )
        .is_ok());
        let e = check_channel(
            ChannelKind::Slack,
            &m(&[("webhook_url", "https://x")]),
            &m(&[]),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("no field `webhook_url`"), "{e}");
        let e = check_channel(
            ChannelKind::Email,
            &m(&[
                ("host", "smtp"),
                ("from", "a@b"),
                ("to", "c@d, e"),
                ("port", "25"),
            ]),
            &m(&[]),
            &[],
        )
        .unwrap_err();
        assert_eq!(e, "to: `e` is not an email address");
        let e = check_channel(
            ChannelKind::Mqtt,
            &m(&[("host", "b"), ("port", "99999")]),
            &m(&[]),
            &[],
        )
        .unwrap_err();
        assert!(e.starts_with("port:"), "{e}");
        let e = check_channel(
            ChannelKind::Webhook,
            &m(&[("url", "ftp://x")]),
            &m(&[]),
            &[],
        )
        .unwrap_err();
        assert!(e.starts_with("url:"), "{e}");
        #[cfg(feature = "ssr")]
        {
            let e = check_channel(
                ChannelKind::Webhook,
                &m(&[("url", "https://x/y"), ("template", "{\"a\": {{title}}}")]),
                &m(&[]),
                &[],
            )
            .unwrap_err();
            assert!(e.contains("not JSON"), "{e}");
        }
        assert!(check_channel(
            ChannelKind::Webhook,
            &m(&[
                ("url", "https://x/y"),
                ("template", "{\"a\": \"{{title}}\"}")
            ]),
            &m(&[("hmac_key", "k")]),
            &[]
        )
        .is_ok());
    }

    #[test]
    fn kinds_parse_from_lists() {
        assert_eq!(parse_kinds("*").unwrap(), vec![]);
        assert_eq!(
            parse_kinds("deployment.failed, rollback.triggered,deployment.failed").unwrap(),
            vec![EventKind::DeploymentFailed, EventKind::RollbackTriggered]
        );
        assert!(parse_kinds("deploy.boom").is_err());
        assert!(Severity::Critical > Severity::Warning && Severity::Warning > Severity::Info);
    }
}
