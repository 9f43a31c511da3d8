//! The one ptrace request nix does not wrap: PTRACE_LISTEN.

use nix::errno::Errno;
use nix::unistd::Pid;

/// Lets a tracee in group-stop stay stopped (job control keeps working)
/// while still reporting new events to the tracer.
pub fn listen(pid: Pid) -> Result<(), Errno> {
    // SAFETY: PTRACE_LISTEN takes no address or data; the kernel validates the
    // pid and that it is our tracee in a group-stop.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_LISTEN,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}
