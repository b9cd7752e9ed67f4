//! Browser sessions kept in the database (so several replicas share them), on either backend.

use super::{Db, StoreError, StoreResult};
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The tower-sessions store of whichever backend the console runs on.
#[derive(Debug, Clone)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionStore {
    pub fn new(db: Db) -> SessionStore {
        match db {
            Db::Sqlite(pool) => SessionStore::Sqlite(SqliteStore::new(pool)),
            Db::Postgres(pool) => SessionStore::Postgres(PostgresStore::new(pool)),
        }
    }

    /// Creates the session table when missing.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            SessionStore::Sqlite(s) => s.migrate().await,
            SessionStore::Postgres(s) => s.migrate().await,
        }
        .map_err(StoreError::from)
    }

    /// Deletes sessions past their expiry; run periodically by a background job.
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete_expired().await,
            SessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.create(record).await,
            SessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.save(record).await,
            SessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionStore::Sqlite(s) => s.load(id).await,
            SessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete(id).await,
            SessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}
