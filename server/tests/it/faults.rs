//! Faults of the machine: a SQLite database whose disk fills up. The database lives on a small
//! tmpfs mounted by the test (it needs root, as CI has; elsewhere it says so and passes only
//! outside CI). Reports are sent until the disk is full: the refusal is a clear 507, what was
//! stored before is intact (`pragma integrity_check`), the refused report left nothing behind,
//! and once space is freed the same request, retried, is stored.

use crate::helpers::{settings_for, spawn_app_with, TestDb};
use app::model::Scope;
use app::store::audit::Actor;
use app::store::projects::{self, NewProject};
use std::process::Command;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn report(n: usize) -> String {
    // 400 failing cases with a ~2 KB message each: about 1 MB stored per report.
    let detail = "x".repeat(2000);
    let mut xml = format!("<testsuite name=\"fill-{n}\">");
    for i in 0..400 {
        xml.push_str(&format!(
            "<testcase classname=\"fill.S{n}\" name=\"t{i}\"><failure message=\"m{i}\">{detail}</failure></testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_and_corrupts_nothing() {
    let root = is_root();
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: the disk-full test must run there"
        );
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a 40 MB tmpfs at {}", mnt.display());
    let _mount = Mount(mnt.clone());
    let db = TestDb::sqlite_at(&mnt.join("gatehouse.db"));
    let app = spawn_app_with(&db, settings_for(&db)).await;
    let store = crate::helpers::connect(&db).await;
    projects::create(
        &store,
        &NewProject::named(app::model::Slug::parse("shop").unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap();
    let token = app::store::tokens::create(
        &store,
        "shop",
        "ci",
        &[Scope::Ingest, Scope::Read],
        &Actor::system(),
    )
    .await
    .unwrap()
    .secret;
    let http = reqwest::Client::new();
    let new_run = |n: usize| {
        http.post(app.url("/api/v1/projects/shop/runs"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"provider": "github", "external_id": format!("r{n}"), "status": "running"}))
            .send()
    };
    // Ballast leaves a few MB for the database to grow into.
    let free = || {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&mnt)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let ballast = mnt.join("ballast");
    std::fs::write(&ballast, vec![7u8; (free() - 12 * 1024 * 1024) as usize]).unwrap();

    let mut stored = Vec::new();
    let mut refused = None;
    for n in 0..40 {
        let res = new_run(n).await.unwrap();
        if res.status() == 507 {
            refused = Some((n, None, res.json::<serde_json::Value>().await.unwrap()));
            break;
        }
        assert_eq!(res.status(), 201, "run {n}");
        let run = res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        let res = http
            .post(app.url(&format!("/api/v1/runs/{run}/junit")))
            .bearer_auth(&token)
            .body(report(n))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            201 => stored.push(run),
            507 => {
                refused = Some((n, Some(run), res.json().await.unwrap()));
                break;
            }
            other => panic!("report {n}: {other} {}", res.text().await.unwrap()),
        }
    }
    let (n, run, body) = refused.expect("the disk filled up within 40 reports");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("disk is full"), "{message}");
    assert!(
        stored.len() >= 2,
        "some reports fit first: {}",
        stored.len()
    );

    // Nothing is corrupt, the stored reports are whole, the refused one left nothing.
    let check: String = match &store {
        app::store::Db::Sqlite(p) => sqlx::query_scalar("pragma integrity_check")
            .fetch_one(p)
            .await
            .unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(check, "ok");
    let tests_of = |id: i64| {
        let req = http
            .get(app.url(&format!("/api/v1/runs/{id}")))
            .bearer_auth(&token);
        async move {
            let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            v["tests"].as_i64().unwrap()
        }
    };
    for id in &stored {
        assert_eq!(tests_of(*id).await, 400, "run {id}");
    }
    if let Some(run) = run {
        assert_eq!(
            tests_of(run).await,
            0,
            "the refused report of run {run} left nothing"
        );
    }

    // Space is freed: the same request, retried, is stored.
    std::fs::remove_file(&ballast).unwrap();
    let retried = match run {
        Some(run) => http
            .post(app.url(&format!("/api/v1/runs/{run}/junit")))
            .bearer_auth(&token)
            .body(report(n))
            .send()
            .await
            .unwrap(),
        None => new_run(n).await.unwrap(),
    };
    let status = retried.status();
    let text = retried.text().await.unwrap();
    assert_eq!(status, 201, "the retry after freeing space: {text}");
    eprintln!(
        "disk full: {} reports stored, report {n} refused with 507 ({message}); integrity ok; retry stored",
        stored.len()
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// SQLite rolls a whole transaction back by itself when a write finds no room (SQLITE_FULL);
/// sqlx's ROLLBACK then fails and sqlx would keep counting that connection as inside a
/// transaction, refusing every later `BEGIN IMMEDIATE` on it (a 500 on each write it served).
/// `max_page_count` makes the one pooled connection run out of room without a small disk: the
/// write is refused as Full, and the next write on the same pool goes through. SQLite only:
/// Postgres does not roll back on its own, and a failed statement's ROLLBACK succeeds there.
#[tokio::test]
async fn a_write_after_sqlite_rolled_back_a_full_transaction_goes_through() {
    use app::store::{tx::Tx, Db, PoolSettings, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let one = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let db = Db::connect(&url, &one).await.unwrap();
    let Db::Sqlite(pool) = &db else {
        unreachable!()
    };
    sqlx::query("create table scratch (x blob)")
        .execute(pool)
        .await
        .unwrap();
    let pages: i64 = sqlx::query_scalar("pragma page_count")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query(&format!("pragma max_page_count = {}", pages + 4))
        .execute(pool)
        .await
        .unwrap();

    let mut tx = Tx::write(&db).await.unwrap();
    tx.execute("insert into scratch values (zeroblob(100))", &[])
        .await
        .unwrap();
    let full = tx
        .execute("insert into scratch values (zeroblob(1000000))", &[])
        .await;
    assert!(matches!(full, Err(StoreError::Full(_))), "{full:?}");
    drop(tx);

    let mut tx = Tx::write(&db)
        .await
        .expect("a write transaction after the refused one");
    tx.execute("insert into scratch values (zeroblob(10))", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows: i64 = sqlx::query_scalar("select count(*) from scratch")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        rows, 1,
        "the refused transaction kept nothing; the next one its row"
    );
}
