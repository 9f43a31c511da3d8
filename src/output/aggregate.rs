//! Aggregation shared by the text outputs: frames grouped into functions or
//! source lines, self and total figures per group, and the call tree.

use std::collections::HashMap;

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
