//! Prometheus metrics: request count and latency histogram by matched route and status, and
//! database pool gauges. Kept in-process and rendered in the text exposition format.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request metrics keyed by (method, route, status).
#[derive(Default, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<(String, String, u16), Histogram>>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let h = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        for (i, upper) in BUCKETS.iter().enumerate() {
            if seconds <= *upper {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The exposition text, with the pool gauges `(open, idle, max)` appended.
    pub fn render(&self, pool: (u32, usize, u32)) -> String {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP gatehouse_http_requests_total HTTP requests by method, matched route and status.\n");
        out.push_str("# TYPE gatehouse_http_requests_total counter\n");
        for ((method, route, status), h) in map.iter() {
            let _ = writeln!(
                out,
                "gatehouse_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        out.push_str(
            "# HELP gatehouse_http_request_duration_seconds Time to produce the response head.\n",
        );
        out.push_str("# TYPE gatehouse_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in map.iter() {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (i, upper) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{upper}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let (open, idle, max) = pool;
        out.push_str("# HELP gatehouse_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE gatehouse_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "gatehouse_db_pool_connections{{state=\"open\"}} {open}"
        );
        let _ = writeln!(
            out,
            "gatehouse_db_pool_connections{{state=\"idle\"}} {idle}"
        );
        let _ = writeln!(
            out,
            "gatehouse_db_pool_connections{{state=\"in_use\"}} {}",
            (open as usize).saturating_sub(idle)
        );
        out.push_str("# HELP gatehouse_db_pool_max_connections Configured pool size.\n");
        out.push_str("# TYPE gatehouse_db_pool_max_connections gauge\n");
        let _ = writeln!(out, "gatehouse_db_pool_max_connections {max}");
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Records every request under its matched route (never the raw path, to bound cardinality).
pub async fn record(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/{file}"
            } else {
                "unmatched"
            }
            .to_string()
        });
    let res = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_and_pool_gauges() {
        let m = Metrics::default();
        m.observe("GET", "/login", 200, 0.002);
        m.observe("GET", "/login", 200, 0.3);
        let text = m.render((3, 1, 10));
        assert!(text.contains(
            "gatehouse_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.001\"} 0"));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("gatehouse_db_pool_connections{state=\"in_use\"} 2"));
    }
}
