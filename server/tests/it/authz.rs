//! The authorization matrix: every server function, REST route, browser route and page, called
//! by every kind of caller, against the answer the tables below expect. The tables are checked
//! against what the server registers, so a server function or route cannot be added without
//! its row. An unexpected allow fails the test; so does an unexpected deny.

use crate::helpers::{backends, connect, settings_for, spawn_app_with, TestApp, ADMIN_PASSWORD};
use app::model::{Role, Scope};
use app::store::audit::Actor;
use app::store::Db;
use gatehouse_server::ingest::github;
use std::collections::{BTreeMap, BTreeSet};

/// Who may call a server function.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Anyone, signed in or not (the answer differs, never the permission).
    Anyone,
    /// A signed-in, enabled user whose role is at least this.
    Role(Role),
}

use Need::Anyone;
const VIEWER: Need = Need::Role(Role::Viewer);
const REVIEWER: Need = Need::Role(Role::Reviewer);
const APPROVER: Need = Need::Role(Role::Approver);
const ADMIN: Need = Need::Role(Role::Admin);

/// Every server function: its endpoint under `/api/`, who may call it, and a well-formed
/// form body. Bodies name objects that do not exist (id 999999, project `nope`) wherever an
/// allowed call would otherwise change the data the later rows read.
const SERVER_FNS: &[(&str, Need, &str)] = &[
    ("session/me", Anyone, ""),
    ("approvals/count", Anyone, ""),
    (
        "session/password",
        VIEWER,
        "current=not-the-password&new_password=another-password&confirm=another-password",
    ),
    ("runs/list", VIEWER, "filter[project]=shop"),
    ("runs/detail", VIEWER, "id=999999"),
    ("tests/history", VIEWER, "id=999999"),
    ("tests/flaky", VIEWER, "project=shop&days=30"),
    ("tests/quarantine", APPROVER, "test_id=999999&quarantine=true&reason=matrix"),
    ("projects/list", VIEWER, ""),
    (
        "projects/create",
        ADMIN,
        "slug=matrix&name=Matrix&default_branch=main&repository_url=&environments=staging",
    ),
    ("projects/webhook_secret", ADMIN, "project=nope&secret=a-long-enough-secret"),
    ("tokens/list", ADMIN, ""),
    ("tokens/create", ADMIN, "project=nope&name=matrix&read=on"),
    ("tokens/revoke", ADMIN, "token_id=999999"),
    ("users/list", ADMIN, ""),
    (
        "users/create",
        ADMIN,
        "username=matrix-user&display_name=&role=viewer&password=matrix-password",
    ),
    ("users/role", ADMIN, "user_id=999999&role=viewer"),
    ("users/disabled", ADMIN, "user_id=999999&disabled=true"),
    ("users/reset_password", ADMIN, "user_id=999999"),
    ("audit/list", ADMIN, ""),
    ("deployments/page", VIEWER, "id=999999"),
    ("deployments/stamp", VIEWER, "id=999999"),
    // The guard lets every signed-in user through: named approvers may hold any role, and the
    // environment's rules decide in the store (checked on a real deployment below).
    ("deployments/decide", VIEWER, "id=999999&decision=reject&comment=matrix"),
    ("deployments/override", ADMIN, "id=999999&reason=matrix"),
    ("deployments/tick", APPROVER, "id=999999&item_id=1&ticked=true"),
    ("deployments/rollback", APPROVER, "id=999999&reason=matrix"),
    ("deployments/cancel", APPROVER, "id=999999&reason=matrix"),
    ("deployments/timeline", VIEWER, "filter[project]=shop"),
    ("approvals/queue", VIEWER, ""),
    ("releases/list", VIEWER, "project=shop"),
    ("releases/compare", VIEWER, "project=shop&from=0.0.1&to=0.0.2"),
    ("environments/rules", ADMIN, "project=shop"),
    (
        "environments/protection",
        ADMIN,
        "environment_id=999999&required_approvals=1&approver_roles=approver&approver_users=\
         &wait_timer_s=0&ref_pattern=&min_soak_s=0&monitoring_window_s=0",
    ),
    ("environments/gates", ADMIN, "environment_id=999999&gates="),
    ("environments/checklist", ADMIN, "environment_id=999999&items="),
    (
        "environments/freeze_add",
        ADMIN,
        "environment_id=999999&kind=once&starts=2030-01-01T00:00&ends=2030-01-02T00:00&reason=matrix",
    ),
    ("environments/freeze_remove", ADMIN, "freeze_id=999999"),
    ("flags/list", VIEWER, "project=shop"),
    ("flags/page", VIEWER, "id=999999"),
    ("flags/create", APPROVER, "project=nope&key=matrix&description="),
    (
        "flags/set",
        APPROVER,
        "id=999999&environment=staging&enabled=true&rollout=30&ramp=none&ramp_steps=&ramp_from=\
         &ramp_to=&ramp_start=&ramp_days=&allow=&deny=",
    ),
    ("flags/delete", APPROVER, "id=999999"),
    ("overview/page", VIEWER, "query[project]=shop"),
    ("overview/detail", VIEWER, "query[project]=shop&id=lead_time"),
    ("overview/rate", VIEWER, "project=nope&rating=5&comment=matrix"),
    ("overview/targets", ADMIN, "project=nope&text="),
    (
        "overview/incident",
        APPROVER,
        "project=nope&environment=production&title=matrix&severity=sev2&started_at=2026-01-01T00:00",
    ),
    ("overview/resolve", APPROVER, "id=999999"),
    ("notify/page", ADMIN, ""),
    ("notify/channel-create", ADMIN, "name=&kind=nope"),
    ("notify/channel-update", ADMIN, "id=999999"),
    ("notify/channel-delete", ADMIN, "id=999999"),
    ("notify/channel-test", ADMIN, "id=999999"),
    ("notify/rule-create", ADMIN, "channel_id=999999&project=&min_severity=info"),
    ("notify/rule-delete", ADMIN, "id=999999"),
    ("notify/retry", ADMIN, "id=999999"),
    ("plans/list", VIEWER, "project=shop"),
    ("plans/page", VIEWER, "id=999999"),
    (
        "plans/create",
        APPROVER,
        "project=nope&title=matrix&template=blank&starts_on=2030-01-01",
    ),
    ("plans/status", APPROVER, "plan=999999&phase=1&status=done&note="),
    ("plans/tick", APPROVER, "plan=999999&item=1&done=true"),
    ("plans/item", APPROVER, "plan=999999&phase=1&kind=task&title=matrix&owner="),
    ("plans/item/remove", APPROVER, "plan=999999&item=1"),
    (
        "plans/criterion",
        APPROVER,
        "plan=999999&phase=1&title=matrix&link=manual&kpi=&comparator=&threshold=&gate=",
    ),
    ("plans/criterion/remove", APPROVER, "plan=999999&criterion=1"),
    ("plans/criterion/confirm", APPROVER, "plan=999999&criterion=1&met=true"),
    (
        "plans/phase",
        APPROVER,
        "plan=999999&title=matrix&objective=&starts_on=2030-01-01&due_on=2030-01-02",
    ),
    ("plans/delete", ADMIN, "plan=999999"),
    ("calibration/page", VIEWER, "project=shop"),
    ("calibration/threshold", REVIEWER, "model_id=999999&threshold=0.5"),
    ("calibration/promote", REVIEWER, "model_id=999999"),
    ("calibration/rules", REVIEWER, "project=nope&lines=&threshold=0.5&note="),
    ("calibration/retrain", REVIEWER, "project=nope"),
    ("calibration/acknowledge", REVIEWER, "alert_id=999999"),
    ("retention/page", ADMIN, ""),
    ("retention/save", ADMIN, ""),
    ("retention/purge", ADMIN, ""),
];

/// Who may call a REST route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone (the API document, unknown paths).
    Public,
    /// A token of the path's project holding any of these scopes.
    Token(&'static [Scope]),
    /// A GitHub delivery signed with the project's webhook secret (tokens do not count).
    Signature,
}

const INGEST: Access = Access::Token(&[Scope::Ingest]);
const DEPLOY: Access = Access::Token(&[Scope::Deploy]);
const READ: Access = Access::Token(&[Scope::Read]);
const READ_OR_DEPLOY: Access = Access::Token(&[Scope::Read, Scope::Deploy]);

/// Every REST route and method (`*`: any method) with who may call it.
const REST: &[(&str, &str, Access)] = &[
    ("GET", "/api/v1/openapi.json", Access::Public),
    ("POST", "/api/v1/projects/{project}/runs", INGEST),
    ("GET", "/api/v1/runs/{id}", READ),
    ("PATCH", "/api/v1/runs/{id}", INGEST),
    ("POST", "/api/v1/runs/{id}/junit", INGEST),
    ("POST", "/api/v1/runs/{id}/coverage", INGEST),
    (
        "POST",
        "/api/v1/projects/{project}/webhooks/github",
        Access::Signature,
    ),
    ("GET", "/api/v1/projects/{project}/flaky-tests", READ),
    ("GET", "/api/v1/projects/{project}/calibration", READ),
    ("GET", "/api/v1/projects/{project}/kpis", READ),
    ("POST", "/api/v1/projects/{project}/incidents", DEPLOY),
    ("POST", "/api/v1/incidents/{id}/resolve", DEPLOY),
    ("GET", "/api/v1/projects/{project}/plans", READ),
    ("POST", "/api/v1/projects/{project}/plans", DEPLOY),
    ("GET", "/api/v1/plans/{id}", READ),
    ("PUT", "/api/v1/plans/{id}/items/{item}", DEPLOY),
    ("PUT", "/api/v1/plans/{id}/phases/{phase}/status", DEPLOY),
    ("GET", "/api/v1/projects/{project}/predictions", READ),
    ("POST", "/api/v1/projects/{project}/deployments", DEPLOY),
    (
        "GET",
        "/api/v1/projects/{project}/deployments",
        READ_OR_DEPLOY,
    ),
    ("GET", "/api/v1/deployments/{id}", READ_OR_DEPLOY),
    ("POST", "/api/v1/deployments/{id}/events", DEPLOY),
    ("POST", "/api/v1/deployments/{id}/health", DEPLOY),
    ("POST", "/api/v1/deployments/{id}/rollback", DEPLOY),
    (
        "GET",
        "/api/v1/projects/{project}/flags/{environment}",
        READ,
    ),
    (
        "PUT",
        "/api/v1/projects/{project}/flags/{environment}/{flag}",
        DEPLOY,
    ),
    ("*", "/api/v1", Access::Public),
    ("*", "/api/v1/", Access::Public),
    ("*", "/api/v1/{*rest}", Access::Public),
];

/// The routes outside Leptos and the API: who may call them.
#[derive(Debug, Clone, Copy)]
enum Browser {
    /// Anyone (probes, sign-in, sign-out, the theme toggle).
    Open,
    /// Any signed-in, enabled user; anonymous callers get 401.
    SignedIn,
}

const BROWSER: &[(&str, &str, Browser)] = &[
    ("POST", "/login", Browser::Open),
    ("POST", "/logout", Browser::Open),
    ("POST", "/theme", Browser::Open),
    ("GET", "/calibration/export", Browser::SignedIn),
    ("GET", "/overview/export", Browser::SignedIn),
    ("GET", "/calibration/chart/{name}", Browser::SignedIn),
    ("GET", "/healthz", Browser::Open),
    ("GET", "/readyz", Browser::Open),
    ("GET", "/metrics", Browser::Open),
];

/// The kinds of browser caller.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    /// No session, but a valid API token with every scope in `Authorization`.
    TokenOnly,
    Signed(Role),
    /// An admin who was disabled after signing in.
    Disabled,
    /// An admin whose session expired in the store.
    Expired,
}

const CALLERS: &[Who] = &[
    Who::Anonymous,
    Who::TokenOnly,
    Who::Disabled,
    Who::Expired,
    Who::Signed(Role::Viewer),
    Who::Signed(Role::Reviewer),
    Who::Signed(Role::Approver),
    Who::Signed(Role::Admin),
];

/// A caller of server functions and pages: its client and, for sessions read back by hand,
/// the cookie it sends.
struct Caller {
    who: Who,
    http: reqwest::Client,
    cookie: Option<String>,
    bearer: Option<String>,
}

impl Caller {
    fn post(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        self.with_credentials(self.http.post(app.url(path)))
    }

    fn get(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        self.with_credentials(self.http.get(app.url(path)))
    }

    fn with_credentials(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = &self.bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req
    }
}

/// What a server function answer should be for `who`.
fn expect_server_fn(need: Need, who: Who) -> Expect {
    match (need, who) {
        (Anyone, _) => Expect::Allow,
        (Need::Role(r), Who::Signed(role)) if role.allows(r) => Expect::Allow,
        (Need::Role(_), Who::Signed(_)) => Expect::Status(&[403]),
        (Need::Role(_), _) => Expect::Status(&[401]),
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Past the permission check: anything but 401 or 403 (404, 409 or 422 for the matrix's
    /// made-up objects are fine).
    Allow,
    /// Refused with one of these statuses.
    Status(&'static [u16]),
}

fn judge(expect: Expect, status: u16) -> bool {
    match expect {
        Expect::Allow => status != 401 && status != 403 && status != 429,
        Expect::Status(s) => s.contains(&status),
    }
}

async fn sign_in_by_hand(app: &TestApp, username: &str, password: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(app.url("/login"))
        .header("origin", format!("http://{}", app.addr))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/", "sign-in of {username}");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

/// Ends a session in the store as its expiry would.
async fn expire_session(db: &Db, cookie: &str) {
    let id = cookie.split_once('=').unwrap().1;
    let changed = match db {
        Db::Sqlite(p) => sqlx::query(
            "update tower_sessions set expiry_date = '2000-01-01 00:00:00.0 +00:00:00' where id = ?",
        )
        .bind(id)
        .execute(p)
        .await
        .unwrap()
        .rows_affected(),
        Db::Postgres(p) => sqlx::query(
            "update tower_sessions.session set expiry_date = now() - interval '1 day' where id = $1",
        )
        .bind(id)
        .execute(p)
        .await
        .unwrap()
        .rows_affected(),
    };
    assert_eq!(changed, 1, "the session row of {cookie}");
}

async fn one_id(db: &Db, sql: &str) -> i64 {
    let id = match db {
        Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_optional(p).await,
        Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_optional(p).await,
    };
    id.unwrap().unwrap_or_else(|| panic!("no row for `{sql}`"))
}

async fn one_text(db: &Db, sql: &str) -> String {
    let v = match db {
        Db::Sqlite(p) => sqlx::query_scalar::<_, String>(sql).fetch_optional(p).await,
        Db::Postgres(p) => sqlx::query_scalar::<_, String>(sql).fetch_optional(p).await,
    };
    v.unwrap().unwrap_or_else(|| panic!("no row for `{sql}`"))
}

/// The objects of project `shop` (from the demo data) that the REST paths name.
struct Objects {
    run: i64,
    deployment: i64,
    plan: i64,
    item: i64,
    phase: i64,
    incident: i64,
    flag: String,
}

impl Objects {
    async fn find(db: &Db) -> Objects {
        let shop = "(select project_id from project where slug = 'shop')";
        let plan = one_id(
            db,
            &format!("select min(rollout_plan_id) from rollout_plan where project_id = {shop}"),
        )
        .await;
        Objects {
            run: one_id(
                db,
                &format!("select max(ci_run_id) from ci_run where project_id = {shop}"),
            )
            .await,
            deployment: one_id(
                db,
                &format!(
                    "select max(deployment_id) from deployment where project_id = {shop}"
                ),
            )
            .await,
            plan,
            item: one_id(
                db,
                &format!(
                    "select min(i.plan_item_id) from plan_item i join plan_phase p \
                     on p.plan_phase_id = i.plan_phase_id where p.rollout_plan_id = {plan}"
                ),
            )
            .await,
            phase: one_id(
                db,
                &format!("select min(plan_phase_id) from plan_phase where rollout_plan_id = {plan}"),
            )
            .await,
            incident: one_id(
                db,
                &format!("select min(incident_id) from incident where project_id = {shop}"),
            )
            .await,
            flag: one_text(
                db,
                &format!("select key from feature_flag where project_id = {shop} order by feature_flag_id limit 1"),
            )
            .await,
        }
    }

    /// `pattern` with its parameters filled in.
    fn path(&self, pattern: &str) -> String {
        let id = if pattern.starts_with("/api/v1/runs/") {
            self.run
        } else if pattern.starts_with("/api/v1/deployments/") {
            self.deployment
        } else if pattern.starts_with("/api/v1/plans/") {
            self.plan
        } else {
            self.incident
        };
        pattern
            .replace("{project}", "shop")
            .replace("{id}", &id.to_string())
            .replace("{item}", &self.item.to_string())
            .replace("{phase}", &self.phase.to_string())
            .replace("{environment}", "staging")
            .replace("{flag}", &self.flag)
            .replace("{*rest}", "no-such-route")
            .replace("{name}", "reliability")
    }
}

fn method(m: &str) -> reqwest::Method {
    m.parse().unwrap()
}

#[tokio::test]
async fn every_route_and_server_function_allows_exactly_its_callers() {
    for backend in backends().await {
        let label = backend.label;
        let mut settings = settings_for(&backend);
        // The matrix sends hundreds of refused calls from one address on purpose.
        settings.token_failures_per_minute = 100_000;
        settings.login_per_minute = 100_000;
        let app = spawn_app_with(&backend, settings).await;
        let db = connect(&backend).await;
        gatehouse_server::demo::generate(&db, 1, None)
            .await
            .expect("demo data");
        let mut failures: Vec<String> = Vec::new();

        // Tokens of shop with each set of scopes, and one of payments with all of them.
        let mut tokens: BTreeMap<Vec<Scope>, String> = BTreeMap::new();
        let all = [Scope::Ingest, Scope::Deploy, Scope::Read];
        for mask in 1..8u8 {
            let scopes: Vec<Scope> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect();
            let t = app::store::tokens::create(
                &db,
                "shop",
                &format!("matrix-{mask}"),
                &scopes,
                &Actor::system(),
            )
            .await
            .unwrap();
            tokens.insert(scopes, t.secret);
        }
        let foreign = app::store::tokens::create(&db, "payments", "matrix", &all, &Actor::system())
            .await
            .unwrap()
            .secret;
        let full = tokens[&all.to_vec()].clone();

        // The callers.
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        for (name, role) in [
            ("m-viewer", "viewer"),
            ("m-reviewer", "reviewer"),
            ("m-approver", "approver"),
            ("m-disabled", "admin"),
            ("m-expired", "admin"),
        ] {
            app.add_user(&admin, name, role, "matrix-password").await;
        }
        let mut callers = Vec::new();
        for &who in CALLERS {
            let (http, cookie, bearer) = match who {
                Who::Anonymous => (app.client(), None, None),
                Who::TokenOnly => (app.client(), None, Some(full.clone())),
                Who::Signed(Role::Admin) => (admin.clone(), None, None),
                Who::Signed(role) => (
                    app.signed_in(&format!("m-{role}"), "matrix-password").await,
                    None,
                    None,
                ),
                Who::Disabled => (
                    app.client(),
                    Some(sign_in_by_hand(&app, "m-disabled", "matrix-password").await),
                    None,
                ),
                Who::Expired => (
                    app.client(),
                    Some(sign_in_by_hand(&app, "m-expired", "matrix-password").await),
                    None,
                ),
            };
            callers.push(Caller {
                who,
                http,
                cookie,
                bearer,
            });
        }
        let disabled_id = one_id(
            &db,
            "select app_user_id from app_user where username = 'm-disabled'",
        )
        .await;
        let res = app
            .call(
                &admin,
                "/api/users/disabled",
                &[("user_id", &disabled_id.to_string()), ("disabled", "true")],
            )
            .await;
        assert_eq!(res.status(), 200, "{label}: disabling m-disabled");
        expire_session(&db, callers[3].cookie.as_deref().unwrap()).await;
        // Both were signed in a moment ago: the refusals below are theirs to earn.
        for c in &callers[2..4] {
            let me: serde_json::Value = c
                .post(&app, "/api/session/me")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(
                me.is_null(),
                "{label}: {:?} is still signed in: {me}",
                c.who
            );
        }

        // Server functions: the table is every registered one.
        let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
            .map(|(p, _)| p.trim_start_matches("/api/").to_string())
            .collect();
        let listed: BTreeSet<String> = SERVER_FNS.iter().map(|r| r.0.to_string()).collect();
        assert_eq!(
            listed.len(),
            SERVER_FNS.len(),
            "a server function is listed twice"
        );
        assert_eq!(
            registered,
            listed,
            "server functions without a row: {:?}; rows without a server function: {:?}",
            registered.difference(&listed).collect::<Vec<_>>(),
            listed.difference(&registered).collect::<Vec<_>>()
        );
        let mut calls = 0;
        for &(endpoint, need, body) in SERVER_FNS {
            for c in &callers {
                let res = c
                    .post(&app, &format!("/api/{endpoint}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                calls += 1;
                let status = res.status().as_u16();
                let expect = expect_server_fn(need, c.who);
                if !judge(expect, status) {
                    let text = res.text().await.unwrap_or_default();
                    failures.push(format!(
                        "server fn {endpoint} as {:?}: {status} (expected {expect:?}): {}",
                        c.who,
                        text.chars().take(200).collect::<String>()
                    ));
                }
            }
        }

        // The store's own check behind deployments/decide: a viewer who is not a named
        // approver cannot decide a deployment that waits for approval.
        let waiting = one_id(
            &db,
            "select min(deployment_id) from deployment where state = 'awaiting_approval'",
        )
        .await;
        let res = callers[4]
            .post(&app, "/api/deployments/decide")
            .form(&[
                ("id", waiting.to_string().as_str()),
                ("decision", "reject"),
                ("comment", "matrix"),
            ])
            .send()
            .await
            .unwrap();
        if res.status() != 403 {
            failures.push(format!(
                "a viewer deciding deployment {waiting}: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            ));
        }

        // REST: the table is every route the API router is built from, method by method.
        let objects = Objects::find(&db).await;
        let secret = "a-webhook-secret-for-the-matrix";
        app::store::projects::set_webhook_secret(&db, "shop", Some(secret), &Actor::system())
            .await
            .unwrap();
        let routed: BTreeSet<(String, String)> = gatehouse_server::rest::routes()
            .iter()
            .flat_map(|r| {
                r.methods
                    .iter()
                    .map(|m| (m.to_string(), r.path.to_string()))
            })
            .collect();
        let rows: BTreeSet<(String, String)> = REST
            .iter()
            .map(|r| (r.0.to_string(), r.1.to_string()))
            .collect();
        assert_eq!(
            routed,
            rows,
            "routes without a row: {:?}; rows without a route: {:?}",
            routed.difference(&rows).collect::<Vec<_>>(),
            rows.difference(&routed).collect::<Vec<_>>()
        );
        let http = reqwest::Client::new();
        // The route table's methods are the router's: every other method answers 405.
        for r in gatehouse_server::rest::routes() {
            if r.methods == ["*"] {
                continue;
            }
            for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if r.methods.contains(&m) {
                    continue;
                }
                let res = http
                    .request(method(m), app.url(&objects.path(r.path)))
                    .bearer_auth(&full)
                    .send()
                    .await
                    .unwrap();
                calls += 1;
                if res.status() != 405 {
                    failures.push(format!(
                        "{m} {}: {} (the table says it answers only {:?})",
                        r.path,
                        res.status(),
                        r.methods
                    ));
                }
            }
        }
        for &(m, pattern, access) in REST {
            let m = if m == "*" { "DELETE" } else { m };
            let url = app.url(&objects.path(pattern));
            // (caller, token, expected)
            let mut cases: Vec<(String, Option<String>, Expect)> = Vec::new();
            let deny401 = Expect::Status(&[401]);
            match access {
                Access::Public => {
                    cases.push(("no token".into(), None, Expect::Allow));
                    cases.push((
                        "bad token".into(),
                        Some("gth_not-a-token".into()),
                        Expect::Allow,
                    ));
                }
                Access::Signature => {
                    cases.push(("unsigned".into(), None, deny401));
                    cases.push(("unsigned, full token".into(), Some(full.clone()), deny401));
                }
                Access::Token(needed) => {
                    cases.push(("no token".into(), None, deny401));
                    cases.push(("bad token".into(), Some("gth_not-a-token".into()), deny401));
                    let lacking: Vec<Scope> = all
                        .iter()
                        .filter(|s| !needed.contains(s))
                        .copied()
                        .collect();
                    cases.push((
                        format!("shop token with {lacking:?}"),
                        Some(tokens[&lacking].clone()),
                        Expect::Status(&[403]),
                    ));
                    cases.push((
                        "payments token with every scope".into(),
                        Some(foreign.clone()),
                        Expect::Status(&[403, 404]),
                    ));
                    for s in needed {
                        cases.push((
                            format!("shop token with [{s:?}]"),
                            Some(tokens[&vec![*s]].clone()),
                            Expect::Allow,
                        ));
                    }
                }
            }
            for (who, token, expect) in cases {
                let mut req = http.request(method(m), &url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                if m != "GET" {
                    req = req.header("content-type", "application/json").body("{}");
                }
                let res = req.send().await.unwrap();
                calls += 1;
                let status = res.status().as_u16();
                // An allowed call reaches the handler with an object of the caller's project,
                // so a token route does not answer 404 to it.
                let reached = !(matches!(access, Access::Token(_))
                    && matches!(expect, Expect::Allow)
                    && status == 404);
                if !judge(expect, status) || !reached {
                    let text = res.text().await.unwrap_or_default();
                    failures.push(format!(
                        "{m} {pattern} with {who}: {status} (expected {expect:?}): {}",
                        text.chars().take(200).collect::<String>()
                    ));
                }
            }
            // A browser session is no API credential.
            if matches!(access, Access::Token(_)) {
                let res = callers[7]
                    .http
                    .request(method(m), &url)
                    .header("content-type", "application/json")
                    .body(if m == "GET" { "" } else { "{}" })
                    .send()
                    .await
                    .unwrap();
                calls += 1;
                if res.status() != 401 {
                    failures.push(format!(
                        "{m} {pattern} with an admin's session cookie: {}",
                        res.status()
                    ));
                }
            }
        }
        // The webhook with a valid signature is allowed; with a wrong one refused.
        let body = br#"{"zen":"matrix"}"#.to_vec();
        for (sig, expect) in [
            (github::sign(secret.as_bytes(), &body), Expect::Allow),
            (
                github::sign(b"another-secret", &body),
                Expect::Status(&[401]),
            ),
        ] {
            let res = http
                .post(app.url("/api/v1/projects/shop/webhooks/github"))
                .header("x-github-event", "ping")
                .header(
                    "x-github-delivery",
                    format!("matrix-{}", rand::random::<u32>()),
                )
                .header("x-hub-signature-256", sig)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            calls += 1;
            if !judge(expect, res.status().as_u16()) {
                failures.push(format!(
                    "github webhook (expected {expect:?}): {}",
                    res.status()
                ));
            }
        }

        // Browser routes: the table is the router's.
        let browser_routed: BTreeSet<(String, String)> = gatehouse_server::browser_routes()
            .iter()
            .flat_map(|r| {
                r.methods
                    .iter()
                    .map(|m| (m.to_string(), r.path.to_string()))
            })
            .collect();
        let browser_rows: BTreeSet<(String, String)> = BROWSER
            .iter()
            .map(|r| (r.0.to_string(), r.1.to_string()))
            .collect();
        assert_eq!(
            browser_routed, browser_rows,
            "browser routes and their rows"
        );
        for &(m, pattern, access) in BROWSER {
            if pattern == "/logout" || pattern == "/login" {
                continue; // signing in and out are the journeys of http.rs; they change sessions
            }
            let path = format!("{}?project=shop", objects.path(pattern));
            for c in &callers {
                let res = c
                    .with_credentials(c.http.request(method(m), app.url(&path)))
                    .send()
                    .await
                    .unwrap();
                calls += 1;
                let status = res.status().as_u16();
                let expect = match (access, c.who) {
                    (Browser::Open, _) | (Browser::SignedIn, Who::Signed(_)) => Expect::Allow,
                    // The page guard sends a GET without a session to sign in (303) before the
                    // handler's own 401.
                    (Browser::SignedIn, _) => Expect::Status(&[401, 303]),
                };
                if !judge(expect, status) || (matches!(expect, Expect::Allow) && status >= 500) {
                    failures.push(format!(
                        "{m} {pattern} as {:?}: {status} (expected {expect:?})",
                        c.who
                    ));
                }
            }
        }

        // Pages: every route of the app sends a caller without a valid session to sign in.
        let pages: Vec<String> = leptos_axum::generate_route_list(app::App)
            .iter()
            .map(|r| r.path().to_string())
            .collect();
        assert!(pages.len() > 10, "{label}: pages {pages:?}");
        for page in &pages {
            let path = page
                .split('/')
                .map(|seg| {
                    if seg.starts_with(':') || seg.starts_with('{') {
                        "1"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for c in &callers {
                let res = c.get(&app, &path).send().await.unwrap();
                calls += 1;
                let status = res.status().as_u16();
                let to_login = res
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .is_some_and(|l| l.starts_with("/login"));
                let ok = match c.who {
                    _ if path == "/login" => status == 200 || status == 303,
                    Who::Signed(_) => !to_login && status < 500,
                    _ => to_login,
                };
                if !ok {
                    failures.push(format!("page {path} as {:?}: {status}", c.who));
                }
            }
        }

        eprintln!(
            "{label}: authorization matrix: {} server functions, {} REST routes, {} browser routes, {} pages; {calls} calls",
            SERVER_FNS.len(),
            REST.len(),
            BROWSER.len(),
            pages.len()
        );
        assert!(
            failures.is_empty(),
            "{label}: {} unexpected answers:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
