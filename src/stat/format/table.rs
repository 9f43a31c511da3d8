//! The human-readable table, laid out like `perf stat`.

use std::fmt::Write;

use super::{group_thousands, metric_number, placeholder, rows, Row};
use crate::stat::summary::{Count, EventResult, StatReport};

fn value_text(row: &Row<'_>, big_num: bool) -> String {
    if let Some(text) = placeholder(&row.event.count) {
        return text.to_string();
    }
    let value = row.display_value.unwrap_or(0.0);
    let decimals = if row.unit.is_empty() { 0 } else { 2 };
    if big_num {
        group_thousands(value, decimals)
    } else {
        format!("{value:.decimals$}")
    }
}

fn metric_text(metric: &crate::stat::metrics::Metric) -> String {
    let number = metric_number(metric);
    if metric.percent {
        format!("# {number:>7}% {}", metric.unit)
    } else {
        format!("# {number:>8} {}", metric.unit)
    }
}

/// One event line (and continuation lines for extra metrics), without a newline at the end.
pub fn event_lines(row: &Row<'_>, big_num: bool, prefix: &str) -> String {
    let name = &row.event.spec.name;
    let mut line = format!(
        "{prefix}{:>18} {:<4} {name:<32} ",
        value_text(row, big_num),
        row.unit
    );
    let mut metrics = row.metrics.iter();
    if let Some(first) = metrics.next() {
        let _ = write!(line, "{:<36}", metric_text(first));
    }
    if let Count::Counted {
        running_pct,
        stddev_pct,
        ..
    } = &row.event.count
    {
        if let Some(sd) = stddev_pct {
            let _ = write!(line, "  ( +-{sd:>6.2}% )");
        }
        if *running_pct < 99.995 {
            let _ = write!(line, "  ({running_pct:.2}%)");
        }
    }
    let mut out = line.trim_end().to_string();
    for extra in metrics {
        let pad = prefix.len() + 18 + 1 + 4 + 1 + 32 + 1;
        let _ = write!(out, "\n{:pad$}{}", "", metric_text(extra));
    }
    out
}

fn header(report: &StatReport) -> String {
    let runs = if report.runs > 1 {
        format!(" ({} runs)", report.runs)
    } else {
        String::new()
    };
    format!(
        "\n Performance counter stats for {}{runs}:\n\n",
        report.target_label
    )
}

/// The complete table for a finished measurement.
pub fn render(report: &StatReport, big_num: bool) -> String {
    let mut out = header(report);
    for row in rows(&report.events, report.elapsed.mean * 1e9) {
        out.push_str(&event_lines(&row, big_num, ""));
        out.push('\n');
    }
    out.push('\n');
    match (report.runs > 1, report.elapsed.stddev) {
        (true, Some(sd)) => {
            let pct = report.elapsed.relative_pct().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "{:>18.7} +- {sd:.7} seconds time elapsed  ( +-{pct:>6.2}% )",
                report.elapsed.mean
            );
        }
        _ => {
            let _ = writeln!(out, "{:>18.9} seconds time elapsed", report.elapsed.mean);
        }
    }
    if report.runs == 1 {
        if let (Some(user), Some(sys)) = (report.user_s, report.sys_s) {
            let _ = write!(
                out,
                "\n{user:>18.9} seconds user\n{sys:>18.9} seconds sys\n"
            );
        }
    }
    out.push('\n');
    out
}

/// The column header printed once before `-I` lines.
pub fn interval_header() -> String {
    "#           time             counts unit events\n".to_string()
}

/// The lines of one `-I` interval.
pub fn render_interval(
    since_start_s: f64,
    events: &[EventResult],
    interval_ns: f64,
    big_num: bool,
) -> String {
    let prefix = format!("{since_start_s:>16.9} ");
    let mut out = String::new();
    for row in rows(events, interval_ns) {
        out.push_str(&event_lines(&row, big_num, &prefix));
        out.push('\n');
    }
    out
}
