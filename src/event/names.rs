//! The generic hardware and software events: perf's symbolic names and aliases and
//! their `PERF_TYPE_HARDWARE` / `PERF_TYPE_SOFTWARE` encodings.
//!
//! Names and aliases follow perf's `event_symbols_hw` / `event_symbols_sw` tables
//! (tools/perf/util/parse-events.c): the first name is the one `perf list` shows
//! first ("cpu-cycles OR cycles").

use perf_event_open_sys::bindings as sys;

/// One generic event: its names and the kernel encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolEvent {
    /// The name `perf list` shows first.
    pub name: &'static str,
    /// Other spellings perf accepts (shown as "name OR alias").
    pub aliases: &'static [&'static str],
    /// `PERF_TYPE_HARDWARE` or `PERF_TYPE_SOFTWARE`.
    pub type_: u32,
    /// `PERF_COUNT_HW_*` or `PERF_COUNT_SW_*`.
    pub config: u64,
}

const fn hw(name: &'static str, aliases: &'static [&'static str], id: u32) -> SymbolEvent {
    SymbolEvent {
        name,
        aliases,
        type_: sys::PERF_TYPE_HARDWARE,
        config: id as u64,
    }
}

const fn sw(name: &'static str, aliases: &'static [&'static str], id: u32) -> SymbolEvent {
    SymbolEvent {
        name,
        aliases,
        type_: sys::PERF_TYPE_SOFTWARE,
        config: id as u64,
    }
}

/// Generic hardware events, in `PERF_COUNT_HW_*` order.
pub const HARDWARE_EVENTS: &[SymbolEvent] = &[
    hw("cpu-cycles", &["cycles"], sys::PERF_COUNT_HW_CPU_CYCLES),
    hw("instructions", &[], sys::PERF_COUNT_HW_INSTRUCTIONS),
    hw("cache-references", &[], sys::PERF_COUNT_HW_CACHE_REFERENCES),
    hw("cache-misses", &[], sys::PERF_COUNT_HW_CACHE_MISSES),
    hw(
        "branch-instructions",
        &["branches"],
        sys::PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
    ),
    hw("branch-misses", &[], sys::PERF_COUNT_HW_BRANCH_MISSES),
    hw("bus-cycles", &[], sys::PERF_COUNT_HW_BUS_CYCLES),
    hw(
        "stalled-cycles-frontend",
        &["idle-cycles-frontend"],
        sys::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
    ),
    hw(
        "stalled-cycles-backend",
        &["idle-cycles-backend"],
        sys::PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
    ),
    hw("ref-cycles", &[], sys::PERF_COUNT_HW_REF_CPU_CYCLES),
];

/// Software events, in `PERF_COUNT_SW_*` order.
pub const SOFTWARE_EVENTS: &[SymbolEvent] = &[
    sw("cpu-clock", &[], sys::PERF_COUNT_SW_CPU_CLOCK),
    sw("task-clock", &[], sys::PERF_COUNT_SW_TASK_CLOCK),
    sw("page-faults", &["faults"], sys::PERF_COUNT_SW_PAGE_FAULTS),
    sw(
        "context-switches",
        &["cs"],
        sys::PERF_COUNT_SW_CONTEXT_SWITCHES,
    ),
    sw(
        "cpu-migrations",
        &["migrations"],
        sys::PERF_COUNT_SW_CPU_MIGRATIONS,
    ),
    sw("minor-faults", &[], sys::PERF_COUNT_SW_PAGE_FAULTS_MIN),
    sw("major-faults", &[], sys::PERF_COUNT_SW_PAGE_FAULTS_MAJ),
    sw("alignment-faults", &[], sys::PERF_COUNT_SW_ALIGNMENT_FAULTS),
    sw("emulation-faults", &[], sys::PERF_COUNT_SW_EMULATION_FAULTS),
    sw("dummy", &[], sys::PERF_COUNT_SW_DUMMY),
    sw("bpf-output", &[], sys::PERF_COUNT_SW_BPF_OUTPUT),
    sw("cgroup-switches", &[], sys::PERF_COUNT_SW_CGROUP_SWITCHES),
];

impl SymbolEvent {
    /// The name followed by its aliases.
    pub fn all_names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// True when `name` is one of this event's spellings, ignoring ASCII case.
    pub fn matches(&self, name: &str) -> bool {
        self.all_names().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Finds a generic hardware or software event by any of its names, ignoring case.
pub fn lookup(name: &str) -> Option<&'static SymbolEvent> {
    HARDWARE_EVENTS
        .iter()
        .chain(SOFTWARE_EVENTS)
        .find(|e| e.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hw_and_sw_id_below_max_has_exactly_one_entry() {
        // Guards against a missing or duplicated row: the ids must be 0..MAX exactly.
        let hw_ids: Vec<u64> = HARDWARE_EVENTS.iter().map(|e| e.config).collect();
        assert_eq!(
            hw_ids,
            (0..sys::PERF_COUNT_HW_MAX as u64).collect::<Vec<_>>()
        );
        let sw_ids: Vec<u64> = SOFTWARE_EVENTS.iter().map(|e| e.config).collect();
        assert_eq!(
            sw_ids,
            (0..sys::PERF_COUNT_SW_MAX as u64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn names_are_unique_across_both_tables() {
        let mut seen = std::collections::HashSet::new();
        for e in HARDWARE_EVENTS.iter().chain(SOFTWARE_EVENTS) {
            for n in e.all_names() {
                assert!(seen.insert(n.to_ascii_lowercase()), "duplicate name {n}");
            }
        }
    }

    #[test]
    fn lookup_ignores_case_and_finds_aliases() {
        let e = lookup("CYCLES").expect("cycles");
        assert_eq!(
            (e.type_, e.config),
            (
                sys::PERF_TYPE_HARDWARE,
                sys::PERF_COUNT_HW_CPU_CYCLES as u64
            )
        );
        let e = lookup("cs").expect("cs");
        assert_eq!(e.name, "context-switches");
        assert!(lookup("cycle").is_none());
    }
}
