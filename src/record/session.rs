//! One recording: start or attach, sample until the end (or Ctrl-C), finish
//! the file so it is complete and symbolized.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::options::{CallGraph, Rate, RecordOptions};
use super::recorder::{RecordCounts, Recorder};
use super::sampler::{SampleTarget, Sampler, SamplerError};
use crate::profile::{EventInfo, Header, Meta, ProfileError, ProfileWriter, WriteSummary};
use crate::target::signals::SignalWatcher;
use crate::target::{self, attach, ExitStatus, TargetError};

/// What to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordTarget {
    Command(Vec<OsString>),
    Pids(Vec<i32>),
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RecordError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RecordError::Target(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// How the recording ended.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub exit: Option<ExitStatus>,
    pub written: WriteSummary,
    pub meta: Meta,
    pub threads: usize,
    /// Counters beyond those the file keeps (failed unwinds, unpaired stops).
    pub counts: RecordCounts,
    pub user_only: bool,
}

/// How often the file is checkpointed, so a killed pyperf loses little.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// How long a Ctrl-C'd command may take to exit before it gets SIGTERM.
pub(super) const GRACE_AFTER_INTERRUPT: Duration = Duration::from_secs(2);

/// Keeps an existing output as `NAME.old`, as perf does with perf.data.
fn keep_previous(path: &Path) -> Result<(), RecordError> {
    // Only regular files: `-o /dev/null` must not move the device away.
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        let mut old = path.as_os_str().to_os_string();
        old.push(".old");
        std::fs::rename(path, &old).map_err(|source| RecordError::Output {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Starts the profile file (keeping an older one as `.old`) and its recorder.
pub(super) fn open_recorder(
    options: &RecordOptions,
    command: Vec<String>,
    output: &Path,
) -> Result<Recorder, RecordError> {
    keep_previous(output)?;
    let header = Header {
        command,
        start_unix_ns: now_unix_ns(),
        events: event_infos(options),
    };
    Ok(Recorder::new(
        ProfileWriter::create(output, &header)?,
        options,
    ))
}

fn event_infos(options: &RecordOptions) -> Vec<EventInfo> {
    options
        .events
        .iter()
        .map(|spec| EventInfo {
            name: spec.name.clone(),
            period: match options.rate {
                Rate::Period(p) => Some(p),
                Rate::Frequency(_) => None,
            },
            frequency: match options.rate {
                Rate::Frequency(f) => Some(f),
                Rate::Period(_) => None,
            },
            unit: if spec.is_clock() {
                "ns".into()
            } else {
                "events".into()
            },
        })
        .collect()
}

fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Runs a recording into `output`.
pub fn record(
    options: &RecordOptions,
    target: &RecordTarget,
    output: &Path,
    env: &[(String, String)],
    signals: &SignalWatcher,
) -> Result<RecordOutcome, RecordError> {
    let command: Vec<String> = match target {
        RecordTarget::Command(argv) => argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        RecordTarget::Pids(_) => Vec::new(),
    };
    if options.call_graph == CallGraph::Stopped {
        return super::traced::record(options, target, output, env, signals, command);
    }
    match target {
        RecordTarget::Command(argv) => {
            let child = target::spawn_gated(argv, env)?;
            let pid = child.pid();
            let sampler =
                match Sampler::open(options, &SampleTarget::Launched { pid: pid.as_raw() }) {
                    Ok(sampler) => sampler,
                    Err(e) => {
                        child.abandon();
                        return Err(e.into());
                    }
                };
            let mut recorder = open_recorder(options, command, output)?;
            let started = Instant::now();
            child.release().map_err(TargetError::normalized)?;
            let mut sampler = sampler;
            let exit = run_loop(
                &mut sampler,
                &mut recorder,
                signals,
                &Following::Child(pid),
                started,
            )?;
            finish(sampler, recorder, exit, started)
        }
        RecordTarget::Pids(pids) => {
            let tids = attach::threads_of_all(pids)?;
            let mut sampler = Sampler::open(options, &SampleTarget::Running { tids })?;
            let mut recorder = open_recorder(options, command, output)?;
            for &pid in pids {
                recorder.processes.seed_from_proc(pid as u32);
            }
            let started = Instant::now();
            sampler.enable();
            let exit = run_loop(
                &mut sampler,
                &mut recorder,
                signals,
                &Following::Attached(pids.clone()),
                started,
            )?;
            finish(sampler, recorder, exit, started)
        }
    }
}

enum Following {
    Child(Pid),
    Attached(Vec<i32>),
}

/// Samples until the command ends, the attached processes are gone, or
/// pyperf is interrupted; returns the command's exit status.
fn run_loop(
    sampler: &mut Sampler,
    recorder: &mut Recorder,
    signals: &SignalWatcher,
    following: &Following,
    started: Instant,
) -> Result<Option<ExitStatus>, RecordError> {
    let mut last_checkpoint = Instant::now();
    let mut interrupted_at: Option<Instant> = None;
    let exit = loop {
        {
            let ring_fds = sampler.poll_fds();
            let mut fds: Vec<PollFd> = ring_fds
                .iter()
                .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
                .collect();
            fds.push(PollFd::new(signals.as_fd(), PollFlags::POLLIN));
            let _ = poll(&mut fds, PollTimeout::from(100u16));
        }
        recorder.apply(sampler.drain())?;
        while let Some(received) = signals.next() {
            if received.signal == Signal::SIGCHLD {
                continue;
            }
            if let (Following::Child(pid), true) = (following, received.sent_by_process) {
                // Ctrl-C from a terminal reached the command already; a signal
                // sent to pyperf alone is passed on.
                let _ = kill(*pid, received.signal);
            }
            interrupted_at.get_or_insert_with(Instant::now);
        }
        match following {
            Following::Child(pid) => {
                if let Some(status) = target::reap(*pid)? {
                    break Some(status);
                }
                if interrupted_at.is_some_and(|t| t.elapsed() > GRACE_AFTER_INTERRUPT) {
                    // Like perf: stop a command that outlives the interruption.
                    let _ = kill(*pid, Signal::SIGTERM);
                    break target::wait_exit(*pid)?;
                }
            }
            Following::Attached(pids) => {
                if interrupted_at.is_some() || !pids.iter().any(|&pid| attach::is_alive(pid)) {
                    break None;
                }
            }
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            let meta = run_meta(sampler, recorder, started);
            recorder.writer.checkpoint(&meta)?;
            last_checkpoint = Instant::now();
        }
    };
    sampler.disable();
    recorder.apply(sampler.drain())?;
    Ok(exit)
}

/// The run's figures so far, for checkpoints.
pub(super) fn run_meta(sampler: &Sampler, recorder: &Recorder, started: Instant) -> Meta {
    recorder.meta(&base_meta(sampler, started))
}

/// What the sampler and the clock know of the run (lost samples, duration).
fn base_meta(sampler: &Sampler, started: Instant) -> Meta {
    Meta {
        lost_samples: sampler.stats.lost,
        duration_ns: started.elapsed().as_nanos() as u64,
        ..Meta::default()
    }
}

pub(super) fn finish(
    sampler: Sampler,
    recorder: Recorder,
    exit: Option<ExitStatus>,
    started: Instant,
) -> Result<RecordOutcome, RecordError> {
    let base = base_meta(&sampler, started);
    let threads = recorder.thread_count();
    let (written, meta, counts) = recorder.finish(&base)?;
    Ok(RecordOutcome {
        exit,
        written,
        meta,
        threads,
        counts,
        user_only: sampler.user_only,
    })
}
