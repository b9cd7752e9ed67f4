//! The fuzz targets' inputs replayed on every test run: the crashes `make fuzz` found (kept in
//! `fuzz/regressions/<target>/`), the seeds, and every shared fixture through its reader. Each
//! must pass the target's checks (no panic, counts that add up, rates in [0, 1]).

use crate::helpers::fixtures_dir;
use std::path::{Path, PathBuf};

fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p, keep));
        } else if keep(&p) && p.file_name().is_some_and(|n| n != "README.md") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn replay(target: &str, run: fn(&[u8]), inputs: &[PathBuf]) -> usize {
    for p in inputs {
        let data = std::fs::read(p).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its checks",
            p.display()
        );
    }
    inputs.len()
}

#[test]
fn fuzz_findings_seeds_and_fixtures_pass_the_targets_checks() {
    use gatehouse_server::fuzzing;
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let any = |_: &Path| true;
    let ext = |exts: &'static [&'static str]| {
        move |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        }
    };
    let fixtures = fixtures_dir();
    let targets: [(&str, fn(&[u8])); 4] = [
        ("junit", fuzzing::junit),
        ("coverage", fuzzing::coverage),
        ("github_webhook", fuzzing::github_webhook),
        ("rest_body", fuzzing::rest_body),
    ];
    let mut counts = Vec::new();
    for (target, run) in targets {
        let mut inputs = files(&fuzz.join("regressions").join(target), &any);
        inputs.extend(files(&fuzz.join("seeds").join(target), &any));
        counts.push((target, replay(target, run, &inputs)));
    }
    let junit = files(&fixtures.join("junit"), &ext(&["xml"]));
    let coverage = files(&fixtures.join("coverage"), &ext(&["xml", "info", "lcov"]));
    assert!(junit.len() > 10 && coverage.len() > 5, "fixtures found");
    replay("junit", fuzzing::junit, &junit);
    replay("coverage", fuzzing::coverage, &coverage);
    // Webhook fixtures go in as the fuzz target sees them: event name, line break, payload.
    let hooks = files(&fixtures.join("github-webhooks"), &|p: &Path| {
        p.to_string_lossy().ends_with(".payload.json")
    });
    assert!(hooks.len() > 5, "webhook fixtures found");
    for p in &hooks {
        let event = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let mut data = format!("{event}\n").into_bytes();
        data.extend(std::fs::read(p).unwrap());
        let outcome = std::panic::catch_unwind(|| fuzzing::github_webhook(&data));
        assert!(outcome.is_ok(), "github_webhook: {} fails", p.display());
    }
    eprintln!(
        "fuzz inputs replayed: {counts:?}; fixtures: {} JUnit, {} coverage, {} webhooks",
        junit.len(),
        coverage.len(),
        hooks.len()
    );
}
