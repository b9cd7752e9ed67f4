//! People who use the console and what their role lets them do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's id as stored (`app_user.app_user_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct UserId(pub i64);

/// Roles are ordered: each one can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// Also edits calibration settings of the failure-risk predictor.
    Reviewer,
    /// Also approves and rejects deployments.
    Approver,
    /// Also manages users, tokens and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Reviewer, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether a user holding `self` may do what `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    pub fn describe(self) -> &'static str {
        match self {
            Role::Viewer => "reads every page",
            Role::Reviewer => "also tunes the failure-risk predictor",
            Role::Approver => "also approves and rejects deployments and quarantines tests",
            Role::Admin => "also manages users, tokens and settings",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "reviewer" => Ok(Role::Reviewer),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: expected one of viewer, reviewer, approver, admin"
            )),
        }
    }
}

/// A user as the console shows it. The password hash never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    /// Epoch milliseconds, UTC.
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

/// A username that can be stored: 2–64 characters of lowercase letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let name = raw.trim().to_ascii_lowercase();
        if name.len() < 2 || name.len() > 64 {
            return Err("username must be 2 to 64 characters long".into());
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "username may only contain letters, digits, `.`, `_` and `-` (found `{bad}`)"
            ));
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The smallest password length accepted when a password is set.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Checks a new password against the policy; returns what is wrong in words.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters long"
        ));
    }
    if password.len() > 1024 {
        return Err("password must be at most 1024 bytes long".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_so_higher_roles_include_lower_ones() {
        assert!(Role::Admin.allows(Role::Approver));
        assert!(Role::Approver.allows(Role::Reviewer));
        assert!(Role::Reviewer.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Reviewer));
        assert!(!Role::Approver.allows(Role::Admin));
    }

    #[test]
    fn role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root"
            .parse::<Role>()
            .unwrap_err()
            .contains("unknown role `root`"));
    }

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse("  Alice.B ").unwrap().as_str(), "alice.b");
        assert!(Username::parse("a").is_err());
        assert!(Username::parse("bob smith").unwrap_err().contains("` `"));
        assert!(Username::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough pass").is_ok());
    }
}

/// Why a sign-in was refused. The wording never says whether the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginRefusal {
    BadCredentials,
    Locked { retry_after_ms: i64 },
    Unavailable,
}

impl LoginRefusal {
    pub fn message(&self) -> String {
        match self {
            LoginRefusal::BadCredentials => "Wrong username or password.".into(),
            LoginRefusal::Locked { retry_after_ms } => format!(
                "Too many failed sign-ins. Try again in {}.",
                crate::logic::time::humanize_ms(*retry_after_ms)
            ),
            LoginRefusal::Unavailable => {
                "Signing in is not possible right now: the database is unavailable.".into()
            }
        }
    }

    /// The `error` (and `retry`) query parameters the login page is redirected with.
    pub fn to_query(&self) -> String {
        match self {
            LoginRefusal::BadCredentials => "error=credentials".into(),
            LoginRefusal::Locked { retry_after_ms } => {
                format!("error=locked&retry={retry_after_ms}")
            }
            LoginRefusal::Unavailable => "error=unavailable".into(),
        }
    }

    pub fn from_query(error: &str, retry: Option<&str>) -> Option<LoginRefusal> {
        match error {
            "credentials" => Some(LoginRefusal::BadCredentials),
            "locked" => Some(LoginRefusal::Locked {
                retry_after_ms: retry.and_then(|r| r.parse().ok()).unwrap_or(15 * 60_000),
            }),
            "unavailable" => Some(LoginRefusal::Unavailable),
            _ => None,
        }
    }
}
