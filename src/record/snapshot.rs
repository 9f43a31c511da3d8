//! One look at every thread of a running process: each thread is stopped,
//! its native stack unwound and its Python frames merged in, then the process
//! is let go. This is `pyperf dump`, like `py-spy dump --native`.

use std::path::Path;

use nix::sys::ptrace;
use nix::unistd::Pid;

use super::processes::Processes;
use super::pystate::PythonStates;
use crate::profile::{Frame, FrameKind};
use crate::python::memory::{ProcessMemory, RemoteMemory};
use crate::python::merge::{merge, Merged};
use crate::symbols::{Symbolizer, SymbolizerOptions};
use crate::target::tracer::Tracer;
use crate::target::{attach, TargetError};
use crate::unwind::{LiveStack, ProcessUnwinder};

/// One thread as seen at the snapshot.
#[derive(Debug, Clone)]
pub struct ThreadStack {
    pub tid: u32,
    pub name: String,
    /// The kernel's scheduling state letter (R running, S sleeping, D disk wait, ...).
    pub state: char,
    /// The kernel function the thread waits in, when it is blocked.
    pub wchan: Option<String>,
    /// Root first. Native frames carry their inline chains.
    pub frames: Vec<Frame>,
    /// Whether the thread holds the GIL (Python threads).
    pub holds_gil: Option<bool>,
    /// The native and Python halves paired up exactly.
    pub consistent: bool,
}

/// The whole process at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub pid: u32,
    pub command: String,
    pub python_version: Option<String>,
    pub threads: Vec<ThreadStack>,
}

fn proc_state(pid: i32, tid: i32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.trim_start().chars().next())
        })
        .unwrap_or('?')
}

fn wchan(pid: i32, tid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan")).ok()?;
    (!text.is_empty() && text != "0").then_some(text)
}

/// Stops, reads and releases every thread of `pid`.
pub fn snapshot(pid: i32, native: bool, python: bool) -> Result<Snapshot, TargetError> {
    attach::check_pid(pid)?;
    let tids: Vec<Pid> = attach::threads_of(pid)?
        .into_iter()
        .map(Pid::from_raw)
        .collect();
    // Scheduling states are read before the threads are stopped by us.
    let states: Vec<(char, Option<String>)> = tids
        .iter()
        .map(|t| (proc_state(pid, t.as_raw()), wchan(pid, t.as_raw())))
        .collect();
    let mut tracer = Tracer::seize(&tids)?;
    let stopped = tracer.stop_all();
    let mut processes = Processes::default();
    processes.seed_from_proc(pid as u32);
    let mut symbolizer = Symbolizer::new(SymbolizerOptions::default());
    let mut pythons = PythonStates::default();
    let mut unwinder = ProcessUnwinder::default();
    let memory = ProcessMemory::new(pid);
    let mut threads = Vec::new();
    for (tid, (state, wchan)) in tids.iter().zip(states) {
        if !stopped.contains(tid) {
            continue;
        }
        let Ok(regs) = ptrace::getregs(*tid) else {
            continue;
        };
        let Some(process) = processes.process(pid as u32) else {
            continue;
        };
        let addresses = if native {
            unwinder.sync(process, &mut |path| symbolizer.elf(Path::new(path)));
            let read = |addr: u64, buf: &mut [u8]| memory.read(addr, buf).is_ok();
            unwinder
                .unwind(regs.rip, regs.rsp, regs.rbp, &mut LiveStack::new(&read))
                .frames
        } else {
            Vec::new()
        };
        let py_thread = if python {
            pythons.thread(process, tid.as_raw() as u32, regs.fs_base)
        } else {
            None
        };
        // Symbolize each native address (caller first within its inline chain).
        let mut native_frames: Vec<(Vec<Frame>, bool)> = Vec::new();
        for &addr in addresses.iter().rev() {
            let frames = symbolize(&processes, &mut symbolizer, pid as u32, addr);
            let eval = frames.first().is_some_and(|f| {
                f.function == "_PyEval_EvalFrameDefault"
                    || f.function.starts_with("_PyEval_EvalFrameDefault.")
            });
            native_frames.push((frames, eval));
        }
        let python_frames = py_thread.as_ref().map_or(&[][..], |t| &t.frames[..]);
        let merged = merge(
            &native_frames,
            python_frames,
            py_thread
                .as_ref()
                .is_some_and(|t| t.leaf_eval_without_frames),
        );
        let mut frames = Vec::new();
        for frame in merged.frames {
            match frame {
                Merged::Native(chain) => frames.extend(chain),
                Merged::Python(py) => frames.push(py.to_frame()),
            }
        }
        let name = processes
            .thread(tid.as_raw() as u32)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        threads.push(ThreadStack {
            tid: tid.as_raw() as u32,
            name,
            state,
            wchan,
            frames,
            holds_gil: py_thread.as_ref().and_then(|t| t.holds_gil),
            // Without native frames there is nothing to pair up.
            consistent: merged.consistent || !native,
        });
    }
    tracer.detach_all();
    let python_version = pythons.version(pid as u32);
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Ok(Snapshot {
        pid: pid as u32,
        command,
        python_version,
        threads,
    })
}

/// The frames (inline chain, caller first) of a user address.
fn symbolize(
    processes: &Processes,
    symbolizer: &mut Symbolizer,
    pid: u32,
    addr: u64,
) -> Vec<Frame> {
    let unknown = |module: Option<&str>| {
        vec![Frame {
            kind: FrameKind::Native,
            function: "[unknown]".into(),
            file: None,
            line: None,
            module: module.map(str::to_string),
            inlined: false,
        }]
    };
    let Some(mapping) = processes.process(pid).and_then(|p| p.mapping_at(addr)) else {
        return unknown(None);
    };
    if !mapping.is_file() {
        return unknown(Some(&mapping.path));
    }
    let svma = symbolizer
        .elf(Path::new(&*mapping.path))
        .and_then(|elf| elf.file_offset_to_svma(mapping.file_offset(addr)));
    match svma {
        Some(svma) => {
            let frames = symbolizer.symbolize(&mapping.path, mapping.build_id.as_deref(), svma);
            if frames.is_empty() {
                unknown(Some(&mapping.path))
            } else {
                frames.to_vec()
            }
        }
        None => unknown(Some(&mapping.path)),
    }
}
