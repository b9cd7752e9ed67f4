//! Feature flags: a project's flags, their settings per environment, and what applications
//! read through the evaluation API.
//!
//! Every change takes the project's next `flag_revision` in its own transaction and is audited
//! there. The evaluation API reads an environment's flags from a copy held in memory by each
//! server process; a copy is used for at most [`RECHECK`] before one indexed read of the
//! revision tells whether it is still current, and a change made through this process drops
//! its copies at once. So a change reaches every replica within a second.

use super::audit::NewAuditEvent;
use super::deployments::Requester;
use super::tx::Tx;
use super::{now_ms, Db, StoreError, StoreResult};
use crate::logic::flags::{check_flag_key, check_fraction, check_ramp, share, MAX_KEYS};
use crate::model::{Flag, FlagSetting, Ramp, RampShape};
use crate::vals;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a process serves its copy of an environment's flags before checking the revision.
pub const RECHECK: Duration = Duration::from_secs(1);

/// The longest description of a flag.
const MAX_DESCRIPTION: usize = 500;

#[derive(sqlx::FromRow)]
struct FlagRow {
    feature_flag_id: i64,
    project: String,
    key: String,
    description: String,
    created_at: i64,
    created_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SettingRow {
    feature_flag_id: i64,
    environment: String,
    enabled: bool,
    rollout: f64,
    ramp: Option<String>,
    ramp_steps: Option<i64>,
    ramp_from: Option<f64>,
    ramp_to: Option<f64>,
    ramp_start: Option<i64>,
    ramp_end: Option<i64>,
    allow_keys: String,
    deny_keys: String,
    updated_at: i64,
    updated_by: Option<String>,
}

const SETTING_COLUMNS: &str = "s.feature_flag_id, e.name as environment, s.enabled, s.rollout, \
     s.ramp, s.ramp_steps, s.ramp_from, s.ramp_to, s.ramp_start, s.ramp_end, s.allow_keys, \
     s.deny_keys, s.updated_at, s.updated_by";

/// The settings whose `column` (of `s`, `e` or `f`) is `id`.
async fn settings_where(tx: &mut Tx, column: &str, id: i64) -> StoreResult<Vec<SettingRow>> {
    tx.all(
        &format!(
            "select {SETTING_COLUMNS} from flag_setting s \
             join environment e on e.environment_id = s.environment_id \
             join feature_flag f on f.feature_flag_id = s.feature_flag_id where {column} = $1"
        ),
        vals![id],
    )
    .await
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl From<SettingRow> for FlagSetting {
    fn from(r: SettingRow) -> FlagSetting {
        let shape = match (r.ramp.as_deref(), r.ramp_steps) {
            (Some("steps"), Some(n)) => Some(RampShape::Steps(n.clamp(1, 100) as u32)),
            (Some(_), _) => Some(RampShape::Linear),
            (None, _) => None,
        };
        let ramp = match (shape, r.ramp_from, r.ramp_to, r.ramp_start, r.ramp_end) {
            (Some(shape), Some(from), Some(to), Some(starts_at), Some(ends_at)) => Some(Ramp {
                shape,
                from,
                to,
                starts_at,
                ends_at,
            }),
            _ => None,
        };
        FlagSetting {
            environment: r.environment,
            enabled: r.enabled,
            rollout: r.rollout,
            ramp,
            allow: lines(&r.allow_keys),
            deny: lines(&r.deny_keys),
            updated_at: Some(r.updated_at),
            updated_by: r.updated_by,
        }
    }
}

/// A flag's setting in one environment, in words for the audit log:
/// `on at 30% · 2 allowed · 1 denied`.
pub fn describe(s: &FlagSetting) -> String {
    let mut parts = vec![match (&s.enabled, &s.ramp) {
        (false, _) => "off".to_string(),
        (true, Some(r)) => format!("on, ramp {}", r.describe()),
        (true, None) => format!("on at {}", share(s.rollout)),
    }];
    if !s.allow.is_empty() {
        parts.push(format!("{} allowed", s.allow.len()));
    }
    if !s.deny.is_empty() {
        parts.push(format!("{} denied", s.deny.len()));
    }
    parts.join(" · ")
}

/// The keys a list gained and lost, for the audit log: `; allow +qa-3 −qa-1` (at most ten
/// of each, then a count).
fn key_changes(list: &str, before: &[String], after: &[String]) -> String {
    let words = |sign: char, keys: Vec<&String>| -> Option<String> {
        if keys.is_empty() {
            return None;
        }
        let mut shown: Vec<String> = keys.iter().take(10).map(|k| format!("{sign}{k}")).collect();
        if keys.len() > 10 {
            shown.push(format!("{sign}{} more", keys.len() - 10));
        }
        Some(shown.join(" "))
    };
    let added = words('+', after.iter().filter(|k| !before.contains(k)).collect());
    let removed = words('−', before.iter().filter(|k| !after.contains(k)).collect());
    match [added, removed].into_iter().flatten().collect::<Vec<_>>() {
        parts if parts.is_empty() => String::new(),
        parts => format!("; {list} {}", parts.join(" ")),
    }
}

/// The project's id and its environments' names in promotion order.
async fn project_of(tx: &mut Tx, slug: &str) -> StoreResult<(i64, Vec<String>)> {
    let found: Option<(i64,)> = tx
        .opt(
            "select project_id from project where slug = $1",
            vals![slug],
        )
        .await?;
    let Some((id,)) = found else {
        return Err(StoreError::NotFound(format!("no project `{slug}`")));
    };
    let envs: Vec<(String,)> = tx
        .all(
            "select name from environment where project_id = $1 order by position, name",
            vals![id],
        )
        .await?;
    Ok((id, envs.into_iter().map(|e| e.0).collect()))
}

fn assemble(rows: Vec<FlagRow>, settings: Vec<SettingRow>, environments: &[String]) -> Vec<Flag> {
    let mut by_flag: HashMap<i64, Vec<FlagSetting>> = HashMap::new();
    for s in settings {
        by_flag.entry(s.feature_flag_id).or_default().push(s.into());
    }
    rows.into_iter()
        .map(|r| {
            let mut set = by_flag.remove(&r.feature_flag_id).unwrap_or_default();
            let settings = environments
                .iter()
                .map(|env| match set.iter().position(|s| &s.environment == env) {
                    Some(i) => set.swap_remove(i),
                    None => FlagSetting::unset(env),
                })
                .collect();
            Flag {
                id: r.feature_flag_id,
                project: r.project,
                key: r.key,
                description: r.description,
                created_at: r.created_at,
                created_by: r.created_by,
                settings,
            }
        })
        .collect()
}

const FLAG_SELECT: &str = "select f.feature_flag_id, p.slug as project, f.key, f.description, \
     f.created_at, f.created_by from feature_flag f join project p on p.project_id = f.project_id";

/// Every flag of a project with its setting in each environment, by name; and the
/// environments in promotion order.
pub async fn list(db: &Db, project: &str) -> StoreResult<(Vec<Flag>, Vec<String>)> {
    let mut tx = Tx::read(db).await?;
    let (project_id, environments) = project_of(&mut tx, project).await?;
    let rows: Vec<FlagRow> = tx
        .all(
            &format!("{FLAG_SELECT} where f.project_id = $1 order by f.key"),
            vals![project_id],
        )
        .await?;
    let settings = settings_where(&mut tx, "f.project_id", project_id).await?;
    tx.commit().await?;
    Ok((assemble(rows, settings, &environments), environments))
}

/// One flag with its setting in each environment of its project.
pub async fn get(db: &Db, flag_id: i64) -> StoreResult<Flag> {
    let mut tx = Tx::read(db).await?;
    let flag = load(&mut tx, flag_id).await?;
    tx.commit().await?;
    Ok(flag)
}

async fn load(tx: &mut Tx, flag_id: i64) -> StoreResult<Flag> {
    let row: Option<FlagRow> = tx
        .opt(
            &format!("{FLAG_SELECT} where f.feature_flag_id = $1"),
            vals![flag_id],
        )
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("no feature flag {flag_id}")));
    };
    let (_, environments) = project_of(tx, &row.project).await?;
    let settings = settings_where(tx, "s.feature_flag_id", flag_id).await?;
    Ok(assemble(vec![row], settings, &environments)
        .pop()
        .expect("one flag in, one flag out"))
}

/// Takes the project's next flag revision (in the transaction of the change).
async fn bump(tx: &mut Tx, project_id: i64) -> StoreResult<()> {
    tx.execute(
        "insert into flag_revision (project_id, revision) values ($1, 1) \
         on conflict (project_id) do update set revision = flag_revision.revision + 1",
        vals![project_id],
    )
    .await?;
    Ok(())
}

/// The audit log's name for a flag (`flag:shop/checkout-v2`), apart from the environments and
/// tokens that are named `project/name`.
pub fn target(project: &str, key: &str) -> String {
    format!("flag:{project}/{key}")
}

/// Creates a flag, off in every environment. Returns its id; a second flag of the same name
/// in the project is a conflict.
pub async fn create(
    db: &Db,
    project: &str,
    key: &str,
    description: &str,
    by: &Requester,
) -> StoreResult<i64> {
    let key = check_flag_key(key).map_err(StoreError::Invalid)?;
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(StoreError::Invalid(format!(
            "description: at most {MAX_DESCRIPTION} characters"
        )));
    }
    let mut tx = Tx::write(db).await?;
    let (project_id, _) = project_of(&mut tx, project).await?;
    let inserted: Option<(i64,)> = tx
        .opt(
            "insert into feature_flag (project_id, key, description, created_at, created_by) \
             values ($1, $2, $3, $4, $5) on conflict (project_id, key) do nothing \
             returning feature_flag_id",
            vals![
                project_id,
                key.clone(),
                description,
                now_ms(),
                by.name.clone()
            ],
        )
        .await?;
    let Some((id,)) = inserted else {
        return Err(StoreError::Conflict(format!(
            "project `{project}` already has a flag `{key}`"
        )));
    };
    bump(&mut tx, project_id).await?;
    let detail = (!description.is_empty()).then(|| description.to_string());
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "flag.create",
        Some(&target(project, &key)),
        detail,
    ))
    .await?;
    tx.commit().await?;
    forget(db, project);
    Ok(id)
}

/// What a setting becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingChange {
    pub enabled: bool,
    pub rollout: f64,
    pub ramp: Option<Ramp>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// Checks a setting before anything is written.
pub fn check_change(c: &SettingChange) -> StoreResult<()> {
    check_fraction(c.rollout, "rollout").map_err(StoreError::Invalid)?;
    if let Some(r) = &c.ramp {
        check_ramp(r).map_err(StoreError::Invalid)?;
    }
    for (list, keys) in [("allow", &c.allow), ("deny", &c.deny)] {
        if keys.len() > MAX_KEYS {
            return Err(StoreError::Invalid(format!(
                "{list}: at most {MAX_KEYS} keys"
            )));
        }
        if let Some(k) = keys
            .iter()
            .find(|k| k.trim().is_empty() || k.contains('\n'))
        {
            return Err(StoreError::Invalid(format!(
                "{list}: `{}` is not a key (keys are not blank and have no line breaks)",
                k.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Sets a flag in one environment (audited, with the setting before and after). Setting what
/// is already there changes nothing and records nothing. Returns whether anything changed.
pub async fn set(
    db: &Db,
    flag_id: i64,
    environment: &str,
    change: &SettingChange,
    by: &Requester,
) -> StoreResult<bool> {
    check_change(change)?;
    let mut tx = Tx::write(db).await?;
    // Locks the flag's row on Postgres, so two changes of one setting take turns.
    let found: Option<(i64, String, String)> = tx
        .opt(
            &format!(
                "select f.project_id, p.slug, f.key from feature_flag f \
                 join project p on p.project_id = f.project_id \
                 where f.feature_flag_id = $1{}",
                tx.for_update("f")
            ),
            vals![flag_id],
        )
        .await?;
    let Some((project_id, project, key)) = found else {
        return Err(StoreError::NotFound(format!("no feature flag {flag_id}")));
    };
    let env: Option<(i64,)> = tx
        .opt(
            "select environment_id from environment where project_id = $1 and name = $2",
            vals![project_id, environment],
        )
        .await?;
    let Some((environment_id,)) = env else {
        return Err(StoreError::NotFound(format!(
            "project `{project}` has no environment `{environment}`"
        )));
    };
    let flag = load(&mut tx, flag_id).await?;
    let before = flag
        .settings
        .iter()
        .find(|s| s.environment == environment)
        .cloned()
        .unwrap_or_else(|| FlagSetting::unset(environment));
    let after = FlagSetting {
        environment: environment.to_string(),
        enabled: change.enabled,
        rollout: change.rollout,
        ramp: change.ramp,
        allow: change.allow.clone(),
        deny: change.deny.clone(),
        updated_at: before.updated_at,
        updated_by: before.updated_by.clone(),
    };
    if after == before {
        tx.commit().await?;
        return Ok(false);
    }
    let r = change.ramp;
    let (ramp, steps) = match r.map(|r| r.shape) {
        None => (None, None),
        Some(RampShape::Linear) => (Some("linear"), None),
        Some(RampShape::Steps(n)) => (Some("steps"), Some(n as i64)),
    };
    tx.execute(
        "insert into flag_setting (feature_flag_id, environment_id, enabled, rollout, ramp, \
         ramp_steps, ramp_from, ramp_to, ramp_start, ramp_end, allow_keys, deny_keys, \
         updated_at, updated_by) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14) on conflict (feature_flag_id, environment_id) do update set \
         enabled = excluded.enabled, rollout = excluded.rollout, ramp = excluded.ramp, \
         ramp_steps = excluded.ramp_steps, ramp_from = excluded.ramp_from, \
         ramp_to = excluded.ramp_to, ramp_start = excluded.ramp_start, \
         ramp_end = excluded.ramp_end, allow_keys = excluded.allow_keys, \
         deny_keys = excluded.deny_keys, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
        vals![
            flag_id,
            environment_id,
            change.enabled,
            change.rollout,
            ramp,
            steps,
            r.map(|r| r.from),
            r.map(|r| r.to),
            r.map(|r| r.starts_at),
            r.map(|r| r.ends_at),
            change.allow.join("\n"),
            change.deny.join("\n"),
            now_ms(),
            by.name.clone(),
        ],
    )
    .await?;
    bump(&mut tx, project_id).await?;
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "flag.update",
        Some(&target(&project, &key)),
        Some(format!(
            "{environment}: {} → {}{}{}",
            describe(&before),
            describe(&after),
            key_changes("allow", &before.allow, &after.allow),
            key_changes("deny", &before.deny, &after.deny),
        )),
    ))
    .await?;
    tx.commit().await?;
    forget(db, &project);
    Ok(true)
}

/// Deletes a flag and its settings (audited). Applications asking for it are told it does not
/// exist.
pub async fn delete(db: &Db, flag_id: i64, by: &Requester) -> StoreResult<()> {
    let mut tx = Tx::write(db).await?;
    let flag = load(&mut tx, flag_id).await?;
    let (project_id,): (i64,) = tx
        .one(
            "select project_id from feature_flag where feature_flag_id = $1",
            vals![flag_id],
        )
        .await?;
    tx.execute(
        "delete from feature_flag where feature_flag_id = $1",
        vals![flag_id],
    )
    .await?;
    bump(&mut tx, project_id).await?;
    let detail = flag
        .settings
        .iter()
        .filter(|s| s.updated_at.is_some())
        .map(|s| format!("{}: {}", s.environment, describe(s)))
        .collect::<Vec<_>>()
        .join("; ");
    tx.audit(&NewAuditEvent::new(
        &by.actor(),
        "flag.delete",
        Some(&target(&flag.project, &flag.key)),
        (!detail.is_empty()).then_some(detail),
    ))
    .await?;
    tx.commit().await?;
    forget(db, &flag.project);
    Ok(())
}

/// An environment's flags as applications read them, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentFlags {
    pub project: String,
    pub environment: String,
    /// The project's flag revision this copy was read at.
    pub revision: i64,
    /// (flag name, setting), by name.
    pub flags: Vec<(String, FlagSetting)>,
}

struct Entry {
    db: Weak<dyn Any + Send + Sync>,
    checked: Instant,
    flags: Arc<EnvironmentFlags>,
}

/// (database, project, environment)
type Key = (usize, String, String);

/// Copies kept at once; past this the least recently checked goes.
const MAX_ENTRIES: usize = 1_024;

static CACHE: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Counts changes made through this process: a copy read while one committed is not kept,
/// so a read that raced a change cannot put the old flags back.
static CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Drops this process's copies of a project's flags (after a change commits).
fn forget(db: &Db, project: &str) {
    let (id, _) = db.identity();
    let mut cache = CACHE.lock().expect("flag cache lock");
    CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    cache.retain(|(d, p, _), _| !(*d == id && p == project));
}

/// The flags of `environment` in `project`, current to within [`RECHECK`].
pub async fn environment_flags(
    db: &Db,
    project: &str,
    environment: &str,
) -> StoreResult<Arc<EnvironmentFlags>> {
    let (id, handle) = db.identity();
    let key: Key = (id, project.to_string(), environment.to_string());
    let held = {
        let cache = CACHE.lock().expect("flag cache lock");
        match cache.get(&key) {
            Some(e) if e.db.strong_count() > 0 => {
                if e.checked.elapsed() < RECHECK {
                    return Ok(e.flags.clone());
                }
                Some(e.flags.clone())
            }
            _ => None,
        }
    };
    let changes = CHANGES.load(std::sync::atomic::Ordering::SeqCst);
    let mut tx = Tx::read(db).await?;
    let found: Option<(i64, Option<i64>, Option<i64>)> = tx
        .opt(
            "select p.project_id, r.revision, \
             (select e.environment_id from environment e \
              where e.project_id = p.project_id and e.name = $2) \
             from project p left join flag_revision r on r.project_id = p.project_id \
             where p.slug = $1",
            vals![project, environment],
        )
        .await?;
    let Some((project_id, revision, environment_id)) = found else {
        return Err(StoreError::NotFound(format!("no project `{project}`")));
    };
    let Some(environment_id) = environment_id else {
        return Err(StoreError::NotFound(format!(
            "project `{project}` has no environment `{environment}`"
        )));
    };
    let revision = revision.unwrap_or(0);
    let flags = match held.filter(|h| h.revision == revision) {
        Some(same) => same,
        None => {
            let names: Vec<(i64, String)> = tx
                .all(
                    "select feature_flag_id, key from feature_flag where project_id = $1 \
                     order by key",
                    vals![project_id],
                )
                .await?;
            let settings = settings_where(&mut tx, "s.environment_id", environment_id).await?;
            let mut by_flag: HashMap<i64, FlagSetting> = settings
                .into_iter()
                .map(|s| (s.feature_flag_id, s.into()))
                .collect();
            Arc::new(EnvironmentFlags {
                project: project.to_string(),
                environment: environment.to_string(),
                revision,
                flags: names
                    .into_iter()
                    .map(|(id, name)| {
                        let s = by_flag
                            .remove(&id)
                            .unwrap_or_else(|| FlagSetting::unset(environment));
                        (name, s)
                    })
                    .collect(),
            })
        }
    };
    tx.commit().await?;
    let mut cache = CACHE.lock().expect("flag cache lock");
    if CHANGES.load(std::sync::atomic::Ordering::SeqCst) != changes {
        return Ok(flags);
    }
    if cache.len() >= MAX_ENTRIES && !cache.contains_key(&key) {
        cache.retain(|_, e| e.db.strong_count() > 0);
        if cache.len() >= MAX_ENTRIES {
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.checked)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
    }
    cache.insert(
        key,
        Entry {
            db: handle,
            checked: Instant::now(),
            flags: flags.clone(),
        },
    );
    Ok(flags)
}
