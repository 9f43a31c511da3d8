//! Following a command's tasks with ptrace, so that sampled threads can be
//! stopped at the sample and read consistently.
//!
//! Every task is seized (PTRACE_SEIZE) with fork/vfork/clone/exec tracing, so
//! threads and child processes are followed automatically. The tracer turns
//! the raw wait statuses into the few events a recorder cares about and deals
//! with everything else itself: new tasks' first stops, job-control stops,
//! and signals that belong to the program (re-injected unchanged).

use std::collections::HashSet;

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{ExitStatus, TargetError};
use crate::kernel;

/// `si_code` of the SIGTRAP a perf event with `sigtrap` sends.
pub const TRAP_PERF: i32 = 6;

/// What the recorder needs to hear about. Tasks reported by `PerfTrap` and
/// `Exec` stay stopped until [`Tracer::resume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceEvent {
    /// A perf event fired in `tid` and the thread is stopped right after it.
    PerfTrap { tid: Pid },
    /// Process `pid` exec'd a new program (its sigtrap events were removed).
    Exec { pid: Pid },
    /// A task ended.
    Exited { tid: Pid, status: ExitStatus },
}

/// The set of traced tasks.
pub struct Tracer {
    tracees: HashSet<Pid>,
    /// Program signals seen while stopping tasks, delivered when detaching.
    held_signals: Vec<(Pid, Signal)>,
    /// Tasks whose first ptrace stop has been seen.
    started: HashSet<Pid>,
}

/// Whether the SIGTRAP `pid` is stopped with came from a perf event.
fn is_perf_trap(pid: Pid) -> bool {
    ptrace::getsiginfo(pid).is_ok_and(|info| info.si_code == TRAP_PERF)
}

fn options() -> Options {
    Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACEEXEC
}

impl Tracer {
    /// Seizes `pid` (a gated child before its release, or a thread to attach to).
    pub fn seize(pids: &[Pid]) -> Result<Tracer, TargetError> {
        let mut tracer = Tracer {
            tracees: HashSet::new(),
            held_signals: Vec::new(),
            started: HashSet::new(),
        };
        for &pid in pids {
            ptrace::seize(pid, options()).map_err(|errno| TargetError::Trace {
                pid: pid.as_raw(),
                errno,
            })?;
            tracer.tracees.insert(pid);
            // A seized running task gets no initial stop.
            tracer.started.insert(pid);
        }
        Ok(tracer)
    }

    /// Lets a stopped task run on, delivering nothing.
    pub fn resume(&self, tid: Pid) {
        let _ = ptrace::cont(tid, None);
    }

    /// The next event worth reporting, handling the others; `None` when no
    /// task has anything to report right now (never blocks).
    pub fn next_event(&mut self) -> Result<Option<TraceEvent>, TargetError> {
        self.event(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)
    }

    /// The next event worth reporting, waiting for it; `None` when no task is left.
    pub fn wait_event(&mut self) -> Result<Option<TraceEvent>, TargetError> {
        self.event(WaitPidFlag::__WALL)
    }

    fn event(&mut self, flags: WaitPidFlag) -> Result<Option<TraceEvent>, TargetError> {
        loop {
            let status = match waitpid(None, Some(flags)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(TargetError::Wait(errno)),
                Ok(status) => status,
            };
            if let Some(event) = self.handle(status) {
                return Ok(Some(event));
            }
        }
    }

    fn handle(&mut self, status: WaitStatus) -> Option<TraceEvent> {
        match status {
            WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _) => {
                self.tracees.remove(&pid);
                self.started.remove(&pid);
                ExitStatus::from_wait(status).map(|status| TraceEvent::Exited { tid: pid, status })
            }
            WaitStatus::PtraceEvent(pid, _, event) => {
                self.tracees.insert(pid);
                self.started.insert(pid);
                if event == Event::PTRACE_EVENT_EXEC as i32 {
                    return Some(TraceEvent::Exec { pid });
                }
                if event == Event::PTRACE_EVENT_STOP as i32 {
                    self.group_or_initial_stop(pid, status);
                    return None;
                }
                if let Ok(new) = ptrace::getevent(pid) {
                    // fork / vfork / clone: the new task is traced already.
                    self.tracees.insert(Pid::from_raw(new as i32));
                }
                self.resume(pid);
                None
            }
            WaitStatus::Stopped(pid, signal) => {
                self.tracees.insert(pid);
                self.started.insert(pid);
                if signal == Signal::SIGTRAP
                    && ptrace::getsiginfo(pid).is_ok_and(|info| info.si_code == TRAP_PERF)
                {
                    return Some(TraceEvent::PerfTrap { tid: pid });
                }
                // The program's own signal: deliver it unchanged.
                let _ = ptrace::cont(pid, signal);
                None
            }
            _ => None,
        }
    }

    /// PTRACE_EVENT_STOP is a new task's first stop, or a job-control stop.
    fn group_or_initial_stop(&mut self, pid: Pid, status: WaitStatus) {
        let WaitStatus::PtraceEvent(_, signal, _) = status else {
            return;
        };
        let job_control = matches!(
            signal,
            Signal::SIGSTOP | Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU
        );
        if job_control && self.started.contains(&pid) {
            // Stay stopped like an untraced program would, but keep reporting.
            let _ = kernel::ptrace::listen(pid);
        } else {
            self.resume(pid);
        }
    }

    /// Stops every traced task (PTRACE_INTERRUPT) and waits until each is in a
    /// ptrace stop. Signals that arrive meanwhile are kept for [`Tracer::detach_all`].
    pub fn stop_all(&mut self) -> Vec<Pid> {
        for &tid in &self.tracees {
            let _ = ptrace::interrupt(tid);
        }
        let mut waiting: HashSet<Pid> = self.tracees.clone();
        let mut stopped = Vec::new();
        while !waiting.is_empty() {
            match waitpid(None, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(pid, _)) | Ok(WaitStatus::Signaled(pid, _, _)) => {
                    waiting.remove(&pid);
                    self.tracees.remove(&pid);
                }
                Ok(WaitStatus::Stopped(pid, signal)) => {
                    // A signal for the program: keep it to deliver at detach.
                    self.held_signals.push((pid, signal));
                    if waiting.remove(&pid) {
                        stopped.push(pid);
                    }
                }
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        if waiting.remove(&pid) {
                            stopped.push(pid);
                        }
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        stopped
    }

    /// Detaches from every task (used when an attached recording ends).
    pub fn detach_all(&mut self) {
        for (pid, signal) in std::mem::take(&mut self.held_signals) {
            if signal != Signal::SIGTRAP && self.tracees.remove(&pid) {
                let _ = ptrace::detach(pid, signal);
            }
        }
        // Tasks already in a ptrace stop detach at once; running ones must be
        // stopped first (detaching needs a stopped tracee).
        let mut pending: HashSet<Pid> = HashSet::new();
        for tid in self.tracees.drain() {
            if ptrace::detach(tid, None).is_err() && ptrace::interrupt(tid).is_ok() {
                pending.insert(tid);
            }
        }
        while !pending.is_empty() {
            match waitpid(None, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(pid, _)) | Ok(WaitStatus::Signaled(pid, _, _)) => {
                    pending.remove(&pid);
                }
                Ok(status) => {
                    let Some(pid) = status.pid() else { continue };
                    let deliver = match status {
                        // A pending perf SIGTRAP must not reach an untraced program.
                        WaitStatus::Stopped(_, Signal::SIGTRAP) if is_perf_trap(pid) => None,
                        WaitStatus::Stopped(_, sig) => Some(sig),
                        _ => None,
                    };
                    if ptrace::detach(pid, deliver).is_ok() {
                        pending.remove(&pid);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }
}

impl Drop for Tracer {
    /// Whatever ends the tracing (an error included), no task stays traced by
    /// a pyperf that no longer listens.
    fn drop(&mut self) {
        if !self.tracees.is_empty() {
            self.detach_all();
        }
    }
}
