//! The HTTP stack through a real server: sign-in, sessions, roles, cross-site refusal, probes.

use crate::helpers::{backends, settings_for, spawn_app, spawn_app_with, TestApp, ADMIN_PASSWORD};
use reqwest::StatusCode;
use std::time::Duration;

async fn each_app() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in backends().await {
        let app = spawn_app(&db).await;
        // Keep the temp database alive as long as the server.
        std::mem::forget(db);
        apps.push(app);
    }
    apps
}

#[tokio::test]
async fn admin_signs_in_with_a_renewed_http_only_session_and_signs_out() {
    for app in each_app().await {
        let client = app.client();
        let res = app.login(&client, "admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", app.label);
        assert_eq!(res.headers()["location"], "/");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(cookie.starts_with("gatehouse_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let first_id = cookie.split(';').next().unwrap().to_string();

        let me: serde_json::Value = app.me(&client).await;
        assert_eq!(me["username"], "admin", "{}", app.label);
        assert_eq!(me["role"], "admin");

        // Signing in again renews the session id.
        let res = app.login(&client, "admin", ADMIN_PASSWORD).await;
        let second_id = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        assert_ne!(
            first_id, second_id,
            "{}: the session id must change at sign-in",
            app.label
        );

        let page = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Overview"), "{html}");

        let res = client.post(app.url("/logout")).send().await.unwrap();
        assert_eq!(res.headers()["location"], "/login?signed_out=1");
        let me: serde_json::Value = app.me(&client).await;
        assert!(me.is_null(), "{}: signed out", app.label);
        let res = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(res.headers()["location"], "/login");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer_and_are_audited() {
    for app in each_app().await {
        let client = app.client();
        let wrong = app.login(&client, "admin", "not-the-password").await;
        let unknown = app.login(&client, "nobody", "not-the-password").await;
        assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            wrong.headers()["location"],
            "/login?error=credentials&next=/"
        );
        assert_eq!(
            unknown.headers()["location"],
            wrong.headers()["location"],
            "{}",
            app.label
        );
        assert!(wrong.headers().get("set-cookie").is_none());

        let page = client
            .get(app.url("/login?error=credentials"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Wrong username or password."), "{page}");

        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let audit: serde_json::Value = app
            .json(
                &admin,
                "/api/audit/list",
                &[("filter[action]", "user.login_failed")],
            )
            .await;
        let targets: Vec<_> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(targets, ["nobody", "admin"], "{}", app.label);
    }
}

#[tokio::test]
async fn an_account_locks_after_repeated_failures_even_for_the_right_password() {
    for app in each_app().await {
        let client = app.client();
        for _ in 0..5 {
            app.login(&client, "admin", "wrong-wrong-wrong").await;
        }
        let res = app.login(&client, "admin", ADMIN_PASSWORD).await;
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with("/login?error=locked&retry="),
            "{}: {location}",
            app.label
        );
        let page = client
            .get(app.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Too many failed sign-ins. Try again in 15 minutes."),
            "{page}"
        );
    }
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_refused_by_server_functions() {
    for app in each_app().await {
        let client = app.client();
        let res = client.get(app.url("/settings/users")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", app.label);
        assert_eq!(res.headers()["location"], "/login?next=/settings/users");
        let res = client
            .post(app.url("/api/users/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{}", app.label);
        let login = client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(login.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_viewer_is_refused_every_admin_action_with_403() {
    for app in each_app().await {
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        app.add_user(&admin, "vera", "viewer", "viewer-password-1")
            .await;
        let viewer = app.signed_in("vera", "viewer-password-1").await;

        let page = viewer.get(app.url("/settings/users")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{}", app.label);
        assert!(page.text().await.unwrap().contains("Not allowed"));
        let page = viewer.get(app.url("/settings/audit")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{}", app.label);

        let calls: [(&str, Vec<(&str, &str)>); 6] = [
            ("/api/users/list", vec![]),
            (
                "/api/users/create",
                vec![
                    ("username", "mallory"),
                    ("display_name", ""),
                    ("role", "admin"),
                    ("password", "mallory-password"),
                ],
            ),
            (
                "/api/users/role",
                vec![("user_id", "1"), ("role", "viewer")],
            ),
            (
                "/api/users/disabled",
                vec![("user_id", "1"), ("disabled", "true")],
            ),
            ("/api/users/reset_password", vec![("user_id", "1")]),
            ("/api/audit/list", vec![]),
        ];
        for (path, form) in calls {
            let res = app.call(&viewer, path, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}: {path}", app.label);
            let body = res.text().await.unwrap();
            assert!(body.contains("this needs the admin role"), "{path}: {body}");
        }
        // Nothing changed.
        let users: serde_json::Value = app.json(&admin, "/api/users/list", &[]).await;
        let names: Vec<_> = users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["admin", "vera"], "{}", app.label);
    }
}

#[tokio::test]
async fn disabling_a_user_or_resetting_the_password_ends_their_sessions() {
    for app in each_app().await {
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        app.add_user(&admin, "olga", "approver", "approver-password")
            .await;
        let olga = app.signed_in("olga", "approver-password").await;
        let users: serde_json::Value = app.json(&admin, "/api/users/list", &[]).await;
        let id = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "olga")
            .unwrap()["id"]
            .as_i64()
            .unwrap()
            .to_string();

        let res = app
            .call(
                &admin,
                "/api/users/reset_password",
                &[("user_id", id.as_str())],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{}", app.label);
        let new_password: String = res.json().await.unwrap();
        let me: serde_json::Value = app.me(&olga).await;
        assert!(me.is_null(), "{}: the old session ended", app.label);
        let olga = app.signed_in("olga", &new_password).await;

        let res = app
            .call(
                &admin,
                "/api/users/disabled",
                &[("user_id", id.as_str()), ("disabled", "true")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let me: serde_json::Value = app.me(&olga).await;
        assert!(me.is_null(), "{}: a disabled user is signed out", app.label);
        let res = app.login(&app.client(), "olga", &new_password).await;
        assert_eq!(
            res.headers()["location"],
            "/login?error=credentials&next=/",
            "{}",
            app.label
        );
    }
}

#[tokio::test]
async fn users_change_their_own_password_and_stay_signed_in() {
    for app in each_app().await {
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        app.add_user(&admin, "paul", "reviewer", "reviewer-password")
            .await;
        let paul = app.signed_in("paul", "reviewer-password").await;
        let bad = app
            .call(
                &paul,
                "/api/session/password",
                &[
                    ("current", "wrong"),
                    ("new_password", "a-new-password"),
                    ("confirm", "a-new-password"),
                ],
            )
            .await;
        assert_eq!(
            bad.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            app.label
        );
        assert!(bad
            .text()
            .await
            .unwrap()
            .contains("current password is wrong"));
        let ok = app
            .call(
                &paul,
                "/api/session/password",
                &[
                    ("current", "reviewer-password"),
                    ("new_password", "a-new-password"),
                    ("confirm", "a-new-password"),
                ],
            )
            .await;
        assert_eq!(ok.status(), StatusCode::OK, "{}", app.label);
        let me: serde_json::Value = app.me(&paul).await;
        assert_eq!(me["username"], "paul", "{}: still signed in", app.label);
        app.signed_in("paul", "a-new-password").await;
    }
}

#[tokio::test]
async fn bad_input_to_user_creation_is_refused_with_what_is_wrong() {
    for app in each_app().await {
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let cases = [
            (
                ("bad name", "viewer", "long-enough-pw"),
                "username may only contain",
            ),
            (("okname", "root", "long-enough-pw"), "unknown role `root`"),
            (("okname", "viewer", "short"), "at least 10 characters"),
            (("admin", "viewer", "long-enough-pw"), "`admin` is taken"),
        ];
        for ((username, role, password), expected) in cases {
            let res = app.create_user(&admin, username, role, password).await;
            assert!(res.status().is_client_error(), "{}: {username}", app.label);
            let body = res.text().await.unwrap();
            assert!(body.contains(expected), "{}: {body}", app.label);
        }
        let res = app
            .call(
                &admin,
                "/api/users/role",
                &[("user_id", "not-a-number"), ("role", "viewer")],
            )
            .await;
        assert!(
            res.status().is_client_error(),
            "{}: {}",
            app.label,
            res.status()
        );
    }
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    for app in each_app().await {
        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let res = admin
            .post(app.url("/api/users/create"))
            .header("origin", "http://evil.example")
            .form(&[
                ("username", "evil"),
                ("display_name", ""),
                ("role", "admin"),
                ("password", "evil-password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}", app.label);
        let res = admin
            .post(app.url("/logout"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let users: serde_json::Value = app.json(&admin, "/api/users/list", &[]).await;
        assert_eq!(users.as_array().unwrap().len(), 1, "{}", app.label);
    }
}

#[tokio::test]
async fn probes_metrics_and_unknown_pages_answer_with_the_right_status() {
    for app in each_app().await {
        let client = app.client();
        let res = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let ready: serde_json::Value = client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["status"], "ready", "{}", app.label);
        assert_eq!(ready["database"], app.label);

        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let res = admin.get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{}", app.label);
        assert!(res.text().await.unwrap().contains("Page not found"));

        let metrics = client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(
                "gatehouse_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{metrics}"
        );
        assert!(
            metrics.contains("route=\"/login\",status=\"303\""),
            "{metrics}"
        );
        assert!(metrics.contains("gatehouse_db_pool_connections{state=\"open\"}"));
        assert!(metrics.contains("gatehouse_http_request_duration_seconds_bucket"));
    }
}

#[tokio::test]
async fn the_theme_toggle_works_without_javascript() {
    for app in each_app().await {
        let client = app.client();
        let res = client
            .post(app.url("/theme"))
            .header("referer", app.url("/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/login");
        assert!(res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("gatehouse_theme=dark"));
        let html = client
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("data-theme=\"dark\""), "{}", app.label);
    }
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_limit_but_activity_keeps_them() {
    for db in backends().await {
        let mut settings = settings_for(&db);
        settings.session_idle = Duration::from_secs(3);
        let app = spawn_app_with(&db, settings.clone()).await;
        let client = app.signed_in("admin", ADMIN_PASSWORD).await;
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(2000)).await;
            assert_eq!(
                app.me(&client).await["username"],
                "admin",
                "{}: activity renews the session",
                app.label
            );
        }
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(
            app.me(&client).await.is_null(),
            "{}: idle for longer than the limit",
            app.label
        );

        settings.session_idle = Duration::from_secs(60);
        settings.session_absolute = Duration::from_secs(2);
        let app = spawn_app_with(&db, settings).await;
        let client = app.signed_in("admin", ADMIN_PASSWORD).await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(app.me(&client).await["username"], "admin");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            app.me(&client).await.is_null(),
            "{}: past the absolute limit",
            app.label
        );
        std::mem::forget(db);
    }
}
