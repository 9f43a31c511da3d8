//! Folded stacks: `root;caller;leaf count`, one line per distinct stack, the
//! input of flamegraph.pl, inferno and speedscope (like `perf script |
//! stackcollapse-perf.pl`). Frames are written as [`super::label`] describes.

use std::collections::HashMap;
use std::io::Write;

use super::label::{folded_safe, frame_label, LabelOptions};
use super::select::{Selection, Tally, View};
use super::OutputError;
use crate::profile::Profile;

/// What a folded line counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WeightMode {
    /// Number of samples (as perf's folding does).
    #[default]
    Samples,
    /// Sum of sample weights (periods): nanoseconds for clock events,
    /// event counts otherwise.
    Weight,
}

/// Options of the folded output.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollapseOptions<'a> {
    pub selection: Selection<'a>,
    /// Put the thread (`comm-pid/tid`) as the root frame of every stack.
    pub per_thread: bool,
    pub weights: WeightMode,
    pub labels: LabelOptions,
}

/// One folded stack: labels root first, and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoldedStack {
    pub line: String,
    pub count: u64,
}

/// The folded lines of a view, sorted, without zero counts.
pub(crate) fn fold(view: &View<'_>, opts: &CollapseOptions<'_>) -> Vec<FoldedStack> {
    let labels: Vec<String> = (0..view.frame_count() as u32)
        .map(|id| folded_safe(&frame_label(view.frame(id), opts.labels)))
        .collect();
    // Tally per (thread, stack) first: far fewer of those than samples.
    let mut tallies: HashMap<(u32, u32), Tally> = HashMap::new();
    for s in view.samples() {
        let thread = if opts.per_thread { s.thread } else { 0 };
        tallies.entry((thread, s.stack)).or_default().add(Tally {
            samples: 1,
            weight: s.weight,
        });
    }
    // Distinct stacks can print alike (hidden frames, same labels): merge them.
    let mut lines: HashMap<String, u64> = HashMap::new();
    for ((thread, stack), tally) in tallies {
        let mut line = String::new();
        if opts.per_thread {
            line.push_str(&folded_safe(&view.thread_label(thread)));
        }
        for &f in view.stack(stack) {
            if !line.is_empty() {
                line.push(';');
            }
            line.push_str(&labels[f as usize]);
        }
        let count = match opts.weights {
            WeightMode::Samples => tally.samples,
            WeightMode::Weight => tally.weight,
        };
        let sum = lines.entry(line).or_default();
        *sum = sum.saturating_add(count);
    }
    let mut folded: Vec<FoldedStack> = lines
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(line, count)| FoldedStack { line, count })
        .collect();
    folded.sort_unstable_by(|a, b| a.line.cmp(&b.line));
    folded
}

/// The folded lines (`a;b;c 12`), sorted by stack.
pub fn folded_lines(
    profile: &Profile,
    opts: &CollapseOptions<'_>,
) -> Result<Vec<String>, OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    Ok(fold(&view, opts)
        .into_iter()
        .map(|f| format!("{} {}", f.line, f.count))
        .collect())
}

/// Writes the folded lines, one per line.
pub fn write_folded(
    profile: &Profile,
    opts: &CollapseOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    for f in fold(&view, opts) {
        writeln!(out, "{} {}", f.line, f.count).map_err(OutputError::Output)?;
    }
    Ok(())
}
