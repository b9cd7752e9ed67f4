//! Quality-gate evaluation: each gate's measured value falls in its band (pass / warn / fail),
//! the weighted score counts pass as 1 and warn as 0.5, and a failing key gate fails the whole
//! evaluation whatever the score (as Keptn's quality gates do).

use super::bands::{Band, Level};
use crate::model::{Gate, GateMetric, GateResult, Unit};

/// A score at or above this passes (when no key gate fails).
pub const PASS_SCORE: f64 = 0.9;
/// A score at or above this (and below [`PASS_SCORE`]) warns; below it fails.
pub const WARN_SCORE: f64 = 0.75;

/// A measured value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub value: f64,
    pub source: String,
}

/// The outcome before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub score: f64,
    pub result: Level,
    pub gates: Vec<GateResult>,
    pub summary: String,
}

/// Evaluates `gates` against what `measure` finds for each metric (`None`: not measured,
/// which fails the gate: a gate nobody measured has not been passed).
pub fn evaluate(gates: &[Gate], measure: impl Fn(&GateMetric) -> Option<Measured>) -> Outcome {
    let mut results = Vec::with_capacity(gates.len());
    for g in gates {
        let band = Band {
            warn: g.warn,
            fail: g.fail,
            higher_is_better: g.higher_is_better,
        };
        let m = measure(&g.metric);
        let level = match &m {
            Some(m) if m.value.is_finite() => band.level(m.value),
            _ => Level::Fail,
        };
        results.push(GateResult {
            gate_id: g.id,
            metric: g.metric.clone(),
            higher_is_better: g.higher_is_better,
            warn: g.warn,
            fail: g.fail,
            weight: g.weight,
            key: g.key,
            value: m.as_ref().map(|m| m.value),
            level,
            source: m.map(|m| m.source).unwrap_or_else(|| "not measured".into()),
        });
    }
    let total: f64 = results.iter().map(|r| r.weight).sum();
    let earned: f64 = results
        .iter()
        .map(|r| r.weight * points(r.level))
        .sum::<f64>();
    let score = if total > 0.0 { earned / total } else { 1.0 };
    let failed_keys: Vec<&GateResult> = results
        .iter()
        .filter(|r| r.key && r.level == Level::Fail)
        .collect();
    let result = if !failed_keys.is_empty() || score < WARN_SCORE {
        Level::Fail
    } else if score < PASS_SCORE {
        Level::Warn
    } else {
        Level::Pass
    };
    let summary = if results.is_empty() {
        "no quality gates are configured for this environment".to_string()
    } else if !failed_keys.is_empty() {
        let names: Vec<String> = failed_keys.iter().map(|r| describe(r)).collect();
        format!("key gate failed: {}", names.join("; "))
    } else {
        let weak: Vec<String> = results
            .iter()
            .filter(|r| r.level != Level::Pass)
            .map(describe)
            .collect();
        let head = format!("score {:.0}%", score * 100.0);
        match result {
            Level::Pass if weak.is_empty() => format!("{head}: every gate passes"),
            Level::Pass => format!("{head}: passes, with {}", weak.join("; ")),
            Level::Warn => format!(
                "{head} (below {:.0}%): {}",
                PASS_SCORE * 100.0,
                weak.join("; ")
            ),
            Level::Fail => format!(
                "{head} (below {:.0}%): {}",
                WARN_SCORE * 100.0,
                weak.join("; ")
            ),
        }
    };
    Outcome {
        score,
        result,
        gates: results,
        summary,
    }
}

fn points(level: Level) -> f64 {
    match level {
        Level::Pass => 1.0,
        Level::Warn => 0.5,
        Level::Fail => 0.0,
    }
}

/// `Test pass rate 93.0% (warn: target ≥ 98.0%, fail < 95.0%)`, or `… not measured`.
pub fn describe(r: &GateResult) -> String {
    let unit = r.metric.unit();
    let band = Band {
        warn: r.warn,
        fail: r.fail,
        higher_is_better: r.higher_is_better,
    };
    let rule = band.describe(|v| unit.format(v));
    match r.value {
        Some(v) => format!(
            "{} {} ({}: {rule})",
            r.metric.label(),
            unit.format(v),
            r.level.as_str()
        ),
        None => format!("{} not measured ({rule})", r.metric.label()),
    }
}

/// The seeds' gates for an environment that promotes to users: pass rate ≥ 95% (warn below
/// 98%), coverage ≥ 80% (warn below 85%), p95 ≤ 500 ms (warn above 200), error rate ≤ 1%
/// (warn above 0.1%), zero critical findings, few flaky tests. `(metric, higher is better,
/// warn, fail, weight, key)`.
pub fn seed_gates(production: bool) -> Vec<GateRow> {
    let mut gates = vec![
        (GateMetric::TestPassRate, true, 0.98, 0.95, 2.0, true),
        (GateMetric::LineCoverage, true, 0.85, 0.80, 1.0, true),
        (GateMetric::P95Ms, false, 200.0, 500.0, 1.0, false),
        (GateMetric::ErrorRate, false, 0.001, 0.01, 1.0, false),
        (GateMetric::CriticalFindings, false, 0.0, 0.0, 1.0, true),
        (GateMetric::FlakyTests, false, 3.0, 10.0, 0.5, false),
    ];
    if production {
        gates.push((GateMetric::SoakHours, true, 24.0, 1.0, 1.0, false));
    }
    gates
}

/// A gate's definition: `(metric, higher is better, warn, fail, weight, key)`.
pub type GateRow = (GateMetric, bool, f64, f64, f64, bool);

/// A gate as an admin writes it on one line: `metric higher|lower warn fail weight [key]`,
/// e.g. `test_pass_rate higher 0.98 0.95 2 key`. Fractions, not percents.
pub fn gate_line(g: &Gate) -> String {
    format!(
        "{} {} {} {} {}{}",
        g.metric.key(),
        if g.higher_is_better {
            "higher"
        } else {
            "lower"
        },
        g.warn,
        g.fail,
        g.weight,
        if g.key { " key" } else { "" }
    )
}

/// Reads gates written one per line (see [`gate_line`]); blank lines and `#` comments are
/// skipped. Errors name the line. Returns `(metric, higher is better, warn, fail, weight, key)`.
pub fn parse_gate_lines(text: &str) -> Result<Vec<GateRow>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |e: String| format!("gates line {}: {e}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if !(5..=6).contains(&words.len()) {
            return Err(at(format!(
                "`{line}`: write `metric higher|lower warn fail weight [key]`, like `test_pass_rate higher 0.98 0.95 2 key`"
            )));
        }
        let metric: GateMetric = words[0].parse().map_err(at)?;
        let higher = match words[1] {
            "higher" | ">=" => true,
            "lower" | "<=" => false,
            other => {
                return Err(at(format!(
                    "`{other}`: say whether `higher` or `lower` is better"
                )))
            }
        };
        let num = |w: &str, what: &str| {
            w.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| at(format!("{what} `{w}` is not a number")))
        };
        let (warn, fail, weight) = (
            num(words[2], "warn")?,
            num(words[3], "fail")?,
            num(words[4], "weight")?,
        );
        let key = match words.get(5) {
            None => false,
            Some(&"key") => true,
            Some(other) => return Err(at(format!("`{other}`: the last word may only be `key`"))),
        };
        out.push((metric, higher, warn, fail, weight, key));
    }
    Ok(out)
}

/// Default bands shown when an admin adds a gate for `metric`.
pub fn default_band(metric: &GateMetric) -> (f64, f64) {
    match metric.unit() {
        Unit::Fraction if metric.higher_is_better() => (0.95, 0.90),
        Unit::Fraction => (0.001, 0.01),
        Unit::Millis => (200.0, 500.0),
        Unit::Hours => (24.0, 1.0),
        Unit::Count => (0.0, 0.0),
        Unit::Number => (0.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(id: i64, metric: GateMetric, hib: bool, warn: f64, fail: f64, key: bool) -> Gate {
        Gate {
            id,
            metric,
            higher_is_better: hib,
            warn,
            fail,
            weight: 1.0,
            key,
        }
    }

    fn at(v: f64) -> Option<Measured> {
        Some(Measured {
            value: v,
            source: "run #1".into(),
        })
    }

    #[test]
    fn every_gate_passing_scores_one() {
        let gates = [
            gate(1, GateMetric::TestPassRate, true, 0.98, 0.95, true),
            gate(2, GateMetric::P95Ms, false, 200.0, 500.0, false),
        ];
        let o = evaluate(&gates, |m| match m {
            GateMetric::TestPassRate => at(0.99),
            _ => at(120.0),
        });
        assert_eq!(o.result, Level::Pass);
        assert_eq!(o.score, 1.0);
        assert!(o.summary.contains("every gate passes"), "{}", o.summary);
        assert_eq!(o.gates[0].value, Some(0.99));
    }

    #[test]
    fn warn_counts_half_and_bands_are_inclusive_at_the_threshold() {
        let gates = [
            gate(1, GateMetric::TestPassRate, true, 0.98, 0.95, false),
            gate(2, GateMetric::P95Ms, false, 200.0, 500.0, false),
        ];
        // 0.95 is exactly the fail threshold: not below it, so warn. 200 ms is not above 200.
        let o = evaluate(&gates, |m| match m {
            GateMetric::TestPassRate => at(0.95),
            _ => at(200.0),
        });
        assert_eq!(o.gates[0].level, Level::Warn);
        assert_eq!(o.gates[1].level, Level::Pass);
        assert_eq!(o.score, 0.75);
        assert_eq!(o.result, Level::Warn);
    }

    #[test]
    fn a_failing_key_gate_fails_a_high_score() {
        let mut gates: Vec<Gate> = (0..9)
            .map(|i| {
                gate(
                    i,
                    GateMetric::Custom(format!("m{i}")),
                    true,
                    1.0,
                    0.5,
                    false,
                )
            })
            .collect();
        gates.push(gate(9, GateMetric::CriticalFindings, false, 0.0, 0.0, true));
        let o = evaluate(&gates, |m| match m {
            GateMetric::CriticalFindings => at(1.0),
            _ => at(2.0),
        });
        assert_eq!(o.score, 0.9);
        assert_eq!(o.result, Level::Fail);
        assert!(
            o.summary
                .starts_with("key gate failed: Critical findings 1"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn an_unmeasured_gate_fails_and_says_so() {
        let gates = [gate(1, GateMetric::LineCoverage, true, 0.85, 0.80, true)];
        let o = evaluate(&gates, |_| None);
        assert_eq!(o.result, Level::Fail);
        assert_eq!(o.gates[0].value, None);
        assert_eq!(o.gates[0].source, "not measured");
        assert!(
            o.summary.contains("Line coverage not measured"),
            "{}",
            o.summary
        );
    }

    #[test]
    fn weights_and_the_score_bands() {
        let mut heavy = gate(1, GateMetric::TestPassRate, true, 0.98, 0.95, false);
        heavy.weight = 3.0;
        let light = gate(2, GateMetric::ErrorRate, false, 0.001, 0.01, false);
        let o = evaluate(&[heavy.clone(), light.clone()], |m| match m {
            GateMetric::TestPassRate => at(0.99),
            _ => at(0.5),
        });
        assert_eq!(o.score, 0.75);
        assert_eq!(o.result, Level::Warn);
        let o = evaluate(&[heavy, light], |m| match m {
            GateMetric::TestPassRate => at(0.5),
            _ => at(0.0),
        });
        assert_eq!(o.score, 0.25);
        assert_eq!(o.result, Level::Fail);
        assert!(o.summary.contains("below 75%"), "{}", o.summary);
    }

    #[test]
    fn no_gates_pass_and_say_so() {
        let o = evaluate(&[], |_| None);
        assert_eq!((o.score, o.result), (1.0, Level::Pass));
        assert!(o.summary.contains("no quality gates"));
    }

    #[test]
    fn not_a_number_is_not_a_pass() {
        let gates = [gate(1, GateMetric::P95Ms, false, 200.0, 500.0, false)];
        let o = evaluate(&gates, |_| at(f64::NAN));
        assert_eq!(o.gates[0].level, Level::Fail);
    }

    #[test]
    fn gate_lines_round_trip_and_name_the_bad_line() {
        let text = "# production\ntest_pass_rate higher 0.98 0.95 2 key\n\np95_ms lower 200 500 1\ncustom:bundle_kb <= 400 450 0.5\n";
        let gates = parse_gate_lines(text).unwrap();
        assert_eq!(gates.len(), 3);
        assert_eq!(
            gates[0],
            (GateMetric::TestPassRate, true, 0.98, 0.95, 2.0, true)
        );
        assert_eq!(gates[2].0, GateMetric::Custom("bundle_kb".into()));
        assert!(!gates[2].1);
        let g = Gate {
            id: 1,
            metric: GateMetric::P95Ms,
            higher_is_better: false,
            warn: 200.0,
            fail: 500.0,
            weight: 1.0,
            key: true,
        };
        assert_eq!(gate_line(&g), "p95_ms lower 200 500 1 key");
        assert_eq!(
            parse_gate_lines(&gate_line(&g)).unwrap()[0],
            (GateMetric::P95Ms, false, 200.0, 500.0, 1.0, true)
        );
        let e = parse_gate_lines("p95_ms lower 200 500 1\ncoverage higher 0.8 0.7 1").unwrap_err();
        assert!(
            e.starts_with("gates line 2: unknown gate metric `coverage`"),
            "{e}"
        );
        let e = parse_gate_lines("p95_ms lower 200 fast 1").unwrap_err();
        assert_eq!(e, "gates line 1: fail `fast` is not a number");
        assert!(parse_gate_lines("p95_ms sideways 1 2 1")
            .unwrap_err()
            .contains("higher"));
        assert!(parse_gate_lines("p95_ms lower 1 2 1 maybe")
            .unwrap_err()
            .contains("`key`"));
        assert_eq!(parse_gate_lines("  \n# none\n").unwrap(), vec![]);
    }
}
