//! Launch a command behind an exec gate, attach to a pid, forward signals, map exit status.

pub mod attach;
pub mod launch;
pub mod signals;
pub mod status;
pub mod tracer;

use nix::errno::Errno;

pub use launch::{run_gate, spawn_gated, GatedChild, Released, GATE_ARG};
pub use status::{reap, wait_exit, ExitStatus};

/// Failures of starting or following a target, each with the exit code pyperf should use.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no command given: use `pyperf stat -- COMMAND [ARGS]` or `-p PID`")]
    NoCommand,
    #[error("{program}: command not found")]
    CommandNotFound { program: String },
    #[error("cannot run {program}: {errno}")]
    Exec { program: String, errno: Errno },
    #[error("cannot find pyperf's own executable to start the command: {0}")]
    SelfExe(std::io::Error),
    #[error("cannot start the command: {0}")]
    Spawn(std::io::Error),
    #[error("cannot create a pipe to the command: {0}")]
    Pipe(Errno),
    #[error("waiting for the command failed: {0}")]
    Wait(Errno),
    #[error("no process with pid {0}: check the pid (is the program still running?)")]
    NoSuchProcess(i32),
    #[error("cannot trace process {pid} ({errno}): another debugger or profiler may be attached, or ptrace is restricted (kernel.yama.ptrace_scope)")]
    Trace { pid: i32, errno: Errno },
    #[error("the command ended before it started ({0})")]
    ExitedEarly(ExitStatus),
    #[error("cannot set up signal handling: {0}")]
    Signals(Errno),
}

impl TargetError {
    /// Exit code in the shell's convention: 127 not found, 126 not executable.
    pub fn exit_code(&self) -> i32 {
        match self {
            TargetError::CommandNotFound { .. } => 127,
            TargetError::Exec { errno, .. } if *errno == Errno::ENOENT => 127,
            TargetError::Exec { .. } => 126,
            _ => 1,
        }
    }

    /// Rewrites an ENOENT exec failure as "command not found".
    pub fn normalized(self) -> TargetError {
        match self {
            TargetError::Exec {
                program,
                errno: Errno::ENOENT,
            } => TargetError::CommandNotFound { program },
            other => other,
        }
    }
}
