//! Structured logs with `tracing`, human-readable or JSON.

use crate::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or
/// `gatehouse=debug,tower_http=info`; `RUST_LOG` wins when set. Logs go to standard error, so
/// the standard output of commands (`token create`, `push`) stays clean for scripts.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
