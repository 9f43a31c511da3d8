//! Text reports: top functions (like `perf report`), hot source lines, and an
//! indented call tree (like pyinstrument).
//!
//! Percentages are shares of the total weight of the shown samples (for
//! cpu-clock: of the sampled CPU time). *Self* counts samples where the
//! function was running; *total* counts samples where it was anywhere on the
//! stack, once per sample even when it recurses. *Samples* is the self sample
//! count, as in `perf report`.

use std::fmt::Write as _;

use super::aggregate::{call_tree, group_frames, group_tallies, GroupBy, GroupTally, Groups};
use super::label::{function_location, line_location};
use super::select::{Selection, Tally, View};
use super::OutputError;
use crate::profile::{Frame, Profile};

/// What the report lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReportView {
    /// One row per function.
    #[default]
    Functions,
    /// One row per source line (function + file + line), to find hot lines.
    Lines,
    /// The call tree from the roots, children by weight.
    Tree,
}

/// Row order of the tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    SelfShare,
    TotalShare,
    Samples,
}

/// Options of the report.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions<'a> {
    pub selection: Selection<'a>,
    pub view: ReportView,
    pub sort: SortBy,
    /// Most rows in a table; `None` for all.
    pub limit: Option<usize>,
    /// Tree nodes below this share of the total (percent) are left out.
    pub min_percent: f64,
}

impl Default for ReportOptions<'_> {
    fn default() -> Self {
        ReportOptions {
            selection: Selection::default(),
            view: ReportView::Functions,
            sort: SortBy::SelfShare,
            limit: None,
            min_percent: 0.5,
        }
    }
}

/// The report as text.
pub fn render_report(profile: &Profile, opts: &ReportOptions<'_>) -> Result<String, OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let (per_stack, total) = view.stack_tallies();
    if total.samples == 0 {
        return Err(OutputError::NoSamples {
            event: view.event_name().to_string(),
        });
    }
    let mut out = header(&view, total);
    match opts.view {
        ReportView::Functions | ReportView::Lines => {
            let by = if opts.view == ReportView::Lines {
                GroupBy::Line
            } else {
                GroupBy::Function
            };
            let groups = group_frames(&view, by);
            let tallies = group_tallies(&view, &groups, &per_stack);
            table(&mut out, &view, &groups, &tallies, total, by, opts);
        }
        ReportView::Tree => tree(&mut out, &view, &per_stack, total, opts),
    }
    Ok(out)
}

fn header(view: &View<'_>, total: Tally) -> String {
    let meta = &view.profile.meta;
    let mut s = String::new();
    if !meta.command.is_empty() {
        let _ = writeln!(s, "# Command: {}", meta.command.join(" "));
    }
    let unit = view
        .event
        .and_then(|e| view.profile.events.get(usize::from(e)))
        .map_or("", |e| e.unit.as_str());
    let _ = writeln!(
        s,
        "# Event: {}, {} samples, total weight {} {unit}",
        view.event_name(),
        thousands(total.samples),
        thousands(total.weight)
    );
    if meta.lost_samples > 0 {
        let _ = writeln!(
            s,
            "# {} samples were lost by the kernel",
            thousands(meta.lost_samples)
        );
    }
    s
}

fn location(frame: &Frame, by: GroupBy) -> String {
    match by {
        GroupBy::Function => function_location(frame),
        GroupBy::Line => line_location(frame),
    }
}

fn table(
    out: &mut String,
    view: &View<'_>,
    groups: &Groups,
    tallies: &[GroupTally],
    total: Tally,
    by: GroupBy,
    opts: &ReportOptions<'_>,
) {
    let mut rows: Vec<usize> = (0..tallies.len())
        .filter(|&g| tallies[g].total.samples > 0)
        .collect();
    let key = |g: usize| {
        let t = &tallies[g];
        match opts.sort {
            SortBy::SelfShare => (t.self_.weight, t.total.weight, t.self_.samples),
            SortBy::TotalShare => (t.total.weight, t.self_.weight, t.total.samples),
            SortBy::Samples => (t.self_.samples, t.self_.weight, t.total.weight),
        }
    };
    let name = |g: usize| &view.frame(groups.example[g]).function;
    rows.sort_by(|&a, &b| key(b).cmp(&key(a)).then_with(|| name(a).cmp(name(b))));
    rows.truncate(opts.limit.unwrap_or(usize::MAX));
    let width = rows
        .iter()
        .map(|&g| name(g).chars().count())
        .max()
        .unwrap_or(0)
        .max("Function".len());
    let _ = writeln!(
        out,
        "{:>7}  {:>7}  {:>9}  {:<width$}  {}",
        "Self%",
        "Total%",
        "Samples",
        "Function",
        if by == GroupBy::Line {
            "Line"
        } else {
            "Location"
        }
    );
    for g in rows {
        let t = &tallies[g];
        let frame = view.frame(groups.example[g]);
        let _ = writeln!(
            out,
            "{:>6.2}%  {:>6.2}%  {:>9}  {:<width$}  {}",
            t.self_.percent_of(total),
            t.total.percent_of(total),
            t.self_.samples,
            frame.function,
            location(frame, by)
        );
    }
}

fn tree(
    out: &mut String,
    view: &View<'_>,
    per_stack: &[Tally],
    total: Tally,
    opts: &ReportOptions<'_>,
) {
    let groups = group_frames(view, GroupBy::Function);
    let nodes = call_tree(view, &groups, per_stack);
    let _ = writeln!(out, "{:>7}  {:>7}  Call tree", "Total%", "Self%");
    let shown = |n: usize| nodes[n].total.percent_of(total) >= opts.min_percent;
    let sorted_children = |n: usize| {
        let mut c: Vec<usize> = nodes[n]
            .children
            .iter()
            .copied()
            .filter(|&c| shown(c))
            .collect();
        c.sort_by(|&a, &b| {
            nodes[b]
                .total
                .weight
                .cmp(&nodes[a].total.weight)
                .then_with(|| nodes[b].total.samples.cmp(&nodes[a].total.samples))
        });
        c
    };
    // Depth-first without recursion: deep stacks cannot overflow ours.
    // Each entry: node, prefix for its children, its own branch glyph.
    let mut todo: Vec<(usize, String, &str)> = sorted_children(0)
        .into_iter()
        .rev()
        .map(|c| (c, String::new(), ""))
        .collect();
    while let Some((n, prefix, branch)) = todo.pop() {
        let node = &nodes[n];
        let frame = view.frame(groups.example[node.group as usize]);
        let _ = writeln!(
            out,
            "{:>6.2}%  {:>6.2}%  {prefix}{branch}{}  {}",
            node.total.percent_of(total),
            node.self_.percent_of(total),
            frame.function,
            function_location(frame)
        );
        let child_prefix = match branch {
            "├─ " => format!("{prefix}│  "),
            "└─ " => format!("{prefix}   "),
            _ => prefix.clone(),
        };
        let children = sorted_children(n);
        let last = children.len().saturating_sub(1);
        for (i, c) in children.into_iter().enumerate().rev() {
            let glyph = if i == last { "└─ " } else { "├─ " };
            todo.push((c, child_prefix.clone(), glyph));
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(ch);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_001_001), "1,001,001");
    }
}
