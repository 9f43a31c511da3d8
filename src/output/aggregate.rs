//! Aggregation shared by the text outputs: frames grouped into functions or
//! source lines, self and total figures per group, and the call tree.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use super::select::{Tally, View};
use crate::profile::{FrameId, FrameKind};

/// What one report row or tree node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupBy {
    /// A function: kind, name, file and module (lines merged).
    Function,
    /// A source line: function plus line.
    Line,
}

/// Frames grouped by [`GroupBy`].
pub(crate) struct Groups {
    /// Group of each frame id of the view.
    pub of_frame: Vec<u32>,
    /// One frame of each group, to display it.
    pub example: Vec<FrameId>,
}

type GroupKey<'a> = (
    FrameKind,
    &'a str,
    Option<&'a str>,
    Option<u32>,
    Option<&'a str>,
);

pub(crate) fn group_frames(view: &View<'_>, by: GroupBy) -> Groups {
    let mut ids: HashMap<GroupKey<'_>, u32> = HashMap::new();
    let mut groups = Groups {
        of_frame: Vec::with_capacity(view.frame_count()),
        example: Vec::new(),
    };
    for id in 0..view.frame_count() as FrameId {
        let f = view.frame(id);
        let line = match by {
            GroupBy::Function => None,
            GroupBy::Line => f.line,
        };
        let key = (
            f.kind,
            f.function.as_str(),
            f.file.as_deref(),
            line,
            f.module.as_deref(),
        );
        let next = ids.len() as u32;
        let g = *ids.entry(key).or_insert(next);
        if g == next {
            groups.example.push(id);
        }
        groups.of_frame.push(g);
    }
    groups
}

/// Self and total figures of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct GroupTally {
    /// Samples where the group is the leaf.
    pub self_: Tally,
    /// Samples where the group is anywhere on the stack, counted once per
    /// sample even when it recurses.
    pub total: Tally,
}

pub(crate) fn group_tallies(
    view: &View<'_>,
    groups: &Groups,
    per_stack: &[Tally],
) -> Vec<GroupTally> {
    let mut out = vec![GroupTally::default(); groups.example.len()];
    // Stamp of the last stack that counted each group, so recursion counts once.
    let mut seen_in = vec![usize::MAX; groups.example.len()];
    for (stack, tally) in per_stack.iter().enumerate() {
        if tally.samples == 0 {
            continue;
        }
        let frames = view.stack(stack as u32);
        if let Some(&leaf) = frames.last() {
            out[groups.of_frame[leaf as usize] as usize]
                .self_
                .add(*tally);
        }
        for &f in frames {
            let g = groups.of_frame[f as usize] as usize;
            if seen_in[g] != stack {
                seen_in[g] = stack;
                out[g].total.add(*tally);
            }
        }
    }
    out
}

/// One node of the call tree: a group reached through one call path.
#[derive(Debug, Clone)]
pub(crate) struct TreeNode {
    pub group: u32,
    pub total: Tally,
    pub self_: Tally,
    pub children: Vec<usize>,
}

/// Call tree, root first; node 0 is a virtual root holding every sample.
pub(crate) fn call_tree(view: &View<'_>, groups: &Groups, per_stack: &[Tally]) -> Vec<TreeNode> {
    let mut nodes = vec![TreeNode {
        group: u32::MAX,
        total: Tally::default(),
        self_: Tally::default(),
        children: Vec::new(),
    }];
    let mut child_of: HashMap<(usize, u32), usize> = HashMap::new();
    for (stack, tally) in per_stack.iter().enumerate() {
        if tally.samples == 0 {
            continue;
        }
        let mut node = 0;
        nodes[0].total.add(*tally);
        for &f in view.stack(stack as u32) {
            let group = groups.of_frame[f as usize];
            let next = nodes.len();
            let child = *child_of.entry((node, group)).or_insert(next);
            if child == next {
                nodes.push(TreeNode {
                    group,
                    total: Tally::default(),
                    self_: Tally::default(),
                    children: Vec::new(),
                });
                nodes[node].children.push(child);
            }
            nodes[child].total.add(*tally);
            node = child;
        }
        nodes[node].self_.add(*tally);
    }
    nodes
}

/// The smallest known line of each group's frames: the nearest a sampler
/// gets to where a function starts (it never sees the `def` line itself).
pub(crate) fn first_lines(view: &View<'_>, groups: &Groups) -> Vec<Option<u32>> {
    let mut lines: Vec<Option<u32>> = vec![None; groups.example.len()];
    for (id, &g) in groups.of_frame.iter().enumerate() {
        if let Some(line) = view.frame(id as FrameId).line {
            let first = &mut lines[g as usize];
            *first = Some(first.map_or(line, |l| l.min(line)));
        }
    }
    lines
}

/// Groups merged further: `merged[g]` is the new group of old group `g`
/// (new ids dense from 0, in order of first use).
pub(crate) fn merge_groups(groups: &Groups, merged: &[u32]) -> Groups {
    let count = merged.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
    let mut example = vec![FrameId::MAX; count];
    for (old, &new) in merged.iter().enumerate() {
        if example[new as usize] == FrameId::MAX {
            example[new as usize] = groups.example[old];
        }
    }
    Groups {
        of_frame: groups
            .of_frame
            .iter()
            .map(|&g| merged[g as usize])
            .collect(),
        example,
    }
}

/// What one call edge (caller frame -> callee frame, as the key names it) costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EdgeTally {
    /// Samples where the edge is on the stack, counted once per sample even
    /// when recursion repeats it: the callee's cost when called this way.
    pub total: Tally,
    /// Samples where the callee is the leaf and this caller called it.
    pub self_: Tally,
}

/// Tallies of every caller -> callee edge, keyed by `key(caller, callee)`
/// (frame ids of the view; the key decides what counts as the same edge).
pub(crate) fn edge_tallies<K: Hash + Eq + Clone>(
    view: &View<'_>,
    per_stack: &[Tally],
    mut key: impl FnMut(FrameId, FrameId) -> K,
) -> HashMap<K, EdgeTally> {
    let mut edges: HashMap<K, EdgeTally> = HashMap::new();
    let mut seen: HashSet<K> = HashSet::new();
    for (stack, tally) in per_stack.iter().enumerate() {
        if tally.samples == 0 {
            continue;
        }
        let frames = view.stack(stack as u32);
        seen.clear();
        for (i, pair) in frames.windows(2).enumerate() {
            let k = key(pair[0], pair[1]);
            let edge = edges.entry(k.clone()).or_default();
            if i + 2 == frames.len() {
                edge.self_.add(*tally);
            }
            if seen.insert(k) {
                edge.total.add(*tally);
            }
        }
    }
    edges
}
