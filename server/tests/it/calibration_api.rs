//! The predictor through HTTP, on SQLite and Postgres: a CI system reports runs with change
//! sizes, and reviewers' tools read the calibration report (JSON) and the predictions (CSV)
//! with a `read` token; bad tokens and queries get clear errors.

use crate::helpers::{backends, connect, spawn_app};
use app::model::{Scope, Slug};
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use app::store::tokens;
use serde_json::{json, Value};

#[tokio::test]
async fn reviewers_read_the_calibration_report_and_predictions() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let store = connect(&backend).await;
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
        let ingest = token("shop", &[Scope::Ingest]).await;
        let read = token("shop", &[Scope::Read]).await;
        let other = token("other", &[Scope::Read]).await;
        let http = reqwest::Client::new();
        let now = app::store::now_ms();
        // 30 runs over the last 30 hours, every third failing; sizes sent by the CI system.
        for n in 0..30i64 {
            let started = now - (30 - n) * 3_600_000;
            let body = json!({
                "provider": "generic",
                "external_id": format!("b{n}"),
                "branch": "main",
                "author": "ana",
                "status": if n % 3 == 0 { "failure" } else { "success" },
                "started_at": started,
                "finished_at": started + 11 * 60_000,
                "change_lines": 40 + n,
                "change_files": 3,
            });
            let res = http
                .post(app.url("/api/v1/projects/shop/runs"))
                .bearer_auth(&ingest)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status().as_u16(),
                201,
                "{label}: {}",
                res.text().await.unwrap()
            );
        }
        let bad = http
            .post(app.url("/api/v1/projects/shop/runs"))
            .bearer_auth(&ingest)
            .json(&json!({"provider": "generic", "external_id": "x", "status": "running", "change_lines": -4}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 422, "{label}");
        assert!(bad.text().await.unwrap().contains("change_lines"));

        let get = |path: String, tok: String| {
            let http = http.clone();
            let url = app.url(&path);
            async move {
                let res = http.get(url).bearer_auth(tok).send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            }
        };
        let (status, text) = get(
            "/api/v1/projects/shop/calibration?days=7&threshold=0.4&binning=quantile".into(),
            read.clone(),
        )
        .await;
        assert_eq!(status, 200, "{label}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let report = &body["report"];
        assert_eq!(report["samples"], 30, "{label}");
        assert_eq!(report["failed"], 10);
        assert_eq!(report["binning"], "quantile");
        assert_eq!(report["at_threshold"]["threshold"], 0.4);
        let tp = report["at_threshold"]["tp"].as_u64().unwrap();
        let fn_ = report["at_threshold"]["fn_"].as_u64().unwrap();
        assert_eq!(tp + fn_, 10);
        let recall = &report["at_threshold"]["failure_detection"];
        assert_eq!(recall["target"], 0.9);
        assert!(recall["low"].as_f64().unwrap() <= recall["value"].as_f64().unwrap());
        assert!(report["brier"].is_number());
        assert_eq!(body["model"]["version"], 1);
        assert_eq!(body["model"]["state"], "active");
        assert!(
            body["drift"].as_array().unwrap().len() >= 10,
            "{label}: a row per feature"
        );
        assert!(body["definitions"]["alert_accuracy"]
            .as_str()
            .unwrap()
            .contains("TP/(TP+FP)"));

        let (status, csv) = get(
            "/api/v1/projects/shop/predictions?days=7".into(),
            read.clone(),
        )
        .await;
        assert_eq!(status, 200, "{label}: {csv}");
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        assert!(
            header
                .starts_with("run_id,external_id,started_at,model_version,score,outcome,pass_rate"),
            "{header}"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 30);
        let cols: Vec<&str> = header.split(',').collect();
        let lines_at = cols.iter().position(|c| *c == "change_lines").unwrap();
        let last: Vec<&str> = rows[29].split(',').collect();
        assert_eq!(
            last[lines_at], "69",
            "{label}: the change size became a feature"
        );
        assert_eq!(last[5], "passed");

        // The page's exports are for signed-in people only, whatever the path looks like.
        let anonymous = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for path in [
            "/calibration/export?project=shop",
            "/calibration/chart/roc?project=shop",
            "/calibration/chart/roc.svg?project=shop",
            "/calibration/export.csv?project=shop",
        ] {
            let res = anonymous.get(app.url(path)).send().await.unwrap();
            let status = res.status().as_u16();
            assert!(
                status == 401 || status == 303 || status == 404,
                "{label} {path}: anonymous got {status}"
            );
            assert!(
                !res.text().await.unwrap().contains("section,item"),
                "{label} {path}"
            );
        }

        // Errors say what and where; other projects' and ingest-only tokens are refused.
        for (path, tok, want, says) in [
            (
                "/api/v1/projects/shop/calibration",
                ingest.clone(),
                403,
                "lacks the `read` scope",
            ),
            (
                "/api/v1/projects/shop/calibration",
                other.clone(),
                403,
                "belongs to project `other`",
            ),
            (
                "/api/v1/projects/shop/calibration?days=0",
                read.clone(),
                422,
                "`days` must be 1 to 730",
            ),
            (
                "/api/v1/projects/shop/calibration?threshold=2",
                read.clone(),
                422,
                "threshold",
            ),
            (
                "/api/v1/projects/shop/calibration?binning=log",
                read.clone(),
                422,
                "uniform or quantile",
            ),
            (
                "/api/v1/projects/shop/calibration?version=9",
                read.clone(),
                404,
                "no model version v9",
            ),
            (
                "/api/v1/projects/shop/calibration?colour=red",
                read.clone(),
                422,
                "query string",
            ),
            (
                "/api/v1/projects/shop/predictions?limit=0",
                read.clone(),
                422,
                "`limit` must be 1",
            ),
        ] {
            let (status, text) = get(path.into(), tok).await;
            assert_eq!(status, want, "{label} {path}: {text}");
            assert!(text.contains(says), "{label} {path}: {text}");
        }
    }
}
