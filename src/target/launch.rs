//! Launching a command behind an exec gate.
//!
//! pyperf re-executes itself as a tiny gate process (`pyperf __exec-gate`),
//! which blocks on a pipe until the parent has opened its events on the gate's
//! pid, then execs the real command. Counters opened with `enable_on_exec`
//! therefore start exactly at the command's exec and count nothing of pyperf.
//! This keeps process creation in safe Rust: no raw fork.
//!
//! Exec failure travels back over a second pipe that the gate marks
//! close-on-exec: EOF means the exec happened, four bytes carry the errno.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

use super::TargetError;

/// The hidden subcommand that turns a pyperf process into a gate.
pub const GATE_ARG: &str = "__exec-gate";

/// A child that exists but has not yet exec'd the command.
#[derive(Debug)]
pub struct GatedChild {
    pid: Pid,
    program: String,
    release_w: OwnedFd,
    exec_err_r: OwnedFd,
}

/// A gate that was told to exec the command.
#[derive(Debug)]
pub struct Released {
    pid: Pid,
    program: String,
    exec_err_r: OwnedFd,
}

impl Released {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the exec's outcome: the pid, or why the command could not run
    /// (the gate has then exited and is reaped here).
    pub fn outcome(self) -> Result<Pid, TargetError> {
        let mut errno_bytes = [0u8; 4];
        let mut got = 0;
        while got < errno_bytes.len() {
            match nix::unistd::read(&self.exec_err_r, &mut errno_bytes[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(TargetError::Pipe(e)),
            }
        }
        if got == 0 {
            return Ok(self.pid);
        }
        let _ = nix::sys::wait::waitpid(self.pid, None);
        let errno = Errno::from_raw(i32::from_ne_bytes(errno_bytes));
        Err(TargetError::Exec {
            program: self.program,
            errno,
        })
    }
}

/// Spawns the gate for `argv` with extra environment variables; the command
/// does not start until [`GatedChild::release`].
pub fn spawn_gated(
    argv: &[OsString],
    extra_env: &[(String, String)],
) -> Result<GatedChild, TargetError> {
    let Some(program) = argv.first() else {
        return Err(TargetError::NoCommand);
    };
    let exe = std::env::current_exe().map_err(TargetError::SelfExe)?;
    let (release_r, release_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(TargetError::Pipe)?;
    let (exec_err_r, exec_err_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(TargetError::Pipe)?;
    // The gate's ends must survive its exec of pyperf; ours stay close-on-exec.
    inheritable(&release_r)?;
    inheritable(&exec_err_w)?;

    let mut gate = Command::new(exe);
    gate.arg(GATE_ARG)
        .arg(release_r.as_raw_fd().to_string())
        .arg(exec_err_w.as_raw_fd().to_string())
        .arg("--")
        .args(argv);
    for (key, value) in extra_env {
        gate.env(key, value);
    }
    let child = gate.spawn().map_err(TargetError::Spawn)?;
    drop(release_r);
    drop(exec_err_w);
    Ok(GatedChild {
        pid: Pid::from_raw(child.id() as i32),
        program: program.to_string_lossy().into_owned(),
        release_w,
        exec_err_r,
    })
}

fn inheritable(fd: &OwnedFd) -> Result<(), TargetError> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))
        .map(|_| ())
        .map_err(TargetError::Pipe)
}

impl GatedChild {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Lets the gate exec the command and reports whether the exec worked.
    /// On failure the gate has exited; it is reaped here.
    pub fn release(self) -> Result<Pid, TargetError> {
        self.release_no_wait()?.outcome()
    }

    /// Lets the gate exec the command without waiting to hear how it went.
    /// A traced gate stops in its exec, so its tracer must keep handling
    /// events and ask [`Released::outcome`] only once the exec stop (or the
    /// gate's exit) has been seen.
    pub fn release_no_wait(self) -> Result<Released, TargetError> {
        nix::unistd::write(&self.release_w, b"g").map_err(TargetError::Pipe)?;
        Ok(Released {
            pid: self.pid,
            program: self.program,
            exec_err_r: self.exec_err_r,
        })
    }

    /// Kills the gate before it ever execs (used when opening events failed).
    pub fn abandon(self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// Body of the gate process: wait for the release byte, then exec `argv`.
/// Returns only on failure, with the exit code the gate should use.
pub fn run_gate(args: &[OsString]) -> i32 {
    let parsed = (|| {
        let release: RawFd = args.first()?.to_str()?.parse().ok()?;
        let err: RawFd = args.get(1)?.to_str()?.parse().ok()?;
        (args.get(2)? == "--").then_some(())?;
        Some((release, err, &args[3..]))
    })();
    let Some((release_fd, err_fd, argv)) = parsed else {
        eprintln!("pyperf: {GATE_ARG} is internal; use `pyperf stat -- CMD`");
        return 2;
    };
    if argv.is_empty() {
        return 2;
    }
    // The command starts with no blocked signals, whatever pyperf blocked.
    let _ = SigSet::empty().thread_set_mask();
    let (Some(release), Some(err)) = (
        reopen_inherited(release_fd, false),
        reopen_inherited(err_fd, true),
    ) else {
        return 2;
    };
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(&release, &mut byte) {
            Ok(1) => break,
            Err(Errno::EINTR) => continue,
            // The parent went away without releasing us: never run the command.
            _ => return 125,
        }
    }
    drop(release);
    if fcntl(&err, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).is_err() {
        return 125;
    }
    let error = Command::new(&argv[0]).args(&argv[1..]).exec();
    let errno = error.raw_os_error().unwrap_or(libc::ENOENT);
    let _ = nix::unistd::write(&err, &errno.to_ne_bytes());
    if errno == libc::ENOENT {
        127
    } else {
        126
    }
}

/// Takes ownership of a descriptor inherited by number: reopening the pipe
/// through /proc gives an owned handle without unsafe raw-fd conversion, and
/// the inherited number is closed so the command does not inherit it.
fn reopen_inherited(raw: RawFd, write: bool) -> Option<OwnedFd> {
    let file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open(format!("/proc/self/fd/{raw}"))
        .ok()?;
    let _ = nix::unistd::close(raw);
    Some(OwnedFd::from(file))
}
