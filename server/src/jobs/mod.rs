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
