//! Comparing two profiles: a differential flame graph (inferno's
//! differential mode, as `difffolded.pl` makes them) and a table of the
//! functions whose share changed most.
//!
//! Both compare *shares* (percent of each profile's total weight), so two
//! recordings of different lengths compare fairly: the flame graph scales
//! BEFORE to AFTER's total (inferno's `--normalize`), draws AFTER's stacks,
//! and colours each box by how its self weight changed, red for growth and
//! blue for shrinkage. A stack that vanished has no width in AFTER and so
//! does not show; the table lists it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use inferno::differential;
use inferno::flamegraph as inferno_fg;

use super::aggregate::{group_frames, group_tallies, GroupBy};
use super::collapse::{fold, CollapseOptions, WeightMode};
use super::label::{function_location, profile_title};
use super::select::{Selection, Tally, View};
use super::OutputError;
use crate::profile::{FrameKind, Profile};

/// Options of the comparison.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions<'a> {
    /// Event (by name, the same in both profiles), idle samples, frames.
    pub selection: Selection<'a>,
    /// Title of the flame graph; by default both commands.
    pub title: Option<&'a str>,
    /// Rows of the table.
    pub limit: usize,
}

impl Default for DiffOptions<'_> {
    fn default() -> Self {
        DiffOptions {
            selection: Selection::default(),
            title: None,
            limit: 20,
        }
    }
}

/// Renders the differential flame graph SVG.
pub fn render_diff_flamegraph(
    before: &Profile,
    after: &Profile,
    opts: &DiffOptions<'_>,
) -> Result<Vec<u8>, OutputError> {
    let collapse = CollapseOptions {
        selection: opts.selection,
        weights: WeightMode::Weight,
        ..CollapseOptions::default()
    };
    let folded_text = |profile: &Profile| -> Result<(String, String), OutputError> {
        let view = View::one_event(profile, &opts.selection)?;
        let folded = fold(&view, &collapse);
        if folded.is_empty() {
            return Err(OutputError::NoSamples {
                event: view.event_name().to_string(),
            });
        }
        let mut text = String::new();
        for f in folded {
            let _ = writeln!(text, "{} {}", f.line, f.count);
        }
        Ok((text, view.event_name().to_string()))
    };
    let (before_text, before_event) = folded_text(before)?;
    let (after_text, after_event) = folded_text(after)?;
    let mut lines = Vec::new();
    differential::from_readers(
        differential::Options {
            normalize: true,
            strip_hex: false,
        },
        before_text.as_bytes(),
        after_text.as_bytes(),
        &mut lines,
    )
    .map_err(|e| OutputError::Render(e.to_string()))?;
    let lines = String::from_utf8_lossy(&lines).into_owned();
    let mut o = inferno_fg::Options::default();
    o.title = match opts.title {
        Some(t) => t.to_string(),
        None => format!(
            "{} vs {}",
            profile_title(before, &before_event),
            profile_title(after, &after_event)
        ),
    };
    o.subtitle = Some(
        "widths: after · red: grew, blue: shrank (self share, before scaled to after's total) · click to zoom, Ctrl-F to search"
            .into(),
    );
    o.count_name = after
        .events
        .first()
        .map_or_else(|| "events".into(), |e| e.unit.clone());
    o.hash = true;
    let mut svg = Vec::new();
    inferno_fg::from_lines(&mut o, lines.lines(), &mut svg)
        .map_err(|e| OutputError::Render(e.to_string()))?;
    Ok(svg)
}

/// Renders the differential flame graph and writes it whole or not at all.
pub fn write_diff_flamegraph(
    path: &Path,
    before: &Profile,
    after: &Profile,
    opts: &DiffOptions<'_>,
) -> Result<(), OutputError> {
    let svg = render_diff_flamegraph(before, after, opts)?;
    super::write_file(path, &svg)
}

/// A function as both profiles name it: kind, name, location.
type FunctionKey = (FrameKind, String, String);

/// Self and total share (percent) of each function.
type Shares = HashMap<FunctionKey, (f64, f64)>;

/// Self and total share (percent) of each function of a profile.
fn function_shares(
    profile: &Profile,
    selection: &Selection<'_>,
) -> Result<(Shares, Tally), OutputError> {
    let view = View::one_event(profile, selection)?;
    let (per_stack, total) = view.stack_tallies();
    if total.samples == 0 {
        return Err(OutputError::NoSamples {
            event: view.event_name().to_string(),
        });
    }
    let groups = group_frames(&view, GroupBy::Function);
    let tallies = group_tallies(&view, &groups, &per_stack);
    let share = |t: Tally| t.percent_of(total);
    let mut shares = Shares::new();
    for (g, t) in tallies.iter().enumerate() {
        if t.total.samples == 0 {
            continue;
        }
        let f = view.frame(groups.example[g]);
        let key = (f.kind, f.function.clone(), function_location(f));
        let entry = shares.entry(key).or_default();
        entry.0 += share(t.self_);
        entry.1 += share(t.total);
    }
    Ok((shares, total))
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub function: String,
    pub location: String,
    /// Self share before and after, percent.
    pub self_before: f64,
    pub self_after: f64,
    /// Total share before and after, percent.
    pub total_before: f64,
    pub total_after: f64,
}

impl DiffRow {
    /// Change of the self share, percentage points.
    pub fn self_change(&self) -> f64 {
        self.self_after - self.self_before
    }

    /// Change of the total share, percentage points.
    pub fn total_change(&self) -> f64 {
        self.total_after - self.total_before
    }
}

/// The functions whose self share changed most (then total share), at most
/// `opts.limit` of them.
pub fn diff_rows(
    before: &Profile,
    after: &Profile,
    opts: &DiffOptions<'_>,
) -> Result<Vec<DiffRow>, OutputError> {
    Ok(compare(before, after, opts)?.0)
}

/// The rows and each profile's total.
fn compare(
    before: &Profile,
    after: &Profile,
    opts: &DiffOptions<'_>,
) -> Result<(Vec<DiffRow>, Tally, Tally), OutputError> {
    let (b, before_total) = function_shares(before, &opts.selection)?;
    let (a, after_total) = function_shares(after, &opts.selection)?;
    let mut keys: Vec<&FunctionKey> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<DiffRow> = keys
        .into_iter()
        .map(|key| {
            let (self_before, total_before) = b.get(key).copied().unwrap_or_default();
            let (self_after, total_after) = a.get(key).copied().unwrap_or_default();
            DiffRow {
                function: key.1.clone(),
                location: key.2.clone(),
                self_before,
                self_after,
                total_before,
                total_after,
            }
        })
        .collect();
    rows.sort_by(|x, y| {
        let k = |r: &DiffRow| (r.self_change().abs(), r.total_change().abs());
        k(y).partial_cmp(&k(x))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| x.function.cmp(&y.function))
    });
    rows.truncate(opts.limit);
    Ok((rows, before_total, after_total))
}

/// The comparison table as text.
pub fn render_diff_table(
    before: &Profile,
    after: &Profile,
    opts: &DiffOptions<'_>,
) -> Result<String, OutputError> {
    let (rows, before_total, after_total) = compare(before, after, opts)?;
    let event = View::one_event(after, &opts.selection)?
        .event_name()
        .to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Before: {}, {} samples",
        profile_title(before, &event),
        before_total.samples
    );
    let _ = writeln!(
        out,
        "# After:  {}, {} samples",
        profile_title(after, &event),
        after_total.samples
    );
    let _ = writeln!(
        out,
        "# Shares of each profile's total; change in percentage points, largest self change first"
    );
    let width = rows
        .iter()
        .map(|r| r.function.chars().count())
        .max()
        .unwrap_or(0)
        .max("Function".len());
    let _ = writeln!(
        out,
        "{:>8} {:>8} {:>8}  {:>8} {:>8} {:>8}  {:<width$}  Location",
        "Self", "->", "change", "Total", "->", "change", "Function"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>7.2}% {:>7.2}% {:>+8.2}  {:>7.2}% {:>7.2}% {:>+8.2}  {:<width$}  {}",
            r.self_before,
            r.self_after,
            r.self_change(),
            r.total_before,
            r.total_after,
            r.total_change(),
            r.function,
            r.location
        );
    }
    Ok(out)
}
