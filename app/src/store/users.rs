//! Users, their credentials and the login-failure record used for throttling.

use super::audit::{Actor, NewAuditEvent};
use super::{now_ms, Db, StoreError, StoreResult};
use crate::model::{Role, User, UserId, Username};
use crate::{insert_audit_event, on_pool};

/// A user with what only the server may see.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
    /// Changes when the password changes or the user is disabled; sessions carry the version
    /// they were opened with and end when it no longer matches.
    pub credentials_version: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    app_user_id: i64,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    credentials_version: i64,
    created_at: i64,
    last_login_at: Option<i64>,
}

impl TryFrom<Row> for UserRecord {
    type Error = StoreError;
    fn try_from(r: Row) -> StoreResult<Self> {
        let role = r.role.parse::<Role>().map_err(StoreError::Other)?;
        Ok(UserRecord {
            user: User {
                id: UserId(r.app_user_id),
                username: r.username,
                display_name: r.display_name,
                role,
                disabled: r.disabled,
                created_at: r.created_at,
                last_login_at: r.last_login_at,
            },
            password_hash: r.password_hash,
            credentials_version: r.credentials_version,
        })
    }
}

const COLUMNS: &str = "app_user_id, username, display_name, role, password_hash, disabled, \
                       credentials_version, created_at, last_login_at";

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

pub async fn count(db: &Db) -> StoreResult<i64> {
    let (n,): (i64,) = on_pool!(db, pool => {
        sqlx::query_as("select count(*) from app_user").fetch_one(pool).await?
    });
    Ok(n)
}

/// Creates a user and records it in the audit log, in one transaction.
/// A taken username is a [`StoreError::Conflict`].
pub async fn create(db: &Db, new: &NewUser, actor: &Actor) -> StoreResult<User> {
    let now = now_ms();
    let display = if new.display_name.trim().is_empty() {
        new.username.as_str().to_string()
    } else {
        new.display_name.trim().to_string()
    };
    let sql = format!(
        "insert into app_user (username, display_name, role, password_hash, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $5) returning {COLUMNS}"
    );
    let event = NewAuditEvent::new(
        actor,
        "user.created",
        Some(new.username.as_str()),
        Some(format!("role {}", new.role)),
    );
    let row: Row = on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let row: Row = sqlx::query_as(&sql)
            .bind(new.username.as_str())
            .bind(&display)
            .bind(new.role.as_str())
            .bind(&new.password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "the username `{}` is taken", new.username
                )),
                other => other,
            })?;
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
        row
    });
    Ok(UserRecord::try_from(row)?.user)
}

pub async fn find_by_username(db: &Db, username: &str) -> StoreResult<Option<UserRecord>> {
    let sql = format!("select {COLUMNS} from app_user where username = $1");
    let name = username.trim().to_ascii_lowercase();
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(&name).fetch_optional(pool).await?
    });
    row.map(UserRecord::try_from).transpose()
}

pub async fn get(db: &Db, id: UserId) -> StoreResult<Option<UserRecord>> {
    let sql = format!("select {COLUMNS} from app_user where app_user_id = $1");
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await?
    });
    row.map(UserRecord::try_from).transpose()
}

pub async fn list(db: &Db) -> StoreResult<Vec<User>> {
    let sql = format!("select {COLUMNS} from app_user order by username");
    let rows: Vec<Row> = on_pool!(db, pool => { sqlx::query_as(&sql).fetch_all(pool).await? });
    rows.into_iter()
        .map(|r| UserRecord::try_from(r).map(|u| u.user))
        .collect()
}

/// The kinds of change an admin makes to a user, each audited.
#[derive(Debug, Clone)]
pub enum UserChange {
    Role(Role),
    Disabled(bool),
    /// A new password hash; ends the user's other sessions.
    Password(String),
    DisplayName(String),
}

/// Applies a change in one transaction with its audit entry. Refuses to leave the console
/// without an enabled admin.
pub async fn change(db: &Db, id: UserId, change: &UserChange, actor: &Actor) -> StoreResult<User> {
    let now = now_ms();
    let sql_get = format!("select {COLUMNS} from app_user where app_user_id = $1");
    let sql_back = sql_get.clone();
    let row: Row = on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        let before: Option<Row> = sqlx::query_as(&sql_get).bind(id.0).fetch_optional(&mut *tx).await?;
        let before = UserRecord::try_from(
            before.ok_or_else(|| StoreError::NotFound(format!("no user with id {}", id.0)))?,
        )?;
        let removes_admin = before.user.role == Role::Admin
            && !before.user.disabled
            && matches!(change, UserChange::Role(r) if *r != Role::Admin)
            || before.user.role == Role::Admin
                && !before.user.disabled
                && matches!(change, UserChange::Disabled(true));
        if removes_admin {
            let (admins,): (i64,) = sqlx::query_as(
                "select count(*) from app_user where role = 'admin' and disabled = $1",
            )
            .bind(false)
            .fetch_one(&mut *tx)
            .await?;
            if admins <= 1 {
                return Err(StoreError::Invalid(format!(
                    "`{}` is the last enabled admin; make another admin first",
                    before.user.username
                )));
            }
        }
        let (action, detail) = match change {
            UserChange::Role(role) => {
                sqlx::query("update app_user set role = $1, updated_at = $2 where app_user_id = $3")
                    .bind(role.as_str()).bind(now).bind(id.0).execute(&mut *tx).await?;
                ("user.role_changed", Some(format!("{} → {}", before.user.role, role)))
            }
            UserChange::Disabled(disabled) => {
                sqlx::query(
                    "update app_user set disabled = $1, credentials_version = credentials_version + 1, \
                     updated_at = $2 where app_user_id = $3",
                )
                .bind(*disabled).bind(now).bind(id.0).execute(&mut *tx).await?;
                (if *disabled { "user.disabled" } else { "user.enabled" }, None)
            }
            UserChange::Password(hash) => {
                sqlx::query(
                    "update app_user set password_hash = $1, credentials_version = credentials_version + 1, \
                     updated_at = $2 where app_user_id = $3",
                )
                .bind(hash).bind(now).bind(id.0).execute(&mut *tx).await?;
                ("user.password_changed", None)
            }
            UserChange::DisplayName(name) => {
                sqlx::query("update app_user set display_name = $1, updated_at = $2 where app_user_id = $3")
                    .bind(name.trim()).bind(now).bind(id.0).execute(&mut *tx).await?;
                ("user.renamed", Some(name.trim().to_string()))
            }
        };
        let event = NewAuditEvent::new(actor, action, Some(&before.user.username), detail);
        insert_audit_event!(&mut *tx, &event)?;
        let after: Row = sqlx::query_as(&sql_back).bind(id.0).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        after
    });
    Ok(UserRecord::try_from(row)?.user)
}

/// Marks a successful login: the time, the audit entry, and forgets the account's failures.
pub async fn record_login(db: &Db, user: &User, ip: &str) -> StoreResult<()> {
    let now = now_ms();
    let actor = Actor {
        user_id: Some(user.id.0),
        username: Some(user.username.clone()),
        ip: Some(ip.to_string()),
    };
    let event = NewAuditEvent::new(&actor, "user.login", Some(&user.username), None);
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        sqlx::query("update app_user set last_login_at = $1 where app_user_id = $2")
            .bind(now).bind(user.id.0).execute(&mut *tx).await?;
        sqlx::query("delete from login_failure where username = $1")
            .bind(&user.username).execute(&mut *tx).await?;
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
    });
    Ok(())
}

/// Records a failed login for throttling and in the audit log; prunes failures older than a day.
pub async fn record_login_failure(
    db: &Db,
    username: &str,
    ip: &str,
    reason: &str,
) -> StoreResult<()> {
    let now = now_ms();
    let name: String = username
        .trim()
        .to_ascii_lowercase()
        .chars()
        .take(64)
        .collect();
    let actor = Actor {
        user_id: None,
        username: None,
        ip: Some(ip.to_string()),
    };
    let event = NewAuditEvent::new(
        &actor,
        "user.login_failed",
        Some(&name),
        Some(reason.to_string()),
    );
    on_pool!(db, pool => {
        let mut tx = super::begin_write(pool).await?;
        sqlx::query("insert into login_failure (username, ip, at) values ($1, $2, $3)")
            .bind(&name).bind(ip).bind(now).execute(&mut *tx).await?;
        sqlx::query("delete from login_failure where at < $1")
            .bind(now - 24 * 3600 * 1000).execute(&mut *tx).await?;
        insert_audit_event!(&mut *tx, &event)?;
        tx.commit().await?;
    });
    Ok(())
}

/// Failures since `since_ms` for this account and for this address, with the newest time of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentFailures {
    pub for_account: i64,
    pub last_for_account: Option<i64>,
    pub for_address: i64,
    pub last_for_address: Option<i64>,
}

pub async fn recent_login_failures(
    db: &Db,
    username: &str,
    ip: &str,
    since_ms: i64,
) -> StoreResult<RecentFailures> {
    let name = username.trim().to_ascii_lowercase();
    let ((a, la), (b, lb)): ((i64, Option<i64>), (i64, Option<i64>)) = on_pool!(db, pool => {
        let a = sqlx::query_as("select count(*), max(at) from login_failure where username = $1 and at >= $2")
            .bind(&name).bind(since_ms).fetch_one(pool).await?;
        let b = sqlx::query_as("select count(*), max(at) from login_failure where ip = $1 and at >= $2")
            .bind(ip).bind(since_ms).fetch_one(pool).await?;
        (a, b)
    });
    Ok(RecentFailures {
        for_account: a,
        last_for_account: la,
        for_address: b,
        last_for_address: lb,
    })
}

/// Sets the last sign-in time without an audit entry (demo data replays history with its own).
pub async fn set_last_login(db: &Db, id: UserId, at: i64) -> StoreResult<()> {
    on_pool!(db, pool => {
        sqlx::query("update app_user set last_login_at = $1 where app_user_id = $2")
            .bind(at).bind(id.0).execute(pool).await?;
    });
    Ok(())
}
