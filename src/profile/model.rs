//! The in-memory profile: interned frames and stacks, weighted samples.
//!
//! Every output is computed from this model alone, so one recording feeds
//! any number of views. Frames and stacks are interned; a sample is a stack
//! id, a thread, a time and the weight it carries for the event that fired.

use serde::{Deserialize, Serialize};

/// Index into `Profile::frames`.
pub type FrameId = u32;
/// Index into `Profile::stacks`.
pub type StackId = u32;
/// Index into `Profile::threads`.
pub type ThreadIdx = u32;
/// Index into `Profile::events`.
pub type EventIdx = u16;

/// Where a frame's code lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FrameKind {
    /// A Python function (from interpreter state or a perf map).
    Python,
    /// Machine code in a user-space binary or shared library.
    Native,
    /// Kernel code.
    Kernel,
    /// Not a code location: a marker such as `[truncated]` or `[unknown]`.
    Marker,
}

/// One symbolic frame. Two frames with equal fields are the same frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    pub kind: FrameKind,
    /// Demangled function name, or the Python qualname.
    pub function: String,
    /// Source file, when debug info or the code object tells it.
    pub file: Option<String>,
    /// Source line (1-based), when known.
    pub line: Option<u32>,
    /// The binary or library holding native code (path), or `None`.
    pub module: Option<String>,
    /// True when this frame was inlined into its caller by the compiler.
    pub inlined: bool,
}

impl Frame {
    /// A marker frame such as `[truncated]`.
    pub fn marker(name: &str) -> Frame {
        Frame {
            kind: FrameKind::Marker,
            function: name.to_string(),
            file: None,
            line: None,
            module: None,
            inlined: false,
        }
    }
}

/// A recorded event, as sample weights refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// The name the user gave (after aliases are resolved), e.g. `cpu-clock`.
    pub name: String,
    /// Fixed sample period, when `-c` was used.
    pub period: Option<u64>,
    /// Sampling frequency in Hz, when `-F` was used.
    pub frequency: Option<u64>,
    /// What one unit of weight means, e.g. `ns` for cpu-clock, `events` otherwise.
    pub unit: String,
}

/// A thread that took samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadInfo {
    pub pid: u32,
    pub tid: u32,
    /// The thread's name (comm) as last seen.
    pub name: String,
}

/// A process seen during the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The command it ran (last exec).
    pub command: String,
    /// `Some("3.12.1")` when a CPython interpreter was found in it.
    pub python_version: Option<String>,
}

/// Whole-run facts recorded alongside the samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The profiled command line, or empty when attached with `-p`.
    pub command: Vec<String>,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Duration of the recording in nanoseconds.
    pub duration_ns: u64,
    /// Samples the kernel dropped (PERF_RECORD_LOST / LOST_SAMPLES).
    pub lost_samples: u64,
    /// Samples whose user stack was cut short by the stack copy.
    pub truncated_stacks: u64,
    /// Samples whose Python and native halves could not be shown to agree.
    pub inconsistent_merges: u64,
    /// Samples that carried Python frames and were checked for consistency.
    pub merged_samples: u64,
    pub processes: Vec<ProcessInfo>,
}

/// One sample: the stack that was running, on which thread, when, and its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub stack: StackId,
    pub thread: ThreadIdx,
    /// CLOCK_MONOTONIC nanoseconds.
    pub time_ns: u64,
    pub event: EventIdx,
    /// The sample period: events (or ns for clock events) this sample stands for.
    pub weight: u64,
    /// True when the thread was waiting in the kernel rather than running.
    pub idle: bool,
}

/// A complete, symbolic profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub meta: Meta,
    pub events: Vec<EventInfo>,
    pub threads: Vec<ThreadInfo>,
    pub frames: Vec<Frame>,
    /// Each stack is a root-to-leaf list of frame ids.
    pub stacks: Vec<Vec<FrameId>>,
    pub samples: Vec<Sample>,
}

impl Profile {
    /// The frames of a stack, root first.
    pub fn stack_frames(&self, stack: StackId) -> impl Iterator<Item = &Frame> + '_ {
        self.stacks[stack as usize]
            .iter()
            .map(move |&f| &self.frames[f as usize])
    }

    /// Index of the event named `name`, if it was recorded.
    pub fn event_index(&self, name: &str) -> Option<EventIdx> {
        self.events
            .iter()
            .position(|e| e.name == name)
            .map(|i| i as EventIdx)
    }
}
