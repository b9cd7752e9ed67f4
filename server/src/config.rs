//! Settings from defaults, an optional `gatehouse.toml`, then `GATEHOUSE_*`/`DATABASE_URL`
//! environment variables (later sources win). Secrets are redacted in `Debug`.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Everything the server can be configured with. See the README's configuration table.
#[derive(Clone)]
pub struct Settings {
    pub database_url: Secret,
    pub addr: SocketAddr,
    pub site_root: Option<PathBuf>,
    pub admin_user: Option<String>,
    pub admin_password: Option<Secret>,
    pub demo_data: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub cookie_secure: bool,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    pub trust_proxy_headers: bool,
    /// Extra origin accepted on state-changing requests (the public URL behind a proxy).
    pub public_url: Option<String>,
    /// Largest accepted upload (test or coverage report), in bytes as sent.
    pub max_upload_bytes: u64,
    /// Sign-in attempts accepted per client address per minute (then 429).
    pub login_per_minute: u32,
    /// Requests with a bad API token accepted per client address per minute (then 429).
    pub token_failures_per_minute: u32,
    /// How long a replica holds the notifications it claimed before another may send them.
    pub notify_lease_secs: u64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(self.database_url.expose()))
            .field("addr", &self.addr)
            .field("site_root", &self.site_root)
            .field("admin_user", &self.admin_user)
            .field("admin_password", &self.admin_password)
            .field("demo_data", &self.demo_data)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_idle", &self.session_idle)
            .field("session_absolute", &self.session_absolute)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("trust_proxy_headers", &self.trust_proxy_headers)
            .field("public_url", &self.public_url)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("login_per_minute", &self.login_per_minute)
            .field("token_failures_per_minute", &self.token_failures_per_minute)
            .field("notify_lease_secs", &self.notify_lease_secs)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_string(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: Secret::new("sqlite://data/gatehouse.db"),
            addr: "127.0.0.1:3000".parse().expect("a valid default address"),
            site_root: None,
            admin_user: None,
            admin_password: None,
            demo_data: true,
            log_format: LogFormat::Human,
            log_level: "info".into(),
            cookie_secure: false,
            session_idle: Duration::from_secs(8 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            db_max_connections: 10,
            db_acquire_timeout: Duration::from_secs(5),
            trust_proxy_headers: false,
            public_url: None,
            max_upload_bytes: 512 * 1024 * 1024,
            login_per_minute: 30,
            token_failures_per_minute: 30,
            notify_lease_secs: 60,
        }
    }
}

/// The keys of `gatehouse.toml`; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<Secret>,
    addr: Option<String>,
    site_root: Option<PathBuf>,
    admin_user: Option<String>,
    admin_password: Option<Secret>,
    demo_data: Option<bool>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    cookie_secure: Option<bool>,
    session_idle_minutes: Option<u64>,
    session_max_hours: Option<u64>,
    db_max_connections: Option<u32>,
    db_acquire_timeout_secs: Option<u64>,
    trust_proxy_headers: Option<bool>,
    public_url: Option<String>,
    max_upload_mb: Option<u64>,
    login_per_minute: Option<u32>,
    token_failures_per_minute: Option<u32>,
    notify_lease_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Loads from `GATEHOUSE_CONFIG` (or `./gatehouse.toml` if present), then the environment.
    pub fn load() -> Result<Settings, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let file = match env("GATEHOUSE_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("gatehouse.toml")).filter(|p| p.exists()),
        };
        Settings::from_sources(file.as_deref(), env)
    }

    /// Builds settings from an optional file and an environment lookup (tests pass their own).
    pub fn from_sources(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut s = Settings::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            let f: FileSettings = toml::from_str(&text)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            if let Some(v) = f.database_url {
                s.database_url = v;
            }
            if let Some(v) = f.addr {
                s.addr = parse_addr("addr", &v)?;
            }
            if let Some(v) = f.site_root {
                s.site_root = Some(v);
            }
            if let Some(v) = f.admin_user {
                s.admin_user = Some(v);
            }
            if let Some(v) = f.admin_password {
                s.admin_password = Some(v);
            }
            if let Some(v) = f.demo_data {
                s.demo_data = v;
            }
            if let Some(v) = f.log_format {
                s.log_format = v;
            }
            if let Some(v) = f.log_level {
                s.log_level = v;
            }
            if let Some(v) = f.cookie_secure {
                s.cookie_secure = v;
            }
            if let Some(v) = f.session_idle_minutes {
                s.session_idle = Duration::from_secs(v * 60);
            }
            if let Some(v) = f.session_max_hours {
                s.session_absolute = Duration::from_secs(v * 3600);
            }
            if let Some(v) = f.db_max_connections {
                s.db_max_connections = v;
            }
            if let Some(v) = f.db_acquire_timeout_secs {
                s.db_acquire_timeout = Duration::from_secs(v);
            }
            if let Some(v) = f.trust_proxy_headers {
                s.trust_proxy_headers = v;
            }
            if let Some(v) = f.public_url {
                s.public_url = Some(v);
            }
            if let Some(v) = f.max_upload_mb {
                s.max_upload_bytes = v * 1024 * 1024;
            }
            if let Some(v) = f.login_per_minute {
                s.login_per_minute = v;
            }
            if let Some(v) = f.token_failures_per_minute {
                s.token_failures_per_minute = v;
            }
            if let Some(v) = f.notify_lease_secs {
                s.notify_lease_secs = v;
            }
        }
        if let Some(v) = env("DATABASE_URL") {
            s.database_url = Secret::new(v);
        }
        if let Some(v) = env("GATEHOUSE_ADDR") {
            s.addr = parse_addr("GATEHOUSE_ADDR", &v)?;
        }
        if let Some(v) = env("GATEHOUSE_SITE_ROOT") {
            s.site_root = Some(PathBuf::from(v));
        }
        if let Some(v) = env("GATEHOUSE_ADMIN_USER") {
            s.admin_user = Some(v);
        }
        if let Some(v) = env("GATEHOUSE_ADMIN_PASSWORD") {
            s.admin_password = Some(Secret::new(v));
        }
        if let Some(v) = env("GATEHOUSE_DEMO_DATA") {
            s.demo_data = parse_bool("GATEHOUSE_DEMO_DATA", &v)?;
        }
        if let Some(v) = env("GATEHOUSE_LOG_FORMAT") {
            s.log_format = match v.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError(format!(
                        "GATEHOUSE_LOG_FORMAT must be human or json, not `{v}`"
                    )))
                }
            };
        }
        if let Some(v) = env("GATEHOUSE_LOG") {
            s.log_level = v;
        }
        if let Some(v) = env("GATEHOUSE_COOKIE_SECURE") {
            s.cookie_secure = parse_bool("GATEHOUSE_COOKIE_SECURE", &v)?;
        }
        if let Some(v) = env("GATEHOUSE_SESSION_IDLE_MINUTES") {
            s.session_idle =
                Duration::from_secs(parse_num("GATEHOUSE_SESSION_IDLE_MINUTES", &v)? * 60);
        }
        if let Some(v) = env("GATEHOUSE_SESSION_MAX_HOURS") {
            s.session_absolute =
                Duration::from_secs(parse_num("GATEHOUSE_SESSION_MAX_HOURS", &v)? * 3600);
        }
        if let Some(v) = env("GATEHOUSE_DB_MAX_CONNECTIONS") {
            s.db_max_connections = parse_num("GATEHOUSE_DB_MAX_CONNECTIONS", &v)? as u32;
        }
        if let Some(v) = env("GATEHOUSE_DB_ACQUIRE_TIMEOUT_SECS") {
            s.db_acquire_timeout =
                Duration::from_secs(parse_num("GATEHOUSE_DB_ACQUIRE_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = env("GATEHOUSE_TRUST_PROXY_HEADERS") {
            s.trust_proxy_headers = parse_bool("GATEHOUSE_TRUST_PROXY_HEADERS", &v)?;
        }
        if let Some(v) = env("GATEHOUSE_PUBLIC_URL") {
            s.public_url = Some(v.trim_end_matches('/').to_string());
        }
        if let Some(v) = env("GATEHOUSE_MAX_UPLOAD_MB") {
            s.max_upload_bytes = parse_num("GATEHOUSE_MAX_UPLOAD_MB", &v)? * 1024 * 1024;
        }
        if let Some(v) = env("GATEHOUSE_LOGIN_PER_MINUTE") {
            s.login_per_minute = parse_num("GATEHOUSE_LOGIN_PER_MINUTE", &v)? as u32;
        }
        if let Some(v) = env("GATEHOUSE_TOKEN_FAILURES_PER_MINUTE") {
            s.token_failures_per_minute =
                parse_num("GATEHOUSE_TOKEN_FAILURES_PER_MINUTE", &v)? as u32;
        }
        if let Some(v) = env("GATEHOUSE_NOTIFY_LEASE_SECS") {
            s.notify_lease_secs = parse_num("GATEHOUSE_NOTIFY_LEASE_SECS", &v)?;
        }
        if !(6..=3600).contains(&s.notify_lease_secs) {
            return Err(ConfigError(format!(
                "notify_lease_secs must be 6 to 3600 (got {})",
                s.notify_lease_secs
            )));
        }
        if s.login_per_minute == 0 || s.token_failures_per_minute == 0 {
            return Err(ConfigError(
                "login_per_minute and token_failures_per_minute must be at least 1".into(),
            ));
        }
        if s.max_upload_bytes == 0 {
            return Err(ConfigError("max_upload_mb must be at least 1".into()));
        }
        if s.db_max_connections == 0 {
            return Err(ConfigError("db_max_connections must be at least 1".into()));
        }
        if s.session_idle.is_zero() || s.session_absolute.is_zero() {
            return Err(ConfigError("session lifetimes must be positive".into()));
        }
        Ok(s)
    }

    /// Where the built site (`pkg/`, assets) lives: the configured root, else `target/site`
    /// under the working directory, else `../site` beside the binary (`target/release/..`).
    pub fn resolved_site_root(&self) -> PathBuf {
        if let Some(root) = &self.site_root {
            return root.clone();
        }
        let cwd = PathBuf::from("target/site");
        if cwd.join("pkg").exists() {
            return cwd;
        }
        if let Some(beside) = std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.parent()
                    .and_then(|p| p.parent())
                    .map(|p| p.join("site"))
            })
            .filter(|p| p.join("pkg").exists())
        {
            return beside;
        }
        cwd
    }
}

fn parse_addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| {
        ConfigError(format!(
            "{key} must be host:port such as 127.0.0.1:3000, not `{v}`"
        ))
    })
}

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!(
            "{key} must be 1/0, true/false, yes/no or on/off, not `{v}`"
        ))),
    }
}

fn parse_num(key: &str, v: &str) -> Result<u64, ConfigError> {
    v.parse()
        .map_err(|_| ConfigError(format!("{key} must be a whole number, not `{v}`")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_follow_the_operator_contract() {
        let s = Settings::from_sources(None, env(&[])).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://data/gatehouse.db");
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert!(s.demo_data);
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(
            &path,
            "addr = \"127.0.0.1:4000\"\ndemo_data = false\nlog_level = \"debug\"\n",
        )
        .unwrap();
        let s = Settings::from_sources(Some(&path), env(&[("GATEHOUSE_ADDR", "0.0.0.0:5000")]))
            .unwrap();
        assert_eq!(s.addr.to_string(), "0.0.0.0:5000");
        assert!(!s.demo_data);
        assert_eq!(s.log_level, "debug");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            Settings::from_sources(None, env(&[("GATEHOUSE_DEMO_DATA", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("GATEHOUSE_DEMO_DATA"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let err = Settings::from_sources(Some(&path), env(&[])).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings::from_sources(
            None,
            env(&[
                ("DATABASE_URL", "postgres://gh:hunter2@db/gatehouse"),
                ("GATEHOUSE_ADMIN_PASSWORD", "correct horse battery"),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("correct horse"), "{shown}");
        assert!(
            shown.contains("postgres://gh:<redacted>@db/gatehouse"),
            "{shown}"
        );
    }
}
