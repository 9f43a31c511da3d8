//! perf-script-like text: one block per sample, in time order.
//!
//! ```text
//! (each frame line starts with a tab)
//! python3 4242/4243 1000.000123: 1001001 cpu-clock:
//!                    0 work (/srv/app.py:12) (/srv/app.py)
//!                    0 PyObject_Call (/usr/lib/libpython3.12.so.1.0)
//!                    0 clear_page_erms ([kernel.kallsyms])
//!
//! ```
//!
//! Frames are listed leaf first. The symbol is the frame label without kind
//! suffixes (see [`super::label`]), the parentheses name the module (binary or
//! library) or, for Python code, the source file (a `[name]` there would
//! read as a kernel module to perf-script parsers); `[kernel.kallsyms]` for
//! the kernel.
//! Addresses are not kept after symbolization, but the address column stays
//! (as `0`) so readers of `perf script` output (inferno, FlameGraph's
//! stackcollapse-perf.pl, speedscope, Firefox Profiler) parse the lines.

use std::io::Write;

use super::label::{frame_symbol, LabelOptions};
use super::select::{Selection, View};
use super::OutputError;
use crate::profile::{FrameKind, Profile, Sample};

/// Options of the script output.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptOptions<'a> {
    /// `selection.event == None` prints every event.
    pub selection: Selection<'a>,
    pub labels: LabelOptions,
}

/// Writes every shown sample as a perf-script block.
pub fn write_script(
    profile: &Profile,
    opts: &ScriptOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::any_event(profile, &opts.selection)?;
    let symbols: Vec<String> = (0..view.frame_count() as u32)
        .map(|id| script_frame(&view, id, opts.labels))
        .collect();
    let mut samples: Vec<&Sample> = view.samples().collect();
    samples.sort_by_key(|s| s.time_ns); // stable: equal times keep file order
    let mut block = String::new();
    for s in samples {
        block.clear();
        let (comm, pid, tid) = match profile.threads.get(s.thread as usize) {
            Some(t) => (t.name.replace(' ', "_"), t.pid, t.tid),
            None => ("[unknown]".to_string(), 0, 0),
        };
        let event = profile
            .events
            .get(usize::from(s.event))
            .map_or("[unknown-event]", |e| e.name.as_str());
        block.push_str(&format!(
            "{comm} {pid}/{tid} {}.{:06}: {} {event}:\n",
            s.time_ns / 1_000_000_000,
            s.time_ns % 1_000_000_000 / 1000,
            s.weight
        ));
        for &f in view.stack(s.stack).iter().rev() {
            block.push_str(&symbols[f as usize]);
        }
        block.push('\n');
        out.write_all(block.as_bytes())
            .map_err(OutputError::Output)?;
    }
    Ok(())
}

/// One frame line: tab, address placeholder, symbol, module in parentheses.
fn script_frame(view: &View<'_>, id: u32, labels: LabelOptions) -> String {
    let frame = view.frame(id);
    // perf-script readers take any `[name]` module for a kernel module, so
    // Python code names its source file instead.
    let module = match (frame.kind, &frame.module, &frame.file) {
        (FrameKind::Python, _, Some(file)) => file,
        (_, Some(module), _) => module,
        (FrameKind::Kernel, None, _) => "[kernel.kallsyms]",
        _ => "[unknown]",
    };
    let module = module.replace(' ', "_");
    format!("\t{:>16} {} ({module})\n", 0, frame_symbol(frame, labels))
}
