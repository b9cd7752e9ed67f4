//! The monitoring window of a deployment: one panel per health metric (smoke-test pass rate,
//! error rate, p95 latency, availability) with its samples over time against the warning and
//! critical thresholds (dashed lines), each point coloured by the band it falls in.

use super::{finish, Hit, BAD, GOOD, GRID, INK, SERIES, WARN};
use crate::logic::bands::Level;
use crate::logic::deploy::{health_value, HEALTH_BANDS};
use crate::logic::time::format_utc;
use crate::model::{DeploymentDetail, HealthSample, Unit};
use plotters::prelude::*;

const WIDTH: u32 = 880;
const HEIGHT: u32 = 440;

fn unit_of(metric: &str) -> Unit {
    if metric == "p95_ms" {
        Unit::Millis
    } else {
        Unit::Fraction
    }
}

/// The chart of a deployment's health samples, or an empty string without samples.
pub fn render(d: &DeploymentDetail) -> String {
    render_samples(&d.health).unwrap_or_default()
}

/// The chart of `samples` (oldest first), or `None` without any.
pub fn render_samples(samples: &[HealthSample]) -> Option<String> {
    if samples.is_empty() {
        return None;
    }
    let t0 = samples.iter().map(|s| s.at).min()?;
    let t1 = samples.iter().map(|s| s.at).max()?.max(t0 + 60_000);
    let mut svg = String::new();
    let mut hits = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let panels = root.split_evenly((2, 2));
        for ((metric, label, band), area) in HEALTH_BANDS.iter().zip(panels.iter()) {
            let unit = unit_of(metric);
            let points: Vec<(i64, f64)> = samples
                .iter()
                .filter_map(|s| health_value(s, metric).map(|v| (s.at, v)))
                .collect();
            let values = points.iter().map(|p| p.1);
            let lo = values
                .clone()
                .chain([band.warn, band.fail])
                .fold(f64::INFINITY, f64::min);
            let hi = values
                .chain([band.warn, band.fail])
                .fold(f64::NEG_INFINITY, f64::max);
            let pad = ((hi - lo) * 0.15).max(if unit == Unit::Millis { 10.0 } else { 0.0005 });
            let (mut lo, mut hi) = (lo - pad, hi + pad);
            if unit == Unit::Fraction {
                lo = lo.max(0.0);
                hi = hi.min(1.0);
            } else {
                lo = lo.max(0.0);
            }
            let title_style = ("sans-serif", 14).into_font().color(&INK);
            let caption = if points.is_empty() {
                format!("{label}: not reported")
            } else {
                (*label).to_string()
            };
            let Ok(mut chart) = ChartBuilder::on(area)
                .margin(8)
                .caption(caption, title_style)
                .x_label_area_size(24)
                .y_label_area_size(58)
                .build_cartesian_2d(t0..t1, lo..hi)
            else {
                continue;
            };
            let label_style = ("sans-serif", 12).into_font().color(&INK);
            let when = |t: &i64| format_utc(*t).chars().skip(5).take(11).collect::<String>();
            let fmt = |v: &f64| unit.format(*v);
            let _ = chart
                .configure_mesh()
                .x_labels(4)
                .y_labels(4)
                .x_label_formatter(&when)
                .y_label_formatter(&fmt)
                .axis_style(INK)
                .bold_line_style(GRID)
                .light_line_style(TRANSPARENT)
                .label_style(label_style)
                .draw();
            for (limit, colour) in [(band.warn, WARN), (band.fail, BAD)] {
                let _ = chart.draw_series(DashedLineSeries::new(
                    [(t0, limit), (t1, limit)],
                    6,
                    4,
                    colour.stroke_width(1),
                ));
            }
            if points.len() > 1 {
                let _ = chart.draw_series(LineSeries::new(
                    points.iter().copied(),
                    SERIES.stroke_width(2),
                ));
            }
            let _ = chart.draw_series(points.iter().map(|&(t, v)| {
                let colour = match band.level(v) {
                    Level::Pass => GOOD,
                    Level::Warn => WARN,
                    Level::Fail => BAD,
                };
                Circle::new((t, v), 3, colour.filled())
            }));
            // Hover titles on at most ~60 points per panel, spread evenly.
            let every = points.len().div_ceil(60).max(1);
            for &(t, v) in points.iter().step_by(every) {
                let (x, y) = chart.backend_coord(&(t, v));
                let level = match band.level(v) {
                    Level::Pass => "ok",
                    Level::Warn => "warning",
                    Level::Fail => "critical",
                };
                hits.push(Hit {
                    x,
                    y,
                    title: format!("{} · {label} {} ({level})", format_utc(t), unit.format(v)),
                });
            }
        }
        root.present().ok()?;
    }
    let limits = HEALTH_BANDS
        .iter()
        .map(|(m, label, b)| {
            let u = unit_of(m);
            format!(
                "{label} warning {} critical {}",
                u.format(b.warn),
                u.format(b.fail)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(finish(
        svg,
        "health",
        &format!("Health samples over the monitoring window against thresholds: {limits}"),
        &hits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: i64, error_rate: f64) -> HealthSample {
        HealthSample {
            at: 1_700_000_000_000 + i * 60_000,
            error_rate: Some(error_rate),
            p95_ms: Some(120.0 + i as f64),
            availability: Some(0.9995),
            smoke_pass_rate: None,
            healthy: Some(true),
        }
    }

    #[test]
    fn panels_with_thresholds_and_coloured_points() {
        let samples = vec![sample(0, 0.0002), sample(1, 0.004), sample(2, 0.02)];
        let svg = render_samples(&samples).expect("samples make a chart");
        for label in ["Error rate", "p95 latency", "Availability"] {
            assert!(svg.contains(label), "{label} panel: {svg}");
        }
        assert!(svg.contains("Smoke-test pass rate: not reported"));
        // Dashed threshold lines and points in the warn and bad colours.
        assert!(svg.contains("#0A0B05"), "warning colour");
        assert!(svg.contains("#0A0B06"), "critical colour");
        assert!(svg.contains("Error rate 2.0% (critical)"), "{svg}");
        assert!(svg.contains("Error rate 0.40% (warning)"));
        assert!(svg.contains("Error rate 0.02% (ok)"));
    }

    #[test]
    fn no_samples_no_chart() {
        assert!(render_samples(&[]).is_none());
    }
}
