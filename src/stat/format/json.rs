//! `--json`: one JSON document for the whole measurement (schema in README.md).

use serde::Serialize;

use super::{rows, Row};
use crate::stat::summary::{Count, EventResult, StatReport};
use crate::target::ExitStatus;

#[derive(Serialize)]
struct JsonMetric<'a> {
    value: f64,
    unit: &'a str,
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    event: &'a str,
    /// "counted", "not supported" or "not counted".
    status: &'static str,
    /// The scaled count (nanoseconds for clock events); null unless counted.
    value: Option<f64>,
    /// The value as the table shows it (milliseconds for clock events).
    display_value: Option<f64>,
    unit: &'static str,
    running_pct: Option<f64>,
    runtime_ns: Option<u64>,
    stddev_pct: Option<f64>,
    user_only: bool,
    metrics: Vec<JsonMetric<'a>>,
}

#[derive(Serialize)]
struct JsonInterval<'a> {
    time_s: f64,
    events: Vec<JsonEvent<'a>>,
}

#[derive(Serialize)]
struct JsonExit {
    code: i32,
    signal: Option<String>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    target: &'a str,
    command: Option<&'a [String]>,
    runs: usize,
    events: Vec<JsonEvent<'a>>,
    elapsed_s: f64,
    elapsed_stddev_pct: Option<f64>,
    user_s: Option<f64>,
    sys_s: Option<f64>,
    exit: Option<JsonExit>,
    intervals: Vec<JsonInterval<'a>>,
}

fn event<'a>(row: &'a Row<'a>) -> JsonEvent<'a> {
    let (status, running_pct, runtime_ns, stddev_pct) = match &row.event.count {
        Count::NotSupported => ("not supported", None, None, None),
        Count::NotCounted => ("not counted", None, None, None),
        Count::Counted {
            running_pct,
            runtime_ns,
            stddev_pct,
            ..
        } => (
            "counted",
            Some(*running_pct),
            Some(*runtime_ns),
            *stddev_pct,
        ),
    };
    JsonEvent {
        event: &row.event.spec.name,
        status,
        value: row.event.count.value(),
        display_value: row.display_value,
        unit: row.unit,
        running_pct,
        runtime_ns,
        stddev_pct,
        user_only: row.event.user_only_fallback,
        metrics: row
            .metrics
            .iter()
            .map(|m| JsonMetric {
                value: m.value,
                unit: &m.unit,
            })
            .collect(),
    }
}

/// One `-I` interval: its end time and the counts within it.
pub struct IntervalCounts {
    pub time_s: f64,
    pub interval_ns: f64,
    pub events: Vec<EventResult>,
}

pub fn render(report: &StatReport, intervals: &[IntervalCounts]) -> String {
    let main_rows = rows(&report.events, report.elapsed.mean * 1e9);
    let interval_rows: Vec<(f64, Vec<Row<'_>>)> = intervals
        .iter()
        .map(|i| (i.time_s, rows(&i.events, i.interval_ns)))
        .collect();
    let doc = JsonReport {
        schema: "pyperf-stat/1",
        target: &report.target_label,
        command: report.command.as_deref(),
        runs: report.runs,
        events: main_rows.iter().map(event).collect(),
        elapsed_s: report.elapsed.mean,
        elapsed_stddev_pct: report.elapsed.relative_pct(),
        user_s: report.user_s,
        sys_s: report.sys_s,
        exit: report.exit.map(|exit| JsonExit {
            code: exit.exit_code(),
            signal: match exit {
                ExitStatus::Signaled(sig) => Some(sig.as_str().to_string()),
                ExitStatus::Exited(_) => None,
            },
        }),
        intervals: interval_rows
            .iter()
            .map(|(t, rows)| JsonInterval {
                time_s: *t,
                events: rows.iter().map(event).collect(),
            })
            .collect(),
    };
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
