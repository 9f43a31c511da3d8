//! Merging a thread's Python frames into its native stack.
//!
//! Walking the native stack from the root, every frame of the eval loop
//! (`_PyEval_EvalFrameDefault`) is replaced by the Python frames that C call
//! ran: in 3.8-3.10 exactly one, in 3.11+ every frame up to and including the
//! next entry frame (one C eval call runs several inlined Python calls). When
//! the counts disagree (a stack cut short, a read torn), the Python frames are
//! matched from the innermost end, the unmatched outer ones are put at the
//! root, and the result is flagged inconsistent.

use super::frames::PyFrame;

/// One frame of a merged stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged<'p, N> {
    Native(N),
    Python(&'p PyFrame),
}

/// A merged stack, root first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedStack<'p, N> {
    pub frames: Vec<Merged<'p, N>>,
    /// Every eval-loop frame had its own group of Python frames and vice versa.
    pub consistent: bool,
}

/// Splits Python frames (innermost first) into the groups each eval-loop
/// call ran, outermost group first, frames in each group outermost first.
fn groups(python_inner_first: &[PyFrame]) -> Vec<Vec<&PyFrame>> {
    let mut groups: Vec<Vec<&PyFrame>> = Vec::new();
    let mut current: Vec<&PyFrame> = Vec::new();
    for frame in python_inner_first {
        current.push(frame);
        if frame.entry {
            current.reverse();
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        // Frames above the last entry frame: the outermost eval call's, when
        // the reader could not see its entry mark.
        current.reverse();
        groups.push(current);
    }
    groups.reverse();
    groups
}

/// Merges `native` (root first; `true` marks eval-loop frames) with the
/// thread's Python frames (innermost first). `leaf_eval_without_frames`: the
/// innermost eval call has not pushed a Python frame yet (3.12+).
pub fn merge<'p, N: Clone>(
    native: &[(N, bool)],
    python_inner_first: &'p [PyFrame],
    leaf_eval_without_frames: bool,
) -> MergedStack<'p, N> {
    let mut groups = groups(python_inner_first);
    if leaf_eval_without_frames {
        groups.push(Vec::new());
    }
    let evals = native.iter().filter(|(_, eval)| *eval).count();
    let consistent = evals == groups.len();
    // Match from the innermost end: the leaf side of a stack is the reliable one.
    let unmatched_groups = groups.len().saturating_sub(evals);
    let unmatched_evals = evals.saturating_sub(groups.len());
    let mut frames: Vec<Merged<'p, N>> = groups[..unmatched_groups]
        .iter()
        .flatten()
        .map(|f| Merged::Python(f))
        .collect();
    let mut next_group = unmatched_groups;
    let mut eval_index = 0;
    for (frame, eval) in native {
        if !eval {
            frames.push(Merged::Native(frame.clone()));
            continue;
        }
        eval_index += 1;
        if eval_index <= unmatched_evals {
            frames.push(Merged::Native(frame.clone()));
            continue;
        }
        frames.extend(groups[next_group].iter().map(|f| Merged::Python(f)));
        next_group += 1;
    }
    MergedStack { frames, consistent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(name: &str, entry: bool) -> PyFrame {
        PyFrame {
            function: name.into(),
            filename: "app.py".into(),
            line: Some(1),
            first_line: 1,
            code_address: 0,
            entry,
        }
    }

    fn names<'a>(stack: &MergedStack<'a, &'a str>) -> Vec<String> {
        stack
            .frames
            .iter()
            .map(|f| match f {
                Merged::Native(n) => n.to_string(),
                Merged::Python(p) => format!("py:{}", p.function),
            })
            .collect()
    }

    #[test]
    fn one_frame_per_eval_call_before_3_11() {
        let native = [
            ("main", false),
            ("eval", true),
            ("call", false),
            ("eval", true),
            ("cfunc", false),
            ("c_spin", false),
        ];
        let python = [py("call_native", true), py("<module>", true)];
        let merged = merge(&native, &python, false);
        assert!(merged.consistent);
        assert_eq!(
            names(&merged),
            [
                "main",
                "py:<module>",
                "call",
                "py:call_native",
                "cfunc",
                "c_spin"
            ]
        );
    }

    #[test]
    fn inlined_python_calls_share_one_eval_call_from_3_11() {
        // <module> -> main -> call_native all run in one eval call; spin() enters C.
        let native = [
            ("Py_RunMain", false),
            ("eval", true),
            ("cfunction_call", false),
            ("c_spin_inner", false),
        ];
        let python = [
            py("call_native", false),
            py("main", false),
            py("<module>", true),
        ];
        let merged = merge(&native, &python, false);
        assert!(merged.consistent);
        assert_eq!(
            names(&merged),
            [
                "Py_RunMain",
                "py:<module>",
                "py:main",
                "py:call_native",
                "cfunction_call",
                "c_spin_inner"
            ]
        );
    }

    #[test]
    fn a_fresh_eval_call_without_frames_maps_to_nothing() {
        let native = [("eval", true), ("call", false), ("eval", true)];
        let python = [py("f", true)];
        let merged = merge(&native, &python, true);
        assert!(merged.consistent);
        assert_eq!(names(&merged), ["py:f", "call"]);
    }

    #[test]
    fn mismatches_match_the_leaf_side_and_are_flagged() {
        // The native stack lost its root: one eval frame for two groups.
        let native = [("eval", true), ("c_leaf", false)];
        let python = [py("inner", true), py("<module>", true)];
        let merged = merge(&native, &python, false);
        assert!(!merged.consistent);
        assert_eq!(names(&merged), ["py:<module>", "py:inner", "c_leaf"]);
        // More eval frames than groups: the outer ones stay native.
        let native = [("eval", true), ("eval", true), ("c_leaf", false)];
        let python = [py("inner", true)];
        let merged = merge(&native, &python, false);
        assert!(!merged.consistent);
        assert_eq!(names(&merged), ["eval", "py:inner", "c_leaf"]);
    }

    #[test]
    fn no_python_frames_leaves_the_native_stack() {
        let native = [("main", false), ("work", false)];
        let merged = merge(&native, &[], false);
        assert!(merged.consistent);
        assert_eq!(names(&merged), ["main", "work"]);
    }
}
