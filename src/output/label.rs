//! How frames are written in every text output. One convention, used by
//! folded stacks, flame graphs, reports and script output alike:
//!
//! | kind | label | example |
//! |------|-------|---------|
//! | Python | `function (file:line)`, `function (file)` without a line | `parse (/app/json_io.py:42)` |
//! | native | `function`, plus `_[i]` when inlined | `PyObject_Call`, `memcpy_[i]` |
//! | kernel | `function_[k]` | `clear_page_erms_[k]` |
//! | marker | as is | `[truncated]` |
//!
//! Python frames carry their file because Python programs reuse function
//! names across files (`__init__`, `run`, `<module>`); the line is the line
//! executing in that frame (for callers, the call site), as py-spy shows it.
//! The `_[k]` and `_[i]` suffixes are the ones perf's folding and flame graph
//! palettes understand. Native source lines are left to `script` and the
//! report's `--lines` view so flame graphs stay readable.

use crate::profile::{Frame, FrameKind};

/// Options for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelOptions {
    /// Put the line number into Python labels (one flame graph box per line).
    pub python_lines: bool,
}

impl Default for LabelOptions {
    fn default() -> Self {
        LabelOptions { python_lines: true }
    }
}

/// The label of a frame in folded stacks and flame graphs (see the module doc).
pub fn frame_label(frame: &Frame, opts: LabelOptions) -> String {
    let mut s = frame_symbol(frame, opts);
    match frame.kind {
        FrameKind::Kernel => s.push_str("_[k]"),
        FrameKind::Native if frame.inlined => s.push_str("_[i]"),
        _ => {}
    }
    s
}

/// The label without kind suffixes: what `script` prints as the symbol.
pub fn frame_symbol(frame: &Frame, opts: LabelOptions) -> String {
    let mut s = frame.function.clone();
    if frame.kind == FrameKind::Python {
        if let Some(file) = &frame.file {
            s.push_str(" (");
            s.push_str(file);
            if let (true, Some(line)) = (opts.python_lines, frame.line) {
                s.push(':');
                s.push_str(&line.to_string());
            }
            s.push(')');
        }
    }
    s
}

/// Where a function lives, for report tables: the file of Python code, the
/// module (binary or library) of native code, `[kernel]` for the kernel.
pub fn function_location(frame: &Frame) -> String {
    match frame.kind {
        FrameKind::Python => frame.file.clone().unwrap_or_default(),
        FrameKind::Kernel => "[kernel]".into(),
        FrameKind::Native | FrameKind::Marker => frame
            .module
            .clone()
            .or_else(|| frame.file.clone())
            .unwrap_or_default(),
    }
}

/// `file:line` of a frame when both are known, else its function location.
pub fn line_location(frame: &Frame) -> String {
    match (&frame.file, frame.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => function_location(frame),
    }
}

/// A label made safe for one field of a folded line: `;` separates frames and
/// a newline ends the line, so both are replaced.
pub fn folded_safe(label: &str) -> String {
    label.replace(';', ":").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, function: &str, file: Option<&str>, line: Option<u32>) -> Frame {
        Frame {
            kind,
            function: function.into(),
            file: file.map(Into::into),
            line,
            module: Some("/usr/lib/libx.so".into()),
            inlined: false,
        }
    }

    #[test]
    fn labels_follow_the_convention() {
        let o = LabelOptions::default();
        let p = frame(FrameKind::Python, "work", Some("app.py"), Some(12));
        assert_eq!(frame_label(&p, o), "work (app.py:12)");
        assert_eq!(
            frame_label(
                &p,
                LabelOptions {
                    python_lines: false
                }
            ),
            "work (app.py)"
        );
        let n = frame(FrameKind::Native, "memcpy", Some("m.c"), Some(3));
        assert_eq!(frame_label(&n, o), "memcpy");
        let inl = Frame {
            inlined: true,
            ..n.clone()
        };
        assert_eq!(frame_label(&inl, o), "memcpy_[i]");
        assert_eq!(
            frame_label(&frame(FrameKind::Kernel, "schedule", None, None), o),
            "schedule_[k]"
        );
        assert_eq!(frame_label(&Frame::marker("[truncated]"), o), "[truncated]");
    }

    #[test]
    fn locations_name_file_module_or_kernel() {
        let p = frame(FrameKind::Python, "work", Some("app.py"), Some(12));
        assert_eq!(function_location(&p), "app.py");
        assert_eq!(line_location(&p), "app.py:12");
        let n = frame(FrameKind::Native, "f", None, None);
        assert_eq!(function_location(&n), "/usr/lib/libx.so");
        assert_eq!(line_location(&n), "/usr/lib/libx.so");
        assert_eq!(folded_safe("a;b\nc"), "a:b c");
    }
}
