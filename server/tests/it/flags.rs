//! Feature flags on SQLite and Postgres: the store keeps settings, refuses bad ones without
//! touching what is stored, audits each change once; a second server process on the same
//! database sees a change within a second; the evaluation API decides keys as the documented
//! bucket says, answers 304 to its own ETag, and refuses tokens of the wrong scope or project;
//! a pipeline sets a flag with PUT, idempotently; people change flags by role.

use crate::helpers::{backends, connect, project_with_token, spawn_app, ADMIN_PASSWORD};
use app::logic::dora::DAY_MS;
use app::logic::flags::bucket;
use app::model::{Ramp, RampShape, Scope};
use app::store::deployments::Requester;
use app::store::flags::{self, SettingChange, RECHECK};
use app::store::{audit, now_ms, StoreError};
use serde_json::{json, Value};

fn lead() -> Requester {
    Requester {
        user_id: None,
        name: "lee".into(),
        ip: None,
    }
}

fn on_at(rollout: f64) -> SettingChange {
    SettingChange {
        enabled: true,
        rollout,
        ramp: None,
        allow: Vec::new(),
        deny: Vec::new(),
    }
}

#[tokio::test]
async fn flags_are_kept_audited_and_reach_other_replicas_within_a_second() {
    for backend in backends().await {
        let label = backend.label;
        let (db, _) = project_with_token(&backend, "shop", &[Scope::Read]).await;
        let id = flags::create(&db, "shop", "checkout-v2", "One-page checkout", &lead())
            .await
            .unwrap();
        // Names are checked; a second flag of one name is a conflict.
        for (key, wants) in [("Checkout", "lowercase"), ("", "needs a name")] {
            let e = flags::create(&db, "shop", key, "", &lead())
                .await
                .unwrap_err();
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains(wants)),
                "{label}: {e}"
            );
        }
        let e = flags::create(&db, "shop", "checkout-v2", "", &lead())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict(_)), "{label}: {e}");
        let e = flags::create(&db, "nope", "x", "", &lead())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{label}: {e}");

        // New flags are off everywhere.
        let (list, envs) = flags::list(&db, "shop").await.unwrap();
        assert_eq!(envs, vec!["dev", "staging", "production"], "{label}");
        assert_eq!(list.len(), 1, "{label}");
        assert!(
            list[0]
                .settings
                .iter()
                .all(|s| !s.enabled && s.updated_at.is_none()),
            "{label}"
        );

        // A second "replica": another pool on the same database, with its own cache.
        let other = connect(&backend).await;
        let read_at = std::time::Instant::now();
        let seen = flags::environment_flags(&other, "shop", "staging")
            .await
            .unwrap();
        assert!(!seen.flags[0].1.enabled, "{label}");

        let mut change = on_at(0.1);
        change.allow = vec!["qa-1".into()];
        change.deny = vec!["tenant-acme".into()];
        assert!(
            flags::set(&db, id, "staging", &change, &lead())
                .await
                .unwrap(),
            "{label}"
        );
        // The same change again is no change, and is not audited twice.
        assert!(
            !flags::set(&db, id, "staging", &change, &lead())
                .await
                .unwrap(),
            "{label}"
        );
        let history = audit::for_target(&db, "flag:shop/checkout-v2", 10)
            .await
            .unwrap();
        let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["flag.update", "flag.create"], "{label}");
        assert_eq!(
            history[0].detail.as_deref(),
            Some("staging: off → on at 10% · 1 allowed · 1 denied; allow +qa-1; deny +tenant-acme"),
            "{label}"
        );
        assert_eq!(history[0].actor.as_deref(), Some("lee"), "{label}");

        // This process sees its own change at once; the other within RECHECK.
        let here = flags::environment_flags(&db, "shop", "staging")
            .await
            .unwrap();
        assert_eq!(here.flags[0].1.rollout, 0.1, "{label}");
        let stale = flags::environment_flags(&other, "shop", "staging")
            .await
            .unwrap();
        // Within a second of its read, the other replica serves its copy (only checked when the
        // machine was quick enough to still be within that second).
        if read_at.elapsed() < RECHECK * 4 / 5 {
            assert!(!stale.flags[0].1.enabled, "{label}: served from its copy");
        }
        tokio::time::sleep(RECHECK + std::time::Duration::from_millis(100)).await;
        let fresh = flags::environment_flags(&other, "shop", "staging")
            .await
            .unwrap();
        assert!(
            fresh.flags[0].1.enabled,
            "{label}: the other replica caught up"
        );
        assert_eq!(fresh.flags[0].1.allow, vec!["qa-1"], "{label}");

        // Bad settings are refused and change nothing.
        let bad_ramp = SettingChange {
            ramp: Some(Ramp {
                shape: RampShape::Linear,
                from: 0.0,
                to: 1.0,
                starts_at: 10,
                ends_at: 10,
            }),
            ..on_at(0.0)
        };
        for (c, wants) in [
            (on_at(1.5), "rollout"),
            (on_at(f64::NAN), "rollout"),
            (bad_ramp, "end must come after"),
            (
                SettingChange {
                    allow: vec![" ".into()],
                    ..on_at(0.5)
                },
                "allow",
            ),
        ] {
            let e = flags::set(&db, id, "staging", &c, &lead())
                .await
                .unwrap_err();
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains(wants)),
                "{label}: {e}"
            );
        }
        let e = flags::set(&db, id, "qa", &on_at(1.0), &lead())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::NotFound(m) if m.contains("`qa`")),
            "{label}: {e}"
        );
        let kept = flags::get(&db, id).await.unwrap();
        assert_eq!(kept.settings[1].rollout, 0.1, "{label}");
        assert_eq!(kept.settings[1].deny, vec!["tenant-acme"], "{label}");

        // A ramp survives the round trip.
        let start = now_ms() - 2 * DAY_MS;
        let ramp = Ramp {
            shape: RampShape::Steps(4),
            from: 0.0,
            to: 1.0,
            starts_at: start,
            ends_at: start + 4 * DAY_MS,
        };
        let ramped = SettingChange {
            ramp: Some(ramp),
            ..on_at(0.0)
        };
        flags::set(&db, id, "production", &ramped, &lead())
            .await
            .unwrap();
        let f = flags::get(&db, id).await.unwrap();
        assert_eq!(f.settings[2].ramp, Some(ramp), "{label}");
        assert_eq!(
            app::logic::flags::rollout_at(&f.settings[2], now_ms()),
            0.5,
            "{label}: two of four steps done"
        );

        // Deleting keeps the history and drops the flag from what applications read.
        flags::delete(&db, id, &lead()).await.unwrap();
        assert!(
            flags::environment_flags(&db, "shop", "staging")
                .await
                .unwrap()
                .flags
                .is_empty(),
            "{label}"
        );
        let e = flags::get(&db, id).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{label}");
        let history = audit::for_target(&db, "flag:shop/checkout-v2", 10)
            .await
            .unwrap();
        assert_eq!(history[0].action, "flag.delete", "{label}");
        assert!(
            history[0]
                .detail
                .as_deref()
                .unwrap_or_default()
                .contains("production: on, ramp"),
            "{label}"
        );
        let e = flags::environment_flags(&db, "shop", "qa")
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{label}");
    }
}

#[tokio::test]
async fn services_read_flags_and_pipelines_set_them_through_the_api() {
    for backend in backends().await {
        let app = spawn_app(&backend).await;
        let label = app.label;
        let (db, ci) = project_with_token(&backend, "shop", &[Scope::Deploy]).await;
        let read = app::store::tokens::create(
            &db,
            "shop",
            "svc",
            &[Scope::Read],
            &app::store::audit::Actor::system(),
        )
        .await
        .unwrap()
        .secret;
        let (_, other) = project_with_token(&backend, "other", &[Scope::Read, Scope::Deploy]).await;
        let http = reqwest::Client::new();
        let flags_url = |q: &str| app.url(&format!("/api/v1/projects/shop/flags/staging{q}"));

        // A pipeline creates a flag at 30% in staging with PUT; the same PUT again changes
        // nothing.
        let body = json!({"enabled": true, "rollout": 0.3, "allow": ["qa-1"], "deny": ["acme"], "description": "One-page checkout"});
        let put = |token: &str, path: &str, body: &Value| {
            http.put(app.url(path)).bearer_auth(token).json(body).send()
        };
        let res = put(
            &ci,
            "/api/v1/projects/shop/flags/staging/checkout-v2",
            &body,
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 201, "{label}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["rules"]["rollout"], 0.3, "{label}");
        assert_eq!(
            (v["created"].clone(), v["changed"].clone()),
            (json!(true), json!(true)),
            "{label}"
        );
        let res = put(
            &ci,
            "/api/v1/projects/shop/flags/staging/checkout-v2",
            &body,
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 200, "{label}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["changed"], false, "{label}");
        // A ramp sent without its start starts now; sending it again does not restart it.
        let ramp = json!({"enabled": true, "ramp": {"shape": "linear", "from": 0, "to": 1, "ends_at": "2099-01-01T00:00:00Z"}});
        let path = "/api/v1/projects/shop/flags/production/checkout-v2";
        let first: Value = put(&ci, path, &ramp).await.unwrap().json().await.unwrap();
        assert_eq!(first["changed"], true, "{label}: {first}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let again: Value = put(&ci, path, &ramp).await.unwrap().json().await.unwrap();
        assert_eq!(again["changed"], false, "{label}: {again}");
        assert_eq!(
            again["rules"]["ramp"]["starts_at"], first["rules"]["ramp"]["starts_at"],
            "{label}"
        );

        // Bad bodies and paths say what and where, and store nothing.
        for (path, body, status, says) in [
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": true, "rollout": 30}),
                422,
                "rollout",
            ),
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": "yes"}),
                422,
                "enabled",
            ),
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": true, "colour": 1}),
                422,
                "colour",
            ),
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": true, "ramp": {"shape": "linear", "from": 0, "to": 1, "ends_at": "2020-01-01T00:00:00Z"}}),
                422,
                "end must come after",
            ),
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": true, "ramp": {"shape": "steps", "from": 0, "to": 1, "ends_at": "2099-01-01T00:00:00Z"}}),
                422,
                "ramp.steps",
            ),
            (
                "/api/v1/projects/shop/flags/staging/checkout-v2",
                json!({"enabled": true, "allow": ["a,b"]}),
                422,
                "allow",
            ),
            (
                "/api/v1/projects/shop/flags/qa/checkout-v2",
                json!({"enabled": true}),
                404,
                "no environment `qa`",
            ),
            (
                "/api/v1/projects/shop/flags/staging/Checkout",
                json!({"enabled": true}),
                422,
                "lowercase",
            ),
            (
                "/api/v1/projects/shop/flags/staging/brand-new",
                json!({"enabled": true, "rollout": 30}),
                422,
                "rollout",
            ),
            (
                "/api/v1/projects/shop/flags/staging/brand-new",
                json!({"enabled": true, "ramp": {"shape": "linear", "from": 0, "to": 1, "ends_at": "2020-01-01T00:00:00Z"}}),
                422,
                "end must come after",
            ),
        ] {
            let res = put(&ci, path, &body).await.unwrap();
            assert_eq!(res.status(), status, "{label}: {body}");
            let v: Value = res.json().await.unwrap();
            assert!(v["error"].as_str().unwrap().contains(says), "{label}: {v}");
        }
        assert_eq!(
            flags::list(&db, "shop").await.unwrap().0.len(),
            1,
            "{label}: no flag from a refused PUT"
        );

        // Tokens of another project or without the scope are refused.
        let res = put(
            &read,
            "/api/v1/projects/shop/flags/staging/checkout-v2",
            &body,
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 403, "{label}");
        let res = http
            .get(flags_url(""))
            .bearer_auth(&ci)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{label}: deploy is not read");
        let res = http
            .get(flags_url(""))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{label}");
        let res = http.get(flags_url("")).send().await.unwrap();
        assert_eq!(res.status(), 401, "{label}");

        // The rules, for services that decide locally.
        let res = http
            .get(flags_url(""))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{label}");
        assert_eq!(
            res.headers()["cache-control"],
            "private, no-cache",
            "{label}"
        );
        let tag = res.headers()["etag"].to_str().unwrap().to_string();
        let v: Value = res.json().await.unwrap();
        let rules = &v["flags"]["checkout-v2"];
        assert_eq!(rules["enabled"], true, "{label}");
        assert_eq!(rules["rollout"], 0.3, "{label}");
        assert_eq!(rules["allow"], json!(["qa-1"]), "{label}");
        assert_eq!(rules["on_for_all"], false, "{label}");
        assert_eq!(v["key"], Value::Null, "{label}");

        // Its own ETag gets a bodyless 304; an old one the full answer.
        let res = http
            .get(flags_url(""))
            .bearer_auth(&read)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{label}");
        assert_eq!(res.headers()["etag"].to_str().unwrap(), tag, "{label}");
        assert!(res.bytes().await.unwrap().is_empty(), "{label}");
        let res = http
            .get(flags_url(""))
            .bearer_auth(&read)
            .header("if-none-match", "\"old\", W/".to_string() + &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{label}: a list naming it, weak or not");

        // Decisions per key follow the documented bucket, the lists and the rollout.
        let keys: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
        let mut in_count = 0;
        for k in keys.iter().take(40) {
            let res = http
                .get(flags_url(&format!("?key={k}")))
                .bearer_auth(&read)
                .send()
                .await
                .unwrap();
            let v: Value = res.json().await.unwrap();
            let d = &v["flags"]["checkout-v2"];
            let expected = bucket("checkout-v2", k) < 0.3;
            assert_eq!(d["on"], expected, "{label}: {k}");
            assert_eq!(
                d["reason"],
                if expected {
                    "in_rollout"
                } else {
                    "out_of_rollout"
                },
                "{label}"
            );
            in_count += expected as usize;
        }
        assert!(
            in_count > 0 && in_count < 40,
            "{label}: {in_count} of 40 in at 30%"
        );
        let decision = |k: &'static str| {
            let req = http.get(flags_url(&format!("?key={k}"))).bearer_auth(&read);
            async move {
                req.send().await.unwrap().json::<Value>().await.unwrap()["flags"]["checkout-v2"]
                    .clone()
            }
        };
        assert_eq!(decision("qa-1").await["reason"], "allowed", "{label}");
        assert_eq!(decision("acme").await["reason"], "denied", "{label}");
        for (q, says) in [("?key=", "empty"), ("?key=a&key=b", "once")] {
            let res = http
                .get(flags_url(q))
                .bearer_auth(&read)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{label}: {q}");
            let v: Value = res.json().await.unwrap();
            assert!(v["error"].as_str().unwrap().contains(says), "{label}: {v}");
        }
        let res = http
            .get(app.url("/api/v1/projects/shop/flags/qa"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{label}");

        // Raising the rollout keeps everyone who was in, and changes the ETag.
        let raised = json!({"enabled": true, "rollout": 0.6, "allow": ["qa-1"], "deny": ["acme"]});
        let res = put(
            &ci,
            "/api/v1/projects/shop/flags/staging/checkout-v2",
            &raised,
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 200, "{label}");
        let res = http
            .get(flags_url(""))
            .bearer_auth(&read)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{label}: changed flags are sent again");
        assert_ne!(res.headers()["etag"].to_str().unwrap(), tag, "{label}");
        for k in keys.iter().take(40) {
            if bucket("checkout-v2", k) < 0.3 {
                let v: Value = http
                    .get(flags_url(&format!("?key={k}")))
                    .bearer_auth(&read)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(
                    v["flags"]["checkout-v2"]["on"], true,
                    "{label}: {k} stays in"
                );
            }
        }

        // People: viewers read, approvers change, each checked on the server.
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        app.add_user(&admin, "vera", "viewer", "viewer-password-1")
            .await;
        app.add_user(&admin, "lena", "approver", "approver-password-1")
            .await;
        let viewer = app.signed_in("vera", "viewer-password-1").await;
        let lead = app.signed_in("lena", "approver-password-1").await;
        let page = app
            .json(&viewer, "/api/flags/list", &[("project", "shop")])
            .await;
        assert_eq!(page["flags"][0]["key"], "checkout-v2", "{label}: {page}");
        assert_eq!(page["can_edit"], false, "{label}");
        let res = app
            .call(
                &viewer,
                "/api/flags/create",
                &[("project", "shop"), ("key", "x"), ("description", "")],
            )
            .await;
        assert_eq!(res.status(), 403, "{label}");
        let res = app
            .call(
                &lead,
                "/api/flags/create",
                &[
                    ("project", "shop"),
                    ("key", "dark-mode"),
                    ("description", "Dark theme"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200, "{label}");
        let dark: i64 = res.json().await.unwrap();
        let form = |enabled: &'static str, rollout: &'static str, ramp: &'static str| {
            vec![
                ("id", dark.to_string()),
                ("environment", "staging".to_string()),
                ("enabled", enabled.to_string()),
                ("rollout", rollout.to_string()),
                ("ramp", ramp.to_string()),
                ("ramp_steps", "4".to_string()),
                ("ramp_from", "0".to_string()),
                ("ramp_to", "100".to_string()),
                ("ramp_start", "2026-11-24T09:00".to_string()),
                ("ramp_days", "7".to_string()),
                ("allow", "qa-1\nqa-2".to_string()),
                ("deny", "".to_string()),
            ]
        };
        let send = |client: &reqwest::Client, f: Vec<(&'static str, String)>| {
            client.post(app.url("/api/flags/set")).form(&f).send()
        };
        let res = send(&viewer, form("true", "30", "none")).await.unwrap();
        assert_eq!(res.status(), 403, "{label}");
        for (f, says) in [
            (form("maybe", "30", "none"), "enabled"),
            (form("true", "130", "none"), "rollout"),
            (form("true", "30", "wave"), "ramp"),
        ] {
            let res = send(&lead, f).await.unwrap();
            assert_eq!(res.status(), 422, "{label}");
            assert!(res.text().await.unwrap().contains(says), "{label}: {says}");
        }
        let res = send(&lead, form("true", "30", "none")).await.unwrap();
        assert_eq!(res.status(), 200, "{label}");
        let res = send(&lead, form("true", "0", "linear")).await.unwrap();
        assert_eq!(res.status(), 200, "{label}");
        let f = flags::get(&db, dark).await.unwrap();
        let ramp = f.settings[1].ramp.expect("a ramp");
        assert_eq!(
            app::logic::time::to_rfc3339(ramp.starts_at),
            "2026-11-24T09:00:00.000Z",
            "{label}"
        );
        assert_eq!(ramp.ends_at - ramp.starts_at, 7 * DAY_MS, "{label}");
        assert_eq!(f.settings[1].allow, vec!["qa-1", "qa-2"], "{label}");
        let page = app
            .json(
                &viewer,
                "/api/flags/page",
                &[("id", &dark.to_string()), ("key", "qa-2")],
            )
            .await;
        assert_eq!(
            page["check"]["environments"][1]["reason"], "Allowed",
            "{label}: {page}"
        );
        assert_eq!(page["check"]["environments"][2]["reason"], "Off", "{label}");
        assert_eq!(page["history"][0]["action"], "flag.update", "{label}");
        let res = app
            .call(&viewer, "/api/flags/delete", &[("id", &dark.to_string())])
            .await;
        assert_eq!(res.status(), 403, "{label}");
        let res = app
            .call(&lead, "/api/flags/delete", &[("id", &dark.to_string())])
            .await;
        assert_eq!(res.status(), 200, "{label}");
    }
}
