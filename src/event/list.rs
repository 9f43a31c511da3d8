//! The data behind `pyperf list`, and its perf-list-like text.

use std::path::Path;

use super::cache::CacheEvent;
use super::names::{SymbolEvent, HARDWARE_EVENTS, SOFTWARE_EVENTS};
use super::pmu::{pmu_names, Pmu, SYSFS_PMU_ROOT};
use super::{EventKind, EventSpec, Modifiers};
use perf_event_open_sys::bindings as sys;

/// The sections of `perf list`, in the order perf prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Hardware,
    Software,
    HwCache,
    KernelPmu,
}

impl Category {
    /// The bracketed label perf prints: "Hardware event", ...
    pub fn label(self) -> &'static str {
        match self {
            Category::Hardware => "Hardware event",
            Category::Software => "Software event",
            Category::HwCache => "Hardware cache event",
            Category::KernelPmu => "Kernel PMU event",
        }
    }
}

/// One event `pyperf list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The name perf lists first (`cpu-cycles`, `L1-dcache-load-misses`, `msr/tsc/`).
    pub name: String,
    /// Other accepted spellings shown as "name OR alias" (`cycles`).
    pub aliases: Vec<String>,
    pub category: Category,
    /// The encoding `-e <name>` gives, without modifiers.
    pub spec: EventSpec,
}

impl ListEntry {
    /// "cpu-cycles OR cycles", as perf prints it.
    pub fn display_name(&self) -> String {
        std::iter::once(self.name.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// The name and all aliases.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

fn plain_spec(name: &str, kind: EventKind, type_: u32, config: u64) -> EventSpec {
    EventSpec {
        name: name.to_string(),
        kind,
        type_,
        config,
        config1: 0,
        config2: 0,
        modifiers: Modifiers::default(),
    }
}

fn symbol_entry(e: &SymbolEvent, category: Category, kind: EventKind) -> ListEntry {
    ListEntry {
        name: e.name.to_string(),
        aliases: e.aliases.iter().map(|a| a.to_string()).collect(),
        category,
        spec: plain_spec(e.name, kind, e.type_, e.config),
    }
}

/// Every event on this machine: generic, cache, and sysfs PMU events.
pub fn list_entries() -> Vec<ListEntry> {
    list_entries_in(Path::new(SYSFS_PMU_ROOT))
}

/// [`list_entries`] with the sysfs PMU directory given (for tests). Sorted by
/// category, then by name bytewise as perf sorts.
pub fn list_entries_in(root: &Path) -> Vec<ListEntry> {
    let mut out: Vec<ListEntry> = HARDWARE_EVENTS
        .iter()
        .map(|e| symbol_entry(e, Category::Hardware, EventKind::Hardware))
        .chain(
            SOFTWARE_EVENTS
                .iter()
                .map(|e| symbol_entry(e, Category::Software, EventKind::Software)),
        )
        .collect();
    out.extend(CacheEvent::all_valid().map(|ev| {
        let name = ev.canonical_name();
        ListEntry {
            spec: plain_spec(
                &name,
                EventKind::HwCache,
                sys::PERF_TYPE_HW_CACHE,
                ev.config(),
            ),
            name,
            aliases: Vec::new(),
            category: Category::HwCache,
        }
    }));
    for pmu_name in pmu_names(root) {
        let Ok(pmu) = Pmu::open(root, &pmu_name, &pmu_name) else {
            continue;
        };
        for event in pmu.event_names() {
            // An event whose description is malformed or needs a value cannot be
            // listed with an encoding; perf would refuse it too.
            let Ok(enc) = pmu.encode(&event, &event) else {
                continue;
            };
            let name = format!("{pmu_name}/{event}/");
            let mut spec = plain_spec(
                &name,
                EventKind::Pmu(pmu_name.clone()),
                enc.type_,
                enc.config,
            );
            spec.config1 = enc.config1;
            spec.config2 = enc.config2;
            out.push(ListEntry {
                name,
                aliases: Vec::new(),
                category: Category::KernelPmu,
                spec,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.category, a.display_name().as_bytes()).cmp(&(b.category, b.display_name().as_bytes()))
    });
    out
}

/// Width of the name column in `perf list` ("  %-50s [%s]").
const NAME_WIDTH: usize = 50;

fn line(name: &str, label: &str) -> String {
    format!("  {name:<NAME_WIDTH$} [{label}]")
}

/// Marker appended to events that `can_open` rejects.
pub const NOT_SUPPORTED: &str = "<not supported>";

/// Prints `entries` as `perf list` does, one section per category, followed by the
/// raw / PMU syntax lines. perf hides events the machine cannot open; pyperf shows
/// them, marked `<not supported>`, so users learn what exists and what is missing
/// here. `can_open` answers that (the kernel layer tries `perf_event_open`).
pub fn format_list(entries: &[ListEntry], can_open: &dyn Fn(&EventSpec) -> bool) -> String {
    let mut out = String::from("List of pre-defined events (to be used in -e):\n");
    let mut current = None;
    for e in entries {
        if current != Some(e.category) {
            out.push('\n');
            current = Some(e.category);
        }
        out.push_str(&line(&e.display_name(), e.category.label()));
        if !can_open(&e.spec) {
            out.push_str("  ");
            out.push_str(NOT_SUPPORTED);
        }
        out.push('\n');
    }
    out.push('\n');
    for (syntax, label) in [
        ("rNNN", "Raw hardware event descriptor"),
        (
            "cpu/t1=v1[,t2=v2,t3 ...]/modifier",
            "Raw hardware event descriptor",
        ),
    ] {
        out.push_str(&line(syntax, label));
        out.push('\n');
    }
    out.push_str("   [(see 'man perf-list' on how to encode it)]\n");
    out.push_str(&line(
        "pmu/eventname/",
        "Named event of a PMU in /sys/bus/event_source/devices",
    ));
    out.push('\n');
    out.push_str(
        "\nModifiers: event:u (user only), :k (kernel only), :h (hypervisor only), combinable (:uk);\n\
         :p, :pp, :ppp request precise sampling. Groups: {event1,event2}:modifiers.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::super::pmu::test_tree::fake_root;
    use super::*;

    #[test]
    fn entries_cover_every_table_row_once() {
        let root = fake_root();
        let entries = list_entries_in(root.path());
        let count = |c| entries.iter().filter(|e| e.category == c).count();
        assert_eq!(count(Category::Hardware), sys::PERF_COUNT_HW_MAX as usize);
        assert_eq!(count(Category::Software), sys::PERF_COUNT_SW_MAX as usize);
        assert_eq!(count(Category::HwCache), 32);
        // cpu: 4 listable events (needs-param needs a value, .scale is a helper); msr: 2.
        assert_eq!(count(Category::KernelPmu), 4 + 2);
        let names: Vec<String> = entries.iter().map(|e| e.display_name()).collect();
        assert!(names.contains(&"cpu-cycles OR cycles".to_string()));
        assert!(names.contains(&"msr/tsc/".to_string()));
        assert!(names.contains(&"cpu/mem-loads/".to_string()));
        assert!(!names
            .iter()
            .any(|n| n.contains("needs-param") || n.contains(".scale")));
    }

    #[test]
    fn format_marks_unopenable_and_keeps_perf_columns() {
        let root = fake_root();
        let entries = list_entries_in(root.path());
        let text = format_list(&entries, &|s: &EventSpec| {
            s.type_ == sys::PERF_TYPE_SOFTWARE
        });
        assert!(text
            .contains("  context-switches OR cs                             [Software event]\n"));
        assert!(text.contains(&format!(
            "  cpu-cycles OR cycles                               [Hardware event]  {NOT_SUPPORTED}\n"
        )));
        assert!(text.contains("  L1-dcache-load-misses"));
        assert!(text.contains("  msr/tsc/"));
        assert!(text.contains("  rNNN "));
        // Sections in perf's order.
        let pos = |s: &str| text.find(s).unwrap();
        assert!(pos("[Hardware event]") < pos("[Software event]"));
        assert!(pos("[Software event]") < pos("[Hardware cache event]"));
        assert!(pos("[Hardware cache event]") < pos("[Kernel PMU event]"));
        assert!(pos("[Kernel PMU event]") < pos("rNNN"));
    }
}
