//! Sanity tests of the fixtures themselves, independent of pyperf: they build,
//! run, and behave as their ground truth says, checked against the programs'
//! own measurements and against perf, nm, addr2line and readelf as oracles.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::fixtures::{self, short_name, Expected};
use common::perf_stacks::{perf_record, shares, PerfSample};
use common::pythons::{self, Python};

/// How far a measured share may be from the truth (binomial noise of ~1000
/// samples plus start-up is 2-3 points).
const SHARE_TOLERANCE: f64 = 0.05;

fn stdout_and_status(cmd: &mut Command) -> (String, std::process::ExitStatus) {
    let out = common::run(cmd);
    (common::stdout_of(&out), out.status)
}

/// `nm -C --defined-only` function symbols of `file`, as (short name, address, size).
fn functions(file: &Path) -> Vec<(String, u64, u64)> {
    let out = common::run(
        Command::new("nm")
            .args(["-C", "-S", "--defined-only"])
            .arg(file),
    );
    assert!(out.status.success(), "nm {} failed", file.display());
    common::stdout_of(&out)
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, ' ');
            let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
            let size = u64::from_str_radix(parts.next()?, 16).ok()?;
            let kind = parts.next()?;
            let name = parts.next()?;
            "TtWw"
                .contains(kind)
                .then(|| (short_name(name), addr, size))
        })
        .collect()
}

fn function(file: &Path, name: &str) -> (u64, u64) {
    functions(file)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, addr, size)| (addr, size))
        .unwrap_or_else(|| panic!("{} has no function {name}", file.display()))
}

#[test]
fn short_name_strips_return_type_and_parameters() {
    assert_eq!(
        short_name("int run_template<int>(unsigned long)"),
        "run_template<int>"
    );
    assert_eq!(
        short_name("splitcxx::Engine::step(unsigned long)"),
        "splitcxx::Engine::step"
    );
    assert_eq!(short_name("main"), "main");
    assert_eq!(
        short_name("std::vector<int, std::allocator<int> >::size() const"),
        "std::vector<int, std::allocator<int> >::size"
    );
    assert_eq!(
        short_name("(anonymous namespace)::f(int)"),
        "(anonymous namespace)::f"
    );
}

#[test]
fn native_fixtures_run_quietly_and_refuse_bad_arguments() {
    for name in [
        "callsplit",
        "callsplit_threads",
        "callsplit_fork",
        "deep",
        "splitcxx",
    ] {
        let bin = fixtures::native(name);
        let (stdout, status) = stdout_and_status(Command::new(&bin).arg("0.1"));
        assert!(status.success(), "{name} 0.1: {status}");
        assert!(stdout.is_empty(), "{name} printed {stdout:?}");
        let (_, status) = stdout_and_status(Command::new(&bin).arg("soon"));
        assert_eq!(status.code(), Some(2), "{name} soon: {status}");
    }
}

#[test]
fn expected_frames_are_functions_of_the_binaries() {
    for name in [
        "callsplit",
        "callsplit_threads",
        "callsplit_fork",
        "deep",
        "splitcxx",
    ] {
        let want = fixtures::expected(name);
        let bin = fixtures::native(&want.binary);
        for stack in &want.stacks {
            for frame in stack.stack.iter().filter(|f| !want.inlined.contains(f)) {
                let file = match want.module.get(frame) {
                    Some(module) => bin.with_file_name(module),
                    None => bin.clone(),
                };
                function(&file, frame); // panics if absent
            }
        }
    }
}

#[test]
fn spin_helper_is_inlined_into_engine_step() {
    // Oracle: addr2line -i reports spin_helper as an inlined frame inside step.
    let bin = fixtures::native("splitcxx");
    let (addr, size) = function(&bin, "splitcxx::Engine::step");
    let addrs: Vec<String> = (addr..addr + size).map(|a| format!("{a:#x}")).collect();
    let out = common::run(
        Command::new("addr2line")
            .args(["-f", "-i", "-C", "-e"])
            .arg(&bin)
            .args(&addrs),
    );
    let text = common::stdout_of(&out);
    assert!(
        text.lines()
            .any(|l| short_name(l) == "splitcxx::spin_helper"),
        "addr2line finds no inlined spin_helper in Engine::step:\n{text}"
    );
    assert!(!functions(&bin)
        .iter()
        .any(|(n, _, _)| n == "splitcxx::spin_helper"));
}

/// Shares of each expected stack in perf's samples, restricted by thread or process name.
fn perf_shares(want: &Expected, samples: &[PerfSample]) -> Vec<f64> {
    shares(samples, want.stacks.len(), |sample| {
        let i = want.stack_of(&sample.frames)?;
        let stack = &want.stacks[i];
        let name = stack.thread.as_ref().or(stack.comm.as_ref());
        name.is_none_or(|n| *n == sample.comm).then_some(i)
    })
}

#[test]
fn native_splits_match_perf() {
    for name in [
        "callsplit",
        "callsplit_threads",
        "callsplit_fork",
        "splitcxx",
    ] {
        let want = fixtures::expected(name);
        let bin = fixtures::native(&want.binary);
        let Some(samples) = perf_record("dwarf", &[bin.as_os_str(), OsStr::new("1")]) else {
            return;
        };
        let got = perf_shares(&want, &samples);
        for (stack, share) in want.stacks.iter().zip(&got) {
            assert!(
                (share - stack.share).abs() <= SHARE_TOLERANCE,
                "{name}: perf gives {:?} {share:.3}, expected {} ({} samples)",
                stack.stack,
                stack.share,
                samples.len()
            );
        }
    }
}

#[test]
fn deep_stack_is_deeper_than_perfs_stack_copy() {
    let want = fixtures::expected("deep");
    let bin = fixtures::native("deep");
    let Some(samples) = perf_record("dwarf", &[bin.as_os_str(), OsStr::new("0.5")]) else {
        return;
    };
    let depth = want.frames(0).len();
    let in_leaf = samples
        .iter()
        .filter(|s| s.frames.last().is_some_and(|f| f == "deep_leaf"))
        .count();
    assert!(
        in_leaf * 10 >= samples.len() * 9,
        "{in_leaf} of {} samples in deep_leaf",
        samples.len()
    );
    for sample in &samples {
        assert!(
            !sample.frames.iter().any(|f| f == "main") && sample.frames.len() < depth,
            "perf unwound {} frames up to main with an 8 KiB stack copy",
            sample.frames.len()
        );
    }
    assert!(depth > 2000, "the expected stack has {depth} frames");
}

/// Installed interpreters with fixtures built for them.
fn pythons_with_fixtures() -> Vec<Python> {
    pythons::for_tests()
        .into_iter()
        .filter(|py| fixtures::python_ext_dir(py).is_some())
        .collect()
}

fn source_line(file: &Path, line: u32) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .nth(line as usize - 1)
        .unwrap_or("")
        .to_string()
}

#[test]
fn python_fixtures_hold_their_split() {
    for py in pythons_with_fixtures() {
        for name in ["app", "app_cython", "app_pure", "app_calls", "app_threads"] {
            let (out, truth) = fixtures::run_python_fixture(&py, name, 0.3);
            assert!(out.stdout.is_empty(), "{name} printed on stdout");
            assert_eq!(truth.python, py.version);
            assert!(truth.parts_cpu_s >= 0.3 && truth.process_cpu_s >= truth.parts_cpu_s);
            for (part_name, part) in &truth.parts {
                let what = format!("{name} on {}: part {part_name}", py.version);
                assert!(
                    (part.share - part.target).abs() <= SHARE_TOLERANCE,
                    "{what}: share {:.3}, target {}",
                    part.share,
                    part.target
                );
                let names: Vec<&str> = part.stack.iter().map(|f| f.name.as_str()).collect();
                assert!(part.matches(&names), "{what}: its own stack does not match");
                let leaf = part.stack.last().expect("a stack");
                if let (Some(file), Some(line)) = (&leaf.file, leaf.line) {
                    let text = source_line(file, line);
                    assert!(
                        text.contains("# HOT"),
                        "{what}: hot line {line} is {text:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn native_share_of_mixed_apps_matches_perf() {
    for py in pythons_with_fixtures() {
        for (name, part, leaf) in [
            ("app", "native", "c_spin_inner"),
            ("app_cython", "cython", "__pyx_f_6cyspin_cy_spin_inner"),
        ] {
            let dir = tempfile::tempdir().expect("temporary directory");
            let truth_path = dir.path().join("truth.json");
            let cmd = fixtures::python_fixture_command(&py, name, 0.5, &truth_path);
            let mut argv = vec![cmd.get_program()];
            argv.extend(cmd.get_args());
            let Some(samples) = perf_record("fp", &argv) else {
                return;
            };
            let truth = fixtures::read_truth(&truth_path);
            let in_leaf = samples
                .iter()
                .filter(|s| s.frames.last().is_some_and(|f| f == leaf))
                .count();
            let perf_share = in_leaf as f64 / samples.len() as f64;
            // perf also samples start-up, which is in no part: compare with the
            // part's share of the whole process's CPU time.
            let truth_share = truth.parts[part].cpu_s / truth.process_cpu_s;
            assert!(
                (perf_share - truth_share).abs() <= SHARE_TOLERANCE,
                "{name} on {}: perf puts {perf_share:.3} of samples in {leaf}, the program measured {truth_share:.3}",
                py.version
            );
        }
    }
}

#[test]
fn sleeper_announces_its_stack_once_blocked() {
    for py in pythons_with_fixtures() {
        for (mode, caller, call) in [
            ("native", "call_native", "sleep_in_c("),
            ("python", "py_sleep", "time.sleep("),
        ] {
            let sleeper = fixtures::spawn_sleeper(&py, mode);
            let truth = &sleeper.truth;
            assert_eq!(truth.pid, sleeper.child.id());
            let names: Vec<&str> = truth.python_stack.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                names,
                ["<module>", "main", caller],
                "{mode} on {}",
                py.version
            );
            let leaf = truth.python_stack.last().expect("a stack");
            let text = source_line(
                leaf.file.as_deref().expect("file"),
                leaf.line.expect("line"),
            );
            assert!(
                text.contains(call),
                "{mode} on {}: line {text:?}",
                py.version
            );
            let native: Vec<&str> = truth.native_stack.iter().map(|f| f.name.as_str()).collect();
            let want: &[&str] = if mode == "native" {
                &["sleep_in_c", "c_sleep_inner"]
            } else {
                &[]
            };
            assert_eq!(native, want);
            // Oracle: the kernel says where the thread sleeps (time.sleep uses
            // select before 3.11, clock_nanosleep after).
            // The truth file appears a moment before the sleep call itself, so
            // give the thread up to two seconds to get there.
            let sleeping = ["nanosleep", "poll_schedule_timeout", "select"];
            let expected = |wchan: &str| {
                if mode == "native" {
                    wchan.contains("nanosleep")
                } else {
                    sleeping.iter().any(|w| wchan.contains(w))
                }
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            let wchan = loop {
                let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", truth.pid))
                    .unwrap_or_default();
                if expected(&wchan) || std::time::Instant::now() > deadline {
                    break wchan;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            assert!(
                expected(&wchan),
                "{mode} on {}: wchan {wchan:?}",
                py.version
            );
        }
    }
}

#[test]
fn extension_hot_functions_are_frames_with_pyx_lines() {
    let manifest = fixtures::ensure_built();
    for build in manifest.python.values() {
        let fixtures::PythonBuild::Built {
            version,
            spinext,
            cyspin,
            ..
        } = build
        else {
            continue;
        };
        let spinext = fixtures::build_dir().join(spinext);
        for name in [
            "spin",
            "spin_nogil",
            "c_spin_inner",
            "sleep_in_c",
            "c_sleep_inner",
        ] {
            function(&spinext, name);
        }
        // Oracle: readelf's decoded line table maps the inner loop of
        // cy_spin_inner to the .pyx line marked HOT.
        let cyspin = fixtures::build_dir().join(cyspin);
        let (addr, size) = function(&cyspin, "__pyx_f_6cyspin_cy_spin_inner");
        let pyx = common::repo_root().join("fixtures/python/ext/cyspin.pyx");
        let hot = std::fs::read_to_string(&pyx)
            .expect("cyspin.pyx")
            .lines()
            .position(|l| l.trim_end().ends_with("# HOT cy_spin_inner"))
            .expect("a HOT line") as u64
            + 1;
        let out = common::run(
            Command::new("readelf")
                .arg("--debug-dump=decodedline")
                .arg(&cyspin),
        );
        let mapped = common::stdout_of(&out).lines().any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() >= 3
                && cols[0] == "cyspin.pyx"
                && cols[1].parse() == Ok(hot)
                && u64::from_str_radix(cols[2].trim_start_matches("0x"), 16)
                    .is_ok_and(|a| a >= addr && a < addr + size)
        });
        assert!(
            mapped,
            "{version}: no address of cy_spin_inner maps to cyspin.pyx:{hot}"
        );
    }
}
