//! The fuzz targets' bodies (`fuzz/fuzz_targets/` calls these; the regression test replays the
//! inputs kept in `fuzz/regressions/` through them). Each takes any bytes and panics only when
//! the code under test breaks a rule: a parser may refuse input with an error, never crash,
//! and what it accepts must make sense (counts add up, rates are fractions).

use crate::ingest::{coverage, github, junit};
use crate::rest;

/// A JUnit report: read whole; the totals are the sum of the cases.
pub fn junit(data: &[u8]) {
    let Ok((cases, totals)) = junit::read_all(data) else {
        return;
    };
    assert_eq!(
        totals.tests,
        cases.len() as i64,
        "every case is counted once"
    );
    assert_eq!(
        totals.tests,
        totals.passed + totals.failed + totals.errors + totals.skipped,
        "each case has one status: {totals:?}"
    );
    assert!(totals.flaky <= totals.passed, "{totals:?}");
    assert!(
        totals.time_s.is_finite() && totals.time_s >= 0.0,
        "time {}",
        totals.time_s
    );
    if let Some(rate) = totals.pass_rate() {
        assert!((0.0..=1.0).contains(&rate));
    }
    for c in &cases {
        if let Some(d) = c.duration_s {
            assert!(d.is_finite() && d >= 0.0, "duration {d}");
        }
    }
}

/// A Cobertura or LCOV report: rates are fractions in [0, 1], counts are not negative and
/// covered never exceeds valid.
pub fn coverage(data: &[u8]) {
    let Ok(report) = coverage::read(data) else {
        return;
    };
    let t = &report.totals;
    for rate in [t.line_rate, t.branch_rate].into_iter().flatten() {
        assert!(
            rate.is_finite() && (0.0..=1.0).contains(&rate),
            "rate {rate}"
        );
    }
    for (covered, valid) in [
        (t.lines_covered, t.lines_valid),
        (t.branches_covered, t.branches_valid),
    ] {
        assert!(
            0 <= covered && covered <= valid,
            "covered {covered} of {valid}"
        );
    }
    for f in &report.files {
        for rate in [f.line_rate, f.branch_rate].into_iter().flatten() {
            assert!(
                rate.is_finite() && (0.0..=1.0).contains(&rate),
                "{}: rate {rate}",
                f.path
            );
        }
    }
}

/// A GitHub delivery: `event name \n body`. Parsing never panics, and a signature check of
/// the same bytes under any header value answers without panicking.
pub fn github_webhook(data: &[u8]) {
    let (event, body) = split(data);
    let _ = github::parse(event, body);
    let header = std::str::from_utf8(body.get(..80.min(body.len())).unwrap_or_default()).ok();
    // The first bytes of the body are no HMAC of the body.
    assert!(!github::verify_signature(b"secret", body, header));
    let signed = github::sign(b"secret", body);
    assert!(github::verify_signature(b"secret", body, Some(&signed)));
}

/// A REST request body: `kind \n JSON`, with kind one of `run`, `deployment`, `health`,
/// `flag`, `plan`. Each is decoded and checked as its route does before it writes anything.
pub fn rest_body(data: &[u8]) {
    let (kind, body) = split(data);
    match kind {
        "run" => {
            if let Ok(run) = rest::runs::new_run(body) {
                assert!(!run.external_id.is_empty() && run.attempt >= 1);
                if let (Some(s), Some(f)) = (run.started_at, run.finished_at) {
                    assert!(s <= f, "started {s} after finished {f}");
                }
            }
        }
        "deployment" => {
            let _ = rest::deployments::new_deployment(body);
        }
        "health" => {
            if let Ok(samples) = rest::deployments::health_samples(body) {
                assert!((1..=1000).contains(&samples.len()));
            }
        }
        "flag" => {
            if let Ok(change) = rest::flags::flag_change(body, 1_767_225_600_000) {
                assert!((0.0..=1.0).contains(&change.rollout), "{}", change.rollout);
            }
        }
        "plan" => {
            let _ = rest::plans::plan_phases(body);
        }
        _ => {}
    }
}

/// `name \n rest`; without a line break the name is empty.
fn split(data: &[u8]) -> (&str, &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (
            std::str::from_utf8(&data[..i]).unwrap_or(""),
            &data[i + 1..],
        ),
        None => ("", data),
    }
}
