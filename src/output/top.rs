//! The table of `pyperf top`: the hottest functions (mixed Python and
//! native), as py-spy's `top` shows them: `%Own` and `%Total` over the last
//! refresh interval, `OwnTime` and `TotalTime` since the start.
//!
//! This module computes and formats the table from a profile (the part of a
//! recording written so far); the terminal handling lives with the command.

use std::fmt::Write as _;

use super::aggregate::{group_frames, group_tallies, GroupBy};
use super::label::{function_location, line_location};
use super::select::{Selection, Tally, View};
use super::OutputError;
use crate::profile::{FrameKind, Profile};

/// Options of the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct TopOptions<'a> {
    pub selection: Selection<'a>,
    /// One row per source line instead of per function.
    pub lines: bool,
    /// Samples after this time (CLOCK_MONOTONIC ns) make the "recent"
    /// shares; `None`: all samples.
    pub since_ns: Option<u64>,
}

/// One function of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopRow {
    pub kind: FrameKind,
    pub function: String,
    /// Python file, native binary, `[kernel]` (with `:line` for line rows).
    pub location: String,
    /// Self and total shares of the recent samples, percent.
    pub own_recent: f64,
    pub total_recent: f64,
    /// Self and total weight of all samples (ns for clock events).
    pub own: u64,
    pub total: u64,
}

/// The table, rows hottest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TopTable {
    pub rows: Vec<TopRow>,
    /// Shown samples in all and in the recent window.
    pub samples: u64,
    pub recent_samples: u64,
    /// Time of the newest sample (CLOCK_MONOTONIC ns), 0 without samples.
    pub newest_ns: u64,
    /// Event shown and the unit of its weights (`ns` for clocks).
    pub event: String,
    pub unit: String,
}

/// Computes the table; a profile without samples gives an empty table.
pub fn top_table(profile: &Profile, opts: &TopOptions<'_>) -> Result<TopTable, OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let since = opts.since_ns.unwrap_or(0);
    let (all, all_total) = view.stack_tallies();
    let recent_samples = view.samples().filter(|s| s.time_ns > since);
    let (recent, recent_total) = view.stack_tallies_of(recent_samples);
    let by = if opts.lines {
        GroupBy::Line
    } else {
        GroupBy::Function
    };
    let groups = group_frames(&view, by);
    let all_groups = group_tallies(&view, &groups, &all);
    let recent_groups = group_tallies(&view, &groups, &recent);
    let share = |part: Tally| part.percent_of(recent_total);
    let mut rows: Vec<TopRow> = (0..groups.example.len())
        .filter(|&g| all_groups[g].total.samples > 0)
        .map(|g| {
            let f = view.frame(groups.example[g]);
            TopRow {
                kind: f.kind,
                function: f.function.clone(),
                location: if opts.lines {
                    line_location(f)
                } else {
                    function_location(f)
                },
                own_recent: share(recent_groups[g].self_),
                total_recent: share(recent_groups[g].total),
                own: all_groups[g].self_.weight,
                total: all_groups[g].total.weight,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.own_recent
            .partial_cmp(&a.own_recent)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.own.cmp(&a.own))
            .then(b.total.cmp(&a.total))
            .then_with(|| a.function.cmp(&b.function))
    });
    Ok(TopTable {
        rows,
        samples: all_total.samples,
        recent_samples: recent_total.samples,
        newest_ns: view.samples().map(|s| s.time_ns).max().unwrap_or(0),
        event: view.event_name().to_string(),
        unit: view
            .event_info()
            .map_or_else(String::new, |e| e.unit.clone()),
    })
}

/// A weight as the table shows it: seconds for ns, else a count.
fn amount(weight: u64, unit: &str) -> String {
    if unit == "ns" {
        format!("{:.2}s", weight as f64 / 1e9)
    } else if weight >= 10_000_000 {
        format!("{:.1}M", weight as f64 / 1e6)
    } else if weight >= 10_000 {
        format!("{:.1}k", weight as f64 / 1e3)
    } else {
        weight.to_string()
    }
}

/// The table as lines at most `width` characters wide, at most `rows` rows
/// (after the column header).
pub fn render_top_rows(table: &TopTable, width: usize, rows: usize) -> Vec<String> {
    let mut lines = Vec::with_capacity(rows + 1);
    let mut header = String::new();
    let _ = write!(
        header,
        "{:>7} {:>7} {:>9} {:>9}  {:<6}  Function (location)",
        "%Own", "%Total", "OwnTime", "TotalTime", "Kind"
    );
    lines.push(clip(&header, width));
    for r in table.rows.iter().take(rows) {
        let kind = match r.kind {
            FrameKind::Python => "py",
            FrameKind::Native => "native",
            FrameKind::Kernel => "kernel",
            FrameKind::Marker => "-",
        };
        let line = format!(
            "{:>6.1}% {:>6.1}% {:>9} {:>9}  {:<6}  {} ({})",
            r.own_recent,
            r.total_recent,
            amount(r.own, &table.unit),
            amount(r.total, &table.unit),
            kind,
            r.function,
            r.location
        );
        lines.push(clip(&line, width));
    }
    lines
}

/// `s` cut to `width` characters.
fn clip(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{EventInfo, Frame, ProfileBuilder, Sample, ThreadInfo};

    fn frame(kind: FrameKind, name: &str) -> Frame {
        Frame {
            kind,
            function: name.into(),
            file: Some("app.py".into()),
            line: Some(3),
            module: Some("/lib/x.so".into()),
            inlined: false,
        }
    }

    /// main;hot (native) early, main;warm (Python) late: 1 ms each.
    fn profile() -> Profile {
        let mut b = ProfileBuilder::new();
        b.add_event(EventInfo {
            name: "cpu-clock".into(),
            period: None,
            frequency: Some(1000),
            unit: "ns".into(),
        });
        b.add_thread(ThreadInfo {
            pid: 1,
            tid: 1,
            name: "t".into(),
        });
        let main = frame(FrameKind::Python, "main");
        let hot = b.intern_frames([main.clone(), frame(FrameKind::Native, "hot")].iter());
        let warm = b.intern_frames([main, frame(FrameKind::Python, "warm")].iter());
        for i in 0..10u64 {
            let stack = if i < 7 { hot } else { warm };
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: (i + 1) * 1_000_000,
                event: 0,
                weight: 1_000_000,
                idle: false,
            });
        }
        b.finish()
    }

    #[test]
    fn recent_shares_and_cumulative_times() {
        let p = profile();
        let all = top_table(&p, &TopOptions::default()).unwrap();
        assert_eq!(all.samples, 10);
        assert_eq!(all.rows[0].function, "hot");
        assert!((all.rows[0].own_recent - 70.0).abs() < 1e-9);
        let recent = top_table(
            &p,
            &TopOptions {
                since_ns: Some(7_000_000),
                ..TopOptions::default()
            },
        )
        .unwrap();
        assert_eq!(recent.recent_samples, 3);
        // Sorted by the recent window: warm ran last.
        assert_eq!(recent.rows[0].function, "warm");
        assert!((recent.rows[0].own_recent - 100.0).abs() < 1e-9);
        assert_eq!(recent.rows[0].own, 3_000_000);
        let main = recent.rows.iter().find(|r| r.function == "main").unwrap();
        assert_eq!(main.total, 10_000_000);
        let lines = render_top_rows(&recent, 60, 2);
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].contains("warm") && lines[1].contains("0.00s"),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 60));
    }
}
