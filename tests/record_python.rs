//! Mixed-mode stacks: Python frames merged with native frames, on every
//! installed CPython 3.8-3.13, checked against the fixtures' own ground truth.

mod common;

use std::path::Path;

use common::fixtures::{self, Truth, TruthFrame};
use common::profiles::{self, SampleView};
use common::pythons::{self, Python};
use common::{pyperf, run, stderr_of, stdout_of};
use pyperf::profile::{Frame, FrameKind, Profile};

/// Records fixture `name` under `python` with `pyperf record ARGS`; returns the
/// profile and the fixture's own ground truth.
fn record_fixture(
    python: &Python,
    name: &str,
    duration: f64,
    args: &[&str],
) -> (profiles::Recording, Truth) {
    let dir = tempfile::tempdir().unwrap();
    let truth_path = dir.path().join("truth.json");
    let fixture = fixtures::python_fixture_command(python, name, duration, &truth_path);
    let mut argv = vec![fixture.get_program().to_os_string()];
    argv.extend(fixture.get_args().map(|a| a.to_os_string()));
    let rec = profiles::record(args, &argv);
    assert!(
        rec.output.status.success(),
        "{} {name}: {}",
        python.version,
        stderr_of(&rec.output)
    );
    let truth = fixtures::read_truth(&truth_path);
    (rec, truth)
}

/// A frame as the default views show it: CPython's own native frames hidden.
fn shown(frame: &Frame) -> bool {
    matches!(frame.kind, FrameKind::Python | FrameKind::Native)
        && !frame
            .module
            .as_deref()
            .is_some_and(pyperf::python::is_interpreter_binary)
}

fn shown_names<'a>(sample: &SampleView<'a>) -> Vec<&'a str> {
    sample
        .frames
        .iter()
        .filter(|f| shown(f))
        .map(|f| f.function.as_str())
        .collect()
}

fn same_file(frame: &Frame, want: &TruthFrame) -> bool {
    let (Some(got), Some(want)) = (frame.file.as_deref(), want.file.as_deref()) else {
        return false;
    };
    Path::new(got).file_name() == want.file_name()
}

/// Shares of each truth part among the samples that belong to some part.
fn part_shares(truth: &Truth, samples: &[SampleView<'_>]) -> Vec<(String, f64, f64)> {
    let mut counts = vec![0usize; truth.parts.len()];
    for s in samples {
        let names = shown_names(s);
        if let Some(i) = truth.parts.values().position(|p| p.matches(&names)) {
            counts[i] += 1;
        }
    }
    let total: usize = counts.iter().sum();
    truth
        .parts
        .iter()
        .zip(counts)
        .map(|((name, part), c)| (name.clone(), c as f64 / total.max(1) as f64, part.share))
        .collect()
}

fn consistency(profile: &Profile) -> f64 {
    let m = &profile.meta;
    assert!(m.merged_samples > 0, "no sample had Python frames");
    (m.merged_samples - m.inconsistent_merges) as f64 / m.merged_samples as f64
}

fn check_mixed_app(python: &Python) {
    let (rec, truth) = record_fixture(python, "app", 1.0, &["-g", "-e", "cpu-clock"]);
    let samples = profiles::samples(&rec.profile);
    let v = &python.version;
    // The split of time, against the program's own measurement.
    for (part, got, want) in part_shares(&truth, &samples) {
        assert!(
            (got - want).abs() < 0.05,
            "{v}: part {part} got {got:.3}, the program measured {want:.3}"
        );
    }
    // Every sample in c_spin_inner: call_native (file and line) is the nearest
    // Python frame and <module> the outermost one.
    let native_part = &truth.parts["native"];
    let call_native = native_part
        .stack
        .iter()
        .find(|f| f.name == "call_native")
        .unwrap();
    let in_c = profiles::with_leaf(&samples, "c_spin_inner");
    assert!(
        in_c.len() > 100,
        "{v}: {} samples in c_spin_inner",
        in_c.len()
    );
    let good = in_c
        .iter()
        .filter(|s| {
            let python: Vec<&&Frame> = s
                .frames
                .iter()
                .filter(|f| f.kind == FrameKind::Python)
                .collect();
            let nearest = python.last();
            nearest.is_some_and(|f| {
                f.function == "call_native"
                    && same_file(f, call_native)
                    && f.line.is_some()
                    && f.line == call_native_line(&truth)
            }) && python.first().is_some_and(|f| f.function == "<module>")
        })
        .count();
    let share = good as f64 / in_c.len() as f64;
    assert!(share >= 0.99, "{v}: only {:.2}% of c_spin_inner samples have call_native as nearest and <module> as root Python frame", share * 100.0);
    // The C function never shows up inside py_work.
    let crossed = samples
        .iter()
        .filter(|s| {
            s.frames.iter().any(|f| f.function == "py_work")
                && s.frames.iter().any(|f| f.function == "c_spin_inner")
        })
        .count();
    assert_eq!(
        crossed, 0,
        "{v}: samples in py_work that contain c_spin_inner"
    );
    // The stop saw the sampled instant and the frames paired up.
    let consistent = consistency(&rec.profile);
    assert!(
        consistent >= 0.99,
        "{v}: {:.2}% consistent merges",
        consistent * 100.0
    );
    assert!(
        stderr_of(&rec.output).contains("merged consistently"),
        "{v}: the record summary reports the share"
    );
    // The hot line of py_work is the top line of `report --lines`.
    let hot = truth.parts["python"].stack.last().unwrap();
    let lines = stdout_of(&run(pyperf()
        .args(["report", "--lines", "--limit", "1"])
        .arg(&rec.path)));
    let top = lines.lines().nth(3).unwrap_or_default();
    assert!(
        top.contains("py_work") && top.contains(&format!("app.py:{}", hot.line.unwrap())),
        "{v}: top line is {top:?}\n{lines}"
    );
    // The Python version is recorded with the process.
    assert!(
        rec.profile
            .meta
            .processes
            .iter()
            .any(|p| p.python_version.as_deref() == Some(v.as_str())),
        "{v}: {:?}",
        rec.profile.meta.processes
    );
}

/// The line call_native executes when it calls into C (the line of `spinext.spin(n)`).
fn call_native_line(truth: &Truth) -> Option<u32> {
    let frame = truth.parts["native"]
        .stack
        .iter()
        .find(|f| f.name == "call_native")?;
    if frame.line.is_some() {
        return frame.line;
    }
    let text = std::fs::read_to_string(frame.file.as_ref()?).ok()?;
    let def = text
        .lines()
        .position(|l| l.starts_with("def call_native"))?;
    text.lines()
        .enumerate()
        .skip(def + 1)
        .find(|(_, l)| l.contains("spinext.spin"))
        .map(|(i, _)| i as u32 + 1)
}

#[test]
fn mixed_c_extension_stacks_on_every_cpython() {
    let all = pythons::for_tests();
    for minor in [11, 12, 13] {
        assert!(
            all.iter().any(|p| p.minor == minor),
            "CI must run CPython 3.{minor}"
        );
    }
    for python in &all {
        check_mixed_app(python);
    }
}

#[test]
fn cython_functions_show_their_python_names_and_pyx_lines() {
    for python in pythons::for_tests() {
        let (rec, truth) = record_fixture(&python, "app_cython", 0.6, &["-g", "-e", "cpu-clock"]);
        let v = &python.version;
        let samples = profiles::samples(&rec.profile);
        let part = truth
            .parts
            .values()
            .find(|p| p.stack.iter().any(|f| f.cython_name.is_some()))
            .expect("a Cython part");
        let leaf = part.stack.last().unwrap();
        let want_name = leaf.cython_name.as_deref().unwrap();
        let hot: Vec<&Frame> = samples
            .iter()
            .filter_map(|s| s.leaf())
            .filter(|f| f.function == want_name)
            .collect();
        assert!(hot.len() > 50, "{v}: {} samples in {want_name}", hot.len());
        let on_pyx = hot
            .iter()
            .filter(|f| f.file.as_deref().is_some_and(|p| p.ends_with(".pyx")))
            .count();
        assert!(
            on_pyx as f64 >= 0.99 * hot.len() as f64,
            "{v}: {on_pyx} of {} {want_name} samples point into the .pyx",
            hot.len()
        );
        let at_hot_line = hot.iter().filter(|f| f.line == leaf.line).count();
        assert!(
            at_hot_line as f64 > 0.5 * hot.len() as f64,
            "{v}: most samples on the .pyx hot line {:?}",
            leaf.line
        );
        let nearest_ok = samples
            .iter()
            .filter(|s| s.leaf().is_some_and(|f| f.function == want_name))
            .filter(|s| {
                s.frames
                    .iter()
                    .rev()
                    .find(|f| f.kind == FrameKind::Python)
                    .is_some_and(|f| f.function == "call_cython")
            })
            .count();
        assert!(
            nearest_ok as f64 >= 0.99 * hot.len() as f64,
            "{v}: call_cython is the nearest Python frame"
        );
        // Cython frames are shown by their Python names: match the parts by those.
        let mut by_python_name = truth.clone();
        for part in by_python_name.parts.values_mut() {
            for frame in &mut part.stack {
                if let Some(name) = frame.cython_name.take() {
                    frame.name = name;
                }
            }
        }
        for (name, got, want) in part_shares(&by_python_name, &samples) {
            assert!(
                (got - want).abs() < 0.05,
                "{v}: part {name} got {got:.3}, the program measured {want:.3}"
            );
        }
        assert!(consistency(&rec.profile) >= 0.99, "{v}");
    }
}

#[test]
fn pure_python_split_and_python_only_stacks() {
    for python in pythons::for_tests() {
        let v = &python.version;
        let (rec, truth) = record_fixture(&python, "app_pure", 0.6, &["-g", "-e", "cpu-clock"]);
        let samples = profiles::samples(&rec.profile);
        for (part, got, want) in part_shares(&truth, &samples) {
            assert!(
                (got - want).abs() < 0.05,
                "{v}: part {part} got {got:.3}, the program measured {want:.3}"
            );
        }
        // --no-native: Python frames only, like py-spy without --native.
        let (rec, _) = record_fixture(
            &python,
            "app_pure",
            0.3,
            &["-g", "--no-native", "-e", "cpu-clock"],
        );
        let samples = profiles::samples(&rec.profile);
        let with_python = samples
            .iter()
            .filter(|s| s.frames.iter().any(|f| f.kind == FrameKind::Python))
            .count();
        assert!(with_python as f64 > 0.8 * samples.len() as f64, "{v}");
        assert!(
            samples
                .iter()
                .all(|s| s.frames.iter().all(|f| f.kind != FrameKind::Native)),
            "{v}: no native frames with --no-native"
        );
    }
}

#[test]
fn two_threads_keep_their_own_stacks() {
    for python in pythons::for_tests() {
        let v = &python.version;
        let (rec, truth) = record_fixture(&python, "app_threads", 0.8, &["-g", "-e", "cpu-clock"]);
        let samples = profiles::samples(&rec.profile);
        for (name, part) in &truth.parts {
            let tid = part.native_id.expect("thread id in truth") as u32;
            let mine: Vec<&SampleView<'_>> = samples.iter().filter(|s| s.tid == tid).collect();
            assert!(
                mine.len() > 30,
                "{v}: {} samples of thread {name}",
                mine.len()
            );
            let matching = mine
                .iter()
                .filter(|s| part.matches(&shown_names(s)))
                .count();
            assert!(
                matching as f64 > 0.9 * mine.len() as f64,
                "{v}: thread {name}: {matching} of {} samples show its stack",
                mine.len()
            );
            if let Some(thread_name) = &part.thread_name {
                assert!(
                    mine.iter().all(|s| s.thread_name == thread_name),
                    "{v}: thread named {thread_name}"
                );
            }
        }
    }
}

#[test]
fn attach_to_a_running_python() {
    for python in pythons::for_tests() {
        let v = &python.version;
        let dir = tempfile::tempdir().unwrap();
        let truth_path = dir.path().join("truth.json");
        let mut app = fixtures::python_fixture_command(&python, "app", 2.5, &truth_path)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let path = dir.path().join("p.pyperf");
        // No -e: the default event must be settled before anything is traced.
        let out = run(pyperf()
            .args(["record", "-g", "-o"])
            .arg(&path)
            .arg("-p")
            .arg(app.id().to_string()));
        assert!(app.wait().unwrap().success());
        assert!(out.status.success(), "{v}: {}", stderr_of(&out));
        let (profile, complete) = profiles::read(&path);
        assert!(complete);
        let samples = profiles::samples(&profile);
        let in_c_samples = profiles::with_leaf(&samples, "c_spin_inner");
        let in_c = in_c_samples.len();
        let merged =
            profiles::count_python_stack(&in_c_samples, &["<module>", "main", "call_native"]);
        assert!(in_c > 100, "{v}: {in_c} samples in c_spin_inner");
        assert!(
            merged as f64 >= 0.99 * in_c as f64,
            "{v}: {merged} of {in_c} attached samples fully merged"
        );
    }
}

#[test]
fn dump_shows_the_blocked_stack_and_leaves_the_process_running() {
    for python in pythons::for_tests() {
        let v = &python.version;
        for mode in ["native", "python"] {
            let sleeper = fixtures::spawn_sleeper(&python, mode);
            let pid = sleeper.truth.pid.to_string();
            let out = run(pyperf().args(["dump", "--json", "--pid", &pid]));
            assert!(out.status.success(), "{v} {mode}: {}", stderr_of(&out));
            let doc: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
            let thread = doc["threads"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["tid"] == sleeper.truth.native_id)
                .expect("the blocked thread");
            assert_eq!(thread["consistent"], true, "{v} {mode}");
            // Innermost first in the dump; the truth lists root first.
            let frames: Vec<&serde_json::Value> =
                thread["frames"].as_array().unwrap().iter().rev().collect();
            let python_frames: Vec<(&str, &str, u64)> = frames
                .iter()
                .filter(|f| f["kind"] == "Python")
                .map(|f| {
                    (
                        f["function"].as_str().unwrap(),
                        f["file"].as_str().unwrap(),
                        f["line"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            let want: Vec<(&str, String, u64)> = sleeper
                .truth
                .python_stack
                .iter()
                .map(|f| {
                    (
                        f.name.as_str(),
                        f.file.as_ref().unwrap().display().to_string(),
                        f.line.unwrap_or(0) as u64,
                    )
                })
                .collect();
            assert_eq!(
                python_frames.len(),
                want.len(),
                "{v} {mode}: {python_frames:?} vs {want:?}"
            );
            for ((name, file, line), (w_name, w_file, w_line)) in python_frames.iter().zip(&want) {
                assert_eq!(name, w_name, "{v} {mode}");
                assert!(
                    Path::new(file).file_name() == Path::new(w_file).file_name(),
                    "{v} {mode}: {file} vs {w_file}"
                );
                assert_eq!(line, w_line, "{v} {mode}: line of {name}");
            }
            // Below the innermost Python frame: the expected native frames, in order.
            let names: Vec<&str> = frames
                .iter()
                .map(|f| f["function"].as_str().unwrap())
                .collect();
            let last_python = names
                .iter()
                .rposition(|n| *n == want.last().unwrap().0)
                .unwrap();
            let below: Vec<&str> = names[last_python + 1..].to_vec();
            for native in &sleeper.truth.native_stack {
                assert!(
                    below.contains(&native.name.as_str()),
                    "{v} {mode}: {} not below the Python frames: {below:?}",
                    native.name
                );
            }
            // The process was only paused: it still sleeps, and a second look works.
            let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            assert!(state.contains("TracerPid:\t0"), "{v} {mode}: detached");
            let again = run(pyperf().args(["dump", "--pid", &pid]));
            assert!(
                again.status.success()
                    && stdout_of(&again).contains(&want.last().unwrap().0.to_string()),
                "{v} {mode}"
            );
        }
    }
}

#[test]
fn dump_of_a_missing_process_is_a_clear_error() {
    let out = run(pyperf().args(["dump", "--pid", "999999999"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("no process with pid 999999999"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn perf_map_trampolines_are_crossed_and_their_files_removed() {
    for python in pythons::for_tests().into_iter().filter(|p| p.minor >= 12) {
        let v = &python.version;
        // --perf-map: the command runs with trampolines; interpreter frames
        // (with lines) replace them, so nothing is shown twice.
        let (rec, truth) = record_fixture(
            &python,
            "app",
            0.6,
            &["-g", "--perf-map", "-e", "cpu-clock"],
        );
        let samples = profiles::samples(&rec.profile);
        let in_c = profiles::with_leaf(&samples, "c_spin_inner");
        assert!(in_c.len() > 50, "{v}");
        let exact = profiles::count_python_stack(&in_c, &["<module>", "main", "call_native"]);
        assert!(
            exact as f64 >= 0.99 * in_c.len() as f64,
            "{v}: {exact} of {} samples with exactly the three Python frames",
            in_c.len()
        );
        assert!(consistency(&rec.profile) >= 0.99, "{v}");
        assert!(
            !Path::new(&format!("/tmp/perf-{}.map", truth.pid)).exists(),
            "{v}: the perf map pyperf caused is removed"
        );
        // A program that turned trampolines on itself, profiled from the map
        // (or, with 3.13's -X perf_jit, the jitdump) alone: the unwinder steps
        // through them to <module>.
        let flags: &[&str] = if python.minor >= 13 {
            &["perf", "perf_jit"]
        } else {
            &["perf"]
        };
        for flag in flags {
            let dir = tempfile::tempdir().unwrap();
            let truth_path = dir.path().join("truth.json");
            let fixture = fixtures::python_fixture_command(&python, "app", 0.4, &truth_path);
            let mut argv = vec![
                fixture.get_program().to_os_string(),
                "-X".into(),
                flag.into(),
            ];
            argv.extend(fixture.get_args().map(|a| a.to_os_string()));
            let rec = profiles::record(&["-g", "--no-python", "-e", "cpu-clock"], &argv);
            let samples = profiles::samples(&rec.profile);
            let in_c = profiles::with_leaf(&samples, "c_spin_inner");
            let through = profiles::count_python_stack(&in_c, &["<module>", "main", "call_native"]);
            assert!(
                in_c.len() > 50 && through as f64 >= 0.99 * in_c.len() as f64,
                "{v} -X {flag}: {through} of {} stacks named through the trampolines",
                in_c.len()
            );
            let pid = fixtures::read_truth(&truth_path).pid;
            let file = if *flag == "perf" {
                format!("/tmp/perf-{pid}.map")
            } else {
                format!("/tmp/jit-{pid}.dump")
            };
            assert!(
                Path::new(&file).exists(),
                "{v}: {file}, written by the program itself, is left alone"
            );
            let _ = std::fs::remove_file(&file);
        }
    }
}

#[test]
fn forked_and_spawned_workers_are_followed_and_labelled_by_pid() {
    for python in pythons::for_tests() {
        let v = &python.version;
        let dir = tempfile::tempdir().unwrap();
        let truth_path = dir.path().join("truth.json");
        let fixture = fixtures::python_fixture_command(&python, "app_multiproc", 0.5, &truth_path);
        let mut argv = vec![fixture.get_program().to_os_string()];
        argv.extend(fixture.get_args().map(|a| a.to_os_string()));
        let rec = profiles::record(&["-g", "-e", "cpu-clock"], &argv);
        assert!(
            rec.output.status.success(),
            "{v}: {}",
            stderr_of(&rec.output)
        );
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
        let samples = profiles::samples(&rec.profile);
        for method in ["fork", "spawn"] {
            let pid = truth["workers"][method].as_u64().unwrap() as u32;
            let mine: Vec<&SampleView<'_>> = samples.iter().filter(|s| s.pid == pid).collect();
            assert!(
                mine.len() > 200,
                "{v} {method}: {} samples of worker {pid}",
                mine.len()
            );
            let in_c: Vec<&&SampleView<'_>> = mine
                .iter()
                .filter(|s| s.leaf().is_some_and(|f| f.function == "c_spin_inner"))
                .collect();
            let merged = in_c
                .iter()
                .filter(|s| {
                    s.frames
                        .iter()
                        .rev()
                        .find(|f| f.kind == FrameKind::Python)
                        .is_some_and(|f| f.function == "call_native")
                })
                .count();
            assert!(
                in_c.len() as f64 > 0.8 * mine.len() as f64,
                "{v} {method}: workers spin in C"
            );
            assert!(
                merged as f64 >= 0.99 * in_c.len() as f64,
                "{v} {method}: {merged} of {} merged",
                in_c.len()
            );
            let process = rec.profile.meta.processes.iter().find(|p| p.pid == pid);
            assert!(
                process.is_some_and(|p| p.python_version.as_deref() == Some(v.as_str())),
                "{v} {method}: worker {pid} listed with its Python: {:?}",
                rec.profile.meta.processes
            );
        }
        // Per-thread views label each process by its pid.
        let folded = stdout_of(&run(pyperf()
            .args(["collapse", "--per-thread"])
            .arg(&rec.path)));
        for method in ["fork", "spawn"] {
            let pid = truth["workers"][method].as_u64().unwrap();
            assert!(
                folded.lines().any(|l| l.contains(&format!("-{pid}/"))),
                "{v} {method}: {pid} labels its stacks"
            );
        }
    }
}
