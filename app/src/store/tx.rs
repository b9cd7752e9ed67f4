//! A transaction on either backend with values bound at run time, for store code that runs
//! many statements in one transaction (the deployment state machine): the statements are
//! written once and the backend is chosen per call, instead of compiling each body twice.
//! Both backends take `$1` placeholders; values are the few types both support.

use super::audit::NewAuditEvent;
use super::{Backend, Db, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I(Option<i64>),
    F(Option<f64>),
    S(Option<String>),
    B(Option<bool>),
}

macro_rules! val_from {
    ($t:ty, $v:ident, $e:expr) => {
        impl From<$t> for Val {
            fn from($v: $t) -> Val {
                $e
            }
        }
    };
}
val_from!(i64, v, Val::I(Some(v)));
val_from!(Option<i64>, v, Val::I(v));
val_from!(f64, v, Val::F(Some(v)));
val_from!(Option<f64>, v, Val::F(v));
val_from!(bool, v, Val::B(Some(v)));
val_from!(Option<bool>, v, Val::B(v));
val_from!(String, v, Val::S(Some(v)));
val_from!(&String, v, Val::S(Some(v.clone())));
val_from!(&str, v, Val::S(Some(v.to_string())));
val_from!(Option<String>, v, Val::S(v));
val_from!(Option<&str>, v, Val::S(v.map(str::to_string)));

/// Builds a `&[Val]` from expressions of any supported type.
#[macro_export]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::tx::Val::from($v)),*] };
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Val::I(v) => q.bind(*v),
                Val::F(v) => q.bind(*v),
                Val::S(v) => q.bind(v.clone()),
                Val::B(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// Rows decodable from both backends (a `#[derive(sqlx::FromRow)]` struct or a tuple).
pub trait AnyRow:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> AnyRow for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl From<sqlx::Transaction<'static, sqlx::Sqlite>> for Tx {
    fn from(t: sqlx::Transaction<'static, sqlx::Sqlite>) -> Tx {
        Tx::Sqlite(t)
    }
}

impl From<sqlx::Transaction<'static, sqlx::Postgres>> for Tx {
    fn from(t: sqlx::Transaction<'static, sqlx::Postgres>) -> Tx {
        Tx::Postgres(t)
    }
}

impl Tx {
    /// A transaction that will write (takes SQLite's write lock at once).
    pub async fn write(db: &Db) -> StoreResult<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(super::begin_write(p).await?),
            Db::Postgres(p) => Tx::Postgres(super::begin_write(p).await?),
        })
    }

    /// A transaction that only reads: one consistent snapshot for several queries.
    pub async fn read(db: &Db) -> StoreResult<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// ` for update of <alias>` on Postgres: locks the rows read under `alias` until commit.
    /// Nothing on SQLite, whose write transaction already excludes other writers.
    pub fn for_update(&self, alias: &str) -> String {
        match self {
            Tx::Sqlite(_) => String::new(),
            Tx::Postgres(_) => format!(" for update of {alias}"),
        }
    }

    pub async fn execute(&mut self, sql: &str, args: &[Val]) -> StoreResult<u64> {
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_all!(sqlx::query(sql), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub async fn one<R: AnyRow>(&mut self, sql: &str, args: &[Val]) -> StoreResult<R> {
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_one(&mut **t)
                    .await?
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_one(&mut **t)
                    .await?
            }
        })
    }

    pub async fn opt<R: AnyRow>(&mut self, sql: &str, args: &[Val]) -> StoreResult<Option<R>> {
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(&mut **t)
                    .await?
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(&mut **t)
                    .await?
            }
        })
    }

    pub async fn all<R: AnyRow>(&mut self, sql: &str, args: &[Val]) -> StoreResult<Vec<R>> {
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_all(&mut **t)
                    .await?
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_all(&mut **t)
                    .await?
            }
        })
    }

    /// Records an audit entry in this transaction.
    pub async fn audit(&mut self, ev: &NewAuditEvent) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => {
                crate::insert_audit_event!(&mut **t, ev)?;
            }
            Tx::Postgres(t) => {
                crate::insert_audit_event!(&mut **t, ev)?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}
