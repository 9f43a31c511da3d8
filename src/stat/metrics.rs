//! Derived figures perf prints after `#`: IPC, miss rates, CPUs utilised, rates.

use perf_event_open_sys::bindings as b;

use super::summary::EventResult;
use crate::event::{EventSpec, Modifiers};

/// One derived figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub value: f64,
    /// What the value means, e.g. `insn per cycle`, `of all branches`, `K/sec`.
    pub unit: String,
    /// Printed as a percentage (`5.00%`).
    pub percent: bool,
}

impl Metric {
    fn new(value: f64, unit: impl Into<String>) -> Metric {
        Metric {
            value,
            unit: unit.into(),
            percent: false,
        }
    }

    fn percent(value: f64, unit: impl Into<String>) -> Metric {
        Metric {
            value,
            unit: unit.into(),
            percent: true,
        }
    }
}

/// The counted events of a run, searchable by kernel encoding.
pub struct Counted<'a> {
    events: &'a [EventResult],
}

impl<'a> Counted<'a> {
    pub fn new(events: &'a [EventResult]) -> Counted<'a> {
        Counted { events }
    }

    /// The value of the event with this type/config, preferring the same modifiers.
    fn find(&self, type_: u32, config: u64, modifiers: Modifiers) -> Option<f64> {
        let matches = |e: &&EventResult| e.spec.type_ == type_ && e.spec.config == config;
        let same = self
            .events
            .iter()
            .filter(matches)
            .find(|e| e.spec.modifiers == modifiers);
        same.or_else(|| self.events.iter().find(matches))
            .and_then(|e| e.count.value())
    }

    fn hardware(&self, id: u32, modifiers: Modifiers) -> Option<f64> {
        self.find(b::PERF_TYPE_HARDWARE, id as u64, modifiers)
    }

    /// Task-clock (or cpu-clock) nanoseconds: the base of every per-second rate.
    fn clock_ns(&self, modifiers: Modifiers) -> Option<f64> {
        self.find(
            b::PERF_TYPE_SOFTWARE,
            b::PERF_COUNT_SW_TASK_CLOCK as u64,
            modifiers,
        )
        .or_else(|| {
            self.find(
                b::PERF_TYPE_SOFTWARE,
                b::PERF_COUNT_SW_CPU_CLOCK as u64,
                modifiers,
            )
        })
        .filter(|&ns| ns > 0.0)
    }
}

/// A per-second rate scaled like perf: `/sec`, `K/sec`, `M/sec`, `G/sec`.
fn rate(count: f64, clock_ns: f64) -> Metric {
    let per_sec = count * 1e9 / clock_ns;
    let (value, unit) = if per_sec >= 1e9 {
        (per_sec / 1e9, "G/sec")
    } else if per_sec >= 1e6 {
        (per_sec / 1e6, "M/sec")
    } else if per_sec >= 1e3 {
        (per_sec / 1e3, "K/sec")
    } else {
        (per_sec, "/sec")
    };
    Metric::new(value, unit)
}

fn ratio_pct(part: f64, whole: Option<f64>, what: &str) -> Option<Metric> {
    let whole = whole.filter(|&w| w > 0.0)?;
    Some(Metric::percent(100.0 * part / whole, what))
}

/// How perf names a cache in "% of all X accesses".
fn cache_label(cache: u64) -> &'static str {
    match cache as u32 {
        b::PERF_COUNT_HW_CACHE_L1D => "L1-dcache",
        b::PERF_COUNT_HW_CACHE_L1I => "L1-icache",
        b::PERF_COUNT_HW_CACHE_LL => "LL-cache",
        b::PERF_COUNT_HW_CACHE_DTLB => "dTLB cache",
        b::PERF_COUNT_HW_CACHE_ITLB => "iTLB cache",
        b::PERF_COUNT_HW_CACHE_BPU => "branch cache",
        b::PERF_COUNT_HW_CACHE_NODE => "node",
        _ => "cache",
    }
}

/// The derived figures for `event`, given every event of the run and the wall time.
pub fn metrics_for(event: &EventResult, all: &Counted<'_>, elapsed_ns: f64) -> Vec<Metric> {
    let Some(value) = event.count.value() else {
        return Vec::new();
    };
    let spec: &EventSpec = &event.spec;
    let m = spec.modifiers;
    let clock = all.clock_ns(m);
    let mut out = Vec::new();
    match spec.type_ {
        b::PERF_TYPE_SOFTWARE if spec.is_clock() && elapsed_ns > 0.0 => {
            out.push(Metric::new(value / elapsed_ns, "CPUs utilized"));
        }
        b::PERF_TYPE_SOFTWARE
            if !spec.is_clock() && spec.config != b::PERF_COUNT_SW_DUMMY as u64 =>
        {
            out.extend(clock.map(|c| rate(value, c)));
        }
        b::PERF_TYPE_HARDWARE => match spec.config as u32 {
            b::PERF_COUNT_HW_CPU_CYCLES => {
                out.extend(clock.map(|c| Metric::new(value / c, "GHz")));
            }
            b::PERF_COUNT_HW_INSTRUCTIONS => {
                if let Some(cycles) = all
                    .hardware(b::PERF_COUNT_HW_CPU_CYCLES, m)
                    .filter(|&c| c > 0.0)
                {
                    out.push(Metric::new(value / cycles, "insn per cycle"));
                }
                let stalled = [
                    b::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
                    b::PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
                ]
                .iter()
                .filter_map(|&id| all.hardware(id, m))
                .fold(None, |acc: Option<f64>, v| {
                    Some(acc.map_or(v, |a| a.max(v)))
                });
                if let (Some(stalled), true) = (stalled, value > 0.0) {
                    out.push(Metric::new(stalled / value, "stalled cycles per insn"));
                }
            }
            b::PERF_COUNT_HW_BRANCH_MISSES => {
                out.extend(ratio_pct(
                    value,
                    all.hardware(b::PERF_COUNT_HW_BRANCH_INSTRUCTIONS, m),
                    "of all branches",
                ));
            }
            b::PERF_COUNT_HW_CACHE_MISSES => {
                out.extend(ratio_pct(
                    value,
                    all.hardware(b::PERF_COUNT_HW_CACHE_REFERENCES, m),
                    "of all cache refs",
                ));
            }
            b::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND => {
                out.extend(ratio_pct(
                    value,
                    all.hardware(b::PERF_COUNT_HW_CPU_CYCLES, m),
                    "frontend cycles idle",
                ));
            }
            b::PERF_COUNT_HW_STALLED_CYCLES_BACKEND => {
                out.extend(ratio_pct(
                    value,
                    all.hardware(b::PERF_COUNT_HW_CPU_CYCLES, m),
                    "backend cycles idle",
                ));
            }
            _ => out.extend(clock.map(|c| rate(value, c))),
        },
        b::PERF_TYPE_HW_CACHE => {
            let (cache, op, result) = (
                spec.config & 0xff,
                (spec.config >> 8) & 0xff,
                (spec.config >> 16) & 0xff,
            );
            if result == b::PERF_COUNT_HW_CACHE_RESULT_MISS as u64 {
                let access =
                    cache | (op << 8) | ((b::PERF_COUNT_HW_CACHE_RESULT_ACCESS as u64) << 16);
                let label = format!("of all {} accesses", cache_label(cache));
                out.extend(ratio_pct(
                    value,
                    all.find(b::PERF_TYPE_HW_CACHE, access, m),
                    &label,
                ));
            } else {
                out.extend(clock.map(|c| rate(value, c)));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::stat::summary::Count;

    fn event(type_: u32, config: u64, value: f64) -> EventResult {
        EventResult {
            spec: EventSpec {
                name: format!("{type_}:{config}"),
                kind: EventKind::Hardware,
                type_,
                config,
                config1: 0,
                config2: 0,
                modifiers: Modifiers::default(),
            },
            count: Count::Counted {
                value,
                running_pct: 100.0,
                runtime_ns: 1,
                stddev_pct: None,
            },
            user_only_fallback: false,
        }
    }

    #[test]
    fn ipc_miss_rates_and_cpu_utilisation() {
        let hw = b::PERF_TYPE_HARDWARE;
        let events = vec![
            event(
                b::PERF_TYPE_SOFTWARE,
                b::PERF_COUNT_SW_TASK_CLOCK as u64,
                2e9,
            ),
            event(hw, b::PERF_COUNT_HW_CPU_CYCLES as u64, 4e9),
            event(hw, b::PERF_COUNT_HW_INSTRUCTIONS as u64, 6e9),
            event(hw, b::PERF_COUNT_HW_BRANCH_INSTRUCTIONS as u64, 1e9),
            event(hw, b::PERF_COUNT_HW_BRANCH_MISSES as u64, 2e7),
            event(
                b::PERF_TYPE_SOFTWARE,
                b::PERF_COUNT_SW_PAGE_FAULTS as u64,
                5000.0,
            ),
        ];
        let all = Counted::new(&events);
        let get = |i: usize| metrics_for(&events[i], &all, 1e9);
        assert_eq!(get(0), vec![Metric::new(2.0, "CPUs utilized")]);
        assert_eq!(get(1), vec![Metric::new(2.0, "GHz")]);
        assert_eq!(get(2), vec![Metric::new(1.5, "insn per cycle")]);
        assert_eq!(get(3), vec![Metric::new(500.0, "M/sec")]);
        assert_eq!(get(4), vec![Metric::percent(2.0, "of all branches")]);
        assert_eq!(get(5), vec![Metric::new(2.5, "K/sec")]);
    }

    #[test]
    fn cache_miss_ratio_uses_the_matching_access_event() {
        let l1d_read = (b::PERF_COUNT_HW_CACHE_L1D | (b::PERF_COUNT_HW_CACHE_OP_READ << 8)) as u64;
        let miss = l1d_read | ((b::PERF_COUNT_HW_CACHE_RESULT_MISS as u64) << 16);
        let events = vec![
            event(b::PERF_TYPE_HW_CACHE, l1d_read, 1000.0),
            event(b::PERF_TYPE_HW_CACHE, miss, 25.0),
        ];
        let all = Counted::new(&events);
        assert_eq!(
            metrics_for(&events[1], &all, 1e9),
            vec![Metric::percent(2.5, "of all L1-dcache accesses")]
        );
    }

    #[test]
    fn no_metric_without_its_base() {
        let events = vec![event(
            b::PERF_TYPE_HARDWARE,
            b::PERF_COUNT_HW_INSTRUCTIONS as u64,
            10.0,
        )];
        assert!(metrics_for(&events[0], &Counted::new(&events), 1e9).is_empty());
    }
}
