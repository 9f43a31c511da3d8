//! Event names -> `perf_event_attr`: the table behind `pyperf list` and the `-e` parser.
//!
//! The public surface other modules use:
//! - [`parse_event_list`] turns a `-e` argument into groups of [`EventSpec`];
//! - [`default_stat_events`] is what `pyperf stat` counts without `-e`;
//! - [`EventSpec`] carries the kernel encoding (`type`, `config`, ...) and the
//!   modifiers, and writes them into an attr with [`EventSpec::apply_to`];
//! - [`list_entries`] and [`format_list`] are `pyperf list`.
//!
//! Names, aliases and encodings follow perf 6.1 (tools/perf/util/parse-events.c,
//! evsel.c) and include/uapi/linux/perf_event.h. Nothing here makes a system call
//! except reading sysfs PMU descriptions.

mod cache;
mod error;
mod list;
mod modifiers;
mod names;
mod parse;
mod pmu;
mod suggest;

use std::path::Path;

use perf_event_open_sys::bindings as sys;
use perf_event_open_sys::bindings::perf_event_attr;

pub use cache::all_spellings as cache_event_spellings;
pub use error::EventError;
pub use list::{format_list, list_entries, list_entries_in, Category, ListEntry, NOT_SUPPORTED};
pub use pmu::SYSFS_PMU_ROOT;

/// Parses a `-e` argument: comma-separated events and `{...}` groups, e.g.
/// `cycles,{instructions,branches}:u,msr/tsc/,r01c2:k`. Each plain event becomes a
/// group of one (`explicit == false`). PMUs are read from [`SYSFS_PMU_ROOT`].
pub fn parse_event_list(s: &str) -> Result<Vec<EventGroup>, EventError> {
    parse_event_list_in(s, Path::new(SYSFS_PMU_ROOT))
}

/// [`parse_event_list`] with the sysfs PMU directory given (tests build fake trees).
pub fn parse_event_list_in(s: &str, sysfs_root: &Path) -> Result<Vec<EventGroup>, EventError> {
    parse::parse_event_list_in(s, sysfs_root)
}

/// What `perf stat` 6.1 counts without `-e`, in its order: task-clock,
/// context-switches, cpu-migrations, page-faults, cycles, [stalled-cycles-frontend,
/// stalled-cycles-backend,] instructions, branches, branch-misses. The stalled-cycles
/// pair is added only where the `cpu` PMU advertises it in sysfs (AMD), as perf does.
/// (For system-wide counting, `-a`, perf uses cpu-clock instead of task-clock; perf's
/// x86 topdown metrics are not included.)
pub fn default_stat_events() -> Vec<EventGroup> {
    default_stat_events_in(Path::new(SYSFS_PMU_ROOT))
}

/// [`default_stat_events`] with the sysfs PMU directory given.
pub fn default_stat_events_in(sysfs_root: &Path) -> Vec<EventGroup> {
    let sw = |name: &'static str, id: u32| (name, EventKind::Software, sys::PERF_TYPE_SOFTWARE, id);
    let hw = |name: &'static str, id: u32| (name, EventKind::Hardware, sys::PERF_TYPE_HARDWARE, id);
    let mut list = vec![
        sw("task-clock", sys::PERF_COUNT_SW_TASK_CLOCK),
        sw("context-switches", sys::PERF_COUNT_SW_CONTEXT_SWITCHES),
        sw("cpu-migrations", sys::PERF_COUNT_SW_CPU_MIGRATIONS),
        sw("page-faults", sys::PERF_COUNT_SW_PAGE_FAULTS),
        hw("cycles", sys::PERF_COUNT_HW_CPU_CYCLES),
    ];
    let cpu_has = |event: &str| sysfs_root.join("cpu/events").join(event).is_file();
    if cpu_has("stalled-cycles-frontend") {
        list.push(hw(
            "stalled-cycles-frontend",
            sys::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
        ));
    }
    if cpu_has("stalled-cycles-backend") {
        list.push(hw(
            "stalled-cycles-backend",
            sys::PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
        ));
    }
    list.extend([
        hw("instructions", sys::PERF_COUNT_HW_INSTRUCTIONS),
        hw("branches", sys::PERF_COUNT_HW_BRANCH_INSTRUCTIONS),
        hw("branch-misses", sys::PERF_COUNT_HW_BRANCH_MISSES),
    ]);
    list.into_iter()
        .map(|(name, kind, type_, id)| EventGroup {
            events: vec![EventSpec {
                name: name.to_string(),
                kind,
                type_,
                config: u64::from(id),
                config1: 0,
                config2: 0,
                modifiers: Modifiers::default(),
            }],
            explicit: false,
        })
        .collect()
}

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

/// The `:u :k :h :p` modifiers: which privilege levels are counted, and the
/// requested sampling precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modifiers {
    pub exclude_user: bool,
    pub exclude_kernel: bool,
    pub exclude_hv: bool,
    /// `perf_event_attr.precise_ip`, 0..=3: the number of `p` modifiers.
    pub precise: u8,
}

/// One event, fully resolved to its kernel encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// Display name, as perf shows it: the event as the user wrote it including its own
    /// modifiers (`cycles:u`, `cs`, `msr/tsc/`), or the `name=` term of a PMU event.
    /// A group's modifiers are not appended. Entries of `pyperf list` carry the
    /// canonical name.
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
    /// Writes type, config, config1, config2, the exclude bits and precise_ip into
    /// `attr`; leaves every other field alone.
    pub fn apply_to(&self, attr: &mut perf_event_attr) {
        attr.type_ = self.type_;
        attr.config = self.config;
        attr.__bindgen_anon_3.config1 = self.config1;
        attr.__bindgen_anon_4.config2 = self.config2;
        attr.set_exclude_user(self.modifiers.exclude_user as u64);
        attr.set_exclude_kernel(self.modifiers.exclude_kernel as u64);
        attr.set_exclude_hv(self.modifiers.exclude_hv as u64);
        attr.set_precise_ip(u64::from(self.modifiers.precise));
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

#[cfg(test)]
mod tests {
    use super::pmu::test_tree::fake_root;
    use super::*;
    use sys::*;

    thread_local! {
        // One fake sysfs tree per test thread, removed when the thread ends.
        static ROOT: tempfile::TempDir = fake_root();
    }

    fn root() -> std::path::PathBuf {
        ROOT.with(|r| r.path().to_path_buf())
    }

    fn one(s: &str) -> EventSpec {
        let groups = parse_event_list_in(s, &root()).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(groups.len(), 1, "{s}");
        assert_eq!(groups[0].events.len(), 1, "{s}");
        groups[0].events[0].clone()
    }

    fn err(s: &str) -> EventError {
        parse_event_list_in(s, &root()).expect_err(s)
    }

    fn enc(s: &str) -> (u32, u64) {
        let e = one(s);
        (e.type_, e.config)
    }

    #[test]
    fn generic_events_match_the_kernel_abi() {
        // Written out from include/uapi/linux/perf_event.h and perf's name table.
        let hw = |id: u32| (PERF_TYPE_HARDWARE, id as u64);
        let sw = |id: u32| (PERF_TYPE_SOFTWARE, id as u64);
        let table = [
            ("cycles", hw(PERF_COUNT_HW_CPU_CYCLES)),
            ("cpu-cycles", hw(PERF_COUNT_HW_CPU_CYCLES)),
            ("instructions", hw(PERF_COUNT_HW_INSTRUCTIONS)),
            ("cache-references", hw(PERF_COUNT_HW_CACHE_REFERENCES)),
            ("cache-misses", hw(PERF_COUNT_HW_CACHE_MISSES)),
            ("branches", hw(PERF_COUNT_HW_BRANCH_INSTRUCTIONS)),
            ("branch-instructions", hw(PERF_COUNT_HW_BRANCH_INSTRUCTIONS)),
            ("branch-misses", hw(PERF_COUNT_HW_BRANCH_MISSES)),
            ("bus-cycles", hw(PERF_COUNT_HW_BUS_CYCLES)),
            (
                "stalled-cycles-frontend",
                hw(PERF_COUNT_HW_STALLED_CYCLES_FRONTEND),
            ),
            (
                "idle-cycles-frontend",
                hw(PERF_COUNT_HW_STALLED_CYCLES_FRONTEND),
            ),
            (
                "stalled-cycles-backend",
                hw(PERF_COUNT_HW_STALLED_CYCLES_BACKEND),
            ),
            (
                "idle-cycles-backend",
                hw(PERF_COUNT_HW_STALLED_CYCLES_BACKEND),
            ),
            ("ref-cycles", hw(PERF_COUNT_HW_REF_CPU_CYCLES)),
            ("cpu-clock", sw(PERF_COUNT_SW_CPU_CLOCK)),
            ("task-clock", sw(PERF_COUNT_SW_TASK_CLOCK)),
            ("page-faults", sw(PERF_COUNT_SW_PAGE_FAULTS)),
            ("faults", sw(PERF_COUNT_SW_PAGE_FAULTS)),
            ("minor-faults", sw(PERF_COUNT_SW_PAGE_FAULTS_MIN)),
            ("major-faults", sw(PERF_COUNT_SW_PAGE_FAULTS_MAJ)),
            ("context-switches", sw(PERF_COUNT_SW_CONTEXT_SWITCHES)),
            ("cs", sw(PERF_COUNT_SW_CONTEXT_SWITCHES)),
            ("cpu-migrations", sw(PERF_COUNT_SW_CPU_MIGRATIONS)),
            ("migrations", sw(PERF_COUNT_SW_CPU_MIGRATIONS)),
            ("alignment-faults", sw(PERF_COUNT_SW_ALIGNMENT_FAULTS)),
            ("emulation-faults", sw(PERF_COUNT_SW_EMULATION_FAULTS)),
            ("dummy", sw(PERF_COUNT_SW_DUMMY)),
            ("bpf-output", sw(PERF_COUNT_SW_BPF_OUTPUT)),
            ("cgroup-switches", sw(PERF_COUNT_SW_CGROUP_SWITCHES)),
        ];
        for (name, want) in table {
            assert_eq!(enc(name), want, "{name}");
            assert_eq!(enc(&name.to_ascii_uppercase()), want, "{name} upper-case");
        }
        assert!(one("task-clock").is_clock() && one("cpu-clock").is_clock());
        assert!(!one("cycles").is_clock() && !one("cs").is_clock());
        assert_eq!(one("cs").kind, EventKind::Software);
        assert_eq!(one("cycles").kind, EventKind::Hardware);
    }

    #[test]
    fn cache_events_match_the_kernel_abi() {
        let c = |cache: u32, op: u32, result: u32| {
            (
                PERF_TYPE_HW_CACHE,
                cache as u64 | (op as u64) << 8 | (result as u64) << 16,
            )
        };
        use sys::{
            PERF_COUNT_HW_CACHE_BPU as BPU, PERF_COUNT_HW_CACHE_DTLB as DTLB,
            PERF_COUNT_HW_CACHE_ITLB as ITLB, PERF_COUNT_HW_CACHE_L1D as L1D,
            PERF_COUNT_HW_CACHE_L1I as L1I, PERF_COUNT_HW_CACHE_LL as LL,
            PERF_COUNT_HW_CACHE_NODE as NODE, PERF_COUNT_HW_CACHE_OP_PREFETCH as PF,
            PERF_COUNT_HW_CACHE_OP_READ as RD, PERF_COUNT_HW_CACHE_OP_WRITE as WR,
            PERF_COUNT_HW_CACHE_RESULT_ACCESS as ACC, PERF_COUNT_HW_CACHE_RESULT_MISS as MISS,
        };
        let table = [
            ("L1-dcache-loads", c(L1D, RD, ACC)),
            ("L1-dcache-load-misses", c(L1D, RD, MISS)),
            ("L1-dcache-stores", c(L1D, WR, ACC)),
            ("L1-dcache-store-misses", c(L1D, WR, MISS)),
            ("L1-dcache-prefetches", c(L1D, PF, ACC)),
            ("L1-dcache-prefetch-misses", c(L1D, PF, MISS)),
            ("L1-icache-loads", c(L1I, RD, ACC)),
            ("L1-icache-load-misses", c(L1I, RD, MISS)),
            ("L1-icache-prefetches", c(L1I, PF, ACC)),
            ("LLC-loads", c(LL, RD, ACC)),
            ("LLC-load-misses", c(LL, RD, MISS)),
            ("LLC-stores", c(LL, WR, ACC)),
            ("LLC-store-misses", c(LL, WR, MISS)),
            ("LLC-prefetch-misses", c(LL, PF, MISS)),
            ("dTLB-loads", c(DTLB, RD, ACC)),
            ("dTLB-load-misses", c(DTLB, RD, MISS)),
            ("dTLB-store-misses", c(DTLB, WR, MISS)),
            ("iTLB-loads", c(ITLB, RD, ACC)),
            ("iTLB-load-misses", c(ITLB, RD, MISS)),
            ("branch-loads", c(BPU, RD, ACC)),
            ("branch-load-misses", c(BPU, RD, MISS)),
            ("node-loads", c(NODE, RD, ACC)),
            ("node-load-misses", c(NODE, RD, MISS)),
            ("node-prefetches", c(NODE, PF, ACC)),
            // Aliases (perf's evsel__hw_cache* tables) and defaults.
            ("l1-d-loads", c(L1D, RD, ACC)),
            ("l1d-store-miss", c(L1D, WR, MISS)),
            ("L1-data-speculative-load-misses", c(L1D, PF, MISS)),
            ("l1-i-prefetches", c(L1I, PF, ACC)),
            ("l1i-read-miss", c(L1I, RD, MISS)),
            ("L1-instruction", c(L1I, RD, ACC)),
            ("L2-load-miss", c(LL, RD, MISS)),
            ("llc-write-access", c(LL, WR, ACC)),
            ("d-tlb-stores", c(DTLB, WR, ACC)),
            ("Data-TLB-misses", c(DTLB, RD, MISS)),
            ("i-tlb-load-misses", c(ITLB, RD, MISS)),
            ("Instruction-TLB-ops", c(ITLB, RD, ACC)),
            ("btb-misses", c(BPU, RD, MISS)),
            ("bpc-loads", c(BPU, RD, ACC)),
            ("bpu-read-Reference", c(BPU, RD, ACC)),
            ("branches-load-misses", c(BPU, RD, MISS)),
            ("node-prefetches-miss", c(NODE, PF, MISS)),
            ("node-misses-store", c(NODE, WR, MISS)),
        ];
        for (name, want) in table {
            assert_eq!(enc(name), want, "{name}");
            assert_eq!(one(name).kind, EventKind::HwCache, "{name}");
        }
        // "branches" and "branch-misses" are the generic hardware events, as in perf.
        assert_eq!(enc("branches").0, PERF_TYPE_HARDWARE);
        assert_eq!(enc("branch-misses").0, PERF_TYPE_HARDWARE);
        // Every spelling the grammar produces parses as a cache or generic event.
        for name in cache_event_spellings() {
            let t = enc(&name).0;
            assert!(t == PERF_TYPE_HW_CACHE || t == PERF_TYPE_HARDWARE, "{name}");
        }
    }

    #[test]
    fn raw_events() {
        assert_eq!(enc("r1234"), (PERF_TYPE_RAW, 0x1234));
        assert_eq!(enc("rABCD"), (PERF_TYPE_RAW, 0xabcd));
        assert_eq!(enc("r0x01c2"), (PERF_TYPE_RAW, 0x1c2));
        assert_eq!(one("r1234").kind, EventKind::Raw);
        assert!(one("r01c2:u").modifiers.exclude_kernel);
        for bad in ["r", "r12g", "r0x", "r11112222333344445"] {
            assert!(matches!(err(bad), EventError::BadRaw { .. }), "{bad}");
        }
    }

    #[test]
    fn every_listed_name_and_alias_round_trips() {
        let entries = list_entries_in(&root());
        assert_eq!(entries.len(), 10 + 12 + 32 + 6);
        for entry in &entries {
            for name in entry.all_names() {
                let groups = parse_event_list_in(name, &root()).unwrap();
                let spec = &groups[0].events[0];
                assert_eq!(groups.len(), 1);
                assert_eq!(spec.name, name);
                let mut want = entry.spec.clone();
                want.name = name.to_string();
                assert_eq!(*spec, want, "{name}");
            }
        }
    }

    #[test]
    fn modifiers_on_events() {
        let m = |s: &str| one(s).modifiers;
        assert_eq!(m("cycles"), Modifiers::default());
        let u = m("cycles:u");
        assert!(!u.exclude_user && u.exclude_kernel && u.exclude_hv);
        let k = m("cs:k");
        assert!(k.exclude_user && !k.exclude_kernel && k.exclude_hv);
        let uk = m("L1-dcache-load-misses:uk");
        assert!(!uk.exclude_user && !uk.exclude_kernel && uk.exclude_hv);
        assert_eq!(m("cycles:ppp").precise, 3);
        assert_eq!(m("cpu/event=0x3c/upp").precise, 2);
        assert!(m("msr/tsc/:u").exclude_kernel);
        assert_eq!(one("cycles:u").name, "cycles:u");
        assert_eq!(one("cycles:").name, "cycles");
        assert!(matches!(
            err("cycles:x"),
            EventError::UnknownModifier { modifier: 'x', .. }
        ));
        assert!(matches!(err("cycles:pppp"), EventError::TooPrecise { .. }));
        assert!(matches!(
            err("cycles:kk"),
            EventError::RepeatedModifier { .. }
        ));
        assert!(matches!(
            err("sched:sched_switch"),
            EventError::Tracepoint { .. }
        ));
        assert!(matches!(
            err("cycles:uxz"),
            EventError::UnknownModifier { .. }
        ));
    }

    #[test]
    fn groups_and_mixed_lists() {
        let p = |s: &str| parse_event_list_in(s, &root()).unwrap();
        let g = p("cycles,{instructions,branches},cpu-clock");
        assert_eq!(g.len(), 3);
        assert_eq!(
            (g[0].explicit, g[1].explicit, g[2].explicit),
            (false, true, false)
        );
        let names: Vec<&str> = g[1].events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["instructions", "branches"]);
        assert_eq!(g[2].events[0].config, PERF_COUNT_SW_CPU_CLOCK as u64);

        let g = p("{cycles,instructions}:u");
        assert_eq!(g.len(), 1);
        for e in &g[0].events {
            assert!(
                !e.modifiers.exclude_user && e.modifiers.exclude_kernel,
                "{}",
                e.name
            );
        }
        // perf: `{cs:u,faults}:k` -> cs counts user+kernel, faults kernel only.
        let g = p("{cs:u,faults}:k");
        let (cs, faults) = (g[0].events[0].modifiers, g[0].events[1].modifiers);
        assert!(!cs.exclude_user && !cs.exclude_kernel && cs.exclude_hv);
        assert!(faults.exclude_user && !faults.exclude_kernel && faults.exclude_hv);
        assert_eq!(g[0].events[0].name, "cs:u");
        assert_eq!(g[0].events[1].name, "faults");

        // Commas inside PMU terms do not split events, in or out of groups.
        let g = p("cpu/event=0x3c,umask=1/,{msr/event=1,config1=2/,cs}:k,r12");
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].events[0].config, 0x13c);
        assert_eq!(g[1].events.len(), 2);
        assert_eq!(g[1].events[0].config1, 2);
        assert!(g[1].events[0].modifiers.exclude_user);
        assert_eq!(g[2].events[0].type_, PERF_TYPE_RAW);
        // A group of one is still explicit.
        assert!(p("{cs}")[0].explicit);
        assert!(p(" cs , faults ").len() == 2);
    }

    #[test]
    fn pmu_events_with_fake_x86_cpu_tree() {
        let e = one("cpu/event=0x3c,umask=0x1,edge,inv,cmask=2/");
        assert_eq!(e.type_, 4);
        assert_eq!(e.kind, EventKind::Pmu("cpu".into()));
        assert_eq!(e.config, 0x3c | 0x1 << 8 | 1 << 18 | 1 << 23 | 2 << 24);
        assert_eq!(one("cpu/any/").config, 1 << 21);
        assert_eq!(one("cpu/cpu-cycles/").config, 0x3c);
        assert_eq!(one("cpu/ref-cycles/k").config, 0x300);
        assert_eq!(
            one("cpu/offcore_rsp=0x10003c0091,event=0xb7,umask=1/").config1,
            0x10003c0091
        );
        assert_eq!(one("cpu/config2=7/").config2, 7);
        assert_eq!(one("cpu/event=1,name=mine/").name, "mine");
        // A bare sysfs event name is found on its PMU ("tsc" -> msr), case-insensitively.
        let tsc = one("TSC");
        assert_eq!(
            (tsc.type_, tsc.config, tsc.kind),
            (9, 0, EventKind::Pmu("msr".into()))
        );
        assert_eq!(one("mem-loads").config1, 3);
        // Names of generic events win over sysfs events with the same name, as in perf.
        assert_eq!(one("cpu-cycles").type_, PERF_TYPE_HARDWARE);
        assert!(matches!(
            err("nopmu/event=1/"),
            EventError::UnknownPmu { .. }
        ));
        assert!(matches!(
            err("cpu/umask=256/"),
            EventError::ValueTooWide { .. }
        ));
        assert!(matches!(
            err("cpu/bogus=1/"),
            EventError::UnknownTerm { .. }
        ));
        assert!(matches!(
            err("cpu/event=0xzz/"),
            EventError::BadTermValue { .. }
        ));
        assert!(matches!(err("cpu/event=1"), EventError::UnclosedPmu { .. }));
    }

    #[test]
    fn bare_name_on_several_pmus_gives_one_event_per_pmu() {
        let dir = tempfile::tempdir().unwrap();
        for (pmu, type_) in [("uncore_b", 21), ("uncore_a", 20)] {
            super::pmu::test_tree::add_pmu(
                dir.path(),
                pmu,
                type_,
                &[("event", "config:0-7")],
                &[("clockticks", "event=0xff")],
            );
        }
        let g = parse_event_list_in("clockticks:u", dir.path()).unwrap();
        let got: Vec<(String, u32, u64, bool)> = g
            .iter()
            .map(|g| {
                let e = &g.events[0];
                (
                    e.name.clone(),
                    e.type_,
                    e.config,
                    e.modifiers.exclude_kernel,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("uncore_a/clockticks/u".to_string(), 20, 0xff, true),
                ("uncore_b/clockticks/u".to_string(), 21, 0xff, true),
            ]
        );
        let g = parse_event_list_in("{clockticks,cs}", dir.path()).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].events.len(), 3);
    }

    #[test]
    fn pmu_events_on_the_real_machine() {
        let root = Path::new(SYSFS_PMU_ROOT);
        let Ok(text) = std::fs::read_to_string(root.join("msr/type")) else {
            eprintln!("skipping: no msr PMU on this machine");
            return;
        };
        let type_: u32 = text.trim().parse().unwrap();
        let g = parse_event_list("msr/tsc/,msr/event=0x2/u").unwrap();
        assert_eq!((g[0].events[0].type_, g[0].events[0].config), (type_, 0));
        assert_eq!((g[1].events[0].type_, g[1].events[0].config), (type_, 2));
        assert!(list_entries().iter().any(|e| e.name == "msr/tsc/"));
    }

    #[test]
    fn error_messages_are_one_clear_line() {
        assert_eq!(
            err("cycels").to_string(),
            "unknown event 'cycels'; did you mean: cycles, cpu-cycles? (run 'pyperf list' to see all events)"
        );
        assert_eq!(
            err("qqqqqqqqqq").to_string(),
            "unknown event 'qqqqqqqqqq' (run 'pyperf list' to see all events)"
        );
        assert_eq!(
            err("iTLB-stores").to_string(),
            "'iTLB-stores' is not a cache event perf counts: iTLB supports load only"
        );
        assert_eq!(
            err("cpu/umask=0x100/").to_string(),
            "value 0x100 of term 'umask' in 'cpu/umask=0x100/' does not fit its 8-bit field (maximum 0xff)"
        );
        assert!(err("nopmu/x=1/")
            .to_string()
            .contains("available PMUs: cpu, msr"));
        assert_eq!(err("").to_string(), EventError::EmptyList.to_string());
        let distinct = [
            err(""),
            err("cs,,faults"),
            err("{cs"),
            err("cs}"),
            err("{}"),
            err("{cs,{faults}}"),
            err("r12g"),
            err("nopmu/x=1/"),
            err("cpu/x=1/"),
            err("cpu/umask=999/"),
            err("cycles:z"),
            err("cycels"),
        ];
        let kinds: std::collections::HashSet<_> =
            distinct.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), distinct.len());
    }

    #[test]
    fn garbled_input_never_panics() {
        // Deterministic xorshift so a failure reproduces.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces = [
            "cycles",
            "cs",
            "L1-dcache",
            "-load",
            "-misses",
            "r",
            "r1",
            "0x",
            "ff",
            "cpu",
            "msr",
            "/",
            "//",
            "=",
            ",",
            "{",
            "}",
            ":",
            "u",
            "k",
            "p",
            "event",
            "umask",
            "=0x3c",
            "?",
            "tsc",
            "..",
            " ",
            "é",
            "\u{0}",
            "\u{202e}",
            "name=",
            "config1=",
            "18446744073709551616",
            "branch",
            "-",
            "zz",
        ];
        let root = fake_root();
        for _ in 0..2_500 {
            let len = (next() % 8) as usize;
            let s: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            if let Err(e) = parse_event_list_in(&s, root.path()) {
                let msg = e.to_string();
                assert!(!msg.is_empty() && !msg.contains('\n'), "{s:?} -> {msg:?}");
            }
        }
        // Raw bytes as well, through lossy UTF-8.
        for _ in 0..1_500 {
            let bytes: Vec<u8> = (0..(next() % 24)).map(|_| next() as u8).collect();
            let s = String::from_utf8_lossy(&bytes);
            let _ = parse_event_list_in(&s, root.path());
        }
    }

    #[test]
    fn apply_to_writes_the_attr() {
        let e = one("cpu/event=0x3c,ldlat=9/upp");
        let mut attr = perf_event_attr {
            sample_type: 0x55,
            ..Default::default()
        };
        e.apply_to(&mut attr);
        assert_eq!((attr.type_, attr.config), (4, 0x3c));
        // SAFETY: both union members are plain u64; reading them is reading the bits written.
        let (c1, c2) = unsafe { (attr.__bindgen_anon_3.config1, attr.__bindgen_anon_4.config2) };
        assert_eq!((c1, c2), (9, 0));
        assert_eq!(
            (
                attr.exclude_user(),
                attr.exclude_kernel(),
                attr.exclude_hv(),
                attr.precise_ip()
            ),
            (0, 1, 1, 2)
        );
        assert_eq!(attr.sample_type, 0x55, "other fields untouched");
    }

    #[test]
    fn default_stat_events_match_perf_61() {
        let names = |root: &Path| -> Vec<(String, u32, u64)> {
            default_stat_events_in(root)
                .into_iter()
                .map(|g| {
                    assert!(!g.explicit);
                    let e = &g.events[0];
                    (e.name.clone(), e.type_, e.config)
                })
                .collect()
        };
        let root = fake_root();
        let got = names(root.path());
        let want = [
            ("task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK),
            (
                "context-switches",
                PERF_TYPE_SOFTWARE,
                PERF_COUNT_SW_CONTEXT_SWITCHES,
            ),
            (
                "cpu-migrations",
                PERF_TYPE_SOFTWARE,
                PERF_COUNT_SW_CPU_MIGRATIONS,
            ),
            ("page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS),
            ("cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES),
            (
                "instructions",
                PERF_TYPE_HARDWARE,
                PERF_COUNT_HW_INSTRUCTIONS,
            ),
            (
                "branches",
                PERF_TYPE_HARDWARE,
                PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
            ),
            (
                "branch-misses",
                PERF_TYPE_HARDWARE,
                PERF_COUNT_HW_BRANCH_MISSES,
            ),
        ]
        .map(|(n, t, c)| (n.to_string(), t, c as u64));
        assert_eq!(got, want);
        // An AMD-like cpu PMU advertising stalled cycles adds them after cycles.
        let amd = tempfile::tempdir().unwrap();
        super::pmu::test_tree::add_pmu(
            amd.path(),
            "cpu",
            4,
            &[("event", "config:0-7")],
            &[
                ("stalled-cycles-frontend", "event=0x87"),
                ("stalled-cycles-backend", "event=0xd1"),
            ],
        );
        let got: Vec<String> = names(amd.path()).into_iter().map(|t| t.0).collect();
        assert_eq!(
            &got[4..7],
            [
                "cycles",
                "stalled-cycles-frontend",
                "stalled-cycles-backend"
            ]
        );
    }
}
