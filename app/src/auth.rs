//! Signing in and out, password hashing, and who the current session belongs to.

use crate::logic::throttle::{ThrottlePolicy, Verdict};
use crate::model::{LoginRefusal, Role, User, UserId, Username};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::users::{self, NewUser, UserRecord};
use crate::store::{now_ms, Db, StoreError};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tower_sessions::Session;

/// The session key holding [`SessionAuth`].
const AUTH_KEY: &str = "gatehouse.auth";

/// What a signed-in session remembers about its user.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionAuth {
    user_id: i64,
    credentials_version: i64,
    login_at: i64,
    /// When the session was last renewed; renewing saves it, which extends its idle expiry.
    #[serde(default)]
    seen_at: i64,
}

/// How long sessions live; from configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends (enforced by the cookie store's expiry).
    pub idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub absolute: Duration,
    /// Cookies carry `Secure` (set when served over https).
    pub cookie_secure: bool,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(8 * 3600),
            absolute: Duration::from_secs(7 * 24 * 3600),
            cookie_secure: false,
        }
    }
}

/// Hashes a password with argon2id on a blocking thread (hashing takes tens of milliseconds).
pub async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Other(format!("hashing task failed: {e}")))?
}

/// Checks a password against a stored PHC hash on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, checked against when the username is unknown so that unknown
/// and known users take the same time to refuse.
pub async fn dummy_hash() -> String {
    hash_password(random_password(24)).await.unwrap_or_default()
}

/// A random password of `len` characters from an alphabet without look-alikes.
pub fn random_password(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Checks the credentials (throttled), and on success renews the session id and stores the
/// user in the session.
pub async fn login(
    state: &AppState,
    session: &Session,
    username: &str,
    password: &str,
    ip: &str,
) -> Result<User, LoginRefusal> {
    let db = &state.db;
    let policy = ThrottlePolicy::default();
    let now = now_ms();
    let unavailable = |e: StoreError| {
        tracing::error!(error = %e, "login failed on the store");
        LoginRefusal::Unavailable
    };
    let failures = users::recent_login_failures(db, username, ip, now - policy.window_ms)
        .await
        .map_err(unavailable)?;
    match policy.verdict(
        now,
        failures.for_account,
        failures.last_for_account,
        failures.for_address,
        failures.last_for_address,
    ) {
        Verdict::Locked { retry_after_ms } => {
            let _ = users::record_login_failure(db, username, ip, "locked").await;
            return Err(LoginRefusal::Locked { retry_after_ms });
        }
        Verdict::Proceed { delay_ms } if delay_ms > 0 => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        Verdict::Proceed { .. } => {}
    }
    let record = users::find_by_username(db, username)
        .await
        .map_err(unavailable)?;
    let (hash, usable) = match &record {
        Some(r) => (r.password_hash.clone(), !r.user.disabled),
        None => (state.dummy_hash.to_string(), false),
    };
    let matches = verify_password(password.to_string(), hash).await;
    let record = match record {
        Some(r) if matches && usable => r,
        other => {
            let reason = match other {
                None => "unknown user",
                Some(r) if r.user.disabled => "disabled user",
                Some(_) => "wrong password",
            };
            users::record_login_failure(db, username, ip, reason)
                .await
                .map_err(unavailable)?;
            return Err(LoginRefusal::BadCredentials);
        }
    };
    session.cycle_id().await.map_err(|e| {
        tracing::error!(error = %e, "could not renew the session id");
        LoginRefusal::Unavailable
    })?;
    let auth = SessionAuth {
        user_id: record.user.id.0,
        credentials_version: record.credentials_version,
        login_at: now,
        seen_at: now,
    };
    session.insert(AUTH_KEY, auth).await.map_err(|e| {
        tracing::error!(error = %e, "could not write the session");
        LoginRefusal::Unavailable
    })?;
    users::record_login(db, &record.user, ip)
        .await
        .map_err(unavailable)?;
    Ok(record.user)
}

/// Ends the session (deleting it from the store) and records the logout.
pub async fn logout(state: &AppState, session: &Session, ip: &str) -> Result<(), StoreError> {
    if let Ok(Some(user)) = current_user(state, session).await {
        let actor = Actor {
            user_id: Some(user.id.0),
            username: Some(user.username.clone()),
            ip: Some(ip.into()),
        };
        let event = crate::store::audit::NewAuditEvent::new(
            &actor,
            "user.logout",
            Some(&user.username),
            None,
        );
        crate::store::audit::record(&state.db, &event).await?;
    }
    session
        .flush()
        .await
        .map_err(|e| StoreError::Other(format!("session: {e}")))
}

/// The signed-in user of this session, if the session is still valid: used within its idle
/// limit, within its absolute lifetime, the user enabled, and their credentials unchanged
/// since sign-in. An active session is renewed (saved, extending its idle expiry) at most
/// once a minute, so reading pages costs no write per request.
pub async fn current_user(state: &AppState, session: &Session) -> Result<Option<User>, StoreError> {
    let auth: Option<SessionAuth> = session
        .get(AUTH_KEY)
        .await
        .map_err(|e| StoreError::Unavailable(format!("session: {e}")))?;
    let Some(mut auth) = auth else {
        return Ok(None);
    };
    let now = now_ms();
    let idle_ms = state.sessions.idle.as_millis() as i64;
    let expired = now - auth.login_at > state.sessions.absolute.as_millis() as i64
        || (auth.seen_at > 0 && now - auth.seen_at > idle_ms);
    let record: Option<UserRecord> = if expired {
        None
    } else {
        users::get(&state.db, UserId(auth.user_id)).await?
    };
    match record {
        Some(r) if !r.user.disabled && r.credentials_version == auth.credentials_version => {
            let renew_after = (idle_ms / 4).min(60_000);
            if now - auth.seen_at > renew_after {
                auth.seen_at = now;
                session
                    .insert(AUTH_KEY, auth)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("session: {e}")))?;
            }
            Ok(Some(r.user))
        }
        _ => {
            let _ = session.flush().await;
            Ok(None)
        }
    }
}

/// After a user changes their own password, keeps this session signed in under the new
/// credentials version (the user's other sessions end).
pub async fn refresh_session_credentials(
    state: &AppState,
    session: &Session,
    id: UserId,
) -> Result<(), StoreError> {
    let Some(record) = users::get(&state.db, id).await? else {
        return Ok(());
    };
    let mut auth: SessionAuth = match session.get(AUTH_KEY).await {
        Ok(Some(a)) => a,
        _ => return Ok(()),
    };
    auth.credentials_version = record.credentials_version;
    session
        .cycle_id()
        .await
        .map_err(|e| StoreError::Other(format!("session: {e}")))?;
    session
        .insert(AUTH_KEY, auth)
        .await
        .map_err(|e| StoreError::Other(format!("session: {e}")))
}

/// Creates the first admin on an empty database. Returns the generated password when none was
/// given, so the caller can print it once.
pub async fn ensure_first_admin(
    db: &Db,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    if users::count(db).await? > 0 {
        return Ok(None);
    }
    let name = Username::parse(username.unwrap_or("admin")).map_err(StoreError::Invalid)?;
    let (password, generated) = match password {
        Some(p) => {
            crate::model::check_new_password(p)
                .map_err(|e| StoreError::Invalid(format!("GATEHOUSE_ADMIN_PASSWORD: {e}")))?;
            (p.to_string(), None)
        }
        None => {
            let p = random_password(20);
            (p.clone(), Some(p))
        }
    };
    let hash = hash_password(password).await?;
    let new = NewUser {
        username: name.clone(),
        display_name: "Administrator".into(),
        role: Role::Admin,
        password_hash: hash,
    };
    users::create(db, &new, &Actor::system()).await?;
    Ok(Some((name.to_string(), generated)))
}
