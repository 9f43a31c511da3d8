//! How the profiled program ended, and the exit code pyperf passes on.

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::TargetError;

/// The profiled program's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(Signal),
}

impl ExitStatus {
    /// Maps a final wait status; `None` for stops and ptrace events.
    pub fn from_wait(status: WaitStatus) -> Option<ExitStatus> {
        match status {
            WaitStatus::Exited(_, code) => Some(ExitStatus::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(ExitStatus::Signaled(sig)),
            _ => None,
        }
    }

    /// The code pyperf exits with: the program's own, or 128 + signal as a shell reports it.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(sig) => 128 + sig as i32,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with status {code}"),
            ExitStatus::Signaled(sig) => write!(f, "killed by {sig}"),
        }
    }
}

/// Collects `pid`'s final status if it has ended (never blocks).
pub fn reap(pid: Pid) -> Result<Option<ExitStatus>, TargetError> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) => {
                if let Some(exit) = ExitStatus::from_wait(status) {
                    return Ok(Some(exit));
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(TargetError::Wait(e)),
        }
    }
}

/// Waits until `pid` ends and returns how.
pub fn wait_exit(pid: Pid) -> Result<Option<ExitStatus>, TargetError> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(exit) = ExitStatus::from_wait(status) {
                    return Ok(Some(exit));
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(TargetError::Wait(e)),
        }
    }
}
