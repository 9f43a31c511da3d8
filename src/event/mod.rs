//! Event names -> `perf_event_attr`: the table behind `pyperf list` and the `-e` parser.
//!
//! The public surface other modules use:
//! - [`parse_event_list`] turns a `-e` argument into groups of [`EventSpec`];
//! - [`EventSpec`] carries the kernel encoding (`type`, `config`, ...) and the
//!   privilege modifiers, and writes them into an attr with [`EventSpec::apply_to`].

use perf_event_open_sys::bindings::perf_event_attr;

/// What family an event belongs to; decides `perf_event_attr.type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// PERF_TYPE_HARDWARE generic events (cycles, instructions, ...).
    Hardware,
    /// PERF_TYPE_SOFTWARE events (cpu-clock, page-faults, ...).
    Software,
    /// PERF_TYPE_HW_CACHE events (L1-dcache-load-misses, ...).
    HwCache,
    /// PERF_TYPE_RAW `rNNNN`.
    Raw,
    /// A dynamic PMU from sysfs, `pmu/term=value,.../`; holds the PMU name.
    Pmu(String),
}

/// Which privilege levels are counted, from the `:u :k :h` modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modifiers {
    pub exclude_user: bool,
    pub exclude_kernel: bool,
    pub exclude_hv: bool,
}

/// One event, fully resolved to its kernel encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// Display name: canonical name plus modifier suffix as written, e.g. `cycles:u`.
    pub name: String,
    pub kind: EventKind,
    /// `perf_event_attr.type`.
    pub type_: u32,
    /// `perf_event_attr.config`.
    pub config: u64,
    /// `perf_event_attr.config1` (PMU terms such as `config1=`).
    pub config1: u64,
    /// `perf_event_attr.config2`.
    pub config2: u64,
    pub modifiers: Modifiers,
}

impl EventSpec {
    /// Writes type, config and the exclude bits into `attr`; leaves every other field alone.
    pub fn apply_to(&self, attr: &mut perf_event_attr) {
        attr.type_ = self.type_;
        attr.config = self.config;
        attr.__bindgen_anon_3.config1 = self.config1;
        attr.__bindgen_anon_4.config2 = self.config2;
        attr.set_exclude_user(self.modifiers.exclude_user as u64);
        attr.set_exclude_kernel(self.modifiers.exclude_kernel as u64);
        attr.set_exclude_hv(self.modifiers.exclude_hv as u64);
    }

    /// True for events whose count is a time in nanoseconds (cpu-clock, task-clock).
    pub fn is_clock(&self) -> bool {
        use perf_event_open_sys::bindings::{
            PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK, PERF_TYPE_SOFTWARE,
        };
        self.type_ == PERF_TYPE_SOFTWARE
            && (self.config == PERF_COUNT_SW_CPU_CLOCK as u64
                || self.config == PERF_COUNT_SW_TASK_CLOCK as u64)
    }
}

/// Events opened together: the first is the leader. A lone event is a group of one
/// with `explicit == false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    pub events: Vec<EventSpec>,
    /// True when the user wrote `{a,b}`: the kernel schedules them as one unit.
    pub explicit: bool,
}
