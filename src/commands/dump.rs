//! `pyperf dump --pid PID`: every thread's current mixed stack, innermost first.

use std::fmt::Write;

use serde::Serialize;

use crate::cli::DumpArgs;
use crate::exit;
use crate::output::label::{frame_label, LabelOptions};
use crate::profile::{Frame, FrameKind};
use crate::record::snapshot::{snapshot, Snapshot, ThreadStack};

fn shown(frame: &Frame, show_libpython: bool) -> bool {
    show_libpython || super::views::not_interpreter(frame)
}

fn state_text(thread: &ThreadStack) -> String {
    match (thread.state, &thread.wchan) {
        ('R', _) => "running".to_string(),
        (_, Some(wchan)) => format!("waiting in {wchan}"),
        ('S', None) => "sleeping".to_string(),
        (other, None) => format!("state {other}"),
    }
}

fn render_text(snap: &Snapshot, show_libpython: bool) -> String {
    let mut out = format!("Process {}: {}\n", snap.pid, snap.command);
    if let Some(version) = &snap.python_version {
        let _ = writeln!(out, "Python {version}");
    }
    for thread in &snap.threads {
        let gil = if thread.holds_gil == Some(true) {
            ", holds the GIL"
        } else {
            ""
        };
        let _ = write!(
            out,
            "\nThread {} \"{}\" ({}{gil})",
            thread.tid,
            thread.name,
            state_text(thread)
        );
        if !thread.consistent {
            out.push_str(" [python and native frames did not pair up]");
        }
        out.push('\n');
        for frame in thread
            .frames
            .iter()
            .rev()
            .filter(|f| shown(f, show_libpython))
        {
            let mut label = frame_label(frame, LabelOptions::default());
            if frame.kind == FrameKind::Native {
                if let (Some(file), Some(line)) = (&frame.file, frame.line) {
                    let file = file.rsplit('/').next().unwrap_or(file);
                    let _ = write!(label, " ({file}:{line})");
                }
            }
            let _ = writeln!(out, "    {label}");
        }
    }
    out
}

#[derive(Serialize)]
struct JsonThread<'a> {
    tid: u32,
    name: &'a str,
    state: String,
    holds_gil: Option<bool>,
    consistent: bool,
    /// Innermost first.
    frames: Vec<&'a Frame>,
}

pub fn run(args: &DumpArgs) -> anyhow::Result<i32> {
    let snap =
        snapshot(args.pid, !args.no_native, true).map_err(|e| exit::with_code(1, e.to_string()))?;
    let text = if args.json {
        let threads: Vec<JsonThread<'_>> = snap
            .threads
            .iter()
            .map(|t| JsonThread {
                tid: t.tid,
                name: &t.name,
                state: state_text(t),
                holds_gil: t.holds_gil,
                consistent: t.consistent,
                frames: t
                    .frames
                    .iter()
                    .rev()
                    .filter(|f| shown(f, args.show_libpython))
                    .collect(),
            })
            .collect();
        let doc = serde_json::json!({ "pid": snap.pid, "command": snap.command, "python_version": snap.python_version, "threads": threads });
        format!("{}\n", serde_json::to_string_pretty(&doc)?)
    } else {
        render_text(&snap, args.show_libpython)
    };
    print!("{text}");
    Ok(0)
}
