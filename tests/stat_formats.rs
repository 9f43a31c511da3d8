//! CSV and JSON output parse and agree with the table; -I, -r, -p, -o work.

mod common;

use std::time::Duration;

use common::{fixture, parse_csv, pyperf, pythons, run, stderr_of};
use pyperf::stat::format::{self, Format};
use pyperf::stat::summary::{Count, StatReport};

fn py() -> String {
    pythons::default_python().display().to_string()
}

/// Values per event as the table prints them (commas removed).
fn parse_table(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| {
            !l.trim().is_empty()
                && !l.contains("Performance counter stats")
                && !l.contains("seconds")
        })
        .filter_map(|l| {
            let l = l.trim_start();
            if l.starts_with('<') {
                let (value, rest) = l.split_once('>')?;
                return Some((
                    rest.split_whitespace().next()?.to_string(),
                    format!("{value}>"),
                ));
            }
            let mut words = l.split_whitespace();
            let value = words.next()?.replace(',', "");
            let mut name = words.next()?;
            if name == "msec" {
                name = words.next()?;
            }
            Some((name.to_string(), value))
        })
        .collect()
}

fn real_report() -> StatReport {
    // One real measurement; its JSON is turned back into a report below so that
    // every renderer can be checked on the same figures.
    let out = run(pyperf()
        .args([
            "stat",
            "--json",
            "-e",
            "task-clock,page-faults,context-switches,cycles",
            "--",
        ])
        .arg(py())
        .arg(fixture("stat/touch_pages.py"))
        .arg("2000"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_str(&stderr_of(&out)).expect("valid JSON");
    report_from_json(&doc)
}

/// Rebuilds a report from pyperf's own JSON, so that the other renderers can be
/// checked against the numbers of one real run.
fn report_from_json(doc: &serde_json::Value) -> StatReport {
    let events = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["event"].as_str().unwrap();
            let spec = pyperf::event::parse_event_list(name).unwrap()[0].events[0].clone();
            let count = match e["status"].as_str().unwrap() {
                "counted" => Count::Counted {
                    value: e["value"].as_f64().unwrap(),
                    running_pct: e["running_pct"].as_f64().unwrap(),
                    runtime_ns: e["runtime_ns"].as_u64().unwrap(),
                    stddev_pct: None,
                },
                "not supported" => Count::NotSupported,
                _ => Count::NotCounted,
            };
            pyperf::stat::summary::EventResult {
                spec,
                count,
                user_only_fallback: false,
            }
        })
        .collect();
    StatReport {
        target_label: doc["target"].as_str().unwrap().to_string(),
        command: None,
        runs: 1,
        events,
        elapsed: pyperf::stat::summary::Mean {
            mean: doc["elapsed_s"].as_f64().unwrap(),
            stddev: None,
        },
        user_s: doc["user_s"].as_f64(),
        sys_s: doc["sys_s"].as_f64(),
        exit: None,
    }
}

#[test]
fn csv_json_and_table_agree() {
    let report = real_report();
    let table = format::render(&report, &Format::Table { big_num: true });
    let csv = parse_csv(&format::render(
        &report,
        &Format::Csv {
            separator: ",".into(),
        },
    ));
    let json: serde_json::Value =
        serde_json::from_str(&format::render(&report, &Format::Json)).unwrap();
    let table_rows = parse_table(&table);
    assert_eq!(table_rows.len(), report.events.len(), "{table}");
    for (i, (name, table_value)) in table_rows.iter().enumerate() {
        let csv_row = &csv[name];
        let json_row = &json["events"][i];
        assert_eq!(json_row["event"].as_str().unwrap(), name);
        match &csv_row.value {
            Some(v) => {
                let t: f64 = table_value.parse().unwrap();
                assert!((t - v).abs() < 0.011, "{name}: table {t} vs csv {v}");
                let j = json_row["display_value"].as_f64().unwrap();
                assert!((j - v).abs() < 0.011, "{name}: json {j} vs csv {v}");
            }
            None => {
                assert_eq!(&csv_row.raw, table_value);
                assert!(json_row["value"].is_null());
            }
        }
    }
    // The derived CPU utilisation is the same figure in every format.
    let metric = json["events"][0]["metrics"][0]["value"].as_f64().unwrap();
    assert!((csv["task-clock"].metric_value.unwrap() - metric).abs() < 0.001);
    assert!(table.contains("CPUs utilized"));
}

#[test]
fn json_document_has_the_documented_fields() {
    let out = run(pyperf().args([
        "stat",
        "--json",
        "-e",
        "task-clock,cycles",
        "--",
        "sh",
        "-c",
        "exit 4",
    ]));
    assert_eq!(out.status.code(), Some(4));
    let doc: serde_json::Value = serde_json::from_str(&stderr_of(&out)).unwrap();
    assert_eq!(doc["schema"], "pyperf-stat/1");
    assert_eq!(doc["exit"]["code"], 4);
    assert_eq!(doc["runs"], 1);
    assert!(doc["elapsed_s"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["events"][0]["event"], "task-clock");
    assert_eq!(doc["events"][0]["unit"], "msec");
    assert!(doc["user_s"].is_number() && doc["sys_s"].is_number());
}

#[test]
fn output_file_holds_the_report_and_program_streams_stay_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.csv");
    let out = run(pyperf()
        .args(["stat", "-x", ";", "-e", "task-clock", "-o"])
        .arg(&path)
        .args(["--", "echo", "hi"]));
    assert!(out.status.success());
    assert_eq!(common::stdout_of(&out), "hi\n");
    assert!(!stderr_of(&out).contains("task-clock"));
    let text = std::fs::read_to_string(&path).unwrap();
    let fields: Vec<&str> = text.lines().next().unwrap().split(';').collect();
    assert_eq!(fields[1], "msec");
    assert_eq!(fields[2], "task-clock");
}

#[test]
fn repeat_prints_means_and_relative_stddev() {
    let out = run(pyperf()
        .args(["stat", "-r", "3", "-e", "task-clock,page-faults", "--"])
        .arg(py())
        .arg(fixture("stat/spin.py"))
        .arg("0.05"));
    assert!(out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("(3 runs)"), "{err}");
    assert!(err.contains("( +-"), "{err}");
    assert!(err.contains("seconds time elapsed  ( +-"), "{err}");
    // CSV with -r carries the variance column, as perf's does.
    let out = run(pyperf().args(["stat", "-r", "2", "-x,", "-e", "task-clock", "--", "true"]));
    let line = stderr_of(&out);
    let fields: Vec<&str> = line.trim().split(',').collect();
    assert!(fields[3].ends_with('%'), "{line}");
}

#[test]
fn interval_printing_adds_up_to_the_whole() {
    // CSV intervals: one line per interval, timestamps increasing.
    let out = run(pyperf()
        .args(["stat", "-I", "100", "-x,", "-e", "task-clock", "--"])
        .arg(py())
        .arg(fixture("stat/spin.py"))
        .arg("0.5"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stderr_of(&out);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split(',').collect())
        .filter(|f: &Vec<&str>| f.len() > 3)
        .collect();
    assert!(lines.len() >= 3, "expected several intervals: {text}");
    let times: Vec<f64> = lines.iter().map(|f| f[0].parse().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[1] > w[0]),
        "timestamps increase: {times:?}"
    );
    assert!(
        lines.iter().all(|f| f[3] == "task-clock" && f[2] == "msec"),
        "{text}"
    );

    // JSON carries the intervals and the total of the same run: they must add up.
    let out = run(pyperf()
        .args([
            "stat",
            "-I",
            "100",
            "--json",
            "-e",
            "task-clock,page-faults",
            "--",
        ])
        .arg(py())
        .arg(fixture("stat/spin.py"))
        .arg("0.5"));
    let doc: serde_json::Value = serde_json::from_str(&stderr_of(&out)).unwrap();
    let intervals = doc["intervals"].as_array().unwrap();
    assert!(intervals.len() >= 3);
    for (i, event) in ["task-clock", "page-faults"].iter().enumerate() {
        let total = doc["events"][i]["value"].as_f64().unwrap();
        let sum: f64 = intervals
            .iter()
            .map(|iv| iv["events"][i]["value"].as_f64().unwrap_or(0.0))
            .sum();
        assert!(
            (sum - total).abs() <= total * 1e-9 + 0.5,
            "{event}: intervals sum to {sum}, total {total}"
        );
    }
}

#[test]
fn attach_counts_a_running_process_until_it_exits() {
    let mut target = std::process::Command::new(py())
        .arg(fixture("stat/spin.py"))
        .arg("1.0")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = run(pyperf()
        .args(["stat", "-x,", "-e", "task-clock", "-p"])
        .arg(target.id().to_string()));
    target.wait().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let counts = parse_csv(&stderr_of(&out));
    let ms = counts["task-clock"].value.unwrap();
    assert!(
        ms > 200.0,
        "attached for most of a ~1 s spin, counted {ms} ms"
    );
}

#[test]
fn list_marks_what_opens_here_and_filters() {
    let out = run(pyperf().arg("list"));
    assert!(out.status.success());
    let text = common::stdout_of(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} listed:\n{text}"))
            .to_string()
    };
    assert!(
        !line("cpu-clock").contains("not supported"),
        "software events open everywhere"
    );
    let perf_says_unsupported = stderr_of(&run(
        std::process::Command::new("perf").args(["stat", "-x,", "-e", "cycles", "true"])
    ))
    .contains("<not supported>");
    if perf_says_unsupported {
        assert!(
            line("cpu-cycles OR cycles").contains("not supported"),
            "{}",
            line("cpu-cycles")
        );
    }
    let filtered = common::stdout_of(&run(pyperf().args(["list", "dcache"])));
    assert!(
        filtered.contains("L1-dcache-load-misses") && !filtered.contains("page-faults"),
        "{filtered}"
    );
}

#[test]
fn tid_counts_only_that_thread() {
    // A process with a busy thread and a waiting main thread, watched at the
    // same time with -t (main thread) and -p (whole process).
    let script = "import threading,time\nt=threading.Thread(target=lambda: sum(i*i for i in range(30_000_000)))\nt.start(); t.join()\n";
    let mut child = std::process::Command::new(py())
        .args(["-c", script])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let pid_for_thread = pid.clone();
    let whole = std::thread::spawn(move || {
        run(pyperf().args(["stat", "-x,", "-e", "task-clock", "-p", &pid_for_thread]))
    });
    let main = run(pyperf().args(["stat", "-x,", "-e", "task-clock", "-t", &pid]));
    let whole = whole.join().unwrap();
    child.wait().unwrap();
    let main_ms = parse_csv(&stderr_of(&main))["task-clock"].value.unwrap();
    let whole_ms = parse_csv(&stderr_of(&whole))["task-clock"].value.unwrap();
    assert!(
        whole_ms > 300.0,
        "the process used {whole_ms} ms while watched"
    );
    assert!(
        main_ms < 0.1 * whole_ms,
        "the waiting main thread used {main_ms} ms of {whole_ms} ms"
    );
}
