//! Text outputs (folded stacks, report, call tree, script) checked against
//! hand-built profiles with known splits, an independent recount, and
//! inferno's perf-script folder as an oracle for the script format.

mod support;

use std::collections::BTreeMap;

use inferno::collapse::perf::{Folder, Options as PerfFoldOptions};
use inferno::collapse::Collapse;
use pyperf::output::label::{frame_label, LabelOptions};
use pyperf::output::{
    folded_lines, render_report, write_script, CollapseOptions, OutputError, ReportOptions,
    ReportView, ScriptOptions, Selection, SortBy, WeightMode,
};
use pyperf::profile::{EventInfo, Frame, FrameKind, Profile, ProfileBuilder, Sample, ThreadInfo};
use support::{cpu_clock, kernel, native, py, synthetic_profile, Shape};

/// Builds a profile from (stack of frames, samples, weight per sample, idle).
fn profile_of(stacks: &[(Vec<Frame>, u64, u64, bool)]) -> Profile {
    let mut b = ProfileBuilder::new();
    b.add_event(cpu_clock());
    b.add_thread(ThreadInfo {
        pid: 100,
        tid: 101,
        name: "python3".into(),
    });
    let mut time = 0;
    for (frames, n, weight, idle) in stacks {
        let stack = b.intern_frames(frames.iter());
        for _ in 0..*n {
            time += 1000;
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: time,
                event: 0,
                weight: *weight,
                idle: *idle,
            });
        }
    }
    b.meta_mut().command = vec!["python3".into(), "app.py".into()];
    b.finish()
}

fn f(name: &str) -> Frame {
    py(name, "app.py", 1)
}

/// main -> a -> b 70% of samples, main -> c 30%.
fn seventy_thirty() -> Profile {
    profile_of(&[
        (vec![f("main"), f("a"), f("b")], 700, 1_001_001, false),
        (vec![f("main"), f("c")], 300, 1_001_001, false),
    ])
}

/// (self%, total%, samples) of the row naming `function`.
fn row(report: &str, function: &str) -> (f64, f64, u64) {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some(function))
        .unwrap_or_else(|| panic!("no row for {function} in\n{report}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().unwrap();
    (pct(cols[0]), pct(cols[1]), cols[2].parse().unwrap())
}

#[test]
fn report_shares_match_a_known_split() {
    let report = render_report(&seventy_thirty(), &ReportOptions::default()).unwrap();
    assert_eq!(row(&report, "b"), (70.0, 70.0, 700));
    assert_eq!(row(&report, "a"), (0.0, 70.0, 0));
    assert_eq!(row(&report, "c"), (30.0, 30.0, 300));
    assert_eq!(row(&report, "main"), (0.0, 100.0, 0));
    assert!(report.contains("# Command: python3 app.py"), "{report}");
    assert!(report.contains("1,000 samples"), "{report}");
    // Sorted by self: b, c first.
    let order: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.contains("Function"))
        .skip(1)
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(&order[..2], ["b", "c"]);
}

#[test]
fn report_shares_follow_weights_not_sample_counts() {
    // Equal sample counts, weights 3:1 (e.g. a longer period on one stack).
    let p = profile_of(&[
        (vec![f("main"), f("heavy")], 100, 3000, false),
        (vec![f("main"), f("light")], 100, 1000, false),
    ]);
    let report = render_report(&p, &ReportOptions::default()).unwrap();
    assert_eq!(row(&report, "heavy"), (75.0, 75.0, 100));
    assert_eq!(row(&report, "light"), (25.0, 25.0, 100));
    let by_total = render_report(
        &p,
        &ReportOptions {
            sort: SortBy::TotalShare,
            limit: Some(1),
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let rows: Vec<&str> = by_total
        .lines()
        .skip_while(|l| !l.contains("Function"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("main"), "{by_total}");
}

#[test]
fn recursion_counts_total_once_per_sample() {
    let p = profile_of(&[
        (vec![f("main"), f("fib"), f("fib"), f("fib")], 50, 10, false),
        (vec![f("main"), f("other")], 50, 10, false),
    ]);
    let report = render_report(&p, &ReportOptions::default()).unwrap();
    assert_eq!(row(&report, "fib"), (50.0, 50.0, 50));
    assert_eq!(row(&report, "main"), (0.0, 100.0, 0));

    let tree = render_report(
        &p,
        &ReportOptions {
            view: ReportView::Tree,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let fib_lines: Vec<&str> = tree.lines().filter(|l| l.contains("fib")).collect();
    assert_eq!(fib_lines.len(), 3, "{tree}");
    assert!(fib_lines.iter().all(|l| l.starts_with(" 50.00%")), "{tree}");
    assert!(fib_lines[2].contains(" 50.00%  ") && fib_lines[2].contains("└─ fib"));
}

/// (total%, self%, depth, name) of each tree line.
fn tree_rows(tree: &str) -> Vec<(f64, f64, usize, String)> {
    tree.lines()
        .skip_while(|l| !l.contains("Call tree"))
        .skip(1)
        .map(|l| {
            let (total, rest) = l.trim_start().split_once("%  ").unwrap();
            let (selfp, rest) = rest.trim_start().split_once("%  ").unwrap();
            let name_start = rest
                .find(|c: char| c.is_alphanumeric() || c == '<' || c == '[')
                .unwrap();
            let depth = rest[..name_start].chars().count() / 3;
            let name = rest[name_start..].split_whitespace().next().unwrap();
            (
                total.parse().unwrap(),
                selfp.parse().unwrap(),
                depth,
                name.to_string(),
            )
        })
        .collect()
}

#[test]
fn tree_shows_the_call_paths_with_their_shares() {
    let p = profile_of(&[
        (vec![f("main"), f("a"), f("b")], 700, 5, false),
        (vec![f("main"), f("c")], 296, 5, false),
        (vec![f("main"), f("tiny")], 4, 5, false),
    ]);
    let tree = render_report(
        &p,
        &ReportOptions {
            view: ReportView::Tree,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        tree_rows(&tree),
        vec![
            (100.0, 0.0, 0, "main".to_string()),
            (70.0, 0.0, 1, "a".to_string()),
            (70.0, 70.0, 2, "b".to_string()),
            (29.6, 29.6, 1, "c".to_string()),
        ],
        "{tree}"
    );
    // Below the default 0.5% cut, shown with a lower one.
    let all = render_report(
        &p,
        &ReportOptions {
            view: ReportView::Tree,
            min_percent: 0.1,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert!(
        tree_rows(&all).contains(&(0.4, 0.4, 1, "tiny".to_string())),
        "{all}"
    );
}

#[test]
fn lines_view_finds_the_hot_line() {
    let p = profile_of(&[
        (vec![f("main"), py("work", "app.py", 10)], 20, 1, false),
        (vec![f("main"), py("work", "app.py", 11)], 80, 1, false),
    ]);
    let functions = render_report(&p, &ReportOptions::default()).unwrap();
    assert_eq!(row(&functions, "work"), (100.0, 100.0, 100));
    let lines = render_report(
        &p,
        &ReportOptions {
            view: ReportView::Lines,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let hot = lines.lines().find(|l| l.contains("app.py:11")).unwrap();
    assert!(hot.trim_start().starts_with("80.00%"), "{lines}");
    let cold = lines.lines().find(|l| l.contains("app.py:10")).unwrap();
    assert!(cold.trim_start().starts_with("20.00%"), "{lines}");
}

#[test]
fn folded_counts_sum_to_the_sample_total() {
    let p = synthetic_profile(
        &Shape {
            samples: 20_000,
            stacks: 300,
            min_depth: 5,
            max_depth: 30,
            threads: 4,
        },
        21,
    );
    for per_thread in [false, true] {
        let lines = folded_lines(
            &p,
            &CollapseOptions {
                per_thread,
                ..CollapseOptions::default()
            },
        )
        .unwrap();
        let sum: u64 = lines
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, p.samples.len() as u64);
        let weights = folded_lines(
            &p,
            &CollapseOptions {
                per_thread,
                weights: WeightMode::Weight,
                ..CollapseOptions::default()
            },
        )
        .unwrap();
        let sum: u64 = weights
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, p.samples.iter().map(|s| s.weight).sum::<u64>());
    }
}

/// A plain recount: label every sample's stack and add up, no interning.
fn recount(p: &Profile, keep: impl Fn(&Frame) -> bool, hide_idle: bool) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for s in &p.samples {
        if hide_idle && s.idle {
            continue;
        }
        let labels: Vec<String> = p
            .stack_frames(s.stack)
            .filter(|f| keep(f))
            .map(|f| frame_label(f, LabelOptions::default()))
            .collect();
        let key = if labels.is_empty() {
            "[unknown]".to_string()
        } else {
            labels.join(";")
        };
        *out.entry(key).or_default() += 1;
    }
    out
}

fn as_map(lines: &[String]) -> BTreeMap<String, u64> {
    lines
        .iter()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            (stack.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn folded_lines_match_a_plain_recount_with_filters() {
    let p = synthetic_profile(
        &Shape {
            samples: 5_000,
            stacks: 200,
            min_depth: 3,
            max_depth: 25,
            threads: 2,
        },
        8,
    );
    let no_libpython = |f: &Frame| f.module.as_deref().is_none_or(|m| !m.contains("libpython"));
    let lines = folded_lines(
        &p,
        &CollapseOptions {
            selection: Selection {
                hide_idle: true,
                keep_frame: Some(&no_libpython),
                ..Selection::default()
            },
            ..CollapseOptions::default()
        },
    )
    .unwrap();
    let libpython: Vec<&str> = p
        .frames
        .iter()
        .filter(|f| !no_libpython(f))
        .map(|f| f.function.as_str())
        .collect();
    let mentions_libpython = |l: &String| {
        let stack = l.rsplit_once(' ').unwrap().0;
        stack.split(';').any(|label| libpython.contains(&label))
    };
    assert!(!lines.iter().any(mentions_libpython));
    assert_eq!(as_map(&lines), recount(&p, no_libpython, true));
    let everything = folded_lines(&p, &CollapseOptions::default()).unwrap();
    assert_eq!(as_map(&everything), recount(&p, |_| true, false));
    assert!(everything.iter().any(mentions_libpython));
}

#[test]
fn hidden_frames_charge_their_caller_and_idle_can_be_hidden() {
    let p = profile_of(&[
        (
            vec![
                f("main"),
                native("PyObject_Call", "libpython3.12.so"),
                f("b"),
            ],
            6,
            1,
            false,
        ),
        (
            vec![f("main"), native("PyObject_Call", "libpython3.12.so")],
            3,
            1,
            false,
        ),
        (vec![f("main"), kernel("schedule")], 1, 1, true),
    ]);
    let keep = |f: &Frame| f.kind != FrameKind::Native;
    let sel = Selection {
        keep_frame: Some(&keep),
        ..Selection::default()
    };
    let lines = folded_lines(
        &p,
        &CollapseOptions {
            selection: sel,
            ..CollapseOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        lines,
        [
            "main (app.py:1) 3",
            "main (app.py:1);b (app.py:1) 6",
            "main (app.py:1);schedule_[k] 1"
        ]
    );
    let report = render_report(
        &p,
        &ReportOptions {
            selection: Selection {
                hide_idle: true,
                ..sel
            },
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(row(&report, "main"), (33.33, 100.0, 3));
    assert!(!report.contains("schedule"));
}

#[test]
fn per_thread_roots_name_comm_pid_and_tid() {
    let lines = folded_lines(
        &seventy_thirty(),
        &CollapseOptions {
            per_thread: true,
            ..CollapseOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        lines,
        [
            "python3-100/101;main (app.py:1);a (app.py:1);b (app.py:1) 700",
            "python3-100/101;main (app.py:1);c (app.py:1) 300"
        ]
    );
}

fn two_event_profile() -> Profile {
    let mut b = ProfileBuilder::new();
    b.add_event(cpu_clock());
    b.add_event(EventInfo {
        name: "page-faults".into(),
        period: Some(1),
        frequency: None,
        unit: "events".into(),
    });
    b.add_thread(ThreadInfo {
        pid: 1,
        tid: 1,
        name: "p".into(),
    });
    let compute = b.intern_frames(&[f("main"), f("compute")]);
    let alloc = b.intern_frames(&[f("main"), f("alloc")]);
    for i in 0..10 {
        b.add_sample(Sample {
            stack: compute,
            thread: 0,
            time_ns: i,
            event: 0,
            weight: 1000,
            idle: false,
        });
    }
    for i in 0..4 {
        b.add_sample(Sample {
            stack: alloc,
            thread: 0,
            time_ns: 100 + i,
            event: 1,
            weight: 1,
            idle: false,
        });
    }
    b.finish()
}

#[test]
fn outputs_show_one_event_chosen_by_name() {
    let p = two_event_profile();
    let first = folded_lines(&p, &CollapseOptions::default()).unwrap();
    assert_eq!(first, ["main (app.py:1);compute (app.py:1) 10"]);
    let faults = folded_lines(
        &p,
        &CollapseOptions {
            selection: Selection {
                event: Some("page-faults"),
                ..Selection::default()
            },
            ..CollapseOptions::default()
        },
    )
    .unwrap();
    assert_eq!(faults, ["main (app.py:1);alloc (app.py:1) 4"]);
    let err = render_report(
        &p,
        &ReportOptions {
            selection: Selection {
                event: Some("cycles"),
                ..Selection::default()
            },
            ..ReportOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, OutputError::UnknownEvent { .. }));
    assert!(err.to_string().contains("cpu-clock, page-faults"), "{err}");
}

#[test]
fn script_prints_perf_like_blocks_leaf_first_in_time_order() {
    let p = two_event_profile();
    let mut out = Vec::new();
    write_script(&p, &ScriptOptions::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
    assert_eq!(blocks.len(), 14);
    assert_eq!(
        blocks[0],
        "p 1/1 0.000000: 1000 cpu-clock:\n\
         \t               0 compute (app.py:1) (app.py)\n\
         \t               0 main (app.py:1) (app.py)"
    );
    assert!(blocks[13].starts_with("p 1/1 0.000000: 1 page-faults:"));
    let mut only = Vec::new();
    write_script(
        &p,
        &ScriptOptions {
            selection: Selection {
                event: Some("page-faults"),
                ..Selection::default()
            },
            ..ScriptOptions::default()
        },
        &mut only,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(only)
            .unwrap()
            .matches("page-faults:")
            .count(),
        4
    );
}

/// What stackcollapse-perf's tidying does to a label: cut from the first
/// top-level parenthesis (it takes it for an argument list), keeping the
/// space before it.
fn tidy(label: &str) -> String {
    match label.find(" (") {
        Some(i) if !label.starts_with('[') => label[..=i].to_string(),
        _ => label.to_string(),
    }
}

#[test]
fn script_output_folds_like_ours_through_inferno_perf_collapse() {
    let p = synthetic_profile(
        &Shape {
            samples: 3_000,
            stacks: 150,
            min_depth: 3,
            max_depth: 20,
            threads: 3,
        },
        12,
    );
    let mut script = Vec::new();
    write_script(&p, &ScriptOptions::default(), &mut script).unwrap();
    let mut opts = PerfFoldOptions::default();
    opts.include_tid = true;
    opts.annotate_kernel = true;
    let mut folded = Vec::new();
    Folder::from(opts)
        .collapse(&script[..], &mut folded)
        .unwrap();
    let theirs: BTreeMap<String, u64> = String::from_utf8(folded)
        .unwrap()
        .lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            (stack.to_string(), n.parse().unwrap())
        })
        .collect();
    let ours = folded_lines(
        &p,
        &CollapseOptions {
            per_thread: true,
            weights: WeightMode::Weight,
            ..CollapseOptions::default()
        },
    )
    .unwrap();
    let mut ours_tidied: BTreeMap<String, u64> = BTreeMap::new();
    for (stack, n) in as_map(&ours) {
        let tidied: Vec<String> = stack.split(';').map(tidy).collect();
        *ours_tidied.entry(tidied.join(";")).or_default() += n;
    }
    assert_eq!(theirs.len(), ours_tidied.len());
    assert_eq!(theirs, ours_tidied);
}

#[test]
fn empty_selection_is_a_clear_error() {
    let p = profile_of(&[(vec![f("main")], 3, 1, true)]);
    let err = render_report(
        &p,
        &ReportOptions {
            selection: Selection {
                hide_idle: true,
                ..Selection::default()
            },
            ..ReportOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, OutputError::NoSamples { .. }), "{err}");
    assert!(err.to_string().contains("cpu-clock"));
}
