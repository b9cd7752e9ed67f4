//! Demo data for a first start and for benchmarks: deterministic for a given scale (the same
//! people and the same history, placed relative to now). Later features extend it.

use app::model::{Role, Username};
use app::store::audit::{self, Actor, NewAuditEvent};
use app::store::users::{self, NewUser};
use app::store::{now_ms, Db, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The demo team: (username, display name, role).
const PEOPLE: &[(&str, &str, Role)] = &[
    ("maya.lead", "Maya Okafor", Role::Approver),
    ("lee.ops", "Lee Tran", Role::Approver),
    ("ravi.qa", "Ravi Menon", Role::Reviewer),
    ("ines.ml", "Inés Duarte", Role::Reviewer),
    ("sam.manager", "Sam Whitfield", Role::Viewer),
    ("noor.dev", "Noor Haddad", Role::Viewer),
];

/// Fills an empty console. `scale` multiplies the generated history (1 for a first start,
/// larger for benchmarks). Returns a summary to print, with the demo users' passwords.
pub async fn generate(
    db: &Db,
    scale: u32,
    cases_per_run: Option<usize>,
) -> Result<String, StoreError> {
    let scale = scale.max(1);
    let mut rng = StdRng::seed_from_u64(0x6a7e_4005e);
    let system = Actor::system();
    let mut lines = vec!["  Demo data loaded. Demo users (passwords shown once):".to_string()];
    let mut created = Vec::new();
    for (name, display, role) in PEOPLE {
        let username = Username::parse(name).map_err(StoreError::Invalid)?;
        if users::find_by_username(db, username.as_str())
            .await?
            .is_some()
        {
            continue;
        }
        let password = app::auth::random_password(16);
        let hash = app::auth::hash_password(password.clone()).await?;
        let new = NewUser {
            username,
            display_name: display.to_string(),
            role: *role,
            password_hash: hash,
        };
        let user = users::create(db, &new, &system).await?;
        lines.push(format!(
            "    {:<12} {:<9} {password}",
            user.username,
            role.as_str()
        ));
        created.push(user);
    }
    // A month of sign-ins (and a few typos) so the audit log has a history to browse.
    let now = now_ms();
    let events = 120 * scale as usize;
    for i in 0..events {
        let Some(user) = created.get(rng.gen_range(0..created.len().max(1))) else {
            break;
        };
        let age_ms = (events - i) as i64 * (30 * 24 * 3600 * 1000 / events as i64);
        let ip = format!("10.20.{}.{}", rng.gen_range(0..4), rng.gen_range(2..250));
        let failed = rng.gen_bool(0.08);
        let actor = Actor {
            user_id: (!failed).then_some(user.id.0),
            username: (!failed).then(|| user.username.clone()),
            ip: Some(ip),
        };
        let (action, detail) = if failed {
            ("user.login_failed", Some("wrong password".to_string()))
        } else {
            ("user.login", None)
        };
        let mut event = NewAuditEvent::new(&actor, action, Some(&user.username), detail);
        event.at = now - age_ms;
        audit::record(db, &event).await?;
        if !failed {
            // Events come oldest first, so the last one written is the latest sign-in.
            users::set_last_login(db, user.id, event.at).await?;
        }
    }
    let runs = crate::demo_ci::generate(db, &mut rng, scale, cases_per_run).await?;
    let deployments = crate::demo_deploy::generate(db, &mut rng, now).await?;
    let slugs: Vec<&str> = crate::demo_deploy::PROJECTS.iter().map(|p| p.0).collect();
    let (incidents, ratings) = crate::demo_kpis::generate(db, &mut rng, &slugs, now).await?;
    let plans = crate::demo_plans::generate(db, now).await?;
    let flags = crate::demo_flags::generate(db, &slugs, now).await?;
    let deliveries = crate::demo_notify::generate(db, now).await?;
    lines.push(format!(
        "  ({events} audit events of history, {runs} CI runs over 90 days in 3 projects, {deployments} deployments, {incidents} incidents, {ratings} satisfaction ratings, {plans} rollout plans, {flags} feature flags, {deliveries} notification deliveries to 6 channels)"
    ));
    Ok(lines.join("\n"))
}
