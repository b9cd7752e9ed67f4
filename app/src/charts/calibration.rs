//! The calibration report's charts: the reliability diagram (with the diagonal and each bin's
//! count), score histograms by outcome, the ROC and precision–recall curves, and the weekly
//! predicted against observed failure rate. With a comparison, the other version is drawn
//! dashed in the warning colour on the same axes.

use super::{finish, Hit, BAD, GOOD, GRID, INK, MUTED, SERIES, WARN};
use crate::logic::report::Report;
use crate::logic::time::format_utc;
use crate::model::CalibrationView;
use plotters::prelude::*;

const SIZE: (u32, u32) = (420, 340);

/// Every chart of the view as `(name, svg)`, in page order.
pub fn all(view: &CalibrationView) -> Vec<(String, String)> {
    let other = view.compare.as_ref().map(|c| &c.other_report);
    let label = format!("v{}", view.model.version);
    let other_label = view
        .compare
        .as_ref()
        .map(|c| format!("v{}", c.other.version))
        .unwrap_or_default();
    let mine = view
        .compare
        .as_ref()
        .map(|c| &c.this_report)
        .unwrap_or(&view.report);
    [
        (
            "reliability",
            reliability(mine, other, &label, &other_label),
        ),
        ("histogram", histogram(&view.report)),
        ("roc", roc(mine, other, &label, &other_label)),
        ("pr", pr(mine, other, &label, &other_label)),
        ("weekly", weekly(&view.report)),
    ]
    .into_iter()
    .filter_map(|(name, svg)| svg.map(|s| (name.to_string(), s)))
    .collect()
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn unit_square<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    x_desc: &str,
    y_desc: &str,
) -> Option<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .ok()?;
    let label_style = ("sans-serif", 13).into_font().color(&INK);
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_style(INK)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .label_style(label_style.clone())
        .axis_desc_style(label_style)
        .draw()
        .ok()?;
    Some(chart)
}

fn dashed(chart: &mut Chart<'_, '_>, points: Vec<(f64, f64)>, colour: RGBColor) -> Option<()> {
    chart
        .draw_series(DashedLineSeries::new(points, 6, 4, colour.stroke_width(2)))
        .ok()?;
    Some(())
}

fn reliability(
    r: &Report,
    other: Option<&Report>,
    label: &str,
    other_label: &str,
) -> Option<String> {
    if r.reliability.is_empty() {
        return None;
    }
    let mut svg = String::new();
    let mut hits = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = unit_square(&root, "mean score", "observed failure rate")?;
        dashed(&mut chart, vec![(0.0, 0.0), (1.0, 1.0)], MUTED)?;
        let points: Vec<(f64, f64)> = r
            .reliability
            .iter()
            .map(|b| (b.predicted, b.observed))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), SERIES.stroke_width(2)))
            .ok()?;
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, SERIES.filled())))
            .ok()?;
        for b in &r.reliability {
            let (x, y) = chart.backend_coord(&(b.predicted, b.observed));
            hits.push(Hit {
                x,
                y,
                title: format!(
                    "{label}: {} runs, mean score {:.3}, observed {:.3}",
                    b.count, b.predicted, b.observed
                ),
            });
        }
        if let Some(o) = other {
            let theirs: Vec<(f64, f64)> = o
                .reliability
                .iter()
                .map(|b| (b.predicted, b.observed))
                .collect();
            dashed(&mut chart, theirs.clone(), WARN)?;
            for (b, p) in o.reliability.iter().zip(&theirs) {
                let (x, y) = chart.backend_coord(p);
                hits.push(Hit {
                    x,
                    y,
                    title: format!(
                        "{other_label}: {} runs, mean score {:.3}, observed {:.3}",
                        b.count, b.predicted, b.observed
                    ),
                });
            }
        }
        root.present().ok()?;
    }
    Some(finish(
        svg,
        "calibration reliability",
        "Reliability diagram: observed failure rate against mean score per bin; the dashed diagonal is perfect calibration",
        &hits,
    ))
}

fn histogram(r: &Report) -> Option<String> {
    if r.samples == 0 {
        return None;
    }
    let mut svg = String::new();
    let mut hits = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        // Each outcome as a share of its own runs, so a rare outcome stays visible.
        let share = |n: usize, total: usize| {
            if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            }
        };
        let top = r
            .histogram
            .iter()
            .map(|h| share(h.failed, r.failed).max(share(h.passed, r.passed)))
            .fold(0.0, f64::max)
            .max(0.05)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..1.0, 0.0..top)
            .ok()?;
        let label_style = ("sans-serif", 13).into_font().color(&INK);
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .x_desc("score")
            .y_desc("share of the outcome's runs")
            .axis_style(INK)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .label_style(label_style.clone())
            .axis_desc_style(label_style)
            .draw()
            .ok()?;
        for h in &r.histogram {
            let mid = (h.lo + h.hi) / 2.0;
            let fp = share(h.passed, r.passed);
            let ff = share(h.failed, r.failed);
            chart
                .draw_series([
                    Rectangle::new([(h.lo + 0.004, 0.0), (mid, fp)], GOOD.filled()),
                    Rectangle::new([(mid, 0.0), (h.hi - 0.004, ff)], BAD.filled()),
                ])
                .ok()?;
            let (x, y) = chart.backend_coord(&(mid, fp.max(ff)));
            hits.push(Hit {
                x,
                y,
                title: format!(
                    "scores {:.2}–{:.2}: {} failed, {} passed",
                    h.lo, h.hi, h.failed, h.passed
                ),
            });
        }
        root.present().ok()?;
    }
    Some(finish(
        svg,
        "calibration histogram",
        "Score histograms: passed runs (left bars) and failed runs (right bars), each as a share of its outcome",
        &hits,
    ))
}

#[allow(clippy::too_many_arguments)]
fn curve(
    r: &Report,
    other: Option<&Report>,
    points: fn(&Report) -> Vec<(f64, f64)>,
    axes: (&str, &str),
    names: (&str, &str),
    class: &str,
    aria: &str,
    diagonal: bool,
) -> Option<String> {
    let mine = points(r);
    if mine.len() < 2 {
        return None;
    }
    let mut svg = String::new();
    let mut hits = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = unit_square(&root, axes.0, axes.1)?;
        if diagonal {
            dashed(&mut chart, vec![(0.0, 0.0), (1.0, 1.0)], MUTED)?;
        }
        chart
            .draw_series(LineSeries::new(mine.clone(), SERIES.stroke_width(2)))
            .ok()?;
        let step = (mine.len() / 12).max(1);
        for p in mine.iter().step_by(step) {
            let (x, y) = chart.backend_coord(p);
            hits.push(Hit {
                x,
                y,
                title: format!("{}: {} {:.3}, {} {:.3}", names.0, axes.0, p.0, axes.1, p.1),
            });
        }
        if let Some(o) = other {
            let theirs = points(o);
            if theirs.len() >= 2 {
                dashed(&mut chart, theirs, WARN)?;
            }
            let _ = names.1;
        }
        root.present().ok()?;
    }
    Some(finish(svg, class, aria, &hits))
}

fn roc(r: &Report, other: Option<&Report>, label: &str, other_label: &str) -> Option<String> {
    curve(
        r,
        other,
        |r| r.roc.clone(),
        ("false-positive rate", "true-positive rate"),
        (label, other_label),
        "calibration roc",
        "ROC curve: true-positive rate against false-positive rate over every threshold",
        true,
    )
}

fn pr(r: &Report, other: Option<&Report>, label: &str, other_label: &str) -> Option<String> {
    curve(
        r,
        other,
        |r| r.pr.clone(),
        ("recall", "precision"),
        (label, other_label),
        "calibration pr",
        "Precision–recall curve over every threshold",
        false,
    )
}

fn weekly(r: &Report) -> Option<String> {
    if r.weekly.len() < 2 {
        return None;
    }
    let t0 = r.weekly.first()?.start as f64;
    let t1 = r.weekly.last()?.start as f64 + 1.0;
    let top = r
        .weekly
        .iter()
        .map(|w| w.predicted.max(w.observed))
        .fold(0.05, f64::max)
        * 1.15;
    let mut svg = String::new();
    let mut hits = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 * 2, SIZE.1 - 80)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(t0..t1, 0.0..top.min(1.0))
            .ok()?;
        let label_style = ("sans-serif", 13).into_font().color(&INK);
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&|v| format_utc(*v as i64).chars().take(10).collect())
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .y_desc("failure rate")
            .axis_style(INK)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .label_style(label_style.clone())
            .axis_desc_style(label_style)
            .draw()
            .ok()?;
        let predicted: Vec<(f64, f64)> = r
            .weekly
            .iter()
            .map(|w| (w.start as f64, w.predicted))
            .collect();
        let observed: Vec<(f64, f64)> = r
            .weekly
            .iter()
            .map(|w| (w.start as f64, w.observed))
            .collect();
        chart
            .draw_series(LineSeries::new(observed.clone(), BAD.stroke_width(2)))
            .ok()?;
        chart
            .draw_series(DashedLineSeries::new(
                predicted,
                6,
                4,
                SERIES.stroke_width(2),
            ))
            .ok()?;
        for w in &r.weekly {
            let (x, y) = chart.backend_coord(&(w.start as f64, w.observed));
            hits.push(Hit {
                x,
                y,
                title: format!(
                    "week of {}: {} runs, observed {:.1}%, predicted {:.1}%",
                    format_utc(w.start).chars().take(10).collect::<String>(),
                    w.runs,
                    w.observed * 100.0,
                    w.predicted * 100.0
                ),
            });
        }
        root.present().ok()?;
    }
    Some(finish(
        svg,
        "calibration weekly",
        "Weekly failure rate: observed (solid) against the mean score (dashed)",
        &hits,
    ))
}

/// A chart as a standalone file: the theme's sentinel colours become fixed light-theme ones.
pub fn standalone(svg: &str) -> String {
    let mut out = svg.to_string();
    for (sentinel, colour) in [
        ("#0A0B01", "#4B5563"),
        ("#0A0B02", "#E5E7EB"),
        ("#0A0B03", "#2563EB"),
        ("#0A0B04", "#16A34A"),
        ("#0A0B05", "#D97706"),
        ("#0A0B06", "#DC2626"),
        ("#0A0B07", "#9CA3AF"),
    ] {
        out = out.replace(sentinel, colour);
    }
    out.replacen(
        "<svg ",
        "<svg width=\"840\" height=\"680\" style=\"background:#fff;font-family:sans-serif\" ",
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::calibration::Binning;
    use crate::logic::report::build;
    use crate::model::ScoredRun;

    #[test]
    fn charts_have_titles_and_standalone_files_have_real_colours() {
        let runs: Vec<ScoredRun> = (0..200)
            .map(|i| ScoredRun {
                run_id: i,
                at: i * 3_600_000 * 8,
                score: (i % 10) as f64 / 10.0,
                failed: i % 10 >= 6 || i % 13 == 0,
            })
            .collect();
        let r = build(&runs, 0, 200 * 3_600_000 * 8, 0.5, Binning::Uniform, 10);
        let svg = reliability(&r, None, "v1", "").unwrap();
        assert!(svg.contains("<title>v1: "), "{svg}");
        assert!(roc(&r, Some(&r), "v1", "v2").unwrap().contains("<title>"));
        assert!(histogram(&r).unwrap().contains("failed"));
        assert!(weekly(&r).is_some());
        let file = standalone(&svg);
        assert!(!file.contains("#0A0B0"), "no sentinel colour left");
        assert!(file.contains("width=\"840\""));
    }
}
