//! Test databases on both backends and a running server per test.

use app::store::Db;
use gatehouse_server::config::{Secret, Settings};
use std::net::SocketAddr;

/// A database for one test: a temp SQLite file, or a fresh Postgres database.
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// The backends every store test runs on: SQLite always; Postgres when
/// `GATEHOUSE_TEST_POSTGRES_URL` is set. CI sets `GATEHOUSE_REQUIRE_POSTGRES=1` so a missing
/// URL fails instead of silently skipping.
pub async fn backends() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let mut all = vec![TestDb {
        url,
        label: "sqlite",
        _dir: Some(dir),
    }];
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(base) => all.push(fresh_postgres(&base).await),
        None => {
            if std::env::var("GATEHOUSE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set");
            }
        }
    }
    all
}

impl TestDb {
    /// A SQLite database at `path` (the caller owns the folder).
    pub fn sqlite_at(path: &std::path::Path) -> TestDb {
        TestDb {
            url: format!("sqlite://{}", path.display()),
            label: "sqlite",
            _dir: None,
        }
    }
}

/// Creates an empty database named after a random suffix on the server of `base`.
async fn fresh_postgres(base: &str) -> TestDb {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to GATEHOUSE_TEST_POSTGRES_URL");
    let name = format!("gh_test_{}", rand::random::<u64>());
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("postgres url with a database");
    TestDb {
        url: format!("{prefix}/{name}"),
        label: "postgres",
        _dir: None,
    }
}

pub async fn connect(db: &TestDb) -> Db {
    let settings = settings_for(db);
    gatehouse_server::connect(&settings)
        .await
        .expect("connect and migrate")
}

pub fn settings_for(db: &TestDb) -> Settings {
    let mut s = Settings::default();
    s.database_url = Secret::new(db.url.clone());
    s.addr = "127.0.0.1:0".parse().unwrap();
    s.demo_data = false;
    s.admin_user = Some("admin".into());
    s.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    s.db_max_connections = 5;
    s
}

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A server running on a free port for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub label: &'static str,
    _server: tokio::task::JoinHandle<()>,
    _prober: Option<gatehouse_server::jobs::JobHandle>,
}

impl TestApp {
    /// A client's view of a server running elsewhere (another process) at `base`.
    pub fn at(base: &str) -> TestApp {
        TestApp {
            addr: base
                .trim_start_matches("http://")
                .parse()
                .expect("http://IP:PORT"),
            label: "process",
            _server: tokio::spawn(async {}),
            _prober: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects, sends our Origin.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ORIGIN,
            format!("http://{}", self.addr).parse().unwrap(),
        );
        // A bound on every answer: a request that hangs fails naming its URL, instead of
        // stalling the test run.
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap()
    }

    /// Signs in through the form and returns the client holding the session.
    pub async fn signed_in(&self, username: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let res = self.login(&client, username, password).await;
        assert_eq!(
            res.headers()["location"],
            "/",
            "{} sign-in of {username} failed",
            self.label
        );
        client
    }

    pub async fn login(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Calls a server function with a form body.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// Calls a server function and decodes its JSON answer.
    pub async fn json(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> serde_json::Value {
        self.call(client, path, form).await.json().await.unwrap()
    }

    /// The signed-in user of `client`'s session, or null.
    pub async fn me(&self, client: &reqwest::Client) -> serde_json::Value {
        self.json(client, "/api/session/me", &[]).await
    }

    /// Calls the admin server function that creates a user.
    pub async fn create_user(
        &self,
        admin: &reqwest::Client,
        username: &str,
        role: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = [
            ("username", username),
            ("display_name", ""),
            ("role", role),
            ("password", password),
        ];
        self.call(admin, "/api/users/create", &form).await
    }

    /// Creates a user through the admin server function and checks it worked.
    pub async fn add_user(
        &self,
        admin: &reqwest::Client,
        username: &str,
        role: &str,
        password: &str,
    ) {
        let res = self.create_user(admin, username, role, password).await;
        assert_eq!(
            res.status(),
            200,
            "{}: {}",
            self.label,
            res.text().await.unwrap()
        );
    }
}

/// Starts the full HTTP stack on a free port, with the first admin created.
pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(db, settings_for(db)).await
}

pub async fn spawn_app_with(db: &TestDb, settings: Settings) -> TestApp {
    let pool = gatehouse_server::connect(&settings).await.expect("connect");
    gatehouse_server::first_start(&settings, &pool)
        .await
        .expect("first start");
    let state = gatehouse_server::build_state(&settings, pool.clone()).await;
    // As `gatehouse serve` does: a prober watches the database and the gate answers 503 at
    // once while it is away.
    let watch = gatehouse_server::ops::DbWatch::default();
    let prober = watch.spawn_prober(pool.clone());
    let router = gatehouse_server::router_with(state, &settings, watch);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    TestApp {
        addr,
        label: db.label,
        _server: server,
        _prober: prober,
    }
}

/// The shared real-world fixtures (`../shared/fixtures` beside the repository, or
/// `GATEHOUSE_FIXTURES_DIR`). Missing fixtures fail the test: they are never skipped.
pub fn fixtures_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("GATEHOUSE_FIXTURES_DIR") {
        return dir.into();
    }
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = manifest
        .ancestors()
        .map(|a| a.join("shared/fixtures"))
        .chain(manifest.ancestors().map(|a| a.join("../shared/fixtures")))
        .chain(std::iter::once("/work/shared/fixtures".into()));
    for c in candidates {
        if c.join("README.md").is_file() {
            return c;
        }
    }
    panic!("the shared fixtures were not found: set GATEHOUSE_FIXTURES_DIR");
}

/// Rows of a fixtures folder's `MANIFEST.tsv`, as column name → value.
pub fn manifest(folder: &str) -> Vec<std::collections::HashMap<String, String>> {
    let path = fixtures_dir().join(folder).join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Creates project `slug` directly in the store and a token for it with `scopes`; returns the
/// store handle and the token's secret.
pub async fn project_with_token(
    db: &TestDb,
    slug: &str,
    scopes: &[app::model::Scope],
) -> (Db, String) {
    use app::store::audit::Actor;
    use app::store::projects::{self, NewProject};
    let store = connect(db).await;
    projects::create(
        &store,
        &NewProject::named(app::model::Slug::parse(slug).unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap();
    let token = app::store::tokens::create(&store, slug, "ci", scopes, &Actor::system())
        .await
        .unwrap()
        .secret;
    (store, token)
}
