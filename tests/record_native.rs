//! `pyperf record` on native fixtures with known call structure: splits,
//! full stacks, threads, processes, truncation, agreement with perf, and the
//! error paths around the profile file.

mod common;

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use common::fixtures::{self, Expected};
use common::profiles::{self, SampleView};
use common::{perf_stacks, pyperf, run, stderr_of};

/// Share of samples per expected stack (by index), and the unmatched share.
fn shares(expected: &Expected, samples: &[SampleView<'_>]) -> (Vec<f64>, f64) {
    let mut counts = vec![0usize; expected.stacks.len()];
    let mut unmatched = 0;
    for s in samples {
        match expected.stack_of(&s.user_names()) {
            Some(i) => counts[i] += 1,
            None => unmatched += 1,
        }
    }
    let total = samples.len().max(1) as f64;
    (
        counts.iter().map(|&c| c as f64 / total).collect(),
        unmatched as f64 / total,
    )
}

fn assert_split(name: &str, args: &[&str]) {
    let expected = fixtures::expected(name);
    let binary = fixtures::native(&expected.binary);
    let rec = profiles::record(args, &[binary.as_os_str(), "1".as_ref()]);
    assert!(rec.output.status.success(), "{}", stderr_of(&rec.output));
    let samples = profiles::samples(&rec.profile);
    assert!(samples.len() > 300, "{} samples", samples.len());
    let (got, unmatched) = shares(&expected, &samples);
    for (i, want) in expected.stacks.iter().enumerate() {
        assert!(
            (got[i] - want.share).abs() < 0.05,
            "{name} {args:?}: stack {:?} got {:.3}, want {}",
            want.stack,
            got[i],
            want.share
        );
    }
    assert!(
        unmatched < 0.03,
        "{name} {args:?}: {:.1}% of samples have no full expected stack",
        unmatched * 100.0
    );
}

#[test]
fn callsplit_splits_70_30_with_full_stacks() {
    assert_split("callsplit", &["-g", "-F", "999", "-e", "cpu-clock"]);
    assert_split(
        "callsplit",
        &["--call-graph", "dwarf", "-F", "999", "-e", "cpu-clock"],
    );
}

#[test]
fn cxx_templates_inlines_and_dlopen_plugin() {
    assert_split("splitcxx", &["-g", "-e", "cpu-clock"]);
    let expected = fixtures::expected("splitcxx");
    let rec = profiles::record(
        &["-g", "-e", "cpu-clock"],
        &[fixtures::native("splitcxx").as_os_str(), "0.5".as_ref()],
    );
    let samples = profiles::samples(&rec.profile);
    let inlined = samples
        .iter()
        .flat_map(|s| s.frames.iter())
        .find(|f| f.function.contains("spin_helper"))
        .expect("the inlined helper appears");
    assert!(
        inlined.inlined,
        "spin_helper is an inlined frame: {inlined:?}"
    );
    let plugin = samples
        .iter()
        .flat_map(|s| s.frames.iter())
        .find(|f| f.function == "plugin_spin")
        .expect("the dlopen'd plugin appears");
    let module = plugin.module.as_deref().unwrap_or("");
    assert!(
        module.ends_with(&expected.module["plugin_spin"]),
        "plugin_spin from {module}"
    );
}

/// Shares of the stacks below `main`, as `a;b;...` keys.
fn stacks_below_main(stacks: impl Iterator<Item = Vec<String>>) -> HashMap<String, f64> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut total = 0;
    for names in stacks {
        total += 1;
        if let Some(start) = names.iter().position(|n| n == "main") {
            *counts.entry(names[start..].join(";")).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(k, v)| (k, v as f64 / total.max(1) as f64))
        .collect()
}

#[test]
fn agrees_with_perf_dwarf_on_the_top_stacks() {
    let binary = fixtures::native("callsplit");
    let argv = [binary.as_os_str(), "1".as_ref()];
    let Some(perf) = perf_stacks::perf_record("dwarf", &argv) else {
        return;
    };
    let rec = profiles::record(&["--call-graph", "dwarf", "-e", "cpu-clock"], &argv);
    let ours = stacks_below_main(profiles::samples(&rec.profile).iter().map(|s| {
        s.user_names()
            .iter()
            .map(|n| fixtures::short_name(n))
            .collect()
    }));
    let theirs = stacks_below_main(
        perf.iter()
            .map(|s| s.frames.iter().map(|n| fixtures::short_name(n)).collect()),
    );
    let mut top: Vec<(&String, &f64)> = theirs.iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(a.1));
    for (stack, share) in top.iter().take(2) {
        let mine = ours.get(*stack).copied().unwrap_or(0.0);
        assert!(
            (mine - **share).abs() < 0.05,
            "stack {stack}: pyperf {mine:.3}, perf {share:.3}\nours: {ours:?}"
        );
    }
}

#[test]
fn threads_are_attributed_by_name_and_tid() {
    let expected = fixtures::expected("callsplit_threads");
    let rec = profiles::record(
        &["-g", "-e", "cpu-clock"],
        &[
            fixtures::native("callsplit_threads").as_os_str(),
            "1".as_ref(),
        ],
    );
    let samples = profiles::samples(&rec.profile);
    let total = samples.len() as f64;
    for want in &expected.stacks {
        let thread = want.thread.as_deref().unwrap();
        let mine: Vec<&SampleView<'_>> =
            samples.iter().filter(|s| s.thread_name == thread).collect();
        let share = mine.len() as f64 / total;
        assert!(
            (share - want.share).abs() < 0.05,
            "thread {thread}: {share:.3} of samples, want {}",
            want.share
        );
        let tids: std::collections::HashSet<u32> = mine.iter().map(|s| s.tid).collect();
        assert_eq!(tids.len(), 1, "one thread named {thread}");
        let in_own_function = mine
            .iter()
            .filter(|s| s.user_names().contains(&want.stack[0].as_str()))
            .count();
        assert!(
            in_own_function as f64 > 0.97 * mine.len() as f64,
            "{thread} samples run {}",
            want.stack[0]
        );
    }
}

#[test]
fn child_processes_are_attributed_to_their_pid_and_comm() {
    let expected = fixtures::expected("callsplit_fork");
    let rec = profiles::record(
        &["-g", "-e", "cpu-clock"],
        &[fixtures::native("callsplit_fork").as_os_str(), "1".as_ref()],
    );
    let samples = profiles::samples(&rec.profile);
    let pids: std::collections::HashSet<u32> = samples.iter().map(|s| s.pid).collect();
    assert!(pids.len() >= 2, "parent and child sampled: {pids:?}");
    for want in &expected.stacks {
        let comm = want.comm.as_deref().unwrap();
        let leaf = want.stack.last().unwrap();
        let mine: Vec<&SampleView<'_>> = samples
            .iter()
            .filter(|s| s.user_names().last() == Some(&leaf.as_str()))
            .collect();
        let share = mine.len() as f64 / samples.len() as f64;
        assert!(
            (share - want.share).abs() < 0.05,
            "{leaf}: {share:.3}, want {}",
            want.share
        );
        let their_pids: std::collections::HashSet<u32> = mine.iter().map(|s| s.pid).collect();
        assert_eq!(their_pids.len(), 1, "{leaf} runs in one process");
        assert!(
            mine.iter().all(|s| s.thread_name == comm),
            "{leaf} runs in {comm}"
        );
    }
}

#[test]
fn frequency_100_gives_about_100_samples_per_busy_second() {
    // callsplit burns 2 s of CPU in one thread.
    let rec = profiles::record(
        &["-F", "100", "-e", "cpu-clock"],
        &[fixtures::native("callsplit").as_os_str(), "2".as_ref()],
    );
    let n = profiles::samples(&rec.profile).len() as f64;
    assert!(
        (n - 200.0).abs() <= 40.0,
        "{n} samples at 100 Hz over 2 busy seconds"
    );
}

#[test]
fn stacks_cut_by_the_copy_are_marked_truncated_and_counted() {
    let rec = profiles::record(
        &["--call-graph", "dwarf", "-e", "cpu-clock"],
        &[fixtures::native("deep").as_os_str(), "0.5".as_ref()],
    );
    let samples = profiles::samples(&rec.profile);
    let truncated = samples
        .iter()
        .filter(|s| {
            s.frames
                .first()
                .is_some_and(|f| f.function == "[truncated]")
        })
        .count();
    assert!(
        truncated as f64 > 0.9 * samples.len() as f64,
        "{truncated} of {} samples marked truncated",
        samples.len()
    );
    assert_eq!(rec.profile.meta.truncated_stacks, truncated as u64);
    assert!(
        stderr_of(&rec.output).contains(&format!("{truncated} stacks truncated")),
        "{}",
        stderr_of(&rec.output)
    );
}

#[test]
fn ctrl_c_leaves_a_complete_readable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pyperf");
    let child = pyperf()
        .args(["record", "-g", "-e", "cpu-clock", "-o"])
        .arg(&path)
        .arg("--")
        .arg(fixtures::native("callsplit"))
        .arg("30")
        .process_group(0)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let (profile, complete) = profiles::read(&path);
    assert!(complete, "the recording was finished properly");
    assert!(profile.samples.len() > 200);
    let report = run(pyperf().arg("report").arg(&path));
    assert!(report.status.success() && common::stdout_of(&report).contains("main"));
}

#[test]
fn killed_recorder_leaves_a_readable_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pyperf");
    let mut child = pyperf()
        .args(["record", "-g", "-e", "cpu-clock", "-o"])
        .arg(&path)
        .arg("--")
        .arg(fixtures::native("callsplit"))
        .arg("30")
        .process_group(0)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
    let out = run(pyperf().arg("report").arg(&path));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("incomplete"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        common::stdout_of(&out).contains("main"),
        "unsymbolized frames are resolved from the binaries: {}",
        common::stdout_of(&out)
    );
}

#[test]
fn broken_files_give_one_clear_line() {
    let rec = profiles::record(
        &["-e", "cpu-clock"],
        &[fixtures::native("callsplit").as_os_str(), "0.2".as_ref()],
    );
    let bytes = std::fs::read(&rec.path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "random",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("elf", std::fs::read("/bin/true").unwrap()),
        ("header only", bytes[..12.min(bytes.len())].to_vec()),
    ];
    for (name, content) in cases {
        let path = dir.path().join(name.replace(' ', "_"));
        std::fs::write(&path, content).unwrap();
        for cmd in ["report", "flamegraph", "collapse", "script"] {
            let mut command = pyperf();
            command.arg(cmd).arg(&path);
            if cmd == "flamegraph" {
                command.arg("-o").arg(dir.path().join("out.svg"));
            }
            let out = run(&mut command);
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{cmd} on {name}: {err}");
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{cmd} on {name}: one line: {err}"
            );
            assert!(
                err.contains(&path.display().to_string()),
                "{cmd} on {name} names the file: {err}"
            );
            assert!(
                !dir.path().join("out.svg").exists(),
                "no half-written output"
            );
        }
    }
    // A file cut in the middle still shows what it holds.
    let cut = dir.path().join("cut.pyperf");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = run(pyperf().arg("report").arg(&cut));
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        stderr_of(&out)
    );
    assert!(!stderr_of(&out).contains("panicked"));
}

#[test]
fn unsupported_hardware_events_fall_back_or_fail_clearly() {
    let probe = run(pyperf().args(["stat", "-x,", "-e", "cycles", "--", "true"]));
    if !stderr_of(&probe).contains("<not supported>") {
        skip!("this machine has a PMU: cycles can be sampled");
    }
    let binary = fixtures::native("callsplit");
    // Asked for explicitly: a clear error naming what to use instead, nothing recorded.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pyperf");
    let out = run(pyperf()
        .args(["record", "-e", "cache-misses", "-o"])
        .arg(&path)
        .arg("--")
        .arg(&binary)
        .arg("0.1"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("cache-misses") && err.contains("cpu-clock"),
        "{err}"
    );
    assert!(!path.exists());
    // The default event falls back to cpu-clock, visibly.
    let rec = profiles::record::<&str, _>(&[], &[binary.as_os_str(), "0.2".as_ref()]);
    assert!(
        stderr_of(&rec.output).contains("sampling cpu-clock instead"),
        "{}",
        stderr_of(&rec.output)
    );
    assert_eq!(rec.profile.events[0].name, "cpu-clock");
    assert!(!rec.profile.samples.is_empty());
}

#[test]
fn views_render_the_recording() {
    let rec = profiles::record(
        &["-g", "-e", "cpu-clock"],
        &[fixtures::native("callsplit").as_os_str(), "0.3".as_ref()],
    );
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("f.svg");
    let out = run(pyperf()
        .arg("flamegraph")
        .arg(&rec.path)
        .arg("-o")
        .arg(&svg));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("<svg") && text.contains("main") && text.contains("callsplit"),
        "title names the command"
    );
    let tree = common::stdout_of(&run(pyperf().arg("report").arg("--tree").arg(&rec.path)));
    assert!(
        tree.contains("main") && tree.contains(" a") && tree.contains(" c"),
        "{tree}"
    );
    let folded = common::stdout_of(&run(pyperf().arg("collapse").arg(&rec.path)));
    let total: u64 = folded
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(total as usize, rec.profile.samples.len());
    let script = common::stdout_of(&run(pyperf().arg("script").arg(&rec.path)));
    assert!(script.contains("cpu-clock") && script.contains("main"));
}

#[test]
fn idle_samples_are_marked_and_hidden_unless_asked_for() {
    // One sample per context switch of a program that sleeps 100 times: most
    // samples catch it going to sleep inside nanosleep.
    let py = common::pythons::default_python();
    let rec = profiles::record(
        &["-g", "-e", "context-switches", "-c", "1"],
        &[
            py.as_os_str(),
            common::fixture("stat/sleeper.py").as_os_str(),
            "100".as_ref(),
            "1".as_ref(),
        ],
    );
    assert!(
        stderr_of(&rec.output).contains("--call-graph dwarf"),
        "context switches are not sampled with stops: {}",
        stderr_of(&rec.output)
    );
    let header = |args: &[&str]| -> u64 {
        let out = run(pyperf().arg("report").args(args).arg(&rec.path));
        let text = common::stdout_of(&out);
        let line = text
            .lines()
            .find(|l| l.starts_with("# Event"))
            .unwrap_or_default()
            .to_string();
        line.split(", ")
            .nth(1)
            .and_then(|n| n.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no sample count in {text}"))
    };
    let shown = header(&[]);
    let all = header(&["--idle"]);
    assert_eq!(all as usize, rec.profile.samples.len());
    assert!(all >= 100, "{all} context switches for 100 sleeps");
    assert!(
        all - shown >= 90,
        "{} of {all} samples hidden as idle",
        all - shown
    );
}

#[test]
fn special_output_files_are_written_not_replaced() {
    // /dev/null must stay a device: outputs are written into it, never renamed over it.
    for args in [
        vec!["record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
        vec!["stat", "-o", "/dev/null", "--", "true"],
    ] {
        let out = run(pyperf().args(&args));
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(
            std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()),
            "{args:?} replaced /dev/null"
        );
        assert!(
            !std::path::Path::new("/dev/null.old").exists(),
            "{args:?} moved /dev/null away"
        );
    }
}
