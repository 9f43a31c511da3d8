//! Kernel thread ids for `pthread_t` values.
//!
//! CPython 3.8-3.10 record only `pthread_self()` in a thread state. On
//! x86-64 glibc that value is the thread's TCB address, which is also the
//! thread's `fs_base` register. Reading `fs_base` needs each thread stopped
//! for a moment with ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT, GETREGS,
//! DETACH), so this is done once per thread, not per sample.

use std::collections::HashMap;

use nix::sys::ptrace;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Why the thread pointers could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TidError {
    #[error("cannot list the threads of process {pid}: {source}")]
    Tasks {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("reading thread registers is only implemented for x86-64")]
    Unsupported,
}

/// The kernel TIDs of process `pid`.
pub fn tids(pid: i32) -> Result<Vec<u32>, TidError> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|source| TidError::Tasks { pid, source })?;
    let mut out: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Map each thread's pointer (`fs_base`, equal to its `pthread_t` on x86-64
/// glibc) to its TID. Threads that cannot be stopped (already traced, or
/// exited meanwhile) are left out. Each thread is stopped for the time of
/// one register read.
#[cfg(target_arch = "x86_64")]
pub fn thread_pointers(pid: i32) -> Result<HashMap<u64, u32>, TidError> {
    let mut map = HashMap::new();
    for tid in tids(pid)? {
        if let Some(fs_base) = fs_base(tid) {
            map.insert(fs_base, tid);
        }
    }
    Ok(map)
}

#[cfg(not(target_arch = "x86_64"))]
pub fn thread_pointers(_pid: i32) -> Result<HashMap<u64, u32>, TidError> {
    Err(TidError::Unsupported)
}

#[cfg(target_arch = "x86_64")]
fn fs_base(tid: u32) -> Option<u64> {
    let pid = Pid::from_raw(i32::try_from(tid).ok()?);
    ptrace::seize(pid, ptrace::Options::empty()).ok()?;
    let result = (|| {
        ptrace::interrupt(pid).ok()?;
        // Wait for the interrupt stop; other stops (a signal arriving
        // meanwhile) are also stops in which registers can be read.
        match waitpid(pid, Some(WaitPidFlag::__WALL)).ok()? {
            WaitStatus::PtraceEvent(..) | WaitStatus::Stopped(..) => {}
            _ => return None,
        }
        ptrace::getregs(pid).ok().map(|r| r.fs_base)
    })();
    // Detaching resumes the thread; a pending signal stop is re-delivered.
    let _ = ptrace::detach(pid, None);
    result
}
