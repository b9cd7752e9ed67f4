//! Email over SMTP (lettre): STARTTLS by default, implicit TLS, or plain for a local relay.
//! A private CA's certificate can be named with `ca_file`.

use super::Message;
use app::store::notify::{Due, Outcome};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

fn fail(error: String) -> Outcome {
    Outcome::Fail { code: None, error }
}

pub async fn send(d: &Due, m: &Message, timeout: std::time::Duration) -> Outcome {
    let get = |k: &str| {
        d.settings
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let (Some(host), Some(from), Some(to)) = (get("host"), get("from"), get("to")) else {
        return fail("the channel needs host, from and to".into());
    };
    let port = match get("port").map(str::parse::<u16>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return fail("port: not a number".into()),
    };
    let mode = get("tls").unwrap_or("starttls");
    let tls = if mode == "none" {
        Tls::None
    } else {
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(path) = get("ca_file") {
            let pem = match tokio::fs::read(path).await {
                Ok(p) => p,
                Err(e) => return fail(format!("ca_file: cannot read it ({})", e.kind())),
            };
            match Certificate::from_pem(&pem) {
                Ok(c) => params = params.add_root_certificate(c),
                Err(_) => return fail("ca_file: not a PEM certificate".into()),
            }
        }
        let params = match params.build_rustls() {
            Ok(p) => p,
            Err(e) => return fail(format!("TLS settings: {e}")),
        };
        if mode == "tls" {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        }
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port.unwrap_or(if mode == "tls" { 465 } else { 587 }))
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(user) = get("username") {
        let password = d.secrets.get("password").cloned().unwrap_or_default();
        transport = transport.credentials(Credentials::new(user.to_string(), password));
    }
    let mut builder = lettre::Message::builder()
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .message_id(Some(format!(
            "<gatehouse-delivery-{}@{}>",
            d.delivery_id,
            from.rsplit('@').next().unwrap_or("gatehouse")
        )));
    match from.parse() {
        Ok(mb) => builder = builder.from(mb),
        Err(_) => return fail(format!("from: `{from}` is not an address")),
    }
    for addr in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match addr.parse() {
            Ok(mb) => builder = builder.to(mb),
            Err(_) => return fail(format!("to: `{addr}` is not an address")),
        }
    }
    let email = match builder.body(m.text.clone()) {
        Ok(e) => e,
        Err(e) => return fail(format!("the message: {e}")),
    };
    match transport.build().send(email).await {
        Ok(r) => Outcome::Delivered {
            code: Some(u16::from(r.code()) as i64),
        },
        Err(e) => {
            let code = e.status().map(|c| u16::from(c) as i64);
            // lettre's errors name the kind and the server's reply, not the password.
            let error = format!("SMTP: {e}");
            if e.is_permanent() {
                Outcome::Fail { code, error }
            } else {
                Outcome::Retry { code, error }
            }
        }
    }
}
