//! Background work. Each job is safe to run on several replicas at once.

use app::store::sessions::SessionStore;
use std::time::Duration;

/// A running job; aborted when dropped, so jobs end with the server.
pub struct JobHandle(tokio::task::JoinHandle<()>);

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
