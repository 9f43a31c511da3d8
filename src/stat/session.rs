//! One counting run: start or attach, wait for the end (or Ctrl-C), read.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::{kill, Signal};

use super::counters::{CountError, CountOptions, CountTarget, CounterSet};
use crate::event::EventGroup;
use crate::kernel::CounterReading;
use crate::target::signals::SignalWatcher;
use crate::target::{self, attach, ExitStatus, TargetError};

/// What to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatTarget {
    Command(Vec<OsString>),
    /// `-p`: every thread of these processes.
    Pids(Vec<i32>),
    /// `-t`: exactly these threads.
    Tids(Vec<i32>),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Count(#[from] CountError),
}

impl SessionError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Target(e) => e.exit_code(),
            SessionError::Count(_) => 1,
        }
    }
}

/// Counts read at one moment, with the time since the run started.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub since_start: Duration,
    pub readings: Vec<Option<CounterReading>>,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub readings: Vec<Option<CounterReading>>,
    pub elapsed: Duration,
    /// User and system CPU time of the command and its waited-for children.
    pub user_sys: Option<(Duration, Duration)>,
    /// How the command ended; `None` when attached.
    pub exit: Option<ExitStatus>,
    /// The run stopped because of a signal to pyperf (Ctrl-C on `-p`, or a
    /// signal forwarded to the command).
    pub interrupted_by: Option<Signal>,
    /// Per event: kernel counting was refused and it fell back to user space only.
    pub user_only: Vec<bool>,
}

/// Drives one run. `on_interval` is called every `interval` with cumulative counts.
pub struct Session<'a> {
    pub groups: &'a [EventGroup],
    pub target: &'a StatTarget,
    pub options: CountOptions,
    pub interval: Option<Duration>,
    /// Extra environment for a launched command.
    pub env: &'a [(String, String)],
}

/// How often an attached target is checked for having exited.
const ALIVE_CHECK: Duration = Duration::from_millis(100);

impl Session<'_> {
    /// Runs once. Signals must already be routed through `signals`.
    pub fn run(
        &self,
        signals: &SignalWatcher,
        on_interval: &mut dyn FnMut(&Snapshot),
    ) -> Result<RunOutcome, SessionError> {
        match self.target {
            StatTarget::Command(argv) => self.run_command(argv, signals, on_interval),
            StatTarget::Pids(pids) => {
                let tids = attach::threads_of_all(pids)?;
                self.run_attached(pids.clone(), tids, signals, on_interval)
            }
            StatTarget::Tids(tids) => {
                for &tid in tids {
                    attach::check_pid(tid)?;
                }
                self.run_attached(tids.clone(), tids.clone(), signals, on_interval)
            }
        }
    }

    fn run_command(
        &self,
        argv: &[OsString],
        signals: &SignalWatcher,
        on_interval: &mut dyn FnMut(&Snapshot),
    ) -> Result<RunOutcome, SessionError> {
        let usage_before = children_usage();
        let child = target::spawn_gated(argv, self.env)?;
        let pid = child.pid();
        let counters = match CounterSet::open(
            self.groups,
            &CountTarget::Launched { pid: pid.as_raw() },
            self.options,
        ) {
            Ok(counters) => counters,
            Err(e) => {
                child.abandon();
                return Err(e.into());
            }
        };
        let start = Instant::now();
        child.release().map_err(TargetError::normalized)?;
        let mut interrupted_by = None;
        let mut next_tick = self.interval.map(|i| start + i);
        let status = loop {
            if let Some(status) = target::reap(pid)? {
                break status;
            }
            let timeout = next_tick.map(|t| t.saturating_duration_since(Instant::now()));
            wait_for_signal(signals, timeout);
            while let Some(received) = signals.next() {
                if received.signal == Signal::SIGCHLD {
                    continue;
                }
                // Ctrl-C from the terminal already reached the command (same
                // process group); a signal sent to pyperf alone is passed on.
                if received.sent_by_process {
                    let _ = kill(pid, received.signal);
                }
                interrupted_by = Some(received.signal);
            }
            self.tick(&mut next_tick, start, &counters, on_interval);
        };
        let (elapsed, readings) = self.last_interval(start, &counters, on_interval);
        let user_sys = usage_before
            .zip(children_usage())
            .map(|((u0, s0), (u1, s1))| (u1.saturating_sub(u0), s1.saturating_sub(s0)));
        Ok(RunOutcome {
            readings,
            elapsed,
            user_sys,
            exit: Some(status),
            interrupted_by,
            user_only: counters.user_only(),
        })
    }

    /// Reports an interval when its time has come (`-I`).
    fn tick(
        &self,
        next_tick: &mut Option<Instant>,
        start: Instant,
        counters: &CounterSet,
        on_interval: &mut dyn FnMut(&Snapshot),
    ) {
        if let (Some(tick), Some(interval)) = (*next_tick, self.interval) {
            if Instant::now() >= tick {
                on_interval(&Snapshot {
                    since_start: start.elapsed(),
                    readings: counters.read(),
                });
                *next_tick = Some(tick + interval);
            }
        }
    }

    /// The final counts, reported as the last (partial) interval with `-I`.
    fn last_interval(
        &self,
        start: Instant,
        counters: &CounterSet,
        on_interval: &mut dyn FnMut(&Snapshot),
    ) -> (Duration, Vec<Option<CounterReading>>) {
        let elapsed = start.elapsed();
        let readings = counters.read();
        if self.interval.is_some() {
            on_interval(&Snapshot {
                since_start: elapsed,
                readings: readings.clone(),
            });
        }
        (elapsed, readings)
    }

    fn run_attached(
        &self,
        watched: Vec<i32>,
        tids: Vec<i32>,
        signals: &SignalWatcher,
        on_interval: &mut dyn FnMut(&Snapshot),
    ) -> Result<RunOutcome, SessionError> {
        let counters = CounterSet::open(self.groups, &CountTarget::Running { tids }, self.options)?;
        let start = Instant::now();
        let mut interrupted_by = None;
        let mut next_tick = self.interval.map(|i| start + i);
        while interrupted_by.is_none() && watched.iter().any(|&pid| attach::is_alive(pid)) {
            let until_tick = next_tick.map(|t| t.saturating_duration_since(Instant::now()));
            let timeout = until_tick.map_or(ALIVE_CHECK, |t| t.min(ALIVE_CHECK));
            wait_for_signal(signals, Some(timeout));
            while let Some(received) = signals.next() {
                if received.signal != Signal::SIGCHLD {
                    interrupted_by = Some(received.signal);
                }
            }
            self.tick(&mut next_tick, start, &counters, on_interval);
        }
        counters.disable();
        let (elapsed, readings) = self.last_interval(start, &counters, on_interval);
        Ok(RunOutcome {
            readings,
            elapsed,
            user_sys: None,
            exit: None,
            interrupted_by,
            user_only: counters.user_only(),
        })
    }
}

/// Waits until a signal is pending or `timeout` passes (`None`: no timeout).
fn wait_for_signal(signals: &SignalWatcher, timeout: Option<Duration>) {
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(t) => PollTimeout::try_from(t.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX),
    };
    let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, timeout);
}

fn children_usage() -> Option<(Duration, Duration)> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let to_duration = |tv: nix::sys::time::TimeVal| {
        Duration::new(
            tv.tv_sec().max(0) as u64,
            (tv.tv_usec().max(0) as u32) * 1000,
        )
    };
    Some((
        to_duration(usage.user_time()),
        to_duration(usage.system_time()),
    ))
}
