//! Code a process generated at run time, named by the process itself: the
//! perf map (/tmp/perf-PID.map) and the jitdump (/tmp/jit-PID.dump), which
//! CPython 3.12+ writes with `-X perf` / `-X perf_jit`.

use super::jitdump::JitDump;
use super::perfmap::PerfMap;
use crate::profile::Frame;

/// One named piece of JIT code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitCode {
    pub start: u64,
    pub size: u64,
    /// The name the JIT gave it (`py::qualname:file` for CPython trampolines).
    pub name: String,
}

impl JitCode {
    pub fn is_python_trampoline(&self) -> bool {
        self.name.starts_with("py::")
    }
}

/// The module name under which JIT code addresses of `pid` are recorded;
/// the symbolizer names them from the process's perf map and jitdump.
pub fn jit_module(pid: u32) -> String {
    format!("[jit-{pid}]")
}

/// The pid of a [`jit_module`] name.
pub fn jit_module_pid(module: &str) -> Option<u32> {
    module
        .strip_prefix("[jit-")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The JIT symbol sources of one process.
#[derive(Debug)]
pub struct JitSymbols {
    perf_map: PerfMap,
    jitdump: JitDump,
}

impl JitSymbols {
    pub fn for_pid(pid: u32) -> JitSymbols {
        JitSymbols {
            perf_map: PerfMap::for_pid(pid),
            jitdump: JitDump::for_pid(pid),
        }
    }

    /// Reads what the process appended since the last call.
    pub fn refresh(&mut self) {
        let _ = self.perf_map.refresh();
        let _ = self.jitdump.refresh();
    }

    /// The JIT code holding the absolute address `addr`.
    pub fn lookup(&self, addr: u64) -> Option<JitCode> {
        if let Some(e) = self.perf_map.lookup(addr) {
            return Some(JitCode {
                start: e.start,
                size: e.size,
                name: e.name.clone(),
            });
        }
        self.jitdump.lookup(addr).map(|l| JitCode {
            start: l.code_addr,
            size: l.code_size,
            name: l.name.clone(),
        })
    }

    /// The frame for `addr`: a Python frame for CPython trampolines.
    pub fn frame(&self, addr: u64) -> Option<Frame> {
        self.perf_map
            .frame(addr)
            .or_else(|| self.jitdump.frame(addr))
    }

    /// The files this process wrote, for removing those pyperf caused.
    pub fn files(&self) -> [&std::path::Path; 2] {
        [self.perf_map.path(), self.jitdump.path()]
    }
}
