//! Opening counting events on a target and reading them back.
//!
//! One fd per event per followed thread: a launched command is one task
//! whose children inherit the counters; an attached process needs one fd per
//! existing thread (inheritance only covers threads created later).

use crate::event::{EventGroup, EventSpec};
use crate::kernel::{self, CounterReading, OpenError, PerfFd, COUNTER_READ_FORMAT};

/// What the counters follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountTarget {
    /// A gated child: counters start at its exec.
    Launched { pid: i32 },
    /// Already-running tasks (threads of `-p` processes, or `-t` threads).
    Running { tids: Vec<i32> },
}

/// Counting options that shape every attr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountOptions {
    /// Count children and threads created during the run.
    pub inherit: bool,
}

/// One event and the fds counting it.
#[derive(Debug)]
pub struct OpenedEvent {
    pub spec: EventSpec,
    pub state: EventState,
    /// Kernel-level counting was refused and the event fell back to user space only.
    pub user_only_fallback: bool,
}

#[derive(Debug)]
pub enum EventState {
    Open(Vec<PerfFd>),
    NotSupported(OpenError),
}

/// Why opening the counters as a whole failed.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error("permission denied opening '{event}': {hint}")]
    Permission { event: String, hint: String },
    #[error("the target exited before its counters could be opened")]
    TargetGone,
    #[error("cannot open '{event}': {source}")]
    Open { event: String, source: OpenError },
}

/// All events of one run.
#[derive(Debug)]
pub struct CounterSet {
    pub events: Vec<OpenedEvent>,
}

/// The explanation printed when the kernel refuses access.
pub fn permission_hint() -> String {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "kernel.perf_event_paranoid is {paranoid}; run as root, grant CAP_PERFMON \
         (setcap cap_perfmon+ep $(which pyperf)), or lower it with \
         `sysctl kernel.perf_event_paranoid=1` (user+kernel) or 2 (user space only)"
    )
}

fn counting_attr(
    spec: &EventSpec,
    options: CountOptions,
    target: &CountTarget,
    leader: bool,
) -> perf_event_open_sys::bindings::perf_event_attr {
    let mut attr = kernel::new_attr();
    spec.apply_to(&mut attr);
    attr.read_format = COUNTER_READ_FORMAT;
    attr.set_inherit(options.inherit as u64);
    if let CountTarget::Launched { .. } = target {
        // Only the leader carries the gate: members follow their leader.
        attr.set_disabled(leader as u64);
        attr.set_enable_on_exec(leader as u64);
    }
    attr
}

impl CounterSet {
    /// Opens every group on every task of `target`. Unsupported events are kept
    /// as such; permission problems and vanished targets are errors.
    pub fn open(
        groups: &[EventGroup],
        target: &CountTarget,
        options: CountOptions,
    ) -> Result<CounterSet, CountError> {
        let tids = match target {
            CountTarget::Launched { pid } => vec![*pid],
            CountTarget::Running { tids } => tids.clone(),
        };
        let mut events = Vec::new();
        for group in groups {
            events.extend(open_group(group, &tids, target, options)?);
        }
        Ok(CounterSet { events })
    }

    /// Enables every counter (used for attached targets; launched ones start at exec).
    pub fn enable(&self) {
        for fd in self.fds() {
            let _ = fd.enable();
        }
    }

    /// Per event: whether it fell back to user-space-only counting.
    pub fn user_only(&self) -> Vec<bool> {
        self.events.iter().map(|e| e.user_only_fallback).collect()
    }

    pub fn disable(&self) {
        for fd in self.fds() {
            let _ = fd.disable();
        }
    }

    fn fds(&self) -> impl Iterator<Item = &PerfFd> {
        self.events.iter().flat_map(|e| match &e.state {
            EventState::Open(fds) => fds.as_slice(),
            EventState::NotSupported(_) => &[],
        })
    }

    /// Current totals, one entry per event in order; `None` for unsupported ones.
    pub fn read(&self) -> Vec<Option<CounterReading>> {
        self.events
            .iter()
            .map(|event| match &event.state {
                EventState::Open(fds) => Some(sum_readings(fds)),
                EventState::NotSupported(_) => None,
            })
            .collect()
    }
}

fn sum_readings(fds: &[PerfFd]) -> CounterReading {
    fds.iter()
        .filter_map(|fd| fd.read_counter().ok())
        .fold(CounterReading::default(), |acc, r| CounterReading {
            value: acc.value.wrapping_add(r.value),
            time_enabled: acc.time_enabled.max(r.time_enabled),
            time_running: acc.time_running.max(r.time_running),
        })
}

fn open_group(
    group: &EventGroup,
    tids: &[i32],
    target: &CountTarget,
    options: CountOptions,
) -> Result<Vec<OpenedEvent>, CountError> {
    let mut opened: Vec<OpenedEvent> = group
        .events
        .iter()
        .map(|spec| OpenedEvent {
            spec: spec.clone(),
            state: EventState::Open(Vec::new()),
            user_only_fallback: false,
        })
        .collect();
    for &tid in tids {
        let (leader, members) = opened.split_at_mut(1);
        let leader = &mut leader[0];
        if !open_into(leader, tid, target, options, true, None)? {
            break;
        }
        // Members of an explicit group join the leader's fd for this task, so
        // the kernel schedules them together; without a leader they cannot count.
        let leader_fd = match (&leader.state, group.explicit) {
            (EventState::Open(fds), true) => fds.last(),
            (_, false) => None,
            (EventState::NotSupported(reason), true) => {
                for member in members.iter_mut() {
                    member.state = EventState::NotSupported(*reason);
                }
                continue;
            }
        };
        for member in members.iter_mut() {
            if !open_into(member, tid, target, options, !group.explicit, leader_fd)? {
                break;
            }
        }
    }
    Ok(opened)
}

/// Opens `event` on `tid` and records the outcome in its state. Returns false
/// when the task has vanished (an attached thread that ended meanwhile).
fn open_into(
    event: &mut OpenedEvent,
    tid: i32,
    target: &CountTarget,
    options: CountOptions,
    leader: bool,
    group: Option<&PerfFd>,
) -> Result<bool, CountError> {
    let EventState::Open(fds) = &mut event.state else {
        return Ok(true);
    };
    match open_one(
        &event.spec,
        tid,
        target,
        options,
        leader,
        &mut event.user_only_fallback,
        group,
    ) {
        Ok(fd) => fds.push(fd),
        Err(OpenError::NoSuchProcess) => match target {
            CountTarget::Running { .. } => return Ok(false),
            CountTarget::Launched { .. } => return Err(CountError::TargetGone),
        },
        Err(OpenError::PermissionDenied(_)) => {
            return Err(CountError::Permission {
                event: event.spec.name.clone(),
                hint: permission_hint(),
            })
        }
        Err(source @ (OpenError::TooManyFiles | OpenError::Other(_))) => {
            return Err(CountError::Open {
                event: event.spec.name.clone(),
                source,
            })
        }
        Err(reason) => event.state = EventState::NotSupported(reason),
    }
    Ok(true)
}

fn open_one(
    spec: &EventSpec,
    tid: i32,
    target: &CountTarget,
    options: CountOptions,
    leader: bool,
    user_only_fallback: &mut bool,
    group: Option<&PerfFd>,
) -> Result<PerfFd, OpenError> {
    let mut attr = counting_attr(spec, options, target, leader);
    if *user_only_fallback {
        attr.set_exclude_kernel(1);
        attr.set_exclude_hv(1);
    }
    match kernel::open_event(&attr, tid, -1, group) {
        Err(OpenError::PermissionDenied(_)) if attr.exclude_kernel() == 0 => {
            // perf_event_paranoid >= 2 refuses kernel counting to unprivileged
            // users: retry user-space only, as perf does, and say so.
            attr.set_exclude_kernel(1);
            attr.set_exclude_hv(1);
            let fd = kernel::open_event(&attr, tid, -1, group)?;
            *user_only_fallback = true;
            Ok(fd)
        }
        other => other,
    }
}
