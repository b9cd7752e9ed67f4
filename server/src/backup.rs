//! `gatehouse backup` and `gatehouse restore`.
//!
//! SQLite: the backup is `VACUUM INTO` a new file, which reads one consistent snapshot while
//! the server keeps serving (WAL readers do not block writers); the file is written under a
//! temporary name, checked with `pragma integrity_check`, then renamed into place. A restore
//! checks the file the same way, then replaces the database file (stop the servers first).
//!
//! Postgres: `pg_dump --format=custom`, restored with `pg_restore --single-transaction` into an
//! empty database (create one, restore, then point `DATABASE_URL` at it: the database in use is
//! never dropped first). The password goes in `PGPASSWORD`, never on a command line other users
//! can read.
//!
//! `gatehouse serve` holds a shared lock on `<database>.lock` beside a SQLite file; a restore
//! takes it exclusively, so it refuses while a server runs on that file.
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
        // VACUUM INTO does not sync its output: sync it, then link it into place (a link
        // never replaces a file that appeared meanwhile), then sync the folder.
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot sync", &partial, e))?;
        std::fs::hard_link(&partial, file)
            .map_err(|e| io("cannot write the backup to", file, e))?;
        let _ = std::fs::remove_file(&partial);
        sync_dir(file);
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
    match app::store::integrity_check_file(file, app::store::latest_migration()).await? {
        None => Ok(()),
        Some(problem) => Err(BackupError::Refused(format!(
            "{}: {problem}",
            file.display()
        ))),
    }
}

/// Replaces the database at `url` with the backup in `file`. SQLite: a file that holds
/// projects or runs is replaced only with `force`, and never while a server runs on it.
/// Postgres: only into an empty database.
pub async fn restore(url: &str, file: &Path, force: bool) -> Result<String, BackupError> {
    if !file.is_file() {
        return Err(BackupError::Refused(format!(
            "{}: no such file",
            file.display()
        )));
    }
    if is_postgres(url) {
        let db = Db::connect(url, &PoolSettings::default()).await?;
        let tables = app::store::count_tables(&db).await;
        db.close().await;
        if tables? > 0 {
            return Err(BackupError::Refused(
                "the Postgres database is not empty: create an empty one (createdb), restore into it, \
                 then point DATABASE_URL at it (the database in use is never dropped)"
                    .into(),
            ));
        }
        run_pg(
            "pg_restore",
            url,
            &[
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
            ],
            file,
        )?;
    } else {
        check_sqlite_file(file).await?;
        let target = sqlite_path(url);
        let _lock = take_restore_lock(url, &target)?;
        if target.exists() {
            let db = Db::connect(url, &PoolSettings::default()).await?;
            let has_data = app::store::holds_data(&db).await;
            db.close().await;
            if has_data? && !force {
                return Err(BackupError::Refused(format!(
                    "{} already holds data; pass --force to replace it",
                    target.display()
                )));
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
        sync_dir(&target);
    }
    let db = Db::connect(url, &PoolSettings::default()).await?;
    db.migrate().await?;
    let line = format!("restored {}: {}", file.display(), summary(&db).await?);
    db.close().await;
    Ok(line)
}

/// The exclusive lock beside a SQLite file: refused while a server holds it shared.
fn take_restore_lock(url: &str, target: &Path) -> Result<Option<std::fs::File>, BackupError> {
    let Some(path) = lock_path(url) else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    }
    let f = open_lock(&path).map_err(|e| io("cannot open", &path, e))?;
    if f.try_lock().is_err() {
        return Err(BackupError::Refused(format!(
            "a Gatehouse server is running on {}; stop it first",
            target.display()
        )));
    }
    Ok(Some(f))
}

fn open_lock(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// The lock `gatehouse serve` holds (shared) beside a SQLite database, and a restore takes
/// (exclusive). None for Postgres.
pub fn lock_path(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let mut name = sqlite_path(url).into_os_string();
    name.push(".lock");
    Some(PathBuf::from(name))
}

/// Taken by `gatehouse serve` for as long as it runs on a SQLite file.
pub fn hold_serve_lock(url: &str) -> Option<std::fs::File> {
    let path = lock_path(url)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = open_lock(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => Some(file),
        Err(_) => {
            tracing::warn!(path = %path.display(), "a restore holds the database lock");
            None
        }
    }
}

/// Syncs the folder holding `file`, so a rename or link into it survives a crash.
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
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

/// `postgres://user:secret@host/db` → (`postgres://user@host/db`, `secret` percent-decoded);
/// a `password=` query parameter moves out too.
fn split_password(url: &str) -> (String, Option<String>) {
    let (url, from_query) = match url.split_once('?') {
        Some((base, query)) => {
            let mut password = None;
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| match pair.strip_prefix("password=") {
                    Some(p) => {
                        password = Some(percent_decode(p));
                        false
                    }
                    None => true,
                })
                .collect();
            let url = if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            };
            (url, password)
        }
        None => (url.to_string(), None),
    };
    let (bare, in_userinfo) = split_userinfo(&url);
    (bare, in_userinfo.or(from_query))
}

fn split_userinfo(url: &str) -> (String, Option<String>) {
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
            split_password("postgres://gh@db/g?sslmode=require&password=p%21"),
            (
                "postgres://gh@db/g?sslmode=require".to_string(),
                Some("p!".to_string())
            )
        );
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
