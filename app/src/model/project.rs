//! Projects (a repository or service) and the API tokens CI systems use for them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A project's slug: lowercase letters, digits and `-`, 1–64 characters, starting with a
/// letter or digit. It appears in URLs and API paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Slug, String> {
        let s = raw.trim();
        if s.is_empty() || s.len() > 64 {
            return Err("a project slug has 1 to 64 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || s.starts_with('-')
        {
            return Err(format!(
                "`{s}` is not a valid slug: use lowercase letters, digits and `-`, starting with a letter or digit"
            ));
        }
        Ok(Slug(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The environments a new project gets, in promotion order.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

/// Parses a comma-separated environment list in promotion order: names of lowercase letters,
/// digits, `-` and `_`, each once.
pub fn parse_environments(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.len() > 40
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "`{name}` is not a valid environment name: lowercase letters, digits, - and _"
            ));
        }
        if out.iter().any(|o| o == name) {
            return Err(format!("the environment `{name}` appears twice"));
        }
        out.push(name.to_string());
    }
    if out.is_empty() {
        return Err("name at least one environment".into());
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub default_branch: String,
    pub repository_url: Option<String>,
    /// Environments in promotion order.
    pub environments: Vec<String>,
    /// Whether a GitHub webhook secret is set (the secret itself never leaves the server).
    pub has_webhook_secret: bool,
    pub created_at: i64,
}

/// What a token may do. Every API call names the scope it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send runs, test reports, coverage and webhooks.
    Ingest,
    /// Report deployments (used by the deployments area).
    Deploy,
    /// Read runs, tests and KPIs.
    Read,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Ingest, Scope::Deploy, Scope::Read];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Deploy => "deploy",
            Scope::Read => "read",
        }
    }

    /// Parses `ingest,deploy,read` (any order, spaces allowed); at least one scope.
    pub fn parse_list(raw: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope: Scope = part.parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("name at least one scope: ingest, deploy, read".into());
        }
        scopes.sort();
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown scope `{s}` (ingest, deploy, read)"))
    }
}

/// A token as listed to admins (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub project: String,
    pub name: String,
    /// The secret's first characters, e.g. `gth_3f9a1c`.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}
