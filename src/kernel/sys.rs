//! Thin, checked wrappers over the perf_event_open syscall and its ioctls.
//!
//! This file and the ring-buffer mapping are the only places that talk to the
//! perf ABI through raw pointers; everything above them is safe Rust.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use perf_event_open_sys as sys;
use perf_event_open_sys::bindings::perf_event_attr;

/// Why the kernel refused to open an event, classified the way a user needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The machine cannot count this event (no PMU, unknown config, no sampling interrupt).
    #[error("not supported on this machine ({0})")]
    NotSupported(Errno),
    /// perf_event_paranoid or missing CAP_PERFMON refused it.
    #[error("permission denied ({0})")]
    PermissionDenied(Errno),
    /// The target process or thread does not exist (any more).
    #[error("no such process")]
    NoSuchProcess,
    /// Too many open files: the fd limit is too low for one fd per event and CPU.
    #[error("too many open files (raise `ulimit -n`)")]
    TooManyFiles,
    /// The attr itself was rejected.
    #[error("invalid event attributes ({0})")]
    Invalid(Errno),
    #[error("{0}")]
    Other(Errno),
}

impl OpenError {
    fn from_errno(errno: Errno) -> OpenError {
        match errno {
            Errno::ENOENT | Errno::EOPNOTSUPP | Errno::ENODEV | Errno::ENXIO => {
                OpenError::NotSupported(errno)
            }
            Errno::EACCES | Errno::EPERM => OpenError::PermissionDenied(errno),
            Errno::ESRCH => OpenError::NoSuchProcess,
            Errno::EMFILE | Errno::ENFILE => OpenError::TooManyFiles,
            Errno::EINVAL | Errno::E2BIG => OpenError::Invalid(errno),
            other => OpenError::Other(other),
        }
    }
}

/// An attr with `size` filled in and everything else zero, ready to configure.
pub fn new_attr() -> perf_event_attr {
    perf_event_attr {
        size: std::mem::size_of::<perf_event_attr>() as u32,
        ..Default::default()
    }
}

/// An open perf event file descriptor.
#[derive(Debug)]
pub struct PerfFd(OwnedFd);

/// What one counter read returns with TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterReading {
    pub value: u64,
    pub time_enabled: u64,
    pub time_running: u64,
}

/// The read_format every counting fd uses, so `read_counter` can decode it.
pub const COUNTER_READ_FORMAT: u64 = (sys::bindings::PERF_FORMAT_TOTAL_TIME_ENABLED
    | sys::bindings::PERF_FORMAT_TOTAL_TIME_RUNNING) as u64;

/// Opens one event. `pid`/`cpu` follow perf_event_open(2): pid -1 with a cpu
/// counts the whole CPU, pid with cpu -1 follows the task on every CPU.
pub fn open_event(
    attr: &perf_event_attr,
    pid: i32,
    cpu: i32,
    group: Option<&PerfFd>,
) -> Result<PerfFd, OpenError> {
    let mut attr = *attr;
    let group_fd = group.map_or(-1, |g| g.0.as_raw_fd());
    let flags = sys::bindings::PERF_FLAG_FD_CLOEXEC as libc::c_ulong;
    // SAFETY: `attr` is a fully initialised perf_event_attr owned by this frame,
    // with `size` set; the kernel only reads it (and may write back `size` on E2BIG).
    let fd = unsafe { sys::perf_event_open(&mut attr, pid, cpu, group_fd, flags) };
    if fd < 0 {
        return Err(OpenError::from_errno(Errno::last()));
    }
    // SAFETY: the syscall returned a new file descriptor that nothing else owns.
    Ok(PerfFd(unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn check(ret: libc::c_int) -> Result<(), Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl PerfFd {
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn enable(&self) -> Result<(), Errno> {
        // SAFETY: ENABLE takes no pointer argument; the fd is a live perf fd.
        check(unsafe { sys::ioctls::ENABLE(self.raw(), 0) })
    }

    pub fn disable(&self) -> Result<(), Errno> {
        // SAFETY: DISABLE takes no pointer argument; the fd is a live perf fd.
        check(unsafe { sys::ioctls::DISABLE(self.raw(), 0) })
    }

    /// Routes this event's records into `target`'s ring buffer.
    pub fn set_output(&self, target: &PerfFd) -> Result<(), Errno> {
        // SAFETY: SET_OUTPUT takes another perf fd by value; both are live.
        check(unsafe { sys::ioctls::SET_OUTPUT(self.raw(), target.raw()) })
    }

    /// The kernel's unique id for this event (matches PERF_SAMPLE_ID / IDENTIFIER).
    pub fn id(&self) -> Result<u64, Errno> {
        let mut id = 0u64;
        // SAFETY: ID writes one u64 through the pointer, which points at `id`.
        check(unsafe { sys::ioctls::ID(self.raw(), &mut id) })?;
        Ok(id)
    }

    /// Reads a counter opened with [`COUNTER_READ_FORMAT`].
    pub fn read_counter(&self) -> Result<CounterReading, Errno> {
        let mut buf = [0u8; 24];
        let n = nix::unistd::read(&self.0, &mut buf)?;
        if n != buf.len() {
            return Err(Errno::EIO);
        }
        let word =
            |i: usize| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Ok(CounterReading {
            value: word(0),
            time_enabled: word(1),
            time_running: word(2),
        })
    }

    pub fn as_owned(&self) -> &OwnedFd {
        &self.0
    }
}
