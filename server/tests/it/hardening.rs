//! Hardening of the HTTP stack: security headers with a per-page script nonce, body limits,
//! rate limits on sign-in and bad API tokens, cross-site refusal, and a database that goes
//! away (Postgres behind a proxy the test cuts): requests fail at once with 503, `/readyz`
//! says so, and the server recovers alone when the database returns.

use crate::helpers::{
    backends, project_with_token, settings_for, spawn_app, spawn_app_with, ADMIN_PASSWORD,
};
use app::model::Scope;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_nonce_policy_and_every_response_the_security_headers() {
    let tdb = backends().await.remove(0);
    let app = spawn_app(&tdb).await;
    let res = app.client().get(app.url("/login")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    let html = res.text().await.unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(
        !csp.replace("'wasm-unsafe-eval'", "")
            .contains("unsafe-eval"),
        "no eval: {csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{nonce}");
    // Every inline script carries this response's nonce; none runs without it.
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1, "{html}");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every script has the nonce: {html}"
    );
    // Another response, another nonce.
    let again = app.client().get(app.url("/login")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    // Responses that are not pages load nothing at all.
    let res = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        res.headers()["content-security-policy"],
        gatehouse_server::limits::DEFAULT_CSP
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_sign_ins_and_bad_tokens_are_limited_and_cross_site_posts_refused() {
    let tdb = backends().await.remove(0);
    let mut settings = settings_for(&tdb);
    settings.login_per_minute = 5;
    settings.token_failures_per_minute = 3;
    let app = spawn_app_with(&tdb, settings).await;
    let (_, token) = project_with_token(&tdb, "shop", &[Scope::Read]).await;
    let admin = app.signed_in("admin", ADMIN_PASSWORD).await;

    // A server function call larger than a form can be: 413, nothing read.
    let big = "x".repeat(gatehouse_server::limits::FORM_LIMIT + 1);
    let res = admin
        .post(app.url("/api/retention/save"))
        .form(&[("days[runs]", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("at most 1024 KB"));

    // A post from another site is refused, with the session cookie or without.
    let res = admin
        .post(app.url("/api/retention/save"))
        .header("origin", "http://evil.example")
        .form(&[("days[runs]", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app::store::retention::policies(&crate::helpers::connect(&tdb).await)
            .await
            .unwrap()[app::model::RetentionKind::Runs as usize]
            .days,
        Some(90),
        "the refused post changed nothing"
    );

    // Sign-in attempts: one was made above; four more pass, the sixth is refused.
    let client = app.client();
    for _ in 0..4 {
        let res = app.login(&client, "admin", "wrong-password-1").await;
        assert_eq!(res.status(), 303);
    }
    let res = app.login(&client, "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many sign-in attempts"));

    // Bad API tokens: three 401s, then 429 for that address; a valid token from the same
    // address (another job behind the same NAT) still gets through.
    let api = reqwest::Client::new();
    let url = app.url("/api/v1/projects/shop/kpis");
    let good = api.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(good.status(), 200, "a good token is not counted");
    for _ in 0..3 {
        let res = api.get(&url).bearer_auth("gh_wrong").send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = api.get(&url).bearer_auth("gh_wrong").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("bad API token"),
        "{body}"
    );
    let good = api.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(good.status(), 200, "a valid token passes the limit");
}

/// A TCP proxy to Postgres that the test can cut (closing every connection and refusing new
/// ones) and restore.
struct Cuttable {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Cuttable {
    async fn start(upstream: &str) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let upstream = upstream.to_string();
        let (c, o) = (cut.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                o.lock().unwrap().push(task);
            }
        });
        Cuttable { port, cut, open }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for t in self.open.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Polls `url` with the token until it answers `status` (and, for 503, until the gate answers:
/// its refusals carry `Retry-After`); how long that took.
async fn wait_for(url: &str, token: &str, status: u16) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let res = client.get(url).bearer_auth(token).send().await.unwrap();
        if res.status() == status && (status != 503 || res.headers().contains_key("retry-after")) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{url} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_gets_fast_503s_and_the_server_recovers_alone() {
    let Some(tdb) = backends().await.into_iter().find(|b| b.label == "postgres") else {
        // SQLite is a file in this process: it cannot go away while the process runs.
        return;
    };
    let (_, token) = project_with_token(&tdb, "shop", &[Scope::Read]).await;
    // The server reaches Postgres through the proxy.
    let (head, tail) = tdb.url.split_once('@').unwrap();
    let (upstream, db_path) = tail.split_once('/').unwrap();
    let proxy = Cuttable::start(upstream).await;
    let mut settings = settings_for(&tdb);
    settings.database_url =
        gatehouse_server::config::Secret::new(format!("{head}@127.0.0.1:{}/{db_path}", proxy.port));
    settings.db_acquire_timeout = Duration::from_secs(3);
    let app = spawn_app_with(&tdb, settings).await;
    let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
    let api = reqwest::Client::new();
    let kpis = app.url("/api/v1/projects/shop/kpis");
    wait_for(&kpis, &token, 200).await;

    proxy.cut();
    // The watch notices within seconds (two failed pings, a second apart).
    let noticed = wait_for(&kpis, &token, 503).await;
    assert!(
        noticed < Duration::from_secs(10),
        "noticed after {noticed:?}"
    );
    let ready: serde_json::Value = reqwest::get(app.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "unavailable", "{ready}");
    // Pages, server functions and the API answer at once, saying why.
    let t = Instant::now();
    let page = admin.get(app.url("/runs")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("database is unavailable"));
    let call = app.call(&admin, "/api/retention/page", &[]).await;
    assert_eq!(call.status(), 503);
    // A server function's refusal is an error its caller can decode.
    let err: app::AppError = call.json().await.unwrap();
    assert_eq!(err, app::AppError::Unavailable);
    let res = api.get(&kpis).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("database is unavailable"));
    let refused = t.elapsed();
    assert!(
        refused < Duration::from_secs(1),
        "three refusals took {refused:?}"
    );
    // The process itself is alive.
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200
    );

    proxy.restore();
    // Nothing calls /readyz here: the server finds the database again by itself.
    let back = wait_for(&kpis, &token, 200).await;
    assert!(back < Duration::from_secs(5), "recovered after {back:?}");
    eprintln!(
        "outage: the gate closed {noticed:?} after the cut; refusals took {refused:?}; service was back {back:?} after the restore"
    );
    let page = admin.get(app.url("/runs")).send().await.unwrap();
    assert_eq!(page.status(), 200, "the session survived the outage");
}
