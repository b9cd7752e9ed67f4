//! Retention on SQLite and Postgres, over the demo data: a purge as of 60 days later removes
//! what is past each kind's days in small batches, keeps the runs behind releases, the live and
//! rollback-target releases' artifacts and the daily KPI roll-ups, brings the predictor's
//! counts and every copy of its scores in line, and leaves the audit log alone unless told.
//! The hourly job runs on one replica per hour; admins set retention in the browser.

use crate::helpers::{backends, connect, spawn_app, ADMIN_PASSWORD};
use app::model::RetentionKind;
use app::store::deployments::Requester;
use app::store::retention::{self, PurgePace};
use app::store::{count_rows, now_ms, score_cache, Db};
use std::time::Duration;

const DAY: i64 = 86_400_000;

fn admin() -> Requester {
    Requester {
        user_id: None,
        name: "ada".into(),
        ip: None,
    }
}

async fn one(db: &Db, sql: &str) -> i64 {
    app::on_pool!(db, pool => {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        n
    })
}

async fn text(db: &Db, sql: &str) -> String {
    app::on_pool!(db, pool => {
        let (s,): (String,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        s
    })
}

/// The daily roll-ups the KPI pages read, as one string to compare.
async fn rollups(db: &Db) -> String {
    text(
        db,
        "select coalesce((select cast(sum(finished) as text) || '/' || cast(sum(failed) as text) || '/' || \
         cast(sum(tests_ran) as text) || '/' || cast(sum(tests_passed) as text) from run_day), '') || ' ' || \
         coalesce((select cast(sum(availability_n) as text) || '/' || cast(sum(error_n) as text) from health_day), '') || ' ' || \
         coalesce((select cast(count(*) as text) || '/' || cast(sum(length(pack)) as text) from alert_day), '') || ' ' || \
         coalesce((select cast(count(*) as text) || '/' || cast(sum(length(pack)) as text) from deployment_day), '')",
    )
    .await
}

/// The releases the purge must spare (each environment's live release, the three a rollback
/// offers, releases being deployed), with their artifact counts.
async fn protected_artifacts(db: &Db) -> Vec<(i64, i64)> {
    let sql = format!(
        "select p.release_id, (select count(*) from release_artifact a where a.release_id = p.release_id) \
         from ({}) p order by p.release_id",
        retention::PROTECTED_RELEASES
    );
    app::on_pool!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(&sql).fetch_all(pool).await.unwrap()
    })
}

/// Each environment's live release: the one its last succeeded deployment shipped.
async fn live_releases(db: &Db) -> Vec<i64> {
    app::on_pool!(db, pool => {
        sqlx::query_as::<_, (i64,)>(
            "select d.release_id from deployment d where d.state = 'succeeded' and not exists \
             (select 1 from deployment e where e.environment_id = d.environment_id \
              and e.state = 'succeeded' and e.finished_at > d.finished_at) order by 1",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect()
    })
}

async fn model_ids(db: &Db) -> Vec<i64> {
    app::on_pool!(db, pool => {
        sqlx::query_as::<_, (i64,)>("select risk_model_id from risk_model order by risk_model_id")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_removes_what_is_past_retention_and_keeps_kpis_releases_and_live_artifacts() {
    for tdb in backends().await {
        let label = tdb.label;
        let db = connect(&tdb).await;
        gatehouse_server::demo::generate(&db, 1, None)
            .await
            .unwrap();
        let now = now_ms();
        // A third of the demo's 90 days of runs is then past the 90 days.
        let later = now + 60 * DAY;
        // The oldest run built a release: it stays whatever its age.
        let oldest = one(&db, "select min(ci_run_id) from ci_run").await;
        app::on_pool!(&db, pool => sqlx::query(
            "update release set ci_run_id = $1 where release_id = (select min(release_id) from release)",
        )
        .bind(oldest)
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
        let runs = count_rows(&db, "ci_run").await.unwrap();
        let kpis = rollups(&db).await;
        let deployments = count_rows(&db, "deployment").await.unwrap();
        let audit = count_rows(&db, "audit_event").await.unwrap();
        let protected = protected_artifacts(&db).await;
        assert!(
            protected.iter().any(|(_, n)| *n > 0),
            "{label}: the demo's live releases have artifacts"
        );
        let live = live_releases(&db).await;
        assert!(
            live.iter().all(|r| protected.iter().any(|(p, _)| p == r)),
            "{label}: every live release is spared"
        );
        // Every copy of the scores is made before the purge, as a running server would hold.
        let models = model_ids(&db).await;
        for m in &models {
            score_cache::finished(&db, *m).await.unwrap();
        }
        let with_files = one(&db, "select count(*) from coverage_file").await;
        assert!(with_files > 0, "{label}: the demo has per-file coverage");

        let pace = PurgePace {
            batch: 50,
            pause: Duration::ZERO,
        };
        // Two purges at once (the hourly job on one replica, "Purge now" on another): each
        // row goes once, and no prediction is counted out twice.
        let other = connect(&tdb).await;
        let by = admin();
        let (first, second) = tokio::join!(
            retention::purge(&db, later, pace, &by),
            retention::purge(&other, later, pace, &by)
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        let purged = |k: RetentionKind| {
            [&first, &second]
                .iter()
                .flat_map(|r| r.purged.iter())
                .filter(|(kind, _)| *kind == k)
                .map(|(_, n)| *n)
                .sum::<i64>()
        };
        let report = &first;
        assert!(report.batches > 10, "{label}: small batches ({report:?})");
        assert!(purged(RetentionKind::Runs) > 0, "{label}: {report:?}");
        assert_eq!(
            purged(RetentionKind::AuditLog),
            0,
            "{label}: the audit log is kept forever by default"
        );
        // Runs: what is left is recent, built a release or raised an alert.
        let left = count_rows(&db, "ci_run").await.unwrap();
        assert_eq!(runs - left, purged(RetentionKind::Runs), "{label}");
        let cutoff = later - 90 * DAY;
        assert_eq!(
            one(
                &db,
                &format!(
                    "select count(*) from ci_run r where coalesce(r.started_at, r.created_at) < {cutoff} \
                     and not exists (select 1 from release x where x.ci_run_id = r.ci_run_id) \
                     and not exists (select 1 from risk_alert a where a.ci_run_id = r.ci_run_id)"
                )
            )
            .await,
            0,
            "{label}"
        );
        assert!(left > 0, "{label}: recent runs stay");
        assert_eq!(
            one(
                &db,
                &format!("select count(*) from ci_run where ci_run_id = {oldest}")
            )
            .await,
            1,
            "{label}: the run behind a release stays"
        );
        assert_eq!(
            one(&db, "select count(*) from test_case c where not exists (select 1 from ci_run r where r.ci_run_id = c.ci_run_id)").await,
            0,
            "{label}: no orphaned cases"
        );
        // CI artifacts of the runs that stay are cleared, and the run says when.
        let artifacts_cutoff = later - 7 * DAY;
        assert_eq!(
            one(
                &db,
                &format!(
                    "select count(*) from coverage_file f join coverage_report c \
                     on c.coverage_report_id = f.coverage_report_id join ci_run r on r.ci_run_id = c.ci_run_id \
                     where r.finished_at < {artifacts_cutoff}"
                )
            )
            .await,
            0,
            "{label}"
        );
        assert_eq!(
            retention::detail_purged_at(&db, oldest).await.unwrap(),
            Some(later),
            "{label}"
        );
        // The KPI roll-ups and the deployment history are as they were.
        assert_eq!(rollups(&db).await, kpis, "{label}: KPIs survive the purge");
        assert_eq!(
            count_rows(&db, "deployment").await.unwrap(),
            deployments,
            "{label}"
        );
        assert!(
            count_rows(&db, "audit_event").await.unwrap() >= audit,
            "{label}"
        );
        // The live release and its rollback target of every environment keep their artifacts.
        assert_eq!(protected_artifacts(&db).await, protected, "{label}");
        // The predictor's counts and its score copies agree with what is stored.
        for m in &models {
            let stored = one(
                &db,
                &format!(
                    "select count(*) from risk_prediction where risk_model_id = {m} and outcome is not null"
                ),
            )
            .await;
            let counted = one(
                &db,
                &format!(
                    "select cast(scored_failed + scored_passed as bigint) from risk_model where risk_model_id = {m}"
                ),
            )
            .await;
            assert_eq!(counted, stored, "{label}: model {m} counts");
            let copy = score_cache::finished(&db, *m).await.unwrap();
            assert_eq!(copy.len() as i64, stored, "{label}: model {m} score copy");
        }
        // Policies record the purge; a second purge finds nothing.
        let policies = retention::policies(&db).await.unwrap();
        let runs_policy = policies
            .iter()
            .find(|p| p.kind == RetentionKind::Runs)
            .unwrap();
        assert_eq!(runs_policy.last_purge_at, Some(later), "{label}");
        assert_eq!(
            runs_policy.total_purged,
            purged(RetentionKind::Runs),
            "{label}"
        );
        let again = retention::purge(&db, later, pace, &admin()).await.unwrap();
        assert_eq!(again.total(), 0, "{label}: {again:?}");

        // Shorter retention for health samples and the audit log: they go, the roll-ups stay,
        // and the purge of the audit log is itself audited.
        let changed = retention::set_days(
            &db,
            &[
                (RetentionKind::RollbackResults, Some(30)),
                (RetentionKind::AuditLog, Some(1)),
                (RetentionKind::Runs, Some(90)),
            ],
            &admin(),
            later,
        )
        .await
        .unwrap();
        assert_eq!(changed, 2, "{label}: an unchanged kind is not a change");
        let err = retention::set_days(&db, &[(RetentionKind::Runs, Some(0))], &admin(), later)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("days[runs]: 1 to 36500"), "{err}");
        let samples = count_rows(&db, "health_sample").await.unwrap();
        assert!(samples > 0, "{label}");
        let report = retention::purge(&db, later + DAY, pace, &admin())
            .await
            .unwrap();
        assert_eq!(
            count_rows(&db, "health_sample").await.unwrap(),
            samples - report.purged[RetentionKind::RollbackResults as usize].1,
            "{label}"
        );
        assert_eq!(
            one(
                &db,
                &format!(
                    "select count(*) from health_sample where at < {}",
                    later + DAY - 30 * DAY
                )
            )
            .await,
            0,
            "{label}"
        );
        assert_eq!(rollups(&db).await, kpis, "{label}: health roll-ups stay");
        assert_eq!(
            one(
                &db,
                "select count(*) from audit_event where action = 'retention.purged'"
            )
            .await,
            1,
            "{label}"
        );
        assert_eq!(
            one(
                &db,
                "select count(*) from audit_event where action <> 'retention.purged' and action <> 'retention.updated'"
            )
            .await,
            0,
            "{label}: entries older than a day are gone"
        );
        // Outside a purge the audit log is still append-only.
        let refused = app::on_pool!(&db, pool => sqlx::query("delete from audit_event").execute(pool).await.is_err());
        assert!(refused, "{label}: the audit log refuses deletes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_job_runs_on_one_replica_an_hour_and_admins_set_retention_in_the_browser() {
    for tdb in backends().await {
        let label = tdb.label;
        let app = spawn_app(&tdb).await;
        let a = connect(&tdb).await;
        let b = connect(&tdb).await;
        let now = now_ms();
        let first = gatehouse_server::jobs::run_retention(&a, "replica-a", now)
            .await
            .unwrap();
        assert!(first.is_some(), "{label}: the first replica purges");
        let second = gatehouse_server::jobs::run_retention(&b, "replica-b", now + 1_000)
            .await
            .unwrap();
        assert!(
            second.is_none(),
            "{label}: the other replica waits for the hour"
        );
        let later = gatehouse_server::jobs::run_retention(&b, "replica-b", now + 3_600_000)
            .await
            .unwrap();
        assert!(later.is_some(), "{label}: an hour on, the lease is free");
        assert_eq!(
            retention::last_lease(&a, app::api::retention::PURGE_JOB)
                .await
                .unwrap()
                .map(|(h, _)| h),
            Some("replica-b".to_string()),
            "{label}"
        );

        let admin = app.signed_in("admin", ADMIN_PASSWORD).await;
        let page = admin
            .get(app.url("/settings/retention"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Runs and test cases"), "{label}");
        assert!(
            page.contains("replica-b"),
            "{label}: the page names the replica"
        );
        let res = app
            .call(
                &admin,
                "/api/retention/save",
                &[("days[runs]", "30"), ("days[audit_log]", "")],
            )
            .await;
        assert_eq!(res.status(), 200, "{label}: {}", res.text().await.unwrap());
        let policies = retention::policies(&a).await.unwrap();
        assert_eq!(
            policies[RetentionKind::Runs as usize].days,
            Some(30),
            "{label}"
        );
        assert_eq!(
            policies[RetentionKind::Runs as usize].updated_by.as_deref(),
            Some("admin"),
            "{label}"
        );
        let entries = app::store::audit::list(&a, &Default::default())
            .await
            .unwrap();
        assert!(
            entries
                .events
                .iter()
                .any(|e| e.action == "retention.updated"
                    && e.detail.as_deref() == Some("90 days → 30 days")),
            "{label}: the change is audited"
        );
        for (form, says) in [
            (("days[runs]", "0"), "days[runs]: 1 to 36500"),
            (("days[runs]", "ten"), "days[runs]: a whole number of days"),
            (
                ("days[deployments]", "5"),
                "days[deployments]: no such kind of data",
            ),
        ] {
            let res = app.call(&admin, "/api/retention/save", &[form]).await;
            assert_eq!(res.status(), 422, "{label}: {form:?}");
            assert!(res.text().await.unwrap().contains(says), "{label}: {says}");
        }
        let res = app.call(&admin, "/api/retention/purge", &[]).await;
        assert_eq!(res.status(), 200, "{label}");
        let report: serde_json::Value = res.json().await.unwrap();
        assert!(report["purged"].is_array(), "{label}: {report}");

        app.add_user(&admin, "vera", "viewer", "viewer-password-1")
            .await;
        let viewer = app.signed_in("vera", "viewer-password-1").await;
        for path in [
            "/api/retention/page",
            "/api/retention/save",
            "/api/retention/purge",
        ] {
            let res = app.call(&viewer, path, &[("days[runs]", "1")]).await;
            assert_eq!(res.status(), 403, "{label}: viewer {path}");
            let res = app.call(&app.client(), path, &[("days[runs]", "1")]).await;
            assert_eq!(res.status(), 401, "{label}: anonymous {path}");
        }
        assert_eq!(
            retention::policies(&a).await.unwrap()[RetentionKind::Runs as usize].days,
            Some(30),
            "{label}: refused calls change nothing"
        );
    }
}

/// Every table's row count, by name.
async fn table_counts(db: &Db) -> Vec<(String, i64)> {
    let names: Vec<String> = app::on_pool!(db, pool => {
        let sql = match db.backend() {
            app::store::Backend::Sqlite => {
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name"
            }
            app::store::Backend::Postgres => {
                "select cast(table_name as text) from information_schema.tables \
                 where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name"
            }
        };
        sqlx::query_as::<_, (String,)>(sql)
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect()
    });
    let mut out = Vec::new();
    for name in names {
        let n = one(db, &format!("select count(*) from \"{name}\"")).await;
        out.push((name, n));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_a_fresh_database_and_the_console_shows_the_same_data() {
    use crate::deploy_store::{ci, deploy, finished_run, simple_project};
    use gatehouse_server::backup::{backup, restore};
    let sources = backends().await;
    let targets = backends().await;
    for (source, target) in sources.iter().zip(&targets) {
        let label = source.label;
        let app = spawn_app(source).await;
        let db = connect(source).await;
        let commit = "89abcdef0123456789abcdef0123456789abcdef";
        let project = simple_project(&db, "shop", "staging", 0).await;
        finished_run(&db, project, "run-backed-up", commit, 0.0).await;
        let (deployment, _) = app::store::deployments::request(
            &db,
            "shop",
            &deploy("staging", "4.2.0", commit),
            &ci(),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("gatehouse-{label}.backup"));
        let line = backup(&source.url, &file).await.unwrap();
        assert!(line.contains("1 projects, 1 runs"), "{label}: {line}");
        let again = backup(&source.url, &file).await.unwrap_err();
        assert!(again.to_string().contains("exists"), "{label}: {again}");
        // A SQLite file a server runs on is never replaced.
        if let Some(held) = gatehouse_server::backup::hold_serve_lock(&source.url) {
            let busy = restore(&source.url, &file, true).await.unwrap_err();
            assert!(
                busy.to_string().contains("stop it first"),
                "{label}: {busy}"
            );
            drop(held);
        }

        // Into a fresh database; a second restore over data needs --force.
        let line = restore(&target.url, &file, false).await.unwrap();
        assert!(line.contains("1 projects, 1 runs"), "{label}: {line}");
        let restored = connect(target).await;
        assert_eq!(
            table_counts(&restored).await,
            table_counts(&db).await,
            "{label}"
        );
        // Over data: SQLite needs --force; Postgres restores only into an empty database.
        let refused = restore(&target.url, &file, false).await.unwrap_err();
        let says = if label == "sqlite" {
            "--force"
        } else {
            "not empty"
        };
        assert!(refused.to_string().contains(says), "{label}: {refused}");
        // A file that is not a backup is refused and the database keeps its data.
        let junk = dir.path().join("junk.backup");
        std::fs::write(&junk, b"not a backup at all").unwrap();
        assert!(restore(&target.url, &junk, true).await.is_err(), "{label}");
        assert_eq!(
            table_counts(&restored).await,
            table_counts(&db).await,
            "{label}"
        );
        restored.close().await;
        if label == "sqlite" {
            restore(&target.url, &file, true).await.unwrap();
        }

        // The restored console signs the same admin in and shows the same run and deployment.
        let copy = spawn_app(target).await;
        for (server, who) in [(&app, "source"), (&copy, "restored")] {
            let admin = server.signed_in("admin", ADMIN_PASSWORD).await;
            let page = admin
                .get(server.url(&format!("/deployments/{deployment}")))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200, "{label} {who}");
            let html = page.text().await.unwrap();
            assert!(html.contains("4.2.0"), "{label} {who}: the deployment page");
            let runs = admin
                .get(server.url("/runs?project=shop"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                runs.contains("run-backed-up"),
                "{label} {who}: the runs page"
            );
        }
    }
}
