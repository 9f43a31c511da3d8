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

use crate::profile::{Frame, FrameKind, Profile};

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
    s.push_str(kind_suffix(frame));
    s
}

/// The label without the Python file: the function plus its kind suffix, for
/// formats that carry file and line in fields of their own (speedscope,
/// Firefox Profiler, Chrome trace).
pub fn frame_name(frame: &Frame) -> String {
    let mut s = frame.function.clone();
    s.push_str(kind_suffix(frame));
    s
}

/// `_[k]` for kernel code, `_[i]` for inlined native code, else nothing.
fn kind_suffix(frame: &Frame) -> &'static str {
    match frame.kind {
        FrameKind::Kernel => "_[k]",
        FrameKind::Native if frame.inlined => "_[i]",
        _ => "",
    }
}

/// The file a frame's code comes from, for formats with one file field: the
/// source file (Python file, or native source from debug info), else the
/// binary or library, else nothing.
pub fn frame_file(frame: &Frame) -> Option<&str> {
    frame.file.as_deref().or(frame.module.as_deref())
}

/// The object a frame's code lives in, as formats that group by binary want
/// it: the module of native and kernel code, `[python]` for Python code
/// (whose "object" is the interpreter), `[unknown]` for markers.
pub fn frame_object(frame: &Frame) -> &str {
    match (frame.kind, frame.module.as_deref()) {
        (FrameKind::Python, _) => "[python]",
        (FrameKind::Kernel, None) => "[kernel.kallsyms]",
        (FrameKind::Native | FrameKind::Kernel, Some(module)) => module,
        _ => "[unknown]",
    }
}

/// The kind of a frame in one lowercase word (`python`, `native`, `kernel`,
/// `marker`), for category fields.
pub fn kind_name(kind: FrameKind) -> &'static str {
    match kind {
        FrameKind::Python => "python",
        FrameKind::Native => "native",
        FrameKind::Kernel => "kernel",
        FrameKind::Marker => "marker",
    }
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

/// A profile's title: the command (or the first process when attached) and
/// the event shown, e.g. `python3 app.py (cpu-clock)`.
pub fn profile_title(profile: &Profile, event: &str) -> String {
    let command = if !profile.meta.command.is_empty() {
        profile.meta.command.join(" ")
    } else if let Some(p) = profile.meta.processes.first() {
        format!("{} (pid {})", p.command, p.pid)
    } else {
        "pyperf profile".into()
    };
    format!("{command} ({event})")
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

    #[test]
    fn names_files_and_objects_keep_the_kind() {
        let p = frame(FrameKind::Python, "work", Some("app.py"), Some(12));
        assert_eq!(frame_name(&p), "work");
        assert_eq!(frame_file(&p), Some("app.py"));
        assert_eq!(frame_object(&p), "[python]");
        let n = frame(FrameKind::Native, "memcpy", None, None);
        assert_eq!(frame_file(&n), Some("/usr/lib/libx.so"));
        assert_eq!(frame_object(&n), "/usr/lib/libx.so");
        let inl = Frame {
            inlined: true,
            ..n.clone()
        };
        assert_eq!(frame_name(&inl), "memcpy_[i]");
        let k = Frame {
            module: None,
            ..frame(FrameKind::Kernel, "schedule", None, None)
        };
        assert_eq!(frame_name(&k), "schedule_[k]");
        assert_eq!(frame_object(&k), "[kernel.kallsyms]");
        assert_eq!(kind_name(FrameKind::Python), "python");
    }
}
