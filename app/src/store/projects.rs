//! Projects and their environments.

use super::audit::{Actor, NewAuditEvent};
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::model::{Project, Slug, DEFAULT_ENVIRONMENTS};
use crate::{insert_audit_event, on_pool, vals};

/// A project to create.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub slug: Slug,
    pub name: String,
    pub default_branch: String,
    pub repository_url: Option<String>,
    /// Empty for the defaults (dev → staging → production).
    pub environments: Vec<String>,
}

impl NewProject {
    pub fn named(slug: Slug) -> NewProject {
        NewProject {
            name: slug.as_str().to_string(),
            slug,
            default_branch: "main".into(),
            repository_url: None,
            environments: Vec::new(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    project_id: i64,
    slug: String,
    name: String,
    default_branch: String,
    repository_url: Option<String>,
    has_secret: bool,
    created_at: i64,
    environments: Option<String>,
}

/// Environments come back as one `\n`-joined column (portable string aggregation).
fn select_sql(filter: &str, backend_agg: &str) -> String {
    format!(
        "select p.project_id, p.slug, p.name, p.default_branch, p.repository_url, \
         (p.webhook_secret is not null) as has_secret, p.created_at, \
         (select {backend_agg} from (select name from environment e where e.project_id = p.project_id \
          order by position) envs) as environments \
         from project p {filter}"
    )
}

fn agg(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(_) => "group_concat(name, char(10))",
        Db::Postgres(_) => "string_agg(name, chr(10))",
    }
}

impl From<Row> for Project {
    fn from(r: Row) -> Project {
        Project {
            id: r.project_id,
            slug: r.slug,
            name: r.name,
            default_branch: r.default_branch,
            repository_url: r.repository_url,
            environments: r
                .environments
                .map(|e| e.split('\n').map(str::to_string).collect())
                .unwrap_or_default(),
            has_webhook_secret: r.has_secret,
            created_at: r.created_at,
        }
    }
}

/// Creates a project with its environments, audited. A taken slug is a conflict.
pub async fn create(db: &Db, new: &NewProject, actor: &Actor) -> StoreResult<Project> {
    let now = now_ms();
    let envs: Vec<String> = if new.environments.is_empty() {
        DEFAULT_ENVIRONMENTS.iter().map(|e| e.to_string()).collect()
    } else {
        new.environments.clone()
    };
    let event = NewAuditEvent::new(
        actor,
        "project.created",
        Some(new.slug.as_str()),
        Some(format!("environments {}", envs.join(" → "))),
    );
    let mut tx = Tx::write(db).await?;
    let (id,): (i64,) = tx
        .one(
            "insert into project (slug, name, default_branch, repository_url, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5) returning project_id",
            vals![
                new.slug.as_str(),
                new.name.trim(),
                new.default_branch.trim(),
                new.repository_url.as_deref(),
                now
            ],
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a project `{}` already exists", new.slug))
            }
            other => other,
        })?;
    for (position, name) in envs.iter().enumerate() {
        let (env_id,): (i64,) = tx
            .one(
                "insert into environment (project_id, name, position, created_at) \
                 values ($1, $2, $3, $4) returning environment_id",
                vals![id, name, position as i64, now],
            )
            .await?;
        let (protection, gates, checklist) =
            super::environments::defaults(position, envs.len(), new.default_branch.trim());
        super::environments::seed(&mut tx, env_id, &protection, &gates, &checklist, now).await?;
    }
    tx.audit(&event).await?;
    tx.commit().await?;
    get(db, new.slug.as_str())
        .await?
        .ok_or_else(|| StoreError::Other("project vanished after insert".into()))
}

pub async fn get(db: &Db, slug: &str) -> StoreResult<Option<Project>> {
    let sql = select_sql("where p.slug = $1", agg(db));
    let row: Option<Row> =
        on_pool!(db, pool => { sqlx::query_as(&sql).bind(slug).fetch_optional(pool).await? });
    Ok(row.map(Project::from))
}

/// Like [`get`], but a missing project is [`StoreError::NotFound`] naming it.
pub async fn require(db: &Db, slug: &str) -> StoreResult<Project> {
    get(db, slug)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no project `{slug}`")))
}

pub async fn list(db: &Db) -> StoreResult<Vec<Project>> {
    let sql = select_sql("order by p.slug", agg(db));
    let rows: Vec<Row> = on_pool!(db, pool => { sqlx::query_as(&sql).fetch_all(pool).await? });
    Ok(rows.into_iter().map(Project::from).collect())
}

/// Sets or clears the GitHub webhook secret (audited; the secret is not logged).
pub async fn set_webhook_secret(
    db: &Db,
    slug: &str,
    secret: Option<&str>,
    actor: &Actor,
) -> StoreResult<()> {
    let action = if secret.is_some() {
        "project.webhook_secret_set"
    } else {
        "project.webhook_secret_cleared"
    };
    let event = NewAuditEvent::new(actor, action, Some(slug), None);
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let done = sqlx::query("update project set webhook_secret = $1, updated_at = $2 where slug = $3")
            .bind(secret)
            .bind(now_ms())
            .bind(slug)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no project `{slug}`")));
        }
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
    });
    Ok(())
}

/// The webhook secret of a project, for signature checks only.
pub async fn webhook_secret(db: &Db, project_id: i64) -> StoreResult<Option<String>> {
    let row: Option<(Option<String>,)> = on_pool!(db, pool => {
        sqlx::query_as("select webhook_secret from project where project_id = $1")
            .bind(project_id)
            .fetch_optional(pool)
            .await?
    });
    Ok(row.and_then(|r| r.0))
}
