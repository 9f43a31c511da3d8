//! The recording loop of the stopped mode: the command's tasks are traced,
//! every sample stops its thread with a perf SIGTRAP, and the stop is used to
//! read that thread's native and Python stacks at the sampled instant.

use std::path::Path;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::ptrace;
use nix::sys::signal::{kill, Signal};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::Pid;

use super::options::RecordOptions;
use super::recorder::Recorder;
use super::sampler::{SampleTarget, Sampler, Start};
use super::session::{
    finish, open_recorder, run_meta, RecordError, RecordOutcome, RecordTarget, CHECKPOINT_EVERY,
    GRACE_AFTER_INTERRUPT,
};
use super::stopped::StopRegs;
use crate::target::signals::SignalWatcher;
use crate::target::tracer::{TraceEvent, Tracer};
use crate::target::{self, attach, ExitStatus, TargetError};

fn monotonic_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    })
}

/// Runs a stopped-mode recording.
pub fn record(
    options: &RecordOptions,
    target: &RecordTarget,
    output: &Path,
    env: &[(String, String)],
    signals: &SignalWatcher,
    command: Vec<String>,
) -> Result<RecordOutcome, RecordError> {
    match target {
        RecordTarget::Command(argv) => {
            let child = target::spawn_gated(argv, env)?;
            let pid = child.pid();
            let mut tracer = match Tracer::seize(&[pid]) {
                Ok(tracer) => tracer,
                Err(e) => {
                    child.abandon();
                    return Err(e.into());
                }
            };
            let released = child.release_no_wait()?;
            // The command stops at its exec: open the events then, so they
            // count from its first instruction (sigtrap events cannot wait for exec).
            if let Err(e) = wait_for_exec(&mut tracer, pid) {
                // An exec that failed explains itself through the gate.
                released.outcome().map_err(TargetError::normalized)?;
                return Err(e);
            }
            released.outcome().map_err(TargetError::normalized)?;
            let sampler = match Sampler::open(
                options,
                &SampleTarget::Running {
                    tids: vec![pid.as_raw()],
                },
            ) {
                Ok(sampler) => sampler,
                Err(e) => {
                    let _ = kill(pid, Signal::SIGKILL);
                    let _ = target::wait_exit(pid);
                    return Err(e.into());
                }
            };
            let mut recorder = open_recorder(options, command, output)?;
            recorder.processes.exec_from_proc(pid.as_raw() as u32);
            let started = Instant::now();
            tracer.resume(pid);
            let mut session = Session {
                sampler,
                recorder: &mut recorder,
                tracer,
            };
            let exit = session.run(signals, Some(pid), &[], started)?;
            let Session { sampler, .. } = session;
            finish(sampler, recorder, exit, started)
        }
        RecordTarget::Pids(pids) => {
            let tids = attach::threads_of_all(pids)?;
            let tracer =
                Tracer::seize(&tids.iter().map(|&t| Pid::from_raw(t)).collect::<Vec<_>>())?;
            let sampler = Sampler::open(options, &SampleTarget::Running { tids })?;
            let mut recorder = open_recorder(options, command, output)?;
            for &pid in pids {
                recorder.processes.seed_from_proc(pid as u32);
            }
            let started = Instant::now();
            let mut session = Session {
                sampler,
                recorder: &mut recorder,
                tracer,
            };
            let exit = session.run(signals, None, pids, started)?;
            let Session {
                sampler,
                mut tracer,
                ..
            } = session;
            // The events were disabled when the loop ended: no new SIGTRAP can
            // reach the program once it is untraced.
            tracer.detach_all();
            finish(sampler, recorder, exit, started)
        }
    }
}

/// Waits (blocking) for the gated command's exec stop. The gate may still be
/// in its own exec of pyperf when it is seized; that stop is passed over.
fn wait_for_exec(tracer: &mut Tracer, pid: Pid) -> Result<(), RecordError> {
    let own_exe = std::fs::read_link("/proc/self/exe").ok();
    loop {
        match tracer.wait_event()? {
            Some(TraceEvent::Exec { pid: p }) if p == pid => {
                let exe = std::fs::read_link(format!("/proc/{p}/exe")).ok();
                if exe.is_some() && exe == own_exe {
                    tracer.resume(p);
                    continue;
                }
                return Ok(());
            }
            Some(TraceEvent::Exited { tid, status }) if tid == pid => {
                return Err(TargetError::ExitedEarly(status).into());
            }
            Some(TraceEvent::PerfTrap { tid } | TraceEvent::Exec { pid: tid }) => {
                tracer.resume(tid)
            }
            Some(TraceEvent::Exited { .. }) => {}
            None => return Err(TargetError::ExitedEarly(ExitStatus::Exited(127)).into()),
        }
    }
}

struct Session<'a> {
    sampler: Sampler,
    recorder: &'a mut Recorder,
    tracer: Tracer,
}

impl Session<'_> {
    /// Samples until the command (`child`) ends, the attached `pids` are gone,
    /// or pyperf is interrupted.
    fn run(
        &mut self,
        signals: &SignalWatcher,
        child: Option<Pid>,
        pids: &[i32],
        started: Instant,
    ) -> Result<Option<ExitStatus>, RecordError> {
        let mut last_checkpoint = Instant::now();
        let mut interrupted_at: Option<Instant> = None;
        let mut exit = None;
        loop {
            {
                let ring_fds = self.sampler.poll_fds();
                let mut fds: Vec<PollFd> = ring_fds
                    .iter()
                    .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
                    .collect();
                fds.push(PollFd::new(signals.as_fd(), PollFlags::POLLIN));
                let _ = poll(&mut fds, PollTimeout::from(50u16));
            }
            while let Some(received) = signals.next() {
                if received.signal == Signal::SIGCHLD {
                    continue;
                }
                if let (Some(pid), true) = (child, received.sent_by_process) {
                    let _ = kill(pid, received.signal);
                }
                interrupted_at.get_or_insert_with(Instant::now);
            }
            while let Some(event) = self.tracer.next_event()? {
                if let Some(status) = self.on_event(event, child)? {
                    exit = Some(status);
                }
            }
            self.recorder.apply(self.sampler.drain())?;
            self.recorder.pair_pending(monotonic_ns(), false)?;
            if exit.is_some() {
                break;
            }
            match child {
                Some(pid)
                    if interrupted_at.is_some_and(|t| t.elapsed() > GRACE_AFTER_INTERRUPT) =>
                {
                    let _ = kill(pid, Signal::SIGTERM);
                }
                None if interrupted_at.is_some() || !pids.iter().any(|&p| attach::is_alive(p)) => {
                    break
                }
                _ => {}
            }
            if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
                let meta = run_meta(&self.sampler, self.recorder, started);
                self.recorder.writer.checkpoint(&meta)?;
                last_checkpoint = Instant::now();
            }
        }
        self.sampler.disable();
        self.recorder.apply(self.sampler.drain())?;
        Ok(exit)
    }

    /// Handles one trace event; returns the command's exit status when it ends.
    fn on_event(
        &mut self,
        event: TraceEvent,
        child: Option<Pid>,
    ) -> Result<Option<ExitStatus>, RecordError> {
        match event {
            TraceEvent::PerfTrap { tid } => {
                let time = monotonic_ns();
                if let Ok(regs) = ptrace::getregs(tid) {
                    // Mappings and new threads recorded so far must be known
                    // before the stack is read.
                    self.recorder.apply(self.sampler.drain())?;
                    let tid_u = tid.as_raw() as u32;
                    let pid = self
                        .recorder
                        .processes
                        .thread(tid_u)
                        .map(|t| t.pid)
                        .or_else(|| attach::tgid_of(tid.as_raw()).map(|p| p as u32));
                    if let Some(pid) = pid {
                        self.recorder.capture(
                            pid,
                            tid_u,
                            StopRegs {
                                ip: regs.rip,
                                sp: regs.rsp,
                                bp: regs.rbp,
                                fs_base: regs.fs_base,
                            },
                            time,
                        );
                    }
                }
                self.tracer.resume(tid);
                self.recorder.pair_pending(monotonic_ns(), false)?;
                Ok(None)
            }
            TraceEvent::Exec { pid } => {
                // The old program's events went away with its exec, and with
                // them the records of the new program's first mappings: read
                // those from /proc, and sample the new program.
                self.recorder.apply(self.sampler.drain())?;
                self.recorder.exec(pid.as_raw() as u32);
                self.recorder.processes.exec_from_proc(pid.as_raw() as u32);
                let reopened = self.sampler.add_tasks(&[pid.as_raw()], Start::Now);
                self.tracer.resume(pid);
                reopened?;
                Ok(None)
            }
            TraceEvent::Exited { tid, status } => Ok((Some(tid) == child).then_some(status)),
        }
    }
}
