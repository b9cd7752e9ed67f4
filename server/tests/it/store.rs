//! Store stories, each run on a temp SQLite file and on Postgres when configured.

use crate::helpers::{backends, connect};
use app::model::{AuditFilter, Role, Username};
use app::store::audit::{self, Actor, NewAuditEvent};
use app::store::users::{self, NewUser, UserChange};
use app::store::StoreError;

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        display_name: String::new(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
    }
}

#[tokio::test]
async fn users_are_created_found_changed_and_audited() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let actor = Actor {
            user_id: None,
            username: Some("tester".into()),
            ip: Some("127.0.0.1".into()),
        };
        let alice = users::create(&db, &new_user("Alice", Role::Viewer), &actor)
            .await
            .unwrap();
        assert_eq!(alice.username, "alice", "{}", backend.label);
        assert_eq!(alice.display_name, "alice", "{}", backend.label);

        let again = users::create(&db, &new_user("alice", Role::Admin), &actor).await;
        assert!(
            matches!(again, Err(StoreError::Conflict(ref m)) if m.contains("`alice` is taken")),
            "{}: {again:?}",
            backend.label
        );

        let found = users::find_by_username(&db, "ALICE")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user.id, alice.id);
        let v1 = found.credentials_version;

        let changed = users::change(&db, alice.id, &UserChange::Role(Role::Approver), &actor)
            .await
            .unwrap();
        assert_eq!(changed.role, Role::Approver);
        users::change(
            &db,
            alice.id,
            &UserChange::Password("new-hash".into()),
            &actor,
        )
        .await
        .unwrap();
        let after = users::get(&db, alice.id).await.unwrap().unwrap();
        assert_eq!(after.password_hash, "new-hash");
        assert_eq!(
            after.credentials_version,
            v1 + 1,
            "{}: a new password ends old sessions",
            backend.label
        );

        let page = audit::list(&db, &AuditFilter::default()).await.unwrap();
        let actions: Vec<_> = page.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["user.password_changed", "user.role_changed", "user.created"],
            "{}",
            backend.label
        );
        assert_eq!(page.events[1].detail.as_deref(), Some("viewer → approver"));
        assert_eq!(page.events[0].actor.as_deref(), Some("tester"));
    }
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_demoted_or_disabled() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let sys = Actor::system();
        let root = users::create(&db, &new_user("root", Role::Admin), &sys)
            .await
            .unwrap();
        let demote = users::change(&db, root.id, &UserChange::Role(Role::Viewer), &sys).await;
        assert!(
            matches!(demote, Err(StoreError::Invalid(ref m)) if m.contains("last enabled admin")),
            "{}: {demote:?}",
            backend.label
        );
        let disable = users::change(&db, root.id, &UserChange::Disabled(true), &sys).await;
        assert!(disable.is_err(), "{}", backend.label);

        let second = users::create(&db, &new_user("second", Role::Admin), &sys)
            .await
            .unwrap();
        users::change(&db, root.id, &UserChange::Disabled(true), &sys)
            .await
            .unwrap();
        let last = users::change(&db, second.id, &UserChange::Role(Role::Viewer), &sys).await;
        assert!(
            last.is_err(),
            "{}: the disabled admin does not count",
            backend.label
        );
        // Nothing was half-applied by the refused changes.
        assert_eq!(
            users::get(&db, second.id).await.unwrap().unwrap().user.role,
            Role::Admin
        );
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_filterable() {
    for backend in backends().await {
        let db = connect(&backend).await;
        for i in 0..7 {
            let actor = Actor {
                user_id: None,
                username: Some(if i % 2 == 0 { "ann" } else { "bob" }.into()),
                ip: None,
            };
            let action = if i < 5 { "user.login" } else { "user.logout" };
            audit::record(&db, &NewAuditEvent::new(&actor, action, None, None))
                .await
                .unwrap();
        }
        let filter = AuditFilter {
            actor: Some("ann".into()),
            action: Some("user.login".into()),
            before_id: None,
            limit: Some(2),
        };
        let first = audit::list(&db, &filter).await.unwrap();
        assert_eq!(first.events.len(), 2, "{}", backend.label);
        assert!(first
            .events
            .iter()
            .all(|e| e.actor.as_deref() == Some("ann") && e.action == "user.login"));
        let second = audit::list(
            &db,
            &AuditFilter {
                before_id: first.next_before_id,
                ..filter.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            second.events.len(),
            1,
            "{}: ann logged in 3 times",
            backend.label
        );
        assert_eq!(second.next_before_id, None);
        assert_eq!(first.actions, ["user.login", "user.logout"]);

        let tamper = app::on_pool!(&db, pool => sqlx::query("update audit_event set action = 'x'").execute(pool).await.map(|_| ()));
        assert!(
            tamper.is_err(),
            "{}: updates must be refused",
            backend.label
        );
        let erase = app::on_pool!(&db, pool => sqlx::query("delete from audit_event").execute(pool).await.map(|_| ()));
        assert!(erase.is_err(), "{}: deletes must be refused", backend.label);
    }
}

#[tokio::test]
async fn login_failures_are_counted_per_account_and_address_and_cleared_by_success() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let user = users::create(&db, &new_user("carol", Role::Viewer), &Actor::system())
            .await
            .unwrap();
        for _ in 0..3 {
            users::record_login_failure(&db, "Carol", "10.0.0.1", "wrong password")
                .await
                .unwrap();
        }
        users::record_login_failure(&db, "dave", "10.0.0.1", "unknown user")
            .await
            .unwrap();
        let f = users::recent_login_failures(&db, "carol", "10.0.0.1", 0)
            .await
            .unwrap();
        assert_eq!((f.for_account, f.for_address), (3, 4), "{}", backend.label);
        assert!(f.last_for_account.is_some());
        users::record_login(&db, &user, "10.0.0.1").await.unwrap();
        let f = users::recent_login_failures(&db, "carol", "10.0.0.1", 0)
            .await
            .unwrap();
        assert_eq!((f.for_account, f.for_address), (0, 1), "{}", backend.label);
        let after = users::get(&db, user.id).await.unwrap().unwrap();
        assert!(after.user.last_login_at.is_some());
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_the_first_admin_is_made_once() {
    for backend in backends().await {
        let db = connect(&backend).await;
        db.migrate().await.unwrap();
        let made = app::auth::ensure_first_admin(&db, Some("boss"), None)
            .await
            .unwrap();
        let (name, password) = made.expect("an empty database gets an admin");
        assert_eq!(name, "boss");
        assert!(password.unwrap().len() >= 16);
        assert!(
            app::auth::ensure_first_admin(&db, Some("boss2"), None)
                .await
                .unwrap()
                .is_none(),
            "{}",
            backend.label
        );
        let short =
            app::auth::ensure_first_admin(&connect(&backend).await, None, Some("short")).await;
        assert!(short.unwrap().is_none(), "the database already has users");
    }
}
