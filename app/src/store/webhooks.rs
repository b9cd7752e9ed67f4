//! Webhook deliveries (each stored once per project and delivery id) and pushed commits.

use super::{now_ms, Db, StoreResult};
use crate::on_pool;

/// Whether a delivery was recorded before (GitHub redelivers on timeouts and on request).
pub async fn seen(db: &Db, project_id: i64, delivery_id: &str) -> StoreResult<bool> {
    let row: Option<(i64,)> = on_pool!(db, pool => {
        sqlx::query_as(
            "select webhook_delivery_id from webhook_delivery where project_id = $1 and delivery_id = $2",
        )
        .bind(project_id)
        .bind(delivery_id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.is_some())
}

/// A delivery as received and handled.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub project_id: i64,
    pub delivery_id: &'a str,
    pub event: &'a str,
    pub action: Option<&'a str>,
    pub outcome: &'a str,
    pub payload: Option<&'a str>,
}

/// Records a delivery; a second record of the same id changes nothing.
pub async fn record(db: &Db, d: &Delivery<'_>) -> StoreResult<()> {
    on_pool!(db, pool => {
        sqlx::query(
            "insert into webhook_delivery (project_id, delivery_id, event, action, received_at, outcome, payload) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (project_id, delivery_id) do nothing",
        )
        .bind(d.project_id)
        .bind(d.delivery_id)
        .bind(d.event)
        .bind(d.action)
        .bind(now_ms())
        .bind(d.outcome)
        .bind(d.payload)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// A commit as a push reports it.
#[derive(Debug, Clone)]
pub struct PushedCommit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub committed_at: Option<i64>,
    pub url: Option<String>,
}

/// Stores the commits of a push (known ones are kept as first seen); returns how many were new.
pub async fn store_commits(
    db: &Db,
    project_id: i64,
    branch: Option<&str>,
    commits: &[PushedCommit],
) -> StoreResult<u64> {
    let mut added = 0;
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        for c in commits {
            let done = sqlx::query(
                "insert into git_commit (project_id, sha, message, author, committed_at, branch, url) \
                 values ($1, $2, $3, $4, $5, $6, $7) on conflict (project_id, sha) do nothing",
            )
            .bind(project_id)
            .bind(&c.sha)
            .bind(&c.message)
            .bind(&c.author)
            .bind(c.committed_at)
            .bind(branch)
            .bind(&c.url)
            .execute(&mut *tx)
            .await?;
            added += done.rows_affected();
        }
        tx.commit().await?;
    });
    Ok(added)
}

/// How many commits of a project are stored.
pub async fn commit_count(db: &Db, project_id: i64) -> StoreResult<i64> {
    let (n,): (i64,) = on_pool!(db, pool => {
        sqlx::query_as("select count(*) from git_commit where project_id = $1")
            .bind(project_id)
            .fetch_one(pool)
            .await?
    });
    Ok(n)
}
