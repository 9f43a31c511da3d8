//! Opening sampling events (one fd per CPU and event), their ring buffers,
//! and draining them into time-ordered batches of owned records.
//!
//! The kernel refuses mmap on an inherited `cpu == -1` event, so every event
//! is opened once per online CPU; on each CPU the first event owns the ring
//! and the others are routed into it with SET_OUTPUT.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};

use perf_event_open_sys::bindings::{self as b, perf_event_attr};

use super::options::{CallGraph, Rate, RecordOptions};
use crate::event::EventSpec;
use crate::kernel::records::{Record, SampleFormat};
use crate::kernel::ring::{RingBuffer, RingError};
use crate::kernel::{self, cpus, OpenError, PerfFd};

/// The user registers copied with each sample: what x86-64 unwinding needs.
pub const REGS_USER_MASK: u64 =
    (1 << b::PERF_REG_X86_BP) | (1 << b::PERF_REG_X86_SP) | (1 << b::PERF_REG_X86_IP);

/// `PERF_CONTEXT_*` markers in callchains are at or above this value.
const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;
const PERF_CONTEXT_USER: u64 = -512i64 as u64;

/// What the sampling events follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleTarget {
    /// A gated child: sampling starts at its exec.
    Launched { pid: i32 },
    /// Already-running threads (`-p`).
    Running { tids: Vec<i32> },
}

#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error("event '{event}' cannot be sampled here: {reason}")]
    Unsupported { event: String, reason: OpenError },
    #[error("permission denied sampling '{event}': {hint}")]
    Permission { event: String, hint: String },
    #[error("the target exited before sampling could start")]
    TargetGone,
    #[error("cannot open '{event}': {reason}")]
    Open { event: String, reason: OpenError },
    #[error("cannot list online CPUs: {0}")]
    Cpus(std::io::Error),
    #[error(transparent)]
    Ring(#[from] RingError),
    #[error("cannot route samples into the ring buffer: {0}")]
    SetOutput(nix::errno::Errno),
}

/// A decoded sample that owns its data (the ring space is freed at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSample {
    /// Index into the recording's events.
    pub event: u16,
    pub time: u64,
    pub pid: u32,
    pub tid: u32,
    pub cpu: u32,
    pub ip: u64,
    pub period: u64,
    /// The sample hit kernel mode.
    pub in_kernel: bool,
    /// Kernel frames, leaf first (from the kernel callchain).
    pub kernel_chain: Vec<u64>,
    /// User frames walked by the kernel (frame-pointer mode), leaf first.
    pub user_chain: Vec<u64>,
    /// User ip, sp, bp at the sample (DWARF mode); `None` in kernel threads.
    pub user_regs: Option<UserRegs>,
    /// The copied user stack, starting at `user_regs.sp`.
    pub stack: Vec<u8>,
    /// The stack copy filled its whole buffer: deeper frames may be missing.
    pub stack_full: bool,
}

/// The registers an x86-64 unwinder starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRegs {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
}

/// One item of a batch: a sample or the side-band that gives it meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Sample(OwnedSample),
    Mmap {
        pid: u32,
        time: u64,
        addr: u64,
        len: u64,
        pgoff: u64,
        executable: bool,
        path: String,
        build_id: Option<Vec<u8>>,
    },
    Comm {
        pid: u32,
        tid: u32,
        time: u64,
        comm: String,
        exec: bool,
    },
    Fork {
        pid: u32,
        ppid: u32,
        tid: u32,
        time: u64,
    },
    Exit {
        pid: u32,
        tid: u32,
        time: u64,
    },
}

impl Item {
    pub fn time(&self) -> u64 {
        match self {
            Item::Sample(s) => s.time,
            Item::Mmap { time, .. }
            | Item::Comm { time, .. }
            | Item::Fork { time, .. }
            | Item::Exit { time, .. } => *time,
        }
    }
}

/// Counts kept while draining.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    pub lost: u64,
    pub malformed: u64,
    pub throttled: u64,
}

/// All sampling fds and rings of a recording.
pub struct Sampler {
    cpus: Vec<u32>,
    options: RecordOptions,
    fds: Vec<PerfFd>,
    /// Indices into `fds` of the fds that own a ring (one per CPU).
    ring_owners: Vec<usize>,
    rings: Vec<RingBuffer>,
    event_of_id: HashMap<u64, u16>,
    format: SampleFormat,
    pub stats: DrainStats,
    /// Events that fell back to user-space-only sampling for lack of permission.
    pub user_only: bool,
}

fn sample_type(options: &RecordOptions) -> u64 {
    let mut t = b::PERF_SAMPLE_IDENTIFIER
        | b::PERF_SAMPLE_IP
        | b::PERF_SAMPLE_TID
        | b::PERF_SAMPLE_TIME
        | b::PERF_SAMPLE_CPU
        | b::PERF_SAMPLE_PERIOD;
    if options.kernel_frames || options.call_graph == CallGraph::FramePointer {
        t |= b::PERF_SAMPLE_CALLCHAIN;
    }
    match options.call_graph {
        CallGraph::Dwarf { .. } => t |= b::PERF_SAMPLE_REGS_USER | b::PERF_SAMPLE_STACK_USER,
        // Registers only: they prove the stop saw the sampled instant.
        CallGraph::Stopped => t |= b::PERF_SAMPLE_REGS_USER,
        CallGraph::None | CallGraph::FramePointer => {}
    }
    t as u64
}

/// How an event starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Disabled until the gated command execs.
    AtExec,
    /// At once (the task is attached, or stopped at its exec by ptrace).
    Now,
}

/// The attr for one sampling event. `tracks_tasks` is set on the first event
/// only, so mmap/comm/fork records are not duplicated per event.
pub fn sampling_attr(
    spec: &EventSpec,
    options: &RecordOptions,
    tracks_tasks: bool,
    start: Start,
) -> perf_event_attr {
    let mut attr = kernel::new_attr();
    spec.apply_to(&mut attr);
    attr.sample_type = sample_type(options);
    match options.rate {
        Rate::Frequency(hz) => {
            attr.set_freq(1);
            attr.__bindgen_anon_1.sample_freq = hz;
        }
        Rate::Period(period) => attr.__bindgen_anon_1.sample_period = period,
    }
    attr.set_inherit(options.inherit as u64);
    attr.set_disabled((start == Start::AtExec) as u64);
    attr.set_enable_on_exec((start == Start::AtExec) as u64);
    attr.set_sample_id_all(1);
    attr.set_use_clockid(1);
    attr.clockid = libc::CLOCK_MONOTONIC;
    if tracks_tasks {
        attr.set_mmap(1);
        attr.set_mmap2(1);
        attr.set_comm(1);
        attr.set_comm_exec(1);
        attr.set_task(1);
    }
    if !options.kernel_frames {
        attr.set_exclude_callchain_kernel(1);
    }
    match options.call_graph {
        CallGraph::Dwarf { stack_bytes } => {
            // User frames come from our own unwinding of the copied stack.
            attr.set_exclude_callchain_user(1);
            attr.sample_regs_user = REGS_USER_MASK;
            attr.sample_stack_user = stack_bytes;
        }
        CallGraph::Stopped => {
            // Each sample stops its thread with a SIGTRAP (which the tracer
            // swallows) so its stacks can be read at that very instant. The
            // kernel requires such events to go away at exec; the tracer
            // opens new ones for the new program.
            attr.set_exclude_callchain_user(1);
            attr.sample_regs_user = REGS_USER_MASK;
            attr.set_sigtrap(1);
            attr.set_remove_on_exec(1);
        }
        CallGraph::None | CallGraph::FramePointer => {}
    }
    // Wake the reader when a quarter of the ring is used.
    attr.set_watermark(1);
    attr.__bindgen_anon_2.wakeup_watermark = (options.mmap_pages * 4096 / 4) as u32;
    attr
}

impl Sampler {
    /// Opens every event on every CPU for `target` and maps one ring per CPU.
    pub fn open(options: &RecordOptions, target: &SampleTarget) -> Result<Sampler, SamplerError> {
        let (tids, start) = match target {
            SampleTarget::Launched { pid } => (vec![*pid], Start::AtExec),
            SampleTarget::Running { tids } => (tids.clone(), Start::Now),
        };
        let mut sampler = Sampler {
            cpus: cpus::online_cpus().map_err(SamplerError::Cpus)?,
            options: options.clone(),
            fds: Vec::new(),
            ring_owners: Vec::new(),
            rings: Vec::new(),
            event_of_id: HashMap::new(),
            format: SampleFormat {
                sample_type: sample_type(options),
                regs_user_mask: REGS_USER_MASK,
                sample_id_all: true,
            },
            stats: DrainStats::default(),
            user_only: false,
        };
        sampler.add_tasks(&tids, start)?;
        Ok(sampler)
    }

    /// Opens every event on every CPU for more tasks (e.g. a process that
    /// exec'd under ptrace), routing them into the existing rings.
    pub fn add_tasks(&mut self, tids: &[i32], start: Start) -> Result<(), SamplerError> {
        let must_exist = start == Start::AtExec || self.fds.is_empty();
        for (cpu_index, &cpu) in self.cpus.clone().iter().enumerate() {
            for &tid in tids {
                for (index, spec) in self.options.events.clone().iter().enumerate() {
                    let tracks_tasks = index == 0;
                    let mut attr = sampling_attr(spec, &self.options, tracks_tasks, start);
                    if self.user_only {
                        attr.set_exclude_kernel(1);
                        attr.set_exclude_hv(1);
                        attr.set_exclude_callchain_kernel(1);
                    }
                    let fd =
                        match open_with_fallback(&mut attr, tid, cpu as i32, &mut self.user_only) {
                            Ok(fd) => fd,
                            Err(OpenError::NoSuchProcess) if !must_exist => continue,
                            Err(OpenError::NoSuchProcess) => return Err(SamplerError::TargetGone),
                            Err(OpenError::PermissionDenied(_)) => {
                                return Err(SamplerError::Permission {
                                    event: spec.name.clone(),
                                    hint: crate::stat::counters::permission_hint(),
                                })
                            }
                            Err(reason @ (OpenError::NotSupported(_) | OpenError::Invalid(_))) => {
                                return Err(SamplerError::Unsupported {
                                    event: spec.name.clone(),
                                    reason,
                                })
                            }
                            Err(reason) => {
                                return Err(SamplerError::Open {
                                    event: spec.name.clone(),
                                    reason,
                                })
                            }
                        };
                    if let Ok(id) = fd.id() {
                        self.event_of_id.insert(id, index as u16);
                    }
                    match self.ring_owners.get(cpu_index) {
                        Some(&owner) => fd
                            .set_output(&self.fds[owner])
                            .map_err(SamplerError::SetOutput)?,
                        None => {
                            self.rings
                                .push(RingBuffer::map(&fd, self.options.mmap_pages)?);
                            self.ring_owners.push(self.fds.len());
                        }
                    }
                    self.fds.push(fd);
                }
            }
        }
        Ok(())
    }

    /// Starts sampling (attached targets; launched ones start at exec).
    pub fn enable(&self) {
        for fd in &self.fds {
            let _ = fd.enable();
        }
    }

    pub fn disable(&self) {
        for fd in &self.fds {
            let _ = fd.disable();
        }
    }

    /// The ring fds, to poll for readability.
    pub fn poll_fds(&self) -> Vec<BorrowedFd<'_>> {
        // Polling a ring's owner covers the events routed into it.
        self.ring_owners
            .iter()
            .map(|&i| self.fds[i].as_owned().as_fd())
            .collect()
    }

    /// Drains every ring and returns the records, sorted by time.
    pub fn drain(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let format = self.format;
        let events = &self.event_of_id;
        let stats = &mut self.stats;
        for ring in &mut self.rings {
            let result = ring.drain(|bytes| match format.decode(bytes) {
                Ok(record) => {
                    if let Some(item) = to_item(record, events, stats) {
                        items.push(item);
                    }
                }
                Err(_) => stats.malformed += 1,
            });
            if result.is_err() {
                stats.malformed += 1;
            }
        }
        items.sort_by_key(Item::time);
        items
    }
}

fn open_with_fallback(
    attr: &mut perf_event_attr,
    tid: i32,
    cpu: i32,
    user_only: &mut bool,
) -> Result<PerfFd, OpenError> {
    match kernel::open_event(attr, tid, cpu, None) {
        Err(OpenError::PermissionDenied(_)) if attr.exclude_kernel() == 0 => {
            // perf_event_paranoid >= 2: sample user space only, as perf does.
            attr.set_exclude_kernel(1);
            attr.set_exclude_hv(1);
            attr.set_exclude_callchain_kernel(1);
            let fd = kernel::open_event(attr, tid, cpu, None)?;
            *user_only = true;
            Ok(fd)
        }
        other => other,
    }
}

/// Splits a kernel callchain into its kernel part and user part (leaf first each).
fn split_callchain(chain: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let (mut kernel, mut user) = (Vec::new(), Vec::new());
    let mut in_user = false;
    for &ip in chain {
        if ip >= PERF_CONTEXT_MAX {
            // Everything after PERF_CONTEXT_USER is user space; KERNEL, HV and
            // guest markers start non-user sections.
            in_user = ip == PERF_CONTEXT_USER;
            continue;
        }
        if in_user {
            user.push(ip);
        } else {
            kernel.push(ip);
        }
    }
    (kernel, user)
}

fn to_item(record: Record<'_>, events: &HashMap<u64, u16>, stats: &mut DrainStats) -> Option<Item> {
    Some(match record {
        Record::Sample(s) => {
            let (kernel_chain, user_chain) = split_callchain(&s.callchain);
            let user_regs = match s.regs_user.as_slice() {
                // Mask order: BP (6), SP (7), IP (8).
                [bp, sp, ip] => Some(UserRegs {
                    ip: *ip,
                    sp: *sp,
                    bp: *bp,
                }),
                _ => None,
            };
            let cpumode = s.misc as u32 & b::PERF_RECORD_MISC_CPUMODE_MASK;
            Item::Sample(OwnedSample {
                event: s.id.and_then(|id| events.get(&id).copied()).unwrap_or(0),
                time: s.time,
                pid: s.pid,
                tid: s.tid,
                cpu: s.cpu,
                ip: s.ip,
                period: s.period,
                in_kernel: cpumode == b::PERF_RECORD_MISC_KERNEL,
                kernel_chain,
                user_chain,
                user_regs,
                stack: s.stack_user.to_vec(),
                stack_full: s.stack_full,
            })
        }
        Record::Mmap2 {
            pid,
            addr,
            len,
            pgoff,
            prot,
            filename,
            build_id,
            sample_id,
            ..
        } => Item::Mmap {
            pid,
            time: sample_id.time,
            addr,
            len,
            pgoff,
            executable: prot & libc::PROT_EXEC as u32 != 0,
            path: filename,
            build_id,
        },
        Record::Comm {
            pid,
            tid,
            comm,
            exec,
            sample_id,
        } => Item::Comm {
            pid,
            tid,
            time: sample_id.time,
            comm,
            exec,
        },
        Record::Fork {
            pid,
            ppid,
            tid,
            time,
            ..
        } => Item::Fork {
            pid,
            ppid,
            tid,
            time,
        },
        Record::Exit { pid, tid, time, .. } => Item::Exit { pid, tid, time },
        Record::Lost { lost } | Record::LostSamples { lost } => {
            stats.lost += lost;
            return None;
        }
        Record::Throttle {
            unthrottle: false, ..
        } => {
            stats.throttled += 1;
            return None;
        }
        Record::Throttle { .. } | Record::Other { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callchain_splits_at_context_markers() {
        let chain = [
            -128i64 as u64,
            0xffff_ffff_8100_0000,
            0xffff_ffff_8100_0100,
            PERF_CONTEXT_USER,
            0x401000,
            0x401100,
        ];
        let (k, u) = split_callchain(&chain);
        assert_eq!(k, vec![0xffff_ffff_8100_0000, 0xffff_ffff_8100_0100]);
        assert_eq!(u, vec![0x401000, 0x401100]);
    }
}
