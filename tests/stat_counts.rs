//! `pyperf stat` counts real programs and agrees with `perf stat` and with
//! ground truth the programs establish themselves.

mod common;

use common::{fixture, pyperf_path, pythons, rel_diff, stat_csv};

fn py() -> String {
    pythons::default_python().display().to_string()
}

fn value(
    counts: &std::collections::HashMap<String, common::CsvCount>,
    event: &str,
    out: &std::process::Output,
) -> f64 {
    counts
        .get(event)
        .and_then(|c| c.value)
        .unwrap_or_else(|| panic!("no count for {event} in:\n{}", common::stderr_of(out)))
}

#[test]
fn page_faults_match_perf_and_the_pages_touched() {
    let Some(perf) = common::perf() else {
        skip!("perf is not installed")
    };
    let script = fixture("stat/touch_pages.py").display().to_string();
    let pages = 20_000.0;
    let events = "page-faults,minor-faults";
    let (base, out0) = stat_csv(&pyperf_path(), events, &[], &[&py(), &script, "0"]);
    let (ours, out1) = stat_csv(&pyperf_path(), events, &[], &[&py(), &script, "20000"]);
    let (theirs, out2) = stat_csv(&perf, events, &[], &[&py(), &script, "20000"]);
    for event in ["page-faults", "minor-faults"] {
        let ours_v = value(&ours, event, &out1);
        let perf_v = value(&theirs, event, &out2);
        assert!(
            rel_diff(ours_v, perf_v) < 0.05,
            "{event}: pyperf {ours_v} vs perf {perf_v}"
        );
        let touched = ours_v - value(&base, event, &out0);
        assert!(
            rel_diff(touched, pages) < 0.05,
            "{event}: {touched} extra faults for {pages} pages touched"
        );
    }
}

#[test]
fn task_clock_of_a_cpu_bound_program_matches_perf() {
    let Some(perf) = common::perf() else {
        skip!("perf is not installed")
    };
    let script = fixture("stat/spin.py").display().to_string();
    let argv = [py(), script, "0.4".to_string()];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    // Five runs each, alternating between the tools so that a noisy moment
    // hits both alike; medians are compared.
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mut ours_runs, mut perf_runs) = (Vec::new(), Vec::new());
    let mut ours = None;
    for _ in 0..5 {
        let (counts, out) = stat_csv(&pyperf_path(), "task-clock", &[], &argv);
        ours_runs.push(value(&counts, "task-clock", &out));
        ours = Some(counts);
        let (counts, out) = stat_csv(&perf, "task-clock", &[], &argv);
        perf_runs.push(value(&counts, "task-clock", &out));
    }
    let ours = ours.unwrap();
    let (ours_v, perf_v) = (median(ours_runs), median(perf_runs));
    assert!(
        ours_v > 100.0,
        "a 0.4 s spin should take well over 100 ms, got {ours_v} ms"
    );
    assert!(
        rel_diff(ours_v, perf_v) < 0.10,
        "task-clock: pyperf {ours_v} ms vs perf {perf_v} ms"
    );
    assert_eq!(ours["task-clock"].unit, "msec");
}

#[test]
fn context_switches_count_each_sleep() {
    let Some(perf) = common::perf() else {
        skip!("perf is not installed")
    };
    let script = fixture("stat/sleeper.py").display().to_string();
    let sleeps = 200.0;
    let argv = [py(), script, "200".to_string(), "1".to_string()];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (ours, out1) = stat_csv(&pyperf_path(), "context-switches", &[], &argv);
    let (theirs, out2) = stat_csv(&perf, "context-switches", &[], &argv);
    let ours_v = value(&ours, "context-switches", &out1);
    let perf_v = value(&theirs, "context-switches", &out2);
    // Every sleep blocks once; start-up and preemption add a few more.
    assert!(
        ours_v >= sleeps && ours_v < sleeps * 1.25,
        "{ours_v} context switches for {sleeps} sleeps"
    );
    assert!(
        rel_diff(ours_v, perf_v) < 0.15,
        "pyperf {ours_v} vs perf {perf_v}"
    );
}

#[test]
fn inherit_counts_threads_and_children_and_no_inherit_only_the_parent() {
    let script = fixture("stat/touch_pages.py").display().to_string();
    let (p, t, c) = (4000.0, 6000.0, 8000.0);
    let faults = |extra: &[&str], args: &[&str]| {
        let mut argv = vec![py(), script.clone()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (counts, out) = stat_csv(&pyperf_path(), "minor-faults", extra, &argv);
        value(&counts, "minor-faults", &out)
    };
    // Baselines with the same process structure but nothing touched.
    let base_all = faults(&[], &["0", "0", "1"]);
    let all = faults(&[], &["4000", "6000", "8000"]);
    let extra = all - base_all;
    assert!(
        rel_diff(extra, p + t + c) < 0.05,
        "inherited: {extra} extra faults, touched {}",
        p + t + c
    );

    let base_parent = faults(&["--no-inherit"], &["0", "0", "1"]);
    let parent = faults(&["--no-inherit"], &["4000", "6000", "8000"]);
    let extra = parent - base_parent;
    assert!(
        rel_diff(extra, p) < 0.05,
        "--no-inherit: {extra} extra faults, main thread touched {p}"
    );
}

#[test]
fn hardware_events_unsupported_here_do_not_disturb_software_ones() {
    let script = fixture("stat/touch_pages.py").display().to_string();
    let (counts, out) = stat_csv(
        &pyperf_path(),
        "cycles,instructions,page-faults,cache-misses",
        &[],
        &[&py(), &script, "1000"],
    );
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let faults = value(&counts, "page-faults", &out);
    assert!(faults > 1000.0);
    let probe = std::process::Command::new("perf")
        .args(["stat", "-x,", "-e", "cycles", "true"])
        .output();
    let pmu_absent = probe
        .map(|o| String::from_utf8_lossy(&o.stderr).contains("<not supported>"))
        .unwrap_or(false);
    if !pmu_absent {
        skip!("this machine has a hardware PMU; the unsupported-event path is tested on VMs without one");
    }
    for event in ["cycles", "instructions", "cache-misses"] {
        assert_eq!(counts[event].raw, "<not supported>", "{event}");
    }
}

#[test]
fn default_events_match_perf_stat_defaults() {
    let Some(perf) = common::perf() else {
        skip!("perf is not installed")
    };
    let ours = common::run(common::pyperf().args(["stat", "-x,", "--", "true"]));
    let theirs = common::run(std::process::Command::new(perf).args(["stat", "-x,", "--", "true"]));
    let names = |text: String| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split(',').nth(2).map(str::to_string))
            .filter(|n| !n.is_empty())
            .collect()
    };
    assert_eq!(
        names(common::stderr_of(&ours)),
        names(common::stderr_of(&theirs))
    );
    assert!(ours.status.success());
}
