//! `gatehouse backup` and `gatehouse restore`.
//!
//! SQLite: the backup is `VACUUM INTO` a new file, which reads one consistent snapshot while
//! the server keeps serving (WAL readers do not block writers); the file is written under a
//! temporary name, checked with `pragma integrity_check`, then renamed into place. A restore
//! checks the file the same way, then replaces the database file (stop the servers first).
//!
//! Postgres: `pg_dump --format=custom` and `pg_restore --clean --single-transaction`, with the
//! password passed in `PGPASSWORD`, never on a command line other users can read.
//!
//! Both end by applying the migrations, so a backup taken by an older release restores into
//! this one.

use crate::config::Settings;
use app::store::{Db, PoolSettings, StoreError};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

fn io(what: &str, path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{what} {}: {e}", path.display()))
}

/// The database file of a `sqlite:` URL.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Row counts of the tables people see, for the summary a backup or restore prints.
pub async fn summary(db: &Db) -> Result<String, BackupError> {
    let mut parts = Vec::new();
    for (table, label) in [
        ("app_user", "users"),
        ("project", "projects"),
        ("ci_run", "runs"),
        ("test_case", "test cases"),
        ("deployment", "deployments"),
        ("audit_event", "audit entries"),
    ] {
        let n = app::store::count_rows(db, table).await?;
        parts.push(format!("{n} {label}"));
    }
    Ok(parts.join(", "))
}

/// Writes a backup of the database at `url` to `file`, which must not exist.
pub async fn backup(url: &str, file: &Path) -> Result<String, BackupError> {
    if file.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists; name a new file (backups are never overwritten)",
            file.display()
        )));
    }
    let partial = partial_name(file);
    let _ = std::fs::remove_file(&partial);
    let db = Db::connect(url, &PoolSettings::default()).await?;
    let result = async {
        if is_postgres(url) {
            run_pg(
                "pg_dump",
                url,
                &["--format=custom", "--no-owner", "--file"],
                &partial,
            )?;
        } else {
            let target = partial.to_str().ok_or_else(|| {
                BackupError::Refused(format!("{}: not a UTF-8 path", partial.display()))
            })?;
            app::store::vacuum_into(&db, target).await?;
            check_sqlite_file(&partial).await?;
        }
        std::fs::rename(&partial, file).map_err(|e| io("cannot rename the backup to", file, e))?;
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        Ok(format!(
            "backup written to {} ({size} bytes): {}",
            file.display(),
            summary(&db).await?
        ))
    }
    .await;
    db.close().await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Opens `file` read-only and runs SQLite's integrity check; it must be a Gatehouse database.
async fn check_sqlite_file(file: &Path) -> Result<(), BackupError> {
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(file).map_err(|e| io("cannot open", file, e))?;
        f.read_exact(&mut head).map_err(|_| {
            BackupError::Refused(format!("{}: not a SQLite database", file.display()))
        })?;
    }
    if &head != b"SQLite format 3\0" {
        return Err(BackupError::Refused(format!(
            "{}: not a SQLite database (a Postgres backup restores into a Postgres DATABASE_URL)",
            file.display()
        )));
    }
    match app::store::integrity_check_file(file).await? {
        None => Ok(()),
        Some(problem) => Err(BackupError::Refused(format!(
            "{}: {problem}",
            file.display()
        ))),
    }
}

/// Replaces the database at `url` with the backup in `file`. A database that holds projects
/// or runs is replaced only with `force`.
pub async fn restore(url: &str, file: &Path, force: bool) -> Result<String, BackupError> {
    if !file.is_file() {
        return Err(BackupError::Refused(format!(
            "{}: no such file",
            file.display()
        )));
    }
    let refuse_data = |db_name: &str| {
        BackupError::Refused(format!(
            "{db_name} already holds data; stop every server using it and pass --force to replace it"
        ))
    };
    if is_postgres(url) {
        let db = Db::connect(url, &PoolSettings::default()).await?;
        let has_data = app::store::holds_data(&db).await?;
        db.close().await;
        if has_data && !force {
            return Err(refuse_data("the Postgres database"));
        }
        run_pg(
            "pg_restore",
            url,
            &[
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
            ],
            file,
        )?;
    } else {
        check_sqlite_file(file).await?;
        let target = sqlite_path(url);
        if target.exists() {
            let db = Db::connect(url, &PoolSettings::default()).await?;
            let has_data = app::store::holds_data(&db).await;
            db.close().await;
            if has_data? && !force {
                return Err(refuse_data(&target.display().to_string()));
            }
        }
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        }
        let staging = partial_name(&target);
        std::fs::copy(file, &staging).map_err(|e| io("cannot copy the backup to", &staging, e))?;
        std::fs::File::open(&staging)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot sync", &staging, e))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(side));
        }
        std::fs::rename(&staging, &target).map_err(|e| io("cannot replace", &target, e))?;
    }
    let db = Db::connect(url, &PoolSettings::default()).await?;
    db.migrate().await?;
    let line = format!("restored {}: {}", file.display(), summary(&db).await?);
    db.close().await;
    Ok(line)
}

/// Runs `pg_dump`/`pg_restore` on the database of `url` with `file` last; the password goes
/// in the environment.
fn run_pg(tool: &str, url: &str, args: &[&str], file: &Path) -> Result<(), BackupError> {
    let (bare, password) = split_password(url);
    let mut cmd = Command::new(tool);
    cmd.args(args).arg(file).arg(format!("--dbname={bare}"));
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().map_err(|e| {
        BackupError::Io(format!(
            "cannot run {tool} (install the PostgreSQL client tools): {e}"
        ))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(BackupError::Io(format!(
            "{tool} failed ({}): {}",
            out.status,
            crate::config::redact_url(err.trim())
        )));
    }
    Ok(())
}

/// `postgres://user:secret@host/db` → (`postgres://user@host/db`, `secret` percent-decoded).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((auth, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    match auth.split_once(':') {
        Some((user, pass)) => (
            format!("{scheme}://{user}@{host}{tail}"),
            Some(percent_decode(pass)),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Settings-level entry points for the CLI.
pub async fn backup_cmd(settings: &Settings, file: &Path) -> Result<String, BackupError> {
    backup(settings.database_url.expose(), file).await
}

pub async fn restore_cmd(
    settings: &Settings,
    file: &Path,
    force: bool,
) -> Result<String, BackupError> {
    restore(settings.database_url.expose(), file, force).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://gh:s%40cret@127.0.0.1:5432/gatehouse"),
            (
                "postgres://gh@127.0.0.1:5432/gatehouse".to_string(),
                Some("s@cret".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://gh@db/gatehouse"),
            ("postgres://gh@db/gatehouse".to_string(), None)
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(
            sqlite_path("sqlite://data/g.db?mode=rwc"),
            PathBuf::from("data/g.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/g.db"),
            PathBuf::from("/tmp/g.db")
        );
    }
}
