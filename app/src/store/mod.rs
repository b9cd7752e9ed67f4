//! Persistence: one API over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries are written once with `$1` placeholders (SQLite accepts them) and run on whichever
//! pool is configured through [`on_pool!`]; where SQL differs, the twin branches sit together.
//! Times are `i64` epoch milliseconds (UTC) everywhere; fractions are `f64` in `[0, 1]`.

pub mod audit;
pub mod calibration;
pub mod deploy_views;
pub mod deployments;
pub mod environments;
pub mod flags;
pub mod kpis;
pub mod notify;
pub mod plans;
pub mod predictor;
pub mod projects;
pub mod retention;
pub mod runs;
pub mod score_cache;
pub mod sessions;
pub mod test_history;
pub mod tokens;
pub mod tx;
pub mod users;
pub mod webhooks;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`; the body is compiled once
/// per backend, so the same query text serves both.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (a rule about people, such as self-approval).
    #[error("{0}")]
    Forbidden(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database's disk (or quota) is full: nothing of the write was kept.
    #[error("the database's disk is full: {0}")]
    Full(String),
    #[error("database error: {0}")]
    Other(String),
}

/// A write refused for want of space: Postgres' SQLSTATE `53100` (disk_full; its codes are
/// five characters), or SQLite's SQLITE_FULL (13, the low byte of its extended codes).
fn is_full(code: Option<&str>) -> bool {
    match code {
        Some(c) if c.len() == 5 => c == "53100",
        Some(c) => c.parse::<i64>().is_ok_and(|n| n & 0xff == 13),
        None => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("not found".into()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            // SQLite's SQLITE_FULL (13, also as extended codes) and Postgres' disk_full / out of
            // memory classes (53100, 53200).
            sqlx::Error::Database(db) if is_full(db.code().as_deref()) => {
                StoreError::Full(e.to_string())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "already exists ({})",
                db.constraint().unwrap_or("unique constraint")
            )),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(format!("migration failed: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How the pool is sized and how long a request may wait for a connection.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// A number naming this database's pool, and a handle that tells when the pool is gone.
    /// The handle keeps the pool's options allocated, so while it lives no other pool can be
    /// given the same number (in-process caches key on it).
    pub(crate) fn identity(&self) -> (usize, std::sync::Weak<dyn std::any::Any + Send + Sync>) {
        fn of<T: std::any::Any + Send + Sync>(
            options: std::sync::Arc<T>,
        ) -> (usize, std::sync::Weak<dyn std::any::Any + Send + Sync>) {
            let id = std::sync::Arc::as_ptr(&options) as *const u8 as usize;
            let options: std::sync::Arc<dyn std::any::Any + Send + Sync> = options;
            (id, std::sync::Arc::downgrade(&options))
        }
        match self {
            Db::Sqlite(p) => of(p.connect_options()),
            Db::Postgres(p) => of(p.connect_options()),
        }
    }

    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file and its
    /// folder when missing. Does not run migrations: see [`Db::migrate`].
    pub async fn connect(url: &str, settings: &PoolSettings) -> StoreResult<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Invalid(format!("DATABASE_URL: {e}")))?
                .application_name("gatehouse");
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Invalid(format!("DATABASE_URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            if let Some(dir) = opts.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Invalid(format!(
                            "cannot create the database folder {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .before_acquire(|conn, _| Box::pin(sqlite_connection_is_clean(conn)))
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(StoreError::Invalid(format!(
                "DATABASE_URL must start with sqlite:// or postgres:// (got `{}`)",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        sessions::SessionStore::new(self.clone()).migrate().await
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers whether the database takes a query now.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, pool => {
            sqlx::query("select 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Connections open and idle, for the `/metrics` gauges.
    pub fn pool_state(&self) -> (u32, usize) {
        on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// The number of rows in `table` (a name from the schema: letters and underscores only).
pub async fn count_rows(db: &Db, table: &str) -> StoreResult<i64> {
    if !table.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return Err(StoreError::Invalid(format!("no table named `{table}`")));
    }
    let sql = format!("select count(*) from {table}");
    on_pool!(db, pool => {
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(pool).await?;
        Ok(n)
    })
}

/// The newest migration this build carries (the same number on both backends).
pub fn latest_migration() -> i64 {
    sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Tables in the database (outside the system catalogs).
pub async fn count_tables(db: &Db) -> StoreResult<i64> {
    let sql = match db {
        Db::Sqlite(_) => {
            "select count(*) from sqlite_master where type = 'table' and name not like 'sqlite_%'"
        }
        Db::Postgres(_) => {
            "select count(*) from information_schema.tables \
             where table_schema not in ('pg_catalog', 'information_schema')"
        }
    };
    on_pool!(db, pool => {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
        Ok(n)
    })
}

/// Whether the database holds anything people made: projects or runs.
pub async fn holds_data(db: &Db) -> StoreResult<bool> {
    match count_rows(db, "project").await {
        Ok(n) => Ok(n > 0),
        // A database before its first migration has no such table: nothing to lose.
        Err(StoreError::Other(m))
            if m.contains("no such table") || m.contains("does not exist") =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// SQLite's `VACUUM INTO`: a consistent copy of the database in a new file, taken while
/// other connections keep reading and writing.
pub async fn vacuum_into(db: &Db, path: &str) -> StoreResult<()> {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query("vacuum into $1")
                .bind(path)
                .execute(pool)
                .await?;
            Ok(())
        }
        Db::Postgres(_) => Err(StoreError::Invalid(
            "VACUUM INTO is SQLite's; back up Postgres with pg_dump".into(),
        )),
    }
}

/// SQLite's `pragma integrity_check` of the file at `path`, opened read-only: None when the
/// file is sound, else what is wrong.
pub async fn integrity_check_file(
    path: &std::path::Path,
    newest: i64,
) -> StoreResult<Option<String>> {
    use sqlx::Connection;
    let opts = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let rows: Vec<(String,)> = sqlx::query_as("pragma integrity_check")
        .fetch_all(&mut conn)
        .await?;
    let migrated: (i64,) = sqlx::query_as(
        "select count(*) from sqlite_master where type = 'table' and name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await?;
    let version: Option<i64> = if migrated.0 > 0 {
        sqlx::query_as::<_, (Option<i64>,)>("select max(version) from _sqlx_migrations")
            .fetch_one(&mut conn)
            .await?
            .0
    } else {
        None
    };
    conn.close().await?;
    let mut problems: Vec<String> = rows
        .into_iter()
        .map(|r| r.0)
        .filter(|r| r != "ok")
        .collect();
    match version {
        None => problems.push("not a Gatehouse database (no migrations)".into()),
        Some(v) if v > newest => problems.push(format!(
            "made by a newer Gatehouse (schema {v}; this one knows {newest}): restore it with that release"
        )),
        Some(_) => {}
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}

/// How a backend opens a transaction that will write.
pub trait WriteBegin: sqlx::Database {
    const BEGIN: &'static str;
}

impl WriteBegin for sqlx::Sqlite {
    /// Takes the write lock at once (waiting up to the busy timeout). A deferred transaction
    /// that reads first and then writes fails with "database is locked" when another
    /// connection writes in between, instead of waiting.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl WriteBegin for sqlx::Postgres {
    const BEGIN: &'static str = "BEGIN";
}

/// Opens a transaction that will write (see [`WriteBegin`]).
pub async fn begin_write<DB: WriteBegin>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    pool.begin_with(DB::BEGIN).await
}

/// Whether an idle SQLite connection may be lent out again. SQLite rolls a whole transaction
/// back by itself on some errors (SQLITE_FULL among them); sqlx's ROLLBACK then fails, and
/// sqlx still counts the connection as inside a transaction, so every later `BEGIN IMMEDIATE`
/// on it would be refused. Such a connection is closed instead (the pool opens a fresh one).
/// A rollback queued by a dropped transaction is waited for first (the ping follows it).
async fn sqlite_connection_is_clean(
    conn: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a SQLite connection left inside a transaction the database had already rolled back");
    }
    Ok(clean)
}

/// Now, as epoch milliseconds UTC.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
