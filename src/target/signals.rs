//! Signals that reach pyperf while it follows a target.
//!
//! They are blocked and read from a signalfd, so the event loop sees them as
//! plain input and no async handler is needed. The command is started with an
//! empty signal mask (the gate resets it), so it sees signals normally.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::TargetError;

/// `si_code` of a signal sent with kill(2) by some process.
const SI_USER: i32 = 0;
/// `si_code` of a signal sent with sigqueue(3).
const SI_QUEUE: i32 = -1;

/// One signal pyperf received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signal: Signal,
    /// True when a process sent it with kill/sigqueue, rather than the terminal
    /// or the kernel (a Ctrl-C from the terminal already reached the command).
    pub sent_by_process: bool,
}

/// Owns the signalfd and the blocked mask; restores the mask on drop.
pub struct SignalWatcher {
    fd: SignalFd,
    mask: SigSet,
}

/// The signals pyperf watches while a target runs.
pub const WATCHED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGCHLD,
];

impl SignalWatcher {
    /// Blocks [`WATCHED`] in the calling thread and opens a signalfd for them.
    /// Call before spawning anything, so no signal slips past.
    pub fn install() -> Result<SignalWatcher, TargetError> {
        let mut mask = SigSet::empty();
        for sig in WATCHED {
            mask.add(sig);
        }
        mask.thread_block().map_err(TargetError::Signals)?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(TargetError::Signals)?;
        Ok(SignalWatcher { fd, mask })
    }

    /// The fd to poll for readability.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The next pending signal, if any (never blocks).
    pub fn next(&self) -> Option<Received> {
        loop {
            let info = self.fd.read_signal().ok()??;
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            let code = info.ssi_code;
            return Some(Received {
                signal,
                sent_by_process: code == SI_USER || code == SI_QUEUE,
            });
        }
    }
}

impl Drop for SignalWatcher {
    fn drop(&mut self) {
        let _ = self.mask.thread_unblock();
    }
}
