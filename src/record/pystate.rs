//! The Python interpreters of the recorded processes: found lazily, and the
//! thread state of each sampled thread remembered.

use std::collections::HashMap;

use crate::python::memory::{PageCache, ProcessMemory};
use crate::python::threads::PyThread;
use crate::python::PythonProcess;

use super::processes::Process;

enum State {
    /// No interpreter found while the process had these mappings.
    Absent { maps_generation: u64 },
    Present {
        interpreter: Box<PythonProcess>,
        tstates: HashMap<u32, u64>,
    },
}

/// Per process: its interpreter, if any.
#[derive(Default)]
pub struct PythonStates {
    states: HashMap<u32, State>,
}

/// Whether a process maps something that may hold an interpreter.
fn may_hold_python(process: &Process) -> bool {
    process.maps.values().any(|m| {
        let name = m.path.rsplit('/').next().unwrap_or("");
        name.starts_with("libpython") || name.starts_with("python")
    })
}

impl PythonStates {
    /// The interpreter of `process`, attaching when it first becomes possible.
    fn interpreter(
        &mut self,
        process: &Process,
    ) -> Option<(&mut PythonProcess, &mut HashMap<u32, u64>)> {
        let pid = process.pid;
        let retry = match self.states.get(&pid) {
            None => true,
            Some(State::Absent { maps_generation }) => *maps_generation != process.maps_generation,
            Some(State::Present { .. }) => false,
        };
        if retry {
            let attached = if may_hold_python(process) {
                PythonProcess::attach(pid as i32).ok().flatten()
            } else {
                None
            };
            let state = match attached {
                Some(interpreter) => State::Present {
                    interpreter: Box::new(interpreter),
                    tstates: HashMap::new(),
                },
                None => State::Absent {
                    maps_generation: process.maps_generation,
                },
            };
            self.states.insert(pid, state);
        }
        match self.states.get_mut(&pid)? {
            State::Present {
                interpreter,
                tstates,
            } => Some((interpreter, tstates)),
            State::Absent { .. } => None,
        }
    }

    /// The Python stack of thread `tid` (whose fs_base is its pthread_t),
    /// read now; `None` for threads that run no Python.
    pub fn thread(&mut self, process: &Process, tid: u32, fs_base: u64) -> Option<PyThread> {
        let (interpreter, tstates) = self.interpreter(process)?;
        let memory = ProcessMemory::new(process.pid as i32);
        let belongs = |t: &PyThread| {
            t.native_thread_id
                .map_or(t.thread_id == fs_base, |n| n == tid)
        };
        if let Some(&tstate) = tstates.get(&tid) {
            if let Ok(thread) = interpreter.read_thread(&memory, tstate) {
                if belongs(&thread) {
                    return Some(thread);
                }
            }
            tstates.remove(&tid);
        }
        let cache = PageCache::new(&memory);
        let states = interpreter.thread_states(&cache).ok()?;
        let state = states.iter().find(|s| {
            s.native_thread_id
                .map_or(s.thread_id == fs_base, |n| n == tid)
        })?;
        tstates.insert(tid, state.addr);
        Some(interpreter.read_frames(&cache, state))
    }

    /// Forgets `pid`'s interpreter (the process exec'd a new program).
    pub fn forget(&mut self, pid: u32) {
        self.states.remove(&pid);
    }

    /// Whether an interpreter was found in `pid`.
    pub fn found(&self, pid: u32) -> bool {
        matches!(self.states.get(&pid), Some(State::Present { .. }))
    }

    /// "3.12.1" for processes running CPython.
    pub fn version(&self, pid: u32) -> Option<String> {
        match self.states.get(&pid)? {
            State::Present { interpreter, .. } => Some(interpreter.version().to_string()),
            State::Absent { .. } => None,
        }
    }
}
