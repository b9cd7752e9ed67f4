//! The REST API for CI systems, through a real server: tokens and scopes, idempotent runs,
//! JUnit and coverage uploads (good, repeated, malformed, oversized), JSON errors.

use crate::helpers::{
    backends, connect, fixtures_dir, settings_for, spawn_app, spawn_app_with, TestApp,
};
use app::model::{Scope, Slug};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::tokens;
use gatehouse_server::ingest::github;
use serde_json::{json, Value};
use std::io::Write;

struct Api {
    app: TestApp,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: not JSON ({status}): {text}", self.app.label));
        (status, body)
    }

    fn post(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.app.url(path)).bearer_auth(token)
    }
}

/// Projects `shop` and `other`, with tokens: shop ingest+read, shop read only, other ingest.
async fn setup(db: &crate::helpers::TestDb, app: TestApp) -> (Api, [String; 3]) {
    let store = connect(db).await;
    let actor = Actor::system();
    for slug in ["shop", "other"] {
        projects::create(
            &store,
            &NewProject::named(Slug::parse(slug).unwrap()),
            &actor,
        )
        .await
        .unwrap();
    }
    let mk = |project: &'static str, scopes: &'static [Scope]| {
        let store = store.clone();
        let actor = actor.clone();
        async move {
            tokens::create(&store, project, "ci", scopes, &actor)
                .await
                .unwrap()
                .secret
        }
    };
    let full = mk("shop", &[Scope::Ingest, Scope::Read]).await;
    let read = mk("shop", &[Scope::Read]).await;
    let other = mk("other", &[Scope::Ingest, Scope::Read]).await;
    (
        Api {
            app,
            http: reqwest::Client::new(),
        },
        [full, read, other],
    )
}

fn run_body(id: &str) -> Value {
    json!({
        "provider": "github",
        "external_id": id,
        "workflow": "ci",
        "commit_sha": "0123456789abcdef0123456789abcdef01234567",
        "branch": "main",
        "status": "running",
        "started_at": "2026-11-22T10:00:00Z",
        "jobs": [{"name": "test", "status": "running", "started_at": 1795341600000i64}],
        "performance": {"p95_ms": 180.5, "error_rate": 0.004}
    })
}

#[tokio::test]
async fn ci_systems_report_runs_and_upload_reports() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let (api, [token, read_only, other]) = setup(&backend, app).await;

        let (status, run) = api
            .send(
                api.post(&token, "/api/v1/projects/shop/runs")
                    .json(&run_body("9001")),
            )
            .await;
        assert_eq!(status, 201, "{label}: {run}");
        let id = run["id"].as_i64().unwrap();
        assert_eq!(run["status"], "running");
        assert_eq!(run["started_at"], "2026-11-22T10:00:00.000Z");
        assert_eq!(run["performance"]["error_rate"], 0.004);

        // A retry changes nothing and answers 200 with the same run.
        let mut retry = run_body("9001");
        retry["status"] = json!("success");
        let (status, again) = api
            .send(api.post(&token, "/api/v1/projects/shop/runs").json(&retry))
            .await;
        assert_eq!(
            (status, again["id"].as_i64(), again["status"].as_str()),
            (200, Some(id), Some("running")),
            "{label}"
        );

        // JUnit, gzip-compressed, from a real Surefire run with a flaky test.
        let xml = std::fs::read(fixtures_dir().join(
            "junit/surefire/parser__fixture__testsuitexmlparser__TEST-org.acme.FlakyTest.xml",
        ))
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&xml).unwrap();
        let gz = gz.finish().unwrap();
        let upload = || {
            api.post(&token, &format!("/api/v1/runs/{id}/junit"))
                .header("content-encoding", "gzip")
                .body(gz.clone())
        };
        let (status, totals) = api.send(upload()).await;
        assert_eq!(status, 201, "{label}: {totals}");
        assert_eq!(
            (totals["tests"].as_i64(), totals["flaky"].as_i64()),
            (Some(2), Some(1)),
            "{label}: {totals}"
        );
        let (status, totals) = api.send(upload()).await;
        assert_eq!(
            (status, totals["repeated"].as_bool()),
            (200, Some(true)),
            "{label}"
        );

        // Coverage, detected as LCOV.
        let lcov =
            std::fs::read(fixtures_dir().join("coverage/gcovr/nested__standard__gcc-5.lcov"))
                .unwrap();
        let (status, cov) = api
            .send(
                api.post(&token, &format!("/api/v1/runs/{id}/coverage"))
                    .body(lcov),
            )
            .await;
        assert_eq!(status, 201, "{label}: {cov}");
        assert_eq!(
            (cov["lines_covered"].as_i64(), cov["lines_valid"].as_i64()),
            (Some(25), Some(42))
        );

        // The run ends; the read token sees the totals.
        let patch = json!({"status": "success", "finished_at": "2026-11-22T10:05:30Z", "jobs": [{"name": "test", "status": "success", "finished_at": "2026-11-22T10:05:00Z"}]});
        let (status, ended) = api
            .send(
                api.http
                    .patch(api.app.url(&format!("/api/v1/runs/{id}")))
                    .bearer_auth(&token)
                    .json(&patch),
            )
            .await;
        assert_eq!(status, 200, "{label}: {ended}");
        let (status, shown) = api
            .send(
                api.http
                    .get(api.app.url(&format!("/api/v1/runs/{id}")))
                    .bearer_auth(&read_only),
            )
            .await;
        assert_eq!(status, 200, "{label}");
        assert_eq!(shown["status"], "success");
        assert_eq!(shown["duration_s"], 330.0);
        assert_eq!(
            (
                shown["tests"].as_i64(),
                shown["passed"].as_i64(),
                shown["flaky"].as_i64()
            ),
            (Some(2), Some(2), Some(1))
        );
        assert!(
            (shown["line_rate"].as_f64().unwrap() - 25.0 / 42.0).abs() < 1e-9,
            "{shown}"
        );
        assert_eq!(shown["jobs"][0]["status"], "success");

        // Another project's token sees no such run and cannot write to this project.
        let (status, _) = api
            .send(
                api.http
                    .get(api.app.url(&format!("/api/v1/runs/{id}")))
                    .bearer_auth(&other),
            )
            .await;
        assert_eq!(status, 404, "{label}");
        let (status, err) = api
            .send(
                api.post(&other, "/api/v1/projects/shop/runs")
                    .json(&run_body("1")),
            )
            .await;
        assert_eq!(status, 403, "{label}");
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains("belongs to project `other`"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn bad_tokens_scopes_and_bodies_get_clear_errors_and_change_nothing() {
    for backend in backends().await {
        let mut settings = settings_for(&backend);
        settings.max_upload_bytes = 64 * 1024;
        let app = spawn_app_with(&backend, settings).await;
        let label = app.label;
        let (api, [token, read_only, _]) = setup(&backend, app).await;
        let runs = "/api/v1/projects/shop/runs";

        let (status, err) = api
            .send(api.http.post(api.app.url(runs)).json(&run_body("1")))
            .await;
        assert_eq!(status, 401, "{label}");
        assert!(err["error"].as_str().unwrap().contains("Authorization"));
        let (status, _) = api
            .send(api.post("gth_not-a-token", runs).json(&run_body("1")))
            .await;
        assert_eq!(status, 401, "{label}");
        let (status, err) = api
            .send(api.post(&read_only, runs).json(&run_body("1")))
            .await;
        assert_eq!(status, 403, "{label}");
        assert!(
            err["error"].as_str().unwrap().contains("`ingest` scope"),
            "{err}"
        );

        // Bodies: malformed JSON, a wrong field type, a percent for a fraction, unknown fields.
        for (body, needle) in [
            ("{\"provider\": \"github\",", "line 1"),
            ("{\"provider\": \"circleci\", \"external_id\": \"1\", \"status\": \"running\"}", "`provider`"),
            ("{\"provider\": \"github\", \"external_id\": \"1\", \"status\": \"running\", \"performance\": {\"error_rate\": 5}}", "fraction"),
            ("{\"provider\": \"github\", \"external_id\": \"1\", \"status\": \"running\", \"colour\": \"red\"}", "colour"),
            ("{\"provider\": \"github\", \"external_id\": \"1\", \"status\": \"running\", \"started_at\": \"yesterday\"}", "RFC 3339"),
            ("{\"provider\": \"github\", \"external_id\": \"1\", \"status\": \"running\", \"jobs\": [{\"name\": \"a\", \"status\": \"nope\"}]}", "jobs[0].status"),
        ] {
            let req = api.post(&token, runs).header("content-type", "application/json").body(body);
            let (status, err) = api.send(req).await;
            assert_eq!(status, 422, "{label}: {body} → {err}");
            assert!(err["error"].as_str().unwrap().contains(needle), "{label}: {body} → {err}");
        }

        let (status, run) = api.send(api.post(&token, runs).json(&run_body("7"))).await;
        assert_eq!(status, 201, "{label}");
        let id = run["id"].as_i64().unwrap();
        let junit = format!("/api/v1/runs/{id}/junit");

        // Not well-formed XML: 422 naming the line; nothing stored.
        let broken =
            std::fs::read(fixtures_dir().join("junit/enricomi/junit-xml__pytest__corrupt-xml.xml"))
                .unwrap();
        let (status, err) = api.send(api.post(&token, &junit).body(broken)).await;
        assert_eq!(status, 422, "{label}");
        assert!(err["error"].as_str().unwrap().contains("line 11"), "{err}");
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&x;"/></testsuite>"#;
        let (status, _) = api.send(api.post(&token, &junit).body(xxe)).await;
        assert_eq!(status, 422, "{label}");
        let (status, _) = api.send(api.post(&token, &junit).body("")).await;
        assert_eq!(status, 422, "{label}");
        // Over the limit (64 KB here): 413.
        let big = format!(
            "<testsuite>{}</testsuite>",
            "<testcase name=\"t\"/>".repeat(5000)
        );
        let (status, err) = api.send(api.post(&token, &junit).body(big)).await;
        assert_eq!(status, 413, "{label}: {err}");
        let (_, shown) = api
            .send(
                api.http
                    .get(api.app.url(&format!("/api/v1/runs/{id}")))
                    .bearer_auth(&token),
            )
            .await;
        assert_eq!(shown["tests"], 0, "{label}: nothing stored");

        let (status, _) = api
            .send(
                api.post(&token, "/api/v1/runs/999999/junit")
                    .body("<testsuite/>"),
            )
            .await;
        assert_eq!(status, 404, "{label}");
        let (status, err) = api
            .send(api.http.get(api.app.url("/api/v1/nothing/here")))
            .await;
        assert_eq!(status, 404, "{label}");
        assert!(err["error"].as_str().unwrap().contains("openapi.json"));
        let (status, err) = api
            .send(api.http.get(api.app.url(runs)).bearer_auth(&token))
            .await;
        assert_eq!(status, 405, "{label}: wrong method");
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains("GET is not allowed"),
            "{err}"
        );
        let (status, doc) = api
            .send(api.http.get(api.app.url("/api/v1/openapi.json")))
            .await;
        assert_eq!(status, 200);
        assert!(doc["paths"]["/api/v1/runs/{id}/junit"]["post"].is_object());
    }
}

#[tokio::test]
async fn github_webhooks_are_verified_deduplicated_and_applied() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let (api, [token, _, _]) = setup(&backend, app).await;
        let store = connect(&backend).await;
        let secret = "a-webhook-secret-of-some-length";
        projects::set_webhook_secret(&store, "shop", Some(secret), &Actor::system())
            .await
            .unwrap();
        let hooks = "/api/v1/projects/shop/webhooks/github";
        let dir = fixtures_dir().join("github-webhooks");
        let deliver = |event: &str, delivery: &str, body: Vec<u8>, signature: Option<String>| {
            let sig = signature.unwrap_or_else(|| github::sign(secret.as_bytes(), &body));
            api.http
                .post(api.app.url(hooks))
                .header("x-github-event", event)
                .header("x-github-delivery", delivery)
                .header("x-hub-signature-256", sig)
                .header("content-type", "application/json")
                .body(body)
        };

        let run = std::fs::read(dir.join("workflow_run/completed.payload.json")).unwrap();
        let (status, out) = api
            .send(deliver("workflow_run", "d-1", run.clone(), None))
            .await;
        assert_eq!(status, 200, "{label}: {out}");
        let (status, out) = api
            .send(deliver("workflow_run", "d-1", run.clone(), None))
            .await;
        assert_eq!(
            (status, out["duplicate"].as_bool()),
            (200, Some(true)),
            "{label}"
        );
        let (status, _) = api
            .send(deliver(
                "workflow_run",
                "d-2",
                run.clone(),
                Some("sha256=00".into()),
            ))
            .await;
        assert_eq!(status, 401, "{label}: bad signature");

        // The run is visible through the API with GitHub's figures.
        let (_, page) = api
            .send(
                api.http
                    .get(api.app.url("/api/v1/runs/1"))
                    .bearer_auth(&token),
            )
            .await;
        assert_eq!(page["external_id"], "289782451", "{label}: {page}");
        assert_eq!(page["status"], "success");
        assert_eq!(page["branch"], "master");

        let job = std::fs::read(
            dir.join("workflow_job/completed.failure.with-organization.payload.json"),
        )
        .unwrap();
        let (status, out) = api.send(deliver("workflow_job", "d-3", job, None)).await;
        assert_eq!(status, 200, "{label}: {out}");
        let push = std::fs::read(dir.join("push/with-new-branch.payload.json")).unwrap();
        let (status, out) = api.send(deliver("push", "d-4", push, None)).await;
        assert_eq!(status, 200, "{label}: {out}");
        let shop = projects::require(&store, "shop").await.unwrap();
        let commits = app::store::webhooks::commit_count(&store, shop.id)
            .await
            .unwrap();
        assert!(
            commits == 1,
            "{label}: the push's one commit is stored ({out})"
        );
        let pr = std::fs::read(dir.join("pull_request/assigned.payload.json")).unwrap();
        let (status, _) = api.send(deliver("pull_request", "d-5", pr, None)).await;
        assert_eq!(
            status, 202,
            "{label}: unknown events are accepted and ignored"
        );
        let (status, err) = api
            .send(deliver(
                "workflow_run",
                "d-6",
                b"{\"workflow_run\": 3}".to_vec(),
                None,
            ))
            .await;
        assert_eq!(status, 422, "{label}: {err}");

        // GitHub deployments become deployments of the environment of the same name.
        let created = std::fs::read(dir.join("deployment/payload.json")).unwrap();
        let (status, out) = api.send(deliver("deployment", "d-7", created, None)).await;
        assert_eq!(status, 200, "{label}: {out}");
        let success = std::fs::read(dir.join("deployment_status/payload.json")).unwrap();
        let (status, out) = api
            .send(deliver("deployment_status", "d-8", success.clone(), None))
            .await;
        assert_eq!(status, 200, "{label}: {out}");
        let outcome = out["outcome"].as_str().unwrap_or_default().to_string();
        assert!(outcome.ends_with(" succeeded"), "{label}: {out}");
        let (status, _) = api
            .send(deliver("deployment_status", "d-9", success, None))
            .await;
        assert_eq!(
            status, 200,
            "{label}: a status applied twice changes nothing"
        );
        let listed = app::store::deployments::list(
            &store,
            &app::store::deployments::ListFilter {
                project: Some("shop".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            listed.len(),
            1,
            "{label}: one GitHub deployment, one Gatehouse deployment"
        );
        let d = app::store::deployments::get(&store, listed[0].id)
            .await
            .unwrap();
        assert_eq!(
            (
                d.summary.environment.as_str(),
                d.summary.version.as_str(),
                d.summary.state,
                d.summary.requested_by.as_str()
            ),
            (
                "production",
                "master@f95f852",
                app::model::DeployState::Succeeded,
                "github:Codertocat"
            ),
            "{label}"
        );
        assert_eq!(
            d.summary.started_at,
            Some(1_557_933_653_000),
            "{label}: GitHub's own time"
        );
        let pages = std::fs::read(dir.join("deployment/gh-pages.payload.json")).unwrap();
        let (status, out) = api.send(deliver("deployment", "d-10", pages, None)).await;
        assert_eq!(status, 202, "{label}: {out}");
        assert!(
            out["outcome"]
                .as_str()
                .unwrap()
                .contains("no environment `github-pages`"),
            "{out}"
        );

        let other = "/api/v1/projects/other/webhooks/github";
        let (status, err) = api
            .send(
                api.http
                    .post(api.app.url(other))
                    .header("x-github-event", "ping")
                    .body("{}"),
            )
            .await;
        assert_eq!(status, 401, "{label}");
        assert!(
            err["error"].as_str().unwrap().contains("no webhook secret"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn flaky_tests_follow_the_rules_in_json_and_csv() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let (api, [token, _, other]) = setup(&backend, app).await;
        let suite = |cases: &[(&str, &str)]| {
            let body: String = cases
                .iter()
                .map(|(name, result)| match *result {
                    "fail" => format!("<testcase classname=\"K\" name=\"{name}\" time=\"1.5\"><failure message=\"boom\"/></testcase>"),
                    "flaky" => format!("<testcase classname=\"K\" name=\"{name}\" time=\"2\"><flakyFailure message=\"x\"/></testcase>"),
                    _ => format!("<testcase classname=\"K\" name=\"{name}\" time=\"1\"/>"),
                })
                .collect();
            format!("<testsuite name=\"s\">{body}</testsuite>")
        };
        let all = |r: &'static str| [("t1", r), ("t2", r), ("t3", r), ("t4", r), ("t5", r)];
        let mut n = 0;
        let mut report = |commit: &'static str, attempt: i64, xml: String| {
            n += 1;
            let id = n;
            let api = &api;
            let token = token.clone();
            async move {
                let mut body = run_body(&format!("run-{commit}"));
                body["attempt"] = json!(attempt);
                // Within the window the test asks for, whatever today's date.
                body["started_at"] = json!(app::store::now_ms() - 3_600_000);
                body["commit_sha"] = json!(commit);
                let (status, run) = api
                    .send(api.post(&token, "/api/v1/projects/shop/runs").json(&body))
                    .await;
                assert_eq!(status, 201, "{id}: {run}");
                let (status, out) = api
                    .send(
                        api.post(&token, &format!("/api/v1/runs/{}/junit", run["id"]))
                            .body(xml),
                    )
                    .await;
                assert_eq!(status, 201, "{out}");
            }
        };
        // t1 fails then passes on a re-run of commit aaaa: flaky. t2 fails on aaaa and is fixed on bbbb: not flaky.
        report(
            "aaaa",
            1,
            suite(&[
                ("t1", "fail"),
                ("t2", "fail"),
                ("t3", "pass"),
                ("t4", "pass"),
                ("t5", "pass"),
            ]),
        )
        .await;
        report(
            "aaaa",
            2,
            suite(&[
                ("t1", "pass"),
                ("t2", "fail"),
                ("t3", "flaky"),
                ("t4", "pass"),
                ("t5", "pass"),
            ]),
        )
        .await;
        report("bbbb", 1, suite(&all("pass"))).await;
        // An outage on cccc (5 of 5 fail), then a green re-run: not flakes.
        report("cccc", 1, suite(&all("fail"))).await;
        report("cccc", 2, suite(&all("pass"))).await;

        let url = api.app.url("/api/v1/projects/shop/flaky-tests?days=7");
        let (status, out) = api.send(api.http.get(&url).bearer_auth(&token)).await;
        assert_eq!(status, 200, "{label}: {out}");
        let names: Vec<&str> = out["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["t1", "t3"], "{label}: {out}");
        let t1 = &out["tests"][0];
        assert_eq!(
            (
                t1["flakes"].as_i64(),
                t1["executions"].as_i64(),
                t1["commits"].as_i64()
            ),
            (Some(1), Some(4), Some(1)),
            "{label}: {t1}"
        );
        assert_eq!(t1["time_lost_s"], 1.5);

        let csv = api
            .http
            .get(format!("{url}&format=csv"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let text = csv.text().await.unwrap();
        assert!(text.starts_with("test_id,suite,classname,name,"), "{text}");
        assert_eq!(text.lines().count(), 3, "{label}: {text}");

        let (status, _) = api.send(api.http.get(&url).bearer_auth(&other)).await;
        assert_eq!(status, 403, "{label}: another project's token");
        let (status, _) = api
            .send(
                api.http
                    .get(format!("{url}&format=xml"))
                    .bearer_auth(&token),
            )
            .await;
        assert_eq!(status, 422, "{label}");
        let bad_days = api.http.get(format!("{url}&days=soon")).bearer_auth(&token);
        let (status, err) = api.send(bad_days).await;
        assert_eq!(status, 422, "{label}: {err}");
        assert!(
            err["error"].as_str().unwrap().contains("query string"),
            "{err}"
        );
    }
}
