//! Background work. Each job is safe to run on several replicas at once.

use app::store::sessions::SessionStore;
use std::time::Duration;

/// A running job; aborted when dropped, so jobs end with the server.
pub struct JobHandle(tokio::task::JoinHandle<()>);

impl JobHandle {
    /// Runs `job` until the handle is dropped.
    pub fn spawn(job: impl std::future::Future<Output = ()> + Send + 'static) -> JobHandle {
        JobHandle(tokio::spawn(job))
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Deletes expired sessions every ten minutes (idempotent, so replicas may overlap).
pub fn spawn_session_cleanup(store: SessionStore) -> JobHandle {
    JobHandle(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    }))
}

/// Starts deployments whose wait timer has elapsed or whose freeze has ended, every two
/// seconds. Each deployment is settled under its row lock, so replicas may overlap.
pub fn spawn_deployment_timers(db: app::store::Db) -> JobHandle {
    JobHandle(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = app::store::deployments::settle_waiting(&db).await {
                tracing::warn!(error = %e, "could not settle waiting deployments");
            }
        }
    }))
}

/// This process's name in job leases: host, listening address and process id.
pub fn instance_name(addr: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{addr}/{}", std::process::id())
}

/// How often the retention purge runs (across all replicas).
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Purges data past its retention hourly, starting an hour after the server starts (a fresh
/// start under load does not purge at once). The lease is taken for the whole hour, so one
/// replica purges per hour; a replica that dies mid-purge leaves the rest to the next hour.
pub fn spawn_retention(db: app::store::Db, holder: String) -> JobHandle {
    JobHandle(tokio::spawn(async move {
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + PURGE_EVERY, PURGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_retention(&db, &holder, app::store::now_ms()).await {
                tracing::warn!(error = %e, "retention purge failed");
            }
        }
    }))
}

/// One turn of the retention job: purges when this replica wins the hour's lease. Returns
/// the report, or None when another replica holds the lease.
pub async fn run_retention(
    db: &app::store::Db,
    holder: &str,
    now: i64,
) -> Result<Option<app::model::PurgeReport>, app::store::StoreError> {
    use app::store::retention;
    let ttl = PURGE_EVERY.as_millis() as i64 - 60_000;
    if !retention::claim_lease(db, app::api::retention::PURGE_JOB, holder, ttl, now).await? {
        return Ok(None);
    }
    let by = app::store::deployments::Requester {
        user_id: None,
        name: "retention".into(),
        ip: None,
    };
    let report = retention::purge(db, now, retention::PurgePace::default(), &by).await?;
    if report.total() > 0 {
        tracing::info!(
            purged = report.total(),
            batches = report.batches,
            longest_batch_ms = report.longest_batch_ms,
            took_ms = report.took_ms,
            "retention purge"
        );
    }
    Ok(Some(report))
}

const DAY_MS: i64 = 86_400_000;
/// How far back a scheduled retraining looks.
pub const TRAIN_DAYS: i64 = 90;

/// The latest Sunday 02:00 UTC at or before `now` (the seeds' weekly retraining time).
pub fn last_sunday_2am(now: i64) -> i64 {
    let day = now.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: (day + 4) % 7 is 0 on Sundays.
    let sunday = day - (day + 4).rem_euclid(7);
    let at = sunday * DAY_MS + 2 * 3_600_000;
    if at > now {
        at - 7 * DAY_MS
    } else {
        at
    }
}

/// Retrains every project whose weekly retraining is due and not yet claimed by a replica.
/// A new learned version starts in shadow; a project with too little history records why.
/// Returns the number of versions trained.
pub async fn retrain_due(db: &app::store::Db, now: i64) -> Result<usize, app::store::StoreError> {
    use app::store::{predictor, projects};
    let due = last_sunday_2am(now);
    let mut trained = 0;
    for p in projects::list(db).await? {
        if !predictor::claim_retrain(db, p.id, due, now).await? {
            continue;
        }
        let threshold = predictor::models(db, p.id)
            .await?
            .iter()
            .find(|m| m.state == app::model::ModelState::Active)
            .map_or(0.5, |m| m.threshold);
        let result = predictor::train_learned(
            db,
            p.id,
            now - TRAIN_DAYS * DAY_MS,
            now,
            threshold,
            &app::store::audit::Actor::system(),
            now,
        )
        .await;
        let note = match &result {
            Ok(m) => {
                trained += 1;
                format!("trained v{} (in shadow)", m.version)
            }
            Err(app::store::StoreError::Invalid(why)) => format!("not trained: {why}"),
            Err(e) => format!("failed: {e}"),
        };
        tracing::info!(project = %p.slug, %note, "scheduled retraining");
        predictor::record_retrain(db, p.id, &note).await?;
    }
    Ok(trained)
}

/// Opens drift alerts for each project's active version: a feature whose PSI reaches the
/// large-shift band, and a weekly MAPE of predicted against observed failure rate beyond
/// [`app::logic::drift::MAPE_ALERT`] over the last four weeks. One alert per feature per week.
pub async fn check_drift(db: &app::store::Db, now: i64) -> Result<usize, app::store::StoreError> {
    use app::logic::drift::{MAPE_ALERT, PSI_ALERT};
    use app::store::{calibration, predictor, projects};
    let week = now.div_euclid(7 * DAY_MS);
    let mut opened = 0;
    for p in projects::list(db).await? {
        let models = predictor::models(db, p.id).await?;
        // This server's copy of each live version's scores, brought up to date here so the
        // first calibration view after a start does not read them all.
        for m in models
            .iter()
            .filter(|m| m.state != app::model::ModelState::Retired)
        {
            app::store::score_cache::finished(db, m.id).await?;
        }
        let Some(active) = models
            .into_iter()
            .find(|m| m.state == app::model::ModelState::Active)
        else {
            continue;
        };
        let (drift, _, _) = calibration::drift_cached(db, p.id, &active, now).await?;
        for d in drift {
            let Some(psi) = d.psi.filter(|v| *v >= PSI_ALERT) else {
                continue;
            };
            // Small windows make PSI noisy: ask for a few dozen runs on each side.
            if d.baseline < 30 || d.recent < 30 {
                continue;
            }
            let message = format!(
                "feature `{}` drifted: PSI {psi:.2} (≥ {PSI_ALERT}) between the baseline and the last {} days",
                d.feature,
                calibration::RECENT_DAYS
            );
            let key = format!("drift:{}:{week}", d.feature);
            if predictor::open_drift_alert(db, p.id, Some(active.id), &key, &message, now).await? {
                opened += 1;
            }
        }
        let report = calibration::quick_report(db, active.id, now - 28 * DAY_MS, now).await?;
        if let Some(mape) = report.weekly_mape.filter(|m| *m >= MAPE_ALERT) {
            let message = format!(
                "model v{} is off: weekly MAPE of predicted against observed failure rate is {:.0}% over four weeks (alert at {:.0}%)",
                active.version,
                mape * 100.0,
                MAPE_ALERT * 100.0
            );
            let key = format!("mape:{week}");
            if predictor::open_drift_alert(db, p.id, Some(active.id), &key, &message, now).await? {
                opened += 1;
            }
        }
        // The seeds' targets at the model's threshold, once a week, when there is enough to
        // judge (a few dozen runs of each outcome).
        if report.failed >= 30 && report.passed >= 30 {
            if let Some(message) = missed_targets(&report, active.version) {
                let key = format!("calibration:{week}");
                if predictor::open_model_alert(
                    db,
                    p.id,
                    Some(active.id),
                    "calibration.missed",
                    &key,
                    &message,
                    now,
                )
                .await?
                {
                    opened += 1;
                }
            }
        }
    }
    Ok(opened)
}

/// What a report's figures at the threshold miss of the seeds' targets, in words; `None` when
/// every figure with a value meets its target.
pub fn missed_targets(report: &app::logic::report::Report, version: i64) -> Option<String> {
    let t = &report.at_threshold;
    let named = [
        ("false-positive rate", t.false_positive_rate),
        ("false-negative rate", t.false_negative_rate),
        ("alert accuracy", t.alert_accuracy),
        ("failure detection", t.failure_detection),
        ("false alerts", t.false_alerts),
    ];
    let missed: Vec<String> = named
        .iter()
        .filter(|(_, r)| r.meets == Some(false))
        .filter_map(|(name, r)| {
            r.value.map(|v| {
                format!(
                    "{name} {:.2} ({} {:.2})",
                    v,
                    if r.higher_is_better {
                        "target ≥"
                    } else {
                        "target ≤"
                    },
                    r.target
                )
            })
        })
        .collect();
    (!missed.is_empty()).then(|| {
        format!(
            "model v{version} misses calibration targets over four weeks at threshold {:.2}: {}",
            t.threshold,
            missed.join(", ")
        )
    })
}

/// Weekly retraining (claimed once across replicas) and drift checks, every ten minutes.
pub fn spawn_predictor(db: app::store::Db) -> JobHandle {
    JobHandle(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = app::store::now_ms();
            if let Err(e) = retrain_due(&db, now).await {
                tracing::warn!(error = %e, "scheduled retraining failed");
            }
            if let Err(e) = check_drift(&db, now).await {
                tracing::warn!(error = %e, "drift check failed");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sunday_two_am_utc() {
        // 2026-12-01 is a Tuesday; the Sunday before is 2026-11-29.
        let tue = app::logic::time::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        let sun = app::logic::time::parse_rfc3339("2026-11-29T02:00:00Z").unwrap();
        assert_eq!(last_sunday_2am(tue), sun);
        assert_eq!(last_sunday_2am(sun), sun);
        assert_eq!(last_sunday_2am(sun - 1), sun - 7 * DAY_MS);
    }
}
