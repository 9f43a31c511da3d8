//! What a recording samples and how it captures stacks.

use crate::event::EventSpec;

/// How often samples are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Samples per second per thread (`-F`); the kernel adapts the period.
    Frequency(u64),
    /// One sample every N events (`-c`).
    Period(u64),
}

/// How user stacks are captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// Only the sampled instruction.
    None,
    /// Copy registers and `stack_bytes` of user stack with each sample and
    /// unwind them with DWARF CFI (framehop), frame pointers as the fallback.
    Dwarf { stack_bytes: u32 },
    /// The kernel walks frame pointers (only correct for code built with them).
    FramePointer,
    /// Each sample stops its thread (a perf SIGTRAP caught with ptrace), and
    /// the stacks are read from the stopped thread: the native one unwound
    /// with DWARF CFI from its live memory (never cut short), and the Python
    /// one from interpreter state; both describe the sampled instant.
    Stopped,
}

/// perf's default stack copy for `--call-graph dwarf`.
pub const DEFAULT_STACK_BYTES: u32 = 8192;
/// The kernel's limit for one stack copy (u16 sample size, 8-byte aligned).
pub const MAX_STACK_BYTES: u32 = 65528;

/// A whole recording request, minus the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    pub events: Vec<EventSpec>,
    pub rate: Rate,
    pub call_graph: CallGraph,
    /// Data pages per CPU ring buffer (a power of two).
    pub mmap_pages: usize,
    /// Follow threads and child processes created during the run.
    pub inherit: bool,
    /// Also record kernel frames (when permitted).
    pub kernel_frames: bool,
    /// With `Stopped`: read Python frames from interpreter state and merge them.
    pub python: bool,
    /// With `Stopped`: unwind native frames (off: Python frames only).
    pub native: bool,
    /// The command runs with CPython perf trampolines; their map files are
    /// removed once the recording is written.
    pub perf_map: bool,
}
