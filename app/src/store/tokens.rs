//! API tokens: created by admins per project with scopes, shown once, stored as a SHA-256 of
//! the secret, revocable, with the time of last use.

use super::audit::{Actor, NewAuditEvent};
use super::{now_ms, Db, StoreError, StoreResult};
use crate::model::{ApiToken, NewToken, Scope};
use crate::{insert_audit_event, on_pool};
use sha2::{Digest, Sha256};

/// Every secret starts with this, so leaked tokens are easy to find with secret scanners.
pub const TOKEN_PREFIX: &str = "gth_";

/// Last-use times are written at most this often per token (every call would be a write).
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// The SHA-256 of a secret, hex-encoded, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// What a presented token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub token_id: i64,
    pub project_id: i64,
    pub project: String,
    /// The token's name, recorded as `token:<name>` where a token acts.
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Grant {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    api_token_id: i64,
    project: String,
    name: String,
    prefix: String,
    scopes: String,
    created_by: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<Row> for ApiToken {
    fn from(r: Row) -> ApiToken {
        ApiToken {
            id: r.api_token_id,
            project: r.project,
            name: r.name,
            prefix: r.prefix,
            scopes: Scope::parse_list(&r.scopes).unwrap_or_default(),
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

const SELECT: &str = "select t.api_token_id, p.slug as project, t.name, t.prefix, t.scopes, \
                      u.username as created_by, t.created_at, t.last_used_at, t.revoked_at \
                      from api_token t join project p on p.project_id = t.project_id \
                      left join app_user u on u.app_user_id = t.created_by";

/// Creates a token for `project`; the returned secret is never stored or shown again.
pub async fn create(
    db: &Db,
    project: &str,
    name: &str,
    scopes: &[Scope],
    actor: &Actor,
) -> StoreResult<NewToken> {
    if scopes.is_empty() {
        return Err(StoreError::Invalid(
            "name at least one scope: ingest, deploy, read".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "a token's name has 1 to 100 characters".into(),
        ));
    }
    let secret = new_secret();
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let scope_list = Scope::join(scopes);
    let event = NewAuditEvent::new(
        actor,
        "token.created",
        Some(&format!("{project}/{name}")),
        Some(format!("{prefix}…, scopes {scope_list}")),
    );
    let id: i64 = on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let project_id: Option<(i64,)> = sqlx::query_as("select project_id from project where slug = $1")
            .bind(project)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((project_id,)) = project_id else {
            return Err(StoreError::NotFound(format!("no project `{project}`")));
        };
        let (id,): (i64,) = sqlx::query_as(
            "insert into api_token (project_id, name, token_hash, prefix, scopes, created_by, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) returning api_token_id",
        )
        .bind(project_id)
        .bind(name)
        .bind(hash_secret(&secret))
        .bind(&prefix)
        .bind(&scope_list)
        .bind(actor.user_id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
        id
    });
    let token = get(db, id)
        .await?
        .ok_or_else(|| StoreError::Other("token vanished after insert".into()))?;
    Ok(NewToken { token, secret })
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<ApiToken>> {
    let sql = format!("{SELECT} where t.api_token_id = $1");
    let row: Option<Row> =
        on_pool!(db, pool => { sqlx::query_as(&sql).bind(id).fetch_optional(pool).await? });
    Ok(row.map(ApiToken::from))
}

/// Tokens of one project, or of all projects; newest first.
pub async fn list(db: &Db, project: Option<&str>) -> StoreResult<Vec<ApiToken>> {
    let sql = format!("{SELECT} where ($1 is null or p.slug = $1) order by t.api_token_id desc");
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(project).fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(ApiToken::from).collect())
}

/// Revokes a token (audited). Revoking twice changes nothing.
pub async fn revoke(db: &Db, id: i64, actor: &Actor) -> StoreResult<ApiToken> {
    let token = get(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no token {id}")))?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let event = NewAuditEvent::new(
        actor,
        "token.revoked",
        Some(&format!("{}/{}", token.project, token.name)),
        Some(format!("{}…", token.prefix)),
    );
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        sqlx::query("update api_token set revoked_at = $1 where api_token_id = $2 and revoked_at is null")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
    });
    forget_grants(db);
    get(db, id)
        .await?
        .ok_or_else(|| StoreError::Other("token vanished".into()))
}

/// How long a process trusts a grant it has read before reading it again. A token revoked
/// through this process is refused at once; through another replica, within this time.
pub const GRANT_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Grants read lately, by (database, token hash): when read, the grant, the database's handle.
type Grants = std::collections::HashMap<
    (usize, String),
    (
        std::time::Instant,
        Grant,
        std::sync::Weak<dyn std::any::Any + Send + Sync>,
    ),
>;

static GRANTS: std::sync::LazyLock<std::sync::Mutex<Grants>> =
    std::sync::LazyLock::new(Default::default);

/// Grants kept at once; past this the copy starts again empty.
const MAX_GRANTS: usize = 10_000;

/// Counts revocations in this process: a grant read while one happened is not kept, so a
/// read that raced a revocation cannot put the grant back.
static REVOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn forget_grants(db: &Db) {
    let (id, _) = db.identity();
    let mut grants = GRANTS.lock().expect("grant cache lock");
    REVOCATIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    grants.retain(|(d, _), _| *d != id);
}

/// The grant of a presented secret, or `None` when it is unknown or revoked. Records the use
/// (to the minute). A grant read in the last [`GRANT_RECHECK`] is not read again, so a service
/// polling feature flags costs no database work per request.
pub async fn authenticate(db: &Db, secret: &str) -> StoreResult<Option<Grant>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let hash = hash_secret(secret);
    let (db_id, handle) = db.identity();
    let key = (db_id, hash);
    if let Some((at, grant, held)) = GRANTS.lock().expect("grant cache lock").get(&key) {
        if at.elapsed() < GRANT_RECHECK && held.strong_count() > 0 {
            return Ok(Some(grant.clone()));
        }
    }
    let hash = key.1.clone();
    let revocations = REVOCATIONS.load(std::sync::atomic::Ordering::SeqCst);
    let row: Option<(i64, i64, String, String, String, Option<i64>)> = on_pool!(db, pool => {
        sqlx::query_as(
            "select t.api_token_id, t.project_id, p.slug, t.name, t.scopes, t.last_used_at from api_token t \
             join project p on p.project_id = t.project_id \
             where t.token_hash = $1 and t.revoked_at is null",
        )
        .bind(&hash)
        .fetch_optional(pool)
        .await?
    });
    let Some((token_id, project_id, project, name, scopes, last_used)) = row else {
        GRANTS.lock().expect("grant cache lock").remove(&key);
        return Ok(None);
    };
    let now = now_ms();
    if last_used.is_none_or(|t| now - t >= LAST_USED_GRANULARITY_MS) {
        on_pool!(db, pool => {
            sqlx::query("update api_token set last_used_at = $1 where api_token_id = $2")
                .bind(now)
                .bind(token_id)
                .execute(pool)
                .await?;
        });
    }
    let grant = Grant {
        token_id,
        project_id,
        project,
        name,
        scopes: Scope::parse_list(&scopes).unwrap_or_default(),
    };
    let mut grants = GRANTS.lock().expect("grant cache lock");
    if REVOCATIONS.load(std::sync::atomic::Ordering::SeqCst) == revocations {
        if grants.len() >= MAX_GRANTS {
            grants.clear();
        }
        grants.insert(key, (std::time::Instant::now(), grant.clone(), handle));
    }
    Ok(Some(grant))
}
