//! Attaching to processes and threads that already run.

use std::fs;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::TargetError;

/// True while `pid` exists (a zombie counts as gone).
pub fn is_alive(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the last ')' of the comm field.
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|s| s == "Z" || s == "X")
        })
        .unwrap_or(true)
}

/// Checks that `pid` names a live process.
pub fn check_pid(pid: i32) -> Result<(), TargetError> {
    if pid > 0 && is_alive(pid) {
        Ok(())
    } else {
        Err(TargetError::NoSuchProcess(pid))
    }
}

/// The thread ids of process `pid`, from /proc/PID/task.
pub fn threads_of(pid: i32) -> Result<Vec<i32>, TargetError> {
    let dir =
        fs::read_dir(format!("/proc/{pid}/task")).map_err(|_| TargetError::NoSuchProcess(pid))?;
    let mut tids: Vec<i32> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

/// Every thread of the processes `pids`, each checked to be alive.
pub fn threads_of_all(pids: &[i32]) -> Result<Vec<i32>, TargetError> {
    let mut tids = Vec::new();
    for &pid in pids {
        check_pid(pid)?;
        tids.extend(threads_of(pid)?);
    }
    Ok(tids)
}

/// The process (thread group) a thread belongs to.
pub fn tgid_of(tid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The command name of a process (its comm), or `?` when it cannot be read.
pub fn comm_of(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_has_threads() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        assert!(threads_of(me).unwrap().contains(&me));
        assert!(check_pid(me).is_ok());
        assert_eq!(tgid_of(me), Some(me));
    }

    #[test]
    fn exited_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(matches!(check_pid(pid), Err(TargetError::NoSuchProcess(_))));
        assert!(check_pid(0).is_err());
    }
}
