//! `-x SEP`: perf-compatible separated values.
//!
//! Fields per event, as `perf stat -x` prints them: value, unit, event,
//! [variance% with -r], run time (ns), percent running, metric value, metric
//! unit. With `-I` every line starts with the interval's timestamp.

use super::{metric_number, placeholder, rows, Row};
use crate::stat::summary::{Count, EventResult, StatReport};

fn line(row: &Row<'_>, sep: &str, with_variance: bool, prefix: &str) -> String {
    let value = match placeholder(&row.event.count) {
        Some(text) => text.to_string(),
        None => {
            let v = row.display_value.unwrap_or(0.0);
            if row.unit.is_empty() {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        }
    };
    let (runtime, running_pct, stddev) = match &row.event.count {
        Count::Counted {
            runtime_ns,
            running_pct,
            stddev_pct,
            ..
        } => (*runtime_ns, *running_pct, stddev_pct.unwrap_or(0.0)),
        _ => (0, 100.0, 0.0),
    };
    let mut fields = vec![value, row.unit.to_string(), row.event.spec.name.clone()];
    if with_variance {
        fields.push(format!("{stddev:.2}%"));
    }
    fields.push(runtime.to_string());
    fields.push(format!("{running_pct:.2}"));
    match row.metrics.first() {
        Some(m) => {
            fields.push(metric_number(m));
            fields.push(m.unit.clone());
        }
        None => fields.extend([String::new(), String::new()]),
    }
    let mut out = format!("{prefix}{}", fields.join(sep));
    // Further metrics go on their own lines with the leading fields empty, as perf does.
    for extra in row.metrics.iter().skip(1) {
        let empty = fields.len() - 2;
        out.push('\n');
        out.push_str(prefix);
        out.push_str(&sep.repeat(empty));
        out.push_str(&metric_number(extra));
        out.push_str(sep);
        out.push_str(&extra.unit);
    }
    out
}

pub fn render(report: &StatReport, sep: &str) -> String {
    let mut out = String::new();
    for row in rows(&report.events, report.elapsed.mean * 1e9) {
        out.push_str(&line(&row, sep, report.runs > 1, ""));
        out.push('\n');
    }
    out
}

pub fn render_interval(
    since_start_s: f64,
    events: &[EventResult],
    interval_ns: f64,
    sep: &str,
) -> String {
    let prefix = format!("{since_start_s:.9}{sep}");
    let mut out = String::new();
    for row in rows(events, interval_ns) {
        out.push_str(&line(&row, sep, false, &prefix));
        out.push('\n');
    }
    out
}
