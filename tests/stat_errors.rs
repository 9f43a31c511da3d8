//! Every error path of `pyperf stat`: clear one-line messages, the right exit
//! codes, the program's own status passed through, counts printed on signals.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{pyperf, run, stderr_of};

fn assert_no_panic(out: &std::process::Output) {
    let err = stderr_of(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
}

#[test]
fn unknown_event_names_the_closest_ones_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let out = run(pyperf()
        .args(["stat", "-e", "cycels", "--", "touch"])
        .arg(&marker));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("cycels") && err.contains("cycles"), "{err}");
    assert!(!marker.exists(), "the command must not run");
}

#[test]
fn garbage_event_strings_fail_cleanly() {
    for bad in [
        "",
        ",",
        "{",
        "}",
        "{}",
        "{cycles",
        "cycles}",
        "cycles:z",
        "r",
        "rxyz",
        "nopmu/event=1/",
        "cpu-clock:q",
        "::",
        "a/b/c/d",
        "\u{1F600}",
    ] {
        let out = run(pyperf().args(["stat", "-e", bad, "--", "true"]));
        assert_eq!(
            out.status.code(),
            Some(2),
            "-e {bad:?}: {}",
            stderr_of(&out)
        );
        assert_no_panic(&out);
    }
}

#[test]
fn command_not_found_exits_127() {
    for cmd in ["/nonexistent/program", "pyperf-no-such-command-anywhere"] {
        let out = run(pyperf().args(["stat", "--", cmd]));
        assert_eq!(out.status.code(), Some(127), "{}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains("command not found") && err.contains(cmd),
            "{err}"
        );
        assert!(
            !err.contains("Performance counter stats"),
            "nothing ran, nothing to report: {err}"
        );
    }
}

#[test]
fn command_not_executable_exits_126() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.txt");
    std::fs::write(&file, "not a program").unwrap();
    let out = run(pyperf().args(["stat", "--"]).arg(&file));
    assert_eq!(out.status.code(), Some(126), "{}", stderr_of(&out));
}

#[test]
fn no_command_is_a_usage_error() {
    let out = run(pyperf().args(["stat", "-e", "task-clock"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no command"));
}

#[test]
fn exit_status_passes_through_with_counts() {
    let out = run(pyperf().args(["stat", "-e", "task-clock", "--", "sh", "-c", "exit 3"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("task-clock"));
}

#[test]
fn program_output_and_input_are_untouched() {
    let mut child = pyperf()
        .args(["stat", "-e", "task-clock", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello pyperf\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(common::stdout_of(&out), "HELLO PYPERF\n");
    assert!(stderr_of(&out).contains("task-clock"));
}

#[test]
fn killed_program_still_gets_its_counts_and_128_plus_signal() {
    let out = run(pyperf().args([
        "stat",
        "-e",
        "task-clock,page-faults",
        "--",
        "sh",
        "-c",
        "kill -9 $$",
    ]));
    assert_eq!(out.status.code(), Some(128 + 9));
    let err = stderr_of(&out);
    assert!(
        err.contains("page-faults") && err.contains("SIGKILL"),
        "{err}"
    );
}

/// Starts pyperf in its own process group, as a shell job would be.
fn spawn_in_group(args: &[&str]) -> std::process::Child {
    pyperf()
        .args(args)
        .process_group(0)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_reaches_the_program_and_counts_are_printed() {
    let child = spawn_in_group(&["stat", "-e", "task-clock", "--", "sleep", "30"]);
    std::thread::sleep(Duration::from_millis(500));
    // A terminal's Ctrl-C signals the whole foreground process group.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("task-clock"));
}

#[test]
fn a_signal_sent_to_pyperf_alone_is_forwarded() {
    let child = spawn_in_group(&["stat", "-e", "task-clock", "--", "sleep", "30"]);
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("task-clock"));
}

#[test]
fn missing_pid_is_a_clear_error() {
    let out = run(pyperf().args(["stat", "-p", "999999999"]));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr_of(&out).contains("no process with pid 999999999"),
        "{}",
        stderr_of(&out)
    );
    let out = run(pyperf().args(["stat", "-p", "abc"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn output_file_in_a_missing_directory_fails_before_running() {
    let out = run(pyperf().args(["stat", "-o", "/nonexistent-dir/out.txt", "--", "true"]));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr_of(&out).contains("/nonexistent-dir/out.txt"));
}

fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to switch to an unprivileged user");
        return None;
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(setpriv) = setpriv else {
        eprintln!("SKIPPED: setpriv is not installed");
        return None;
    };
    Some(run(Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::pyperf_path())
        .args(args)))
}

#[test]
fn permission_refused_explains_paranoid_and_capabilities() {
    // An unprivileged user may not watch another user's process (here: init).
    let Some(out) = as_nobody(&["stat", "-e", "task-clock", "-p", "1"]) else {
        return;
    };
    assert_ne!(out.status.code(), Some(0));
    let err = stderr_of(&out);
    assert!(
        err.contains("perf_event_paranoid") && err.contains("CAP_PERFMON"),
        "{err}"
    );
    assert_no_panic(&out);
}

#[test]
fn unprivileged_kernel_counting_falls_back_to_user_space_with_a_notice() {
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(2);
    if paranoid < 2 {
        skip!("perf_event_paranoid is {paranoid}: kernel counting is allowed, no fallback to see");
    }
    let Some(out) = as_nobody(&["stat", "-x,", "-e", "task-clock", "--", "true"]) else {
        return;
    };
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("user space only"), "{err}");
    assert!(
        common::parse_csv(&err)["task-clock"].value.is_some(),
        "{err}"
    );
}
