//! A test's duration over its executions: a line through the durations, each point coloured
//! by the execution's result, with run, time and duration in its hover title.

use super::{finish, Hit, BAD, GOOD, GRID, INK, MUTED, SERIES, WARN};
use crate::logic::time::{format_duration_s, format_utc};
use crate::model::{CaseStatus, TestExecution};
use plotters::prelude::*;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;

/// The chart, or `None` when fewer than two executions have a duration.
pub fn render(executions: &[TestExecution]) -> Option<String> {
    // Oldest first, along the x axis by execution order (runs are not evenly spaced in time).
    let points: Vec<(usize, &TestExecution, f64)> = executions
        .iter()
        .rev()
        .filter_map(|e| e.duration_s.map(|d| (e, d)))
        .enumerate()
        .map(|(i, (e, d))| (i, e, d))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let max = points.iter().map(|p| p.2).fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let last = points.len() - 1;
    let mut svg = String::new();
    let mut hits = Vec::with_capacity(points.len());
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(0usize..last.max(1), 0.0..top)
            .ok()?;
        let label_style = ("sans-serif", 13).into_font().color(&INK);
        let when = |i: &usize| {
            points
                .get(*i)
                .map(|p| format_utc(p.1.at).chars().take(10).collect::<String>())
                .unwrap_or_default()
        };
        let secs = |v: &f64| format_duration_s(*v);
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&when)
            .y_label_formatter(&secs)
            .y_desc("duration")
            .axis_style(INK)
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .label_style(label_style.clone())
            .axis_desc_style(label_style)
            .draw()
            .ok()?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.2)),
                SERIES.stroke_width(2),
            ))
            .ok()?;
        chart
            .draw_series(points.iter().map(|p| {
                let colour = match p.1.status {
                    CaseStatus::Failed | CaseStatus::Error => BAD,
                    CaseStatus::Passed if p.1.retried => WARN,
                    CaseStatus::Passed => GOOD,
                    CaseStatus::Skipped => MUTED,
                };
                Circle::new((p.0, p.2), 3, colour.filled())
            }))
            .ok()?;
        for p in &points {
            let (x, y) = chart.backend_coord(&(p.0, p.2));
            let result = match p.1.status {
                CaseStatus::Passed if p.1.retried => "passed on retry",
                s => s.as_str(),
            };
            hits.push(Hit {
                x,
                y,
                title: format!(
                    "run {} · {} · {} · {}",
                    p.1.run_id,
                    format_utc(p.1.at),
                    result,
                    format_duration_s(p.2)
                ),
            });
        }
        root.present().ok()?;
    }
    Some(finish(
        svg,
        "durations",
        "Duration of each execution, oldest to newest",
        &hits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(run_id: i64, status: CaseStatus, d: Option<f64>) -> TestExecution {
        TestExecution {
            run_id,
            at: 1_700_000_000_000 + run_id * 3_600_000,
            branch: None,
            commit_sha: None,
            status,
            retried: false,
            duration_s: d,
            message: None,
        }
    }

    #[test]
    fn one_titled_point_per_timed_execution_coloured_by_result() {
        // Newest first, as the store returns them.
        let list = vec![
            exec(3, CaseStatus::Failed, Some(2.5)),
            exec(2, CaseStatus::Passed, None),
            exec(1, CaseStatus::Passed, Some(1.25)),
        ];
        let svg = render(&list).expect("two timed executions make a chart");
        assert_eq!(svg.matches("<title>").count(), 2, "{svg}");
        assert!(svg.contains("run 1 · "), "oldest point is titled");
        assert!(svg.contains("failed"), "result in the title");
        // Sentinel colours the stylesheet maps to the theme.
        assert!(
            svg.contains("#0A0B06"),
            "a failed point in the 'bad' colour"
        );
        assert!(
            svg.contains("#0A0B04"),
            "a passed point in the 'good' colour"
        );
        assert!(svg.contains("duration"), "the y axis is labelled");
    }

    #[test]
    fn too_few_points_make_no_chart() {
        assert!(render(&[exec(1, CaseStatus::Passed, Some(1.0))]).is_none());
        assert!(render(&[]).is_none());
    }
}
