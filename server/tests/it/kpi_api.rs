//! KPIs and incidents through HTTP, on SQLite and Postgres: a CI system reports a run with a
//! real JUnit report, monitoring reports an incident, and a `read` token reads the KPIs the
//! overview shows; people export them as CSV. Bad input and wrong tokens get clear errors.

use crate::helpers::{backends, fixtures_dir, spawn_app, ADMIN_PASSWORD};
use app::model::{Scope, Slug};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::tokens;
use serde_json::{json, Value};

#[tokio::test]
async fn tools_read_kpis_and_report_incidents() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let store = crate::helpers::connect(&backend).await;
        for slug in ["shop", "other"] {
            projects::create(
                &store,
                &NewProject::named(Slug::parse(slug).unwrap()),
                &Actor::system(),
            )
            .await
            .unwrap();
        }
        let token = |project: &'static str, scopes: &'static [Scope]| {
            let store = store.clone();
            async move {
                tokens::create(&store, project, "ci", scopes, &Actor::system())
                    .await
                    .unwrap()
                    .secret
            }
        };
        let ci = token("shop", &[Scope::Ingest, Scope::Deploy]).await;
        let read = token("shop", &[Scope::Read]).await;
        let other = token("other", &[Scope::Read]).await;
        let http = reqwest::Client::new();
        let now = app::store::now_ms();

        // A finished run with a real Surefire report that has a failing test.
        let res = http
            .post(app.url("/api/v1/projects/shop/runs"))
            .bearer_auth(&ci)
            .json(&json!({
                "provider": "generic", "external_id": "k1", "branch": "main",
                "status": "failure", "started_at": now - 3_600_000, "finished_at": now - 3_000_000,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{label}");
        let run: Value = res.json().await.unwrap();
        let id = run["id"].as_i64().unwrap();
        let xml = std::fs::read(fixtures_dir().join(
            "junit/surefire/parser__fixture__testsuitexmlparser__TEST-org.apache.maven.surefire.test.FailingTest.xml",
        ))
        .unwrap();
        let res = http
            .post(app.url(&format!("/api/v1/runs/{id}/junit")))
            .bearer_auth(&ci)
            .body(xml)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{label}");
        let run: Value = http
            .get(app.url(&format!("/api/v1/runs/{id}")))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = &run;
        let (passed, ran) = (
            t["passed"].as_i64().unwrap(),
            t["passed"].as_i64().unwrap()
                + t["failed"].as_i64().unwrap()
                + t["errors"].as_i64().unwrap(),
        );
        assert!(ran > passed, "{label}: the fixture has a failing test: {t}");

        // Incidents: bad input says what and where; a retry with the same key is the same.
        let post_incident = |body: Value| {
            http.post(app.url("/api/v1/projects/shop/incidents"))
                .bearer_auth(&ci)
                .json(&body)
                .send()
        };
        let res = post_incident(json!({"environment": "moon", "title": "x", "started_at": now}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404, "{label}");
        assert!(res.text().await.unwrap().contains("no environment `moon`"));
        let res = post_incident(json!({"environment": "production", "title": "x", "started_at": now, "severity": "huge"}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 422, "{label}");
        assert!(res.text().await.unwrap().contains("severity"));
        let body = json!({
            "environment": "production", "title": "API errors", "severity": "critical",
            "started_at": now - 7_200_000, "incident_key": "pd-77",
        });
        let res = post_incident(body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), 201, "{label}");
        let incident: Value = res.json().await.unwrap();
        let res = post_incident(body).await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let again: Value = res.json().await.unwrap();
        assert_eq!(again["id"], incident["id"]);
        let iid = incident["id"].as_i64().unwrap();
        let res = http
            .post(app.url(&format!("/api/v1/incidents/{iid}/resolve")))
            .bearer_auth(&ci)
            .json(&json!({"resolved_at": now - 6_600_000}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        // Without a body it is resolved now, as the README's curl does it (this one started
        // before the range the KPIs below read).
        let res = post_incident(json!({"environment": "production", "title": "Queue backlog", "started_at": now - 10 * 86_400_000}))
            .await
            .unwrap();
        let second = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let res = http
            .post(app.url(&format!("/api/v1/incidents/{second}/resolve")))
            .bearer_auth(&ci)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let resolved: Value = res.json().await.unwrap();
        assert!(resolved["resolved_at"].is_string(), "{label}: {resolved}");
        // Another project's token does not see it.
        let res = http
            .post(app.url(&format!("/api/v1/incidents/{iid}/resolve")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status().as_u16(),
            403,
            "{label}: a read token cannot resolve"
        );

        // The KPIs, as a read token sees them.
        let get =
            |path: &str, tok: &str| http.get(app.url(path)).bearer_auth(tok.to_string()).send();
        let res = get("/api/v1/projects/shop/kpis?days=7", &read)
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let k: Value = res.json().await.unwrap();
        assert_eq!(k["environment"], "production");
        assert_eq!(k["range"]["days"], 7);
        let kpi = |id: &str| {
            k["kpis"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["kpi"] == id)
                .cloned()
                .unwrap()
        };
        let pass = kpi("test_pass_rate");
        assert!(
            (pass["value"].as_f64().unwrap() - passed as f64 / ran as f64).abs() < 1e-12,
            "{label}: {pass}"
        );
        assert_eq!(pass["target"], 0.98);
        assert_eq!(pass["series"].as_array().unwrap().len(), 7);
        let mttr = kpi("mttr");
        assert_eq!(mttr["incidents"], json!([iid]), "{label}");
        assert_eq!(mttr["value"].as_f64(), Some(600_000.0));
        assert_eq!(
            mttr["band"], "at_risk",
            "10 minutes: past the 5-minute target, within 15"
        );
        assert!(k["dora"]["current"]["change_failure_rate"]["value"].is_null());

        // Wrong tokens and queries.
        let res = get("/api/v1/projects/shop/kpis", &ci).await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "{label}: no read scope");
        let res = get("/api/v1/projects/shop/kpis", &other).await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "{label}: another project");
        let res = get("/api/v1/projects/shop/kpis?days=0", &read)
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("days"));
        let res = get(
            "/api/v1/projects/shop/kpis?from=2026-02-30&to=2026-03-02",
            &read,
        )
        .await
        .unwrap();
        assert_eq!(res.status().as_u16(), 422);
        assert!(res.text().await.unwrap().contains("from"));
        let res = get("/api/v1/projects/shop/kpis?environment=moon", &read)
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404);

        // People export the same numbers as CSV; anonymous callers cannot.
        let anonymous = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for path in [
            "/overview/export?project=shop&days=7",
            "/overview/export.csv?project=shop&days=7",
        ] {
            let res = anonymous.get(app.url(path)).send().await.unwrap();
            let status = res.status().as_u16();
            assert!(
                status == 401 || status == 303 || status == 404,
                "{label} {path}: anonymous got {status}"
            );
            assert!(!res.text().await.unwrap().contains("test_pass_rate"));
        }
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let csv = admin
            .get(app.url("/overview/export?project=shop&days=7"))
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status().as_u16(), 200, "{label}");
        assert!(csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = csv.text().await.unwrap();
        assert!(text.starts_with("project,environment,kpi,"), "{text}");
        let total = text
            .lines()
            .find(|l| l.contains(",test_pass_rate,") && l.contains(",total,"))
            .unwrap();
        assert!(
            total.contains(&format!(",{},fraction,", passed as f64 / ran as f64)),
            "{label}: {total}"
        );
        assert_eq!(
            text.lines().filter(|l| l.contains(",mttr,")).count(),
            8,
            "a total and 7 days"
        );
    }
}
