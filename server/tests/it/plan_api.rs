//! Rollout plans through HTTP, on SQLite and Postgres: a pipeline creates the seeds' roadmap
//! with a retry key, ticks checklist items and marks a phase done (refused while the
//! checklist is open); tokens of the wrong scope or project are refused; people create and
//! change plans through the server functions by role.

use crate::helpers::{backends, project_with_token, spawn_app, ADMIN_PASSWORD};
use app::model::Scope;
use app::store::tokens;
use serde_json::{json, Value};

#[tokio::test]
async fn pipelines_and_people_work_through_a_plan() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let (store, ci) = project_with_token(&backend, "shop", &[Scope::Deploy, Scope::Read]).await;
        let read = tokens::create(
            &store,
            "shop",
            "reader",
            &[Scope::Read],
            &app::store::audit::Actor::system(),
        )
        .await
        .unwrap()
        .secret;
        let (_, other) = project_with_token(&backend, "other", &[Scope::Deploy, Scope::Read]).await;
        let http = reqwest::Client::new();
        let post = |token: &str, body: Value| {
            http.post(app.url("/api/v1/projects/shop/plans"))
                .bearer_auth(token)
                .json(&body)
                .send()
        };

        // Bad input: what and where.
        for (body, status, says) in [
            (
                json!({"title": "x", "template": "roadmap", "phases": []}),
                422,
                "not both",
            ),
            (json!({"title": "x", "template": "kanban"}), 422, "`kanban`"),
            (json!({"title": "x", "colour": "red"}), 422, "colour"),
            (
                json!({"title": "x", "phases": [{"title": "a", "due_on": "2026-02-30"}]}),
                422,
                "phases[0].due_on",
            ),
            (
                json!({"title": "x", "phases": [{"title": "a", "criteria": [{"title": "c", "kpi": "error_rate", "comparator": "lt", "threshold": 0.1}, {"title": "d", "kpi": "error_rate", "comparator": "lt", "threshold": 5}]}]}),
                422,
                "phases[0].criteria[1].threshold",
            ),
            (
                json!({"title": "x", "phases": [{"title": "a", "criteria": [{"title": "c", "kpi": "speed", "comparator": "lt", "threshold": 1}]}]}),
                422,
                "no KPI `speed`",
            ),
            (
                json!({"title": "x", "phases": [{"title": "a", "status": "done", "checklist": ["b"]}]}),
                422,
                "cannot start done",
            ),
            (json!({"title": " "}), 422, "title"),
            (
                json!({"title": "x", "phases": [{"title": "a", "criteria": [{"title": "g", "gate": {"environment": " "}}]}]}),
                422,
                "phases[0].criteria[0].environment",
            ),
            (
                json!({"title": "x", "phases": [{"title": "a", "criteria": [{"title": "g", "gate": {"environment": "production", "metric": "p99"}}]}]}),
                422,
                "phases[0].criteria[0].metric",
            ),
            (
                json!({"title": "x", "phases": [{"title": "a", "status": "blocked"}]}),
                422,
                "phases[0].note: say what blocks",
            ),
        ] {
            let res = post(&ci, body.clone()).await.unwrap();
            assert_eq!(res.status().as_u16(), status, "{label}: {body}");
            let text = res.text().await.unwrap();
            assert!(text.contains(says), "{label}: {body}: {text}");
        }
        let res = post(&read, json!({"title": "x", "template": "roadmap"}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{label}");
        let res = http
            .post(app.url("/api/v1/projects/shop/plans"))
            .bearer_auth(&other)
            .json(&json!({"title": "x", "template": "roadmap"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{label}");
        let list: Value = http
            .get(app.url("/api/v1/projects/shop/plans"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["plans"], json!([]), "{label}: nothing was stored");

        // The roadmap, retried with the same key.
        let body = json!({"title": "Production roadmap", "template": "roadmap", "starts_on": "2026-11-02", "plan_key": "gh-run-42"});
        let res = post(&ci, body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), 201, "{label}");
        let plan: Value = res.json().await.unwrap();
        let res = post(&ci, body).await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let again: Value = res.json().await.unwrap();
        assert_eq!(again["id"], plan["id"], "{label}");
        let id = plan["id"].as_i64().unwrap();
        let phases = plan["phases"].as_array().unwrap();
        assert_eq!(phases.len(), 11, "{label}");
        assert_eq!(phases[1]["starts_on"], "2026-11-02", "{label}");
        assert_eq!(phases[1]["due_on"], "2026-11-15", "{label}");
        let p8 = &phases[8];
        let rule = p8["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["link"]["kpi"] == "latency_p99")
            .unwrap();
        assert_eq!(
            rule["link"],
            json!({"kind": "kpi", "kpi": "latency_p99", "comparator": "lt", "threshold": 200.0})
        );
        assert_eq!(rule["verdict"], "no_data", "{label}: no run measured p99");
        let p5 = phases[5].clone();
        let phase5 = p5["id"].as_i64().unwrap();
        let checklist: Vec<i64> = p5["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "checklist")
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(checklist.len(), 4, "{label}");

        // Another project's token does not see it; a read token does.
        let res = http
            .get(app.url(&format!("/api/v1/plans/{id}")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404, "{label}");
        let res = http
            .get(app.url(&format!("/api/v1/plans/{id}")))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");

        // Done is refused while the checklist is open, with the open items named.
        let status = |body: Value| {
            http.put(app.url(&format!("/api/v1/plans/{id}/phases/{phase5}/status")))
                .bearer_auth(&ci)
                .json(&body)
                .send()
        };
        let res = status(json!({"status": "done"})).await.unwrap();
        assert_eq!(res.status().as_u16(), 409, "{label}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains("4 open: GitOps pipeline working"),
            "{label}: {text}"
        );
        let res = status(json!({"status": "finished"})).await.unwrap();
        assert_eq!(res.status().as_u16(), 422, "{label}");
        let res = status(json!({"status": "blocked"})).await.unwrap();
        assert_eq!(res.status().as_u16(), 422, "{label}");
        for item in &checklist {
            let res = http
                .put(app.url(&format!("/api/v1/plans/{id}/items/{item}")))
                .bearer_auth(&ci)
                .json(&json!({"done": true}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{label}");
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["done"], true, "{label}");
            assert_eq!(v["done_by"], "token:ci", "{label}");
        }
        let res = http
            .put(app.url(&format!("/api/v1/plans/{id}/items/{}", checklist[0])))
            .bearer_auth(&read)
            .json(&json!({"done": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{label}");
        let res = status(json!({"status": "done", "note": "pipeline green"}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["status"], "done", "{label}");
        assert_eq!(v["status_by"], "token:ci", "{label}");
        let res = http
            .put(app.url(&format!("/api/v1/plans/{id}/items/{}", checklist[0])))
            .bearer_auth(&ci)
            .json(&json!({"done": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 409, "{label}");
        let list: Value = http
            .get(app.url("/api/v1/projects/shop/plans"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["plans"][0]["phases_done"], 2, "{label}: phase 0 and 5");

        // People: a viewer reads but does not change; an approver creates and ticks; only an
        // admin deletes.
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        app.add_user(&admin, "vera", "viewer", "viewer-password-1")
            .await;
        app.add_user(&admin, "ana", "approver", "approver-password-1")
            .await;
        let viewer = app.signed_in("vera", "viewer-password-1").await;
        let approver = app.signed_in("ana", "approver-password-1").await;
        let id_s = id.to_string();
        let res = app.call(&viewer, "/api/plans/page", &[("id", &id_s)]).await;
        assert_eq!(res.status(), 200, "{label}");
        let page: Value = res.json().await.unwrap();
        assert_eq!(page["can_edit"], false, "{label}");
        let form = [
            ("project", "shop"),
            ("title", "Mine"),
            ("template", "roadmap"),
            ("starts_on", ""),
        ];
        let res = app.call(&viewer, "/api/plans/create", &form).await;
        assert_eq!(res.status(), 403, "{label}");
        let res = app.call(&approver, "/api/plans/create", &form).await;
        assert_eq!(res.status(), 200, "{label}");
        let mine: i64 = res.json().await.unwrap();
        let mine_s = mine.to_string();
        let res = app
            .call(
                &approver,
                "/api/plans/create",
                &[
                    ("project", "shop"),
                    ("title", "x"),
                    ("template", "roadmap"),
                    ("starts_on", "soon"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{label}");
        assert!(res.text().await.unwrap().contains("starts on"), "{label}");
        let page: Value = app
            .json(&approver, "/api/plans/page", &[("id", &mine_s)])
            .await;
        assert_eq!(page["can_edit"], true, "{label}");
        assert_eq!(page["can_delete"], false, "{label}");
        let phase1 = page["plan"]["phases"][1]["id"]
            .as_i64()
            .unwrap()
            .to_string();
        let res = app
            .call(
                &approver,
                "/api/plans/criterion",
                &[
                    ("plan", &mine_s),
                    ("phase", &phase1),
                    ("title", "Error rate"),
                    ("link", "kpi"),
                    ("kpi", "error_rate"),
                    ("comparator", "lt"),
                    ("threshold", "1%"),
                    ("gate", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{label}");
        assert!(
            res.text().await.unwrap().contains("not percents"),
            "{label}"
        );
        let res = app
            .call(
                &approver,
                "/api/plans/criterion",
                &[
                    ("plan", &mine_s),
                    ("phase", &phase1),
                    ("title", "Error rate"),
                    ("link", "kpi"),
                    ("kpi", "error_rate"),
                    ("comparator", "lt"),
                    ("threshold", "0.01"),
                    ("gate", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 200, "{label}");
        let item1 = page["plan"]["phases"][1]["items"][0]["id"]
            .as_i64()
            .unwrap()
            .to_string();
        let res = app
            .call(
                &approver,
                "/api/plans/tick",
                &[("plan", &mine_s), ("item", &item1), ("done", "maybe")],
            )
            .await;
        assert_eq!(res.status(), 422, "{label}");
        assert!(
            res.text().await.unwrap().contains("done: true or false"),
            "{label}"
        );
        let res = app
            .call(
                &approver,
                "/api/plans/tick",
                &[("plan", &mine_s), ("item", &item1), ("done", "true")],
            )
            .await;
        assert_eq!(res.status(), 200, "{label}");
        let again: Value = app
            .json(&approver, "/api/plans/page", &[("id", &mine_s)])
            .await;
        assert_eq!(
            again["plan"]["phases"][1]["items"][0]["done_by"], "ana",
            "{label}"
        );
        let res = app
            .call(
                &viewer,
                "/api/plans/item",
                &[
                    ("plan", &mine_s),
                    ("phase", &phase1),
                    ("kind", "deliverable"),
                    ("title", "x"),
                    ("owner", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 403, "{label}");
        let res = app
            .call(&approver, "/api/plans/delete", &[("plan", &mine_s)])
            .await;
        assert_eq!(res.status(), 403, "{label}");
        let res = app
            .call(&admin, "/api/plans/delete", &[("plan", &mine_s)])
            .await;
        assert_eq!(res.status(), 200, "{label}");
        let res = app
            .call(&viewer, "/api/plans/page", &[("id", &mine_s)])
            .await;
        assert_eq!(res.status(), 404, "{label}");
        // Anonymous: nothing.
        let res = app.call(&app.client(), "/api/plans/list", &[]).await;
        assert_eq!(res.status(), 401, "{label}");
    }
}
