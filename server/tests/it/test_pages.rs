//! Tests across runs through a real server: the flaky list, a test's page with its chart,
//! and quarantine (approvers only, audited, kept across requests).

use crate::helpers::{backends, project_with_token, spawn_app, TestApp, ADMIN_PASSWORD};
use app::model::Scope;
use reqwest::StatusCode;
use serde_json::{json, Value};

const COMMIT: &str = "feedfacefeedfacefeedfacefeedfacefeedface";

fn report(first_fails: bool, first_time: f64) -> String {
    let outcome = if first_fails {
        r#"<failure message="expected 3 items, got 2">AssertionError at Cart.java:42</failure>"#
    } else {
        ""
    };
    format!(
        r#"<?xml version="1.0"?><testsuite name="shop" tests="2">
<testcase classname="shop.Cart" name="adds_items" time="{first_time}">{outcome}</testcase>
<testcase classname="shop.Cart" name="totals" time="0.2"/></testsuite>"#
    )
}

async fn flaky_of(app: &TestApp, who: &reqwest::Client) -> Value {
    app.json(
        who,
        "/api/tests/flaky",
        &[("project", "shop"), ("days", "14")],
    )
    .await
}

/// Quarantines the test with `reason`, or releases it with `None`, as `who`.
async fn quarantine(
    app: &TestApp,
    who: &reqwest::Client,
    test_id: &str,
    reason: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("test_id", test_id)];
    match reason {
        Some(r) => form.extend([("quarantine", "true"), ("reason", r)]),
        None => form.push(("quarantine", "false")),
    }
    app.call(who, "/api/tests/quarantine", &form).await
}

#[tokio::test]
async fn flaky_tests_their_history_and_quarantine_by_approvers() {
    for db in backends().await {
        let label = db.label;
        let app = spawn_app(&db).await;
        let (_store, token) = project_with_token(&db, "shop", &[Scope::Ingest]).await;
        let http = reqwest::Client::new();
        // Three runs on one commit: the test fails, then passes twice. Flaky.
        let now = app::store::now_ms();
        for (n, fails, time) in [(1, true, 0.5), (2, false, 0.6), (3, false, 0.55)] {
            let run: Value = http
                .post(app.url("/api/v1/projects/shop/runs"))
                .bearer_auth(&token)
                .json(&json!({"provider": "generic", "external_id": n.to_string(), "status": "success",
                    "commit_sha": COMMIT, "branch": "main", "started_at": now - 3_600_000 + n * 60_000}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let res = http
                .post(app.url(&format!("/api/v1/runs/{}/junit", run["id"])))
                .bearer_auth(&token)
                .body(report(fails, time))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED, "{label}");
        }

        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let flaky = flaky_of(&app, &admin).await;
        let list = flaky
            .as_array()
            .unwrap_or_else(|| panic!("{label}: {flaky}"));
        assert_eq!(list.len(), 1, "{label}: {flaky}");
        assert_eq!(list[0]["name"], "adds_items");
        assert_eq!(
            list[0]["flakes"], 1,
            "{label}: the failure on a commit it passed on"
        );
        let id = list[0]["test_id"].as_i64().unwrap();

        let page = admin
            .get(app.url("/tests/flaky?project=shop"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("href=\"/tests/{id}\"")),
            "{label}: flaky page links the test"
        );

        let page = admin
            .get(app.url(&format!("/tests/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("class=\"chart durations\""),
            "{label}: duration chart drawn"
        );
        let strip = &html[html.find("class=\"strip\"").expect("a result strip")..];
        let strip = &strip[..strip.find("</ol>").unwrap()];
        assert_eq!(
            strip.matches("<li>").count(),
            3,
            "{label}: one cell per run: {strip}"
        );
        assert!(
            html.contains("expected 3 items, got 2"),
            "{label}: recent failure shown"
        );
        let missing = admin.get(app.url("/tests/999999")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{label}");

        // A viewer may look but not quarantine; an approver may.
        app.add_user(&admin, "vera", "viewer", "viewer-password-1")
            .await;
        app.add_user(&admin, "april", "approver", "approver-password-1")
            .await;
        let viewer = app.signed_in("vera", "viewer-password-1").await;
        let approver = app.signed_in("april", "approver-password-1").await;
        let test_id = id.to_string();
        let res = quarantine(&app, &viewer, &test_id, Some("not mine to decide")).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{label}");
        assert!(res.text().await.unwrap().contains("approver"));
        let res = quarantine(&app, &approver, &test_id, Some("   ")).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{label}: empty reason"
        );
        let res = quarantine(
            &app,
            &approver,
            &test_id,
            Some("times out on shared runners; QA-12"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{label}");
        let q: Value = res.json().await.unwrap();
        assert_eq!(q["by"], "april", "{label}: {q}");

        let history = app
            .json(&viewer, "/api/tests/history", &[("id", &test_id)])
            .await;
        assert_eq!(
            history["test"]["quarantine"]["reason"],
            "times out on shared runners; QA-12"
        );
        let flaky = flaky_of(&app, &viewer).await;
        assert_eq!(flaky[0]["quarantined"], true, "{label}");
        let audit = app.json(&admin, "/api/audit/list", &[]).await;
        let entry = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "test.quarantined")
            .unwrap_or_else(|| panic!("{label}: no audit entry in {audit}"));
        assert_eq!(entry["actor"], "april");

        let res = quarantine(&app, &approver, &test_id, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{label}");
        let history = app
            .json(&viewer, "/api/tests/history", &[("id", &test_id)])
            .await;
        assert!(history["test"]["quarantine"].is_null(), "{label}: released");
        std::mem::forget(db);
    }
}
