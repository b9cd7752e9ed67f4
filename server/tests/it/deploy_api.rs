//! The deployments API as a deployer uses it: request, read the gates, wait for the go
//! (`gatehouse wait`), report canary steps and success, post health, roll back; with the
//! refusals a script must understand.

use crate::helpers::{backends, project_with_token, spawn_app};
use app::model::Scope;
use app::store::audit::Actor;
use app::store::environments;
use clap::Parser;
use gatehouse_server::cli::{Cli, Command};
use gatehouse_server::push::{self, PushError};
use serde_json::{json, Value};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn wait(url: &str, token: &str, id: i64) -> Result<Value, PushError> {
    let id = id.to_string();
    let argv = [
        "gatehouse",
        "wait",
        "--url",
        url,
        "--token",
        token,
        "--wait-timeout",
        "2",
        "--interval",
        "1",
        &id,
    ];
    match Cli::try_parse_from(argv)
        .expect("valid command line")
        .command
    {
        Some(Command::Wait {
            target,
            deployment,
            wait_timeout,
            interval,
        }) => push::wait(&target, deployment, wait_timeout, interval).await,
        other => panic!("not a wait command: {other:?}"),
    }
}

#[tokio::test]
async fn a_deployer_requests_waits_rolls_out_and_rolls_back() {
    for db in backends().await {
        let label = db.label;
        let app = spawn_app(&db).await;
        let (store, token) =
            project_with_token(&db, "shop", &[Scope::Ingest, Scope::Deploy, Scope::Read]).await;
        let (_, other) = project_with_token(&db, "blog", &[Scope::Deploy]).await;
        let (_, ingest_only) = {
            let t = app::store::tokens::create(
                &store,
                "shop",
                "uploader",
                &[Scope::Ingest],
                &Actor::system(),
            )
            .await
            .unwrap();
            ((), t.secret)
        };
        // Staging without gates; production keeps its seeded rules (approvals, checklist…).
        let staging = environments::find(&store, "shop", "staging").await.unwrap();
        environments::set_gates(&store, staging.id, &[], &Actor::system())
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let deployments = app.url("/api/v1/projects/shop/deployments");
        let body = |version: &str, commit: &str| {
            json!({"environment": "staging", "version": version, "commit": commit, "ref": "main",
                   "strategy": "canary", "canary_steps": [{"traffic": 0.5, "pause_s": 0}, {"traffic": 1.0}],
                   "commits": [{"sha": commit, "message": format!("feat: release {version}"), "author": "noor",
                                "committed_at": app::store::now_ms()}]})
        };
        let c1 = "1111111111111111111111111111111111111111";
        let c2 = "2222222222222222222222222222222222222222";

        // Refusals first: scope, project, bad body.
        let (status, out) = send(
            http.post(&deployments)
                .bearer_auth(&ingest_only)
                .json(&body("1.0.0", c1)),
        )
        .await;
        assert_eq!(status, 403, "{label}: {out}");
        let (status, _) = send(
            http.post(&deployments)
                .bearer_auth(&other)
                .json(&body("1.0.0", c1)),
        )
        .await;
        assert_eq!(status, 403, "{label}");
        let (status, out) = send(
            http.post(&deployments)
                .bearer_auth(&token)
                .json(&body("one", c1)),
        )
        .await;
        assert_eq!(status, 422, "{label}");
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("version: `one` is not a semantic version"),
            "{out}"
        );
        let mut percent = body("1.0.0", c1);
        percent["canary_steps"] = json!([{"traffic": 50}, {"traffic": 100}]);
        let (status, out) = send(http.post(&deployments).bearer_auth(&token).json(&percent)).await;
        assert_eq!(status, 422, "{label}");
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .contains("a fraction, not a percent"),
            "{out}"
        );
        let mut prod = body("1.0.0", c1);
        prod["environment"] = json!("production");
        prod["ref"] = json!("feature/login");
        let (status, out) = send(http.post(&deployments).bearer_auth(&token).json(&prod)).await;
        assert_eq!(status, 422, "{label}");
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .contains("`feature/login` may not deploy"),
            "{out}"
        );

        // 1.0.0 to staging: no gates, no approvals: go at once.
        let (status, first) = send(
            http.post(&deployments)
                .bearer_auth(&token)
                .json(&body("1.0.0", c1)),
        )
        .await;
        assert_eq!(status, 201, "{label}: {first}");
        assert_eq!(first["decision"], "go");
        let id1 = first["id"].as_i64().unwrap();
        let (status, again) = send(
            http.post(&deployments)
                .bearer_auth(&token)
                .json(&body("1.0.0", c1)),
        )
        .await;
        assert_eq!(
            (status, again["id"].as_i64()),
            (200, Some(id1)),
            "{label}: a retry is the same deployment"
        );
        let go = wait(&app.url(""), &token, id1).await.expect("go");
        assert_eq!(go["state"], "in_progress");
        let events = app.url(&format!("/api/v1/deployments/{id1}/events"));
        for step in [0, 1] {
            let (status, out) = send(
                http.post(&events)
                    .bearer_auth(&token)
                    .json(&json!({"kind": "progress", "step": step})),
            )
            .await;
            assert_eq!(status, 200, "{label}: {out}");
        }
        let (status, out) = send(
            http.post(&events)
                .bearer_auth(&token)
                .json(&json!({"kind": "succeeded"})),
        )
        .await;
        assert_eq!(
            (status, out["state"].as_str()),
            (200, Some("succeeded")),
            "{label}"
        );
        let (status, out) = send(
            http.post(&events)
                .bearer_auth(&token)
                .json(&json!({"kind": "landed"})),
        )
        .await;
        assert_eq!(status, 422, "{label}");
        assert!(out["error"]
            .as_str()
            .unwrap()
            .contains("`landed` is not an event"));

        // 1.1.0, then health samples: a good one, a percent by mistake, then a critical one.
        let (_, second) = send(
            http.post(&deployments)
                .bearer_auth(&token)
                .json(&body("1.1.0", c2)),
        )
        .await;
        let id2 = second["id"].as_i64().unwrap();
        let events = app.url(&format!("/api/v1/deployments/{id2}/events"));
        for kind in [
            json!({"kind": "progress", "step": 0}),
            json!({"kind": "progress", "step": 1}),
            json!({"kind": "succeeded"}),
        ] {
            let (status, out) = send(http.post(&events).bearer_auth(&token).json(&kind)).await;
            assert_eq!(status, 200, "{label}: {out}");
        }
        let health = app.url(&format!("/api/v1/deployments/{id2}/health"));
        let (status, out) = send(http.post(&health).bearer_auth(&token).json(
            &json!({"samples": [{"key": "s1", "error_rate": 0.0004, "availability": 0.9999}]}),
        ))
        .await;
        assert_eq!(
            (status, out["stored"].as_i64(), out["rollback_id"].clone()),
            (200, Some(1), Value::Null),
            "{label}: {out}"
        );
        let (status, out) = send(
            http.post(&health)
                .bearer_auth(&token)
                .json(&json!({"samples": [{"error_rate": 7}]})),
        )
        .await;
        assert_eq!(status, 422, "{label}");
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("samples[0].error_rate"),
            "{out}"
        );
        let (status, out) = send(
            http.post(&health)
                .bearer_auth(&token)
                .json(&json!({"samples": [{"key": "s2", "error_rate": 0.2}]})),
        )
        .await;
        assert_eq!(status, 200, "{label}");
        let rollback = out["rollback_id"].as_i64().expect("automatic rollback");
        // A manual rollback now finds the one under way.
        let url = app.url(&format!("/api/v1/deployments/{id2}/rollback"));
        let (status, out) = send(
            http.post(&url)
                .bearer_auth(&token)
                .json(&json!({"reason": "errors"})),
        )
        .await;
        assert_eq!(
            (status, out["id"].as_i64()),
            (200, Some(rollback)),
            "{label}: {out}"
        );
        assert_eq!(out["version"], "1.0.0");
        let events = app.url(&format!("/api/v1/deployments/{rollback}/events"));
        let (status, _) = send(
            http.post(&events)
                .bearer_auth(&token)
                .json(&json!({"kind": "succeeded"})),
        )
        .await;
        assert_eq!(status, 200, "{label}");
        let (_, d2) = send(
            http.get(app.url(&format!("/api/v1/deployments/{id2}")))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(d2["state"], "rolled_back", "{label}");
        assert_eq!(d2["rolled_back_by"].as_i64(), Some(rollback));
        let err = wait(&app.url(""), &token, id2).await.unwrap_err();
        assert_eq!(err.exit_code(), 1, "{label}: {err}");

        // Production: held by its seeded rules; `gatehouse wait` times out saying why.
        let mut prod = body("1.1.0", c2);
        prod["environment"] = json!("production");
        prod["strategy"] = json!("rolling");
        prod.as_object_mut().unwrap().remove("canary_steps");
        let (status, out) = send(http.post(&deployments).bearer_auth(&token).json(&prod)).await;
        assert_eq!(status, 201, "{label}: {out}");
        assert_eq!(out["decision"], "pending");
        assert_eq!(out["approvals"]["required"], 2);
        let id3 = out["id"].as_i64().unwrap();
        let err = wait(&app.url(""), &token, id3).await.unwrap_err();
        assert_eq!(err.exit_code(), 3, "{label}: {err}");
        let e = err.to_string();
        assert!(
            e.contains("still evaluating: quality gates fail"),
            "{label}: {e}"
        );
        let (status, out) = send(
            http.post(app.url(&format!("/api/v1/deployments/{id3}/events")))
                .bearer_auth(&token)
                .json(&json!({"kind": "progress", "traffic": 0.1})),
        )
        .await;
        assert_eq!(status, 409, "{label}");
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("not started: quality gates fail"),
            "{out}"
        );
        // Another project's token sees nothing.
        let (status, _) = send(
            http.get(app.url(&format!("/api/v1/deployments/{id3}")))
                .bearer_auth(&other),
        )
        .await;
        assert_eq!(status, 404, "{label}");
        let (status, list) = send(
            http.get(format!("{deployments}?environment=staging"))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            list["deployments"].as_array().unwrap().len(),
            3,
            "{label}: {list}"
        );
    }
}
