//! Print every Python thread's stack of a running process, innermost frame
//! last, like a traceback: `cargo run --example py_dump -- PID`.
//! (The seed of `pyperf dump`.)

use anyhow::{bail, Context};
use pyperf::python::{ProcessMemory, PythonProcess};

fn main() -> anyhow::Result<()> {
    let pid: i32 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(pid)) => pid,
        _ => bail!("usage: py_dump PID"),
    };
    let Some(mut py) = PythonProcess::attach(pid).context("finding the Python interpreter")? else {
        bail!("process {pid} is not running Python (or libpython is not loaded yet)");
    };
    println!(
        "Process {pid}: Python {} ({}, layout {:?}{})",
        py.version(),
        py.binary().display(),
        py.layout_match(),
        if py.debug_offsets().is_some() {
            ", _Py_DebugOffsets"
        } else {
            ""
        }
    );
    let mem = ProcessMemory::new(pid);
    let threads = py.read_threads(&mem).context("reading threads")?;
    // Before 3.11 thread states hold only the pthread_t: map it to a TID
    // through each thread's fs_base (stops each thread for a moment).
    let pointers = if threads.iter().any(|t| t.native_thread_id.is_none()) {
        pyperf::python::tids::thread_pointers(pid).unwrap_or_default()
    } else {
        Default::default()
    };
    for thread in threads {
        let tid = thread
            .native_thread_id
            .or_else(|| pointers.get(&thread.thread_id).copied())
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        let gil = match thread.holds_gil {
            Some(true) => " (holds the GIL)",
            _ => "",
        };
        println!("\nThread {:#x} (tid {tid}){gil}:", thread.thread_id);
        for frame in thread.frames.iter().rev() {
            let line = frame
                .line
                .map_or_else(|| "?".to_string(), |l| l.to_string());
            let entry = if frame.entry { "" } else { "  [inlined]" };
            println!("    {} ({}:{line}){entry}", frame.function, frame.filename);
        }
        if !thread.complete {
            println!("    (stack incomplete: read while changing)");
        }
    }
    let stats = py.stats();
    if stats.frames_skipped + stats.stacks_truncated > 0 {
        eprintln!(
            "skipped frames: {}, cut stacks: {}",
            stats.frames_skipped, stats.stacks_truncated
        );
    }
    Ok(())
}
