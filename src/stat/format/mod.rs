//! Printing a [`StatReport`]: perf-like table, perf-compatible CSV, or JSON.

pub mod csv;
pub mod json;
pub mod table;

use super::metrics::{metrics_for, Counted, Metric};
use super::summary::{Count, EventResult, StatReport};

/// The output style chosen on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Table { big_num: bool },
    Csv { separator: String },
    Json,
}

/// One event ready to print: value in display units plus its metrics.
pub struct Row<'a> {
    pub event: &'a EventResult,
    /// `msec` for clock events, empty otherwise.
    pub unit: &'static str,
    /// The count in display units (milliseconds for clocks).
    pub display_value: Option<f64>,
    pub metrics: Vec<Metric>,
}

/// Converts every event of a report (or interval) into printable rows.
pub fn rows<'a>(events: &'a [EventResult], elapsed_ns: f64) -> Vec<Row<'a>> {
    let counted = Counted::new(events);
    events
        .iter()
        .map(|event| {
            let clock = event.spec.is_clock();
            Row {
                event,
                unit: if clock { "msec" } else { "" },
                display_value: event.count.value().map(|v| if clock { v / 1e6 } else { v }),
                metrics: metrics_for(event, &counted, elapsed_ns),
            }
        })
        .collect()
}

/// The placeholder perf prints instead of a value.
pub fn placeholder(count: &Count) -> Option<&'static str> {
    match count {
        Count::NotSupported => Some("<not supported>"),
        Count::NotCounted => Some("<not counted>"),
        Count::Counted { .. } => None,
    }
}

/// Digits grouped by thousands: `1234567.891` with 2 decimals -> `1,234,567.89`.
pub fn group_thousands(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (sign, rest) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A metric's number as perf prints it.
pub fn metric_number(metric: &Metric) -> String {
    let two_decimals = metric.percent
        || metric.unit == "insn per cycle"
        || metric.unit == "stalled cycles per insn";
    if two_decimals {
        format!("{:.2}", metric.value)
    } else {
        format!("{:.3}", metric.value)
    }
}

/// Renders a whole report in `format`.
pub fn render(report: &StatReport, format: &Format) -> String {
    match format {
        Format::Table { big_num } => table::render(report, *big_num),
        Format::Csv { separator } => csv::render(report, separator),
        Format::Json => json::render(report, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands(0.0, 0), "0");
        assert_eq!(group_thousands(999.0, 0), "999");
        assert_eq!(group_thousands(1000.0, 0), "1,000");
        assert_eq!(group_thousands(1234567.891, 2), "1,234,567.89");
        assert_eq!(group_thousands(-1234.5, 1), "-1,234.5");
        assert_eq!(group_thousands(123456.0, 0), "123,456");
    }
}
