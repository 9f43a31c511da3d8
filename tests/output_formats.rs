//! `pyperf convert` into the formats other tools read, each checked by its
//! real consumer on real recordings (a mixed Python/C program and a
//! two-thread native program): Python's pstats (every installed CPython),
//! gprof2dot, pyprof2calltree, snakeviz, callgrind_annotate, the pprof
//! protobuf types generated from profile.proto, and structural checks of
//! speedscope, Firefox Profiler and Chrome trace JSON. Every format's shares
//! must agree with `pyperf report` to within its rounding, and every format
//! must keep Python vs native frames and their files and lines.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::fixtures::{self, Truth};
use common::tools::{assert_pct, system_tool, venv_bin, Report};
use common::{pyperf, pythons, run, stderr_of, stdout_of};
use serde_json::Value;

/// A recording made once for all tests of this file.
struct Recorded {
    path: PathBuf,
    report: Report,
    /// The Python fixture's own account of its run.
    truth: Option<Truth>,
}

struct Shared {
    /// `app.py`: `py_work` (pure Python) and `c_spin_inner` (C extension), 50/50.
    app: Option<Recorded>,
    /// `callsplit_threads`: threads worker_one and worker_two, 2/3 and 1/3.
    threads: Recorded,
    dir: tempfile::TempDir,
}

const EVENT: [&str; 4] = ["-g", "-e", "cpu-clock", "-F"];

fn record(dir: &Path, name: &str, argv: &[&std::ffi::OsStr]) -> PathBuf {
    let path = dir.join(format!("{name}.pyperf"));
    let out = run(pyperf()
        .arg("record")
        .args(EVENT)
        .arg("999")
        .arg("-o")
        .arg(&path)
        .arg("--")
        .args(argv));
    assert!(
        out.status.success(),
        "recording {name}: {}",
        stderr_of(&out)
    );
    path
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let python = pythons::find(12).or_else(|| pythons::installed().pop());
        let app = python.map(|python| {
            let truth_path = dir.path().join("truth.json");
            let cmd = fixtures::python_fixture_command(&python, "app", 1.5, &truth_path);
            let mut argv = vec![cmd.get_program()];
            argv.extend(cmd.get_args());
            let path = record(dir.path(), "app", &argv);
            Recorded {
                report: Report::of(&path, &[]),
                truth: Some(fixtures::read_truth(&truth_path)),
                path,
            }
        });
        let binary = fixtures::native("callsplit_threads");
        let path = record(dir.path(), "threads", &[binary.as_os_str(), "1".as_ref()]);
        let threads = Recorded {
            report: Report::of(&path, &[]),
            truth: None,
            path,
        };
        Shared { app, threads, dir }
    })
}

/// The app recording, or `None` after printing why the test skips.
fn app() -> Option<&'static Recorded> {
    let app = shared().app.as_ref();
    if app.is_none() {
        eprintln!("SKIPPED: no CPython 3.8+ installed for the mixed Python/C recording");
    }
    app
}

/// Runs `pyperf convert` and returns the written file.
fn convert(rec: &Recorded, format: &str) -> PathBuf {
    let stem = rec.path.file_stem().unwrap().to_string_lossy();
    let out_path = shared().dir.path().join(format!("{stem}.{format}"));
    let out = run(pyperf()
        .arg("convert")
        .arg(&rec.path)
        .args(["--format", format, "-o"])
        .arg(&out_path));
    assert!(
        out.status.success(),
        "convert {format}: {}",
        stderr_of(&out)
    );
    // Progress is drawn only on a terminal: a pipe gets plain lines.
    let err = stderr_of(&out);
    assert!(!err.contains('\u{1b}'), "escape codes on a pipe: {err:?}");
    assert!(err.contains("wrote"), "{err}");
    out_path
}

/// The hot line of `py_work` according to the fixture itself.
fn py_work_line(rec: &Recorded) -> u32 {
    let truth = rec.truth.as_ref().expect("truth");
    truth.parts["python"]
        .stack
        .last()
        .and_then(|f| f.line)
        .expect("py_work hot line in the truth")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read JSON");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn strip_kind(name: &str) -> &str {
    name.trim_end_matches("_[i]").trim_end_matches("_[k]")
}

// ------------------------------------------------------------- speedscope

#[test]
fn speedscope_has_a_sampled_profile_per_thread_with_files_and_lines() {
    let threads = &shared().threads;
    let doc = json(&convert(threads, "speedscope"));
    check_speedscope(&doc, threads);
    let names: Vec<&str> = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for worker in ["worker_one", "worker_two"] {
        assert!(
            names.iter().any(|n| n.starts_with(worker)),
            "no profile for {worker}: {names:?}"
        );
    }
    let Some(app) = app() else { return };
    let doc = json(&convert(app, "speedscope"));
    check_speedscope(&doc, app);
    let frames = doc["shared"]["frames"].as_array().unwrap();
    let py_work = frames
        .iter()
        .find(|f| f["name"] == "py_work" && f["line"] == py_work_line(app))
        .expect("py_work frame at its hot line");
    assert!(py_work["file"]
        .as_str()
        .unwrap()
        .ends_with("fixtures/python/mixed/app.py"));
    let c = frames
        .iter()
        .find(|f| f["name"] == "c_spin_inner")
        .expect("c_spin_inner frame");
    assert!(c["file"].as_str().unwrap().ends_with("spinext.c"), "{c}");
    assert!(c["line"].as_u64().is_some(), "{c}");
}

/// Structure (as the speedscope file-format schema defines it) and shares.
fn check_speedscope(doc: &Value, rec: &Recorded) {
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames = doc["shared"]["frames"].as_array().expect("shared.frames");
    for f in frames {
        assert!(f["name"].is_string(), "{f}");
        assert!(f.get("file").is_none_or(Value::is_string), "{f}");
        assert!(f.get("line").is_none_or(Value::is_u64), "{f}");
    }
    let profiles = doc["profiles"].as_array().expect("profiles");
    assert!(doc["activeProfileIndex"].as_u64().unwrap() < profiles.len() as u64);
    let mut total = 0u64;
    let mut leaf_weight: HashMap<String, u64> = HashMap::new();
    for p in profiles {
        assert_eq!(p["type"], "sampled");
        assert_eq!(p["unit"], "nanoseconds");
        let samples = p["samples"].as_array().unwrap();
        let weights = p["weights"].as_array().unwrap();
        assert_eq!(samples.len(), weights.len());
        let mut sum = 0;
        for (s, w) in samples.iter().zip(weights) {
            let stack = s.as_array().unwrap();
            assert!(stack
                .iter()
                .all(|i| i.as_u64().unwrap() < frames.len() as u64));
            let w = w.as_u64().unwrap();
            sum += w;
            let leaf = stack.last().unwrap().as_u64().unwrap() as usize;
            let name = strip_kind(frames[leaf]["name"].as_str().unwrap()).to_string();
            *leaf_weight.entry(name).or_default() += w;
        }
        assert_eq!(p["startValue"], 0);
        assert_eq!(p["endValue"], sum);
        total += sum;
    }
    assert_eq!(total, rec.report.total_weight, "speedscope total vs report");
    // The fixture's parts (the rest are start-up crumbs of a sample or two).
    for row in rec.report.rows.iter().take(2) {
        let leaf = leaf_weight.get(&row.function).copied().unwrap_or_else(|| {
            panic!(
                "no leaf {} in speedscope: {:?}",
                row.function,
                leaf_weight.keys()
            )
        });
        let got = 100.0 * leaf as f64 / total as f64;
        assert_pct(
            &format!("speedscope self share of {}", row.function),
            got,
            row.self_pct,
        );
    }
}

// ------------------------------------------------------------------ pstats

/// What `pstats.Stats` makes of the file: every entry as JSON.
const PSTATS_DUMP: &str = r#"
import json, pstats, sys
s = pstats.Stats(sys.argv[1])
rows = []
for (file, line, func), (cc, nc, tt, ct, callers) in s.stats.items():
    rows.append({"file": file, "line": line, "func": func, "cc": cc, "nc": nc, "tt": tt, "ct": ct,
                 "callers": [{"file": k[0], "line": k[1], "func": k[2], "nc": v[0], "tt": v[2], "ct": v[3]}
                             for k, v in callers.items()]})
print(json.dumps({"total_tt": s.total_tt, "total_calls": s.total_calls, "rows": rows}))
"#;

fn pstats_entry<'v>(doc: &'v Value, func: &str, file_suffix: &str) -> &'v Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["func"] == func && r["file"].as_str().unwrap().ends_with(file_suffix))
        .unwrap_or_else(|| panic!("no pstats entry {func} ({file_suffix})"))
}

#[test]
fn pstats_loads_in_every_python_with_report_shares_and_callers() {
    let Some(app) = app() else { return };
    let prof = convert(app, "pstats");
    // marshal and pstats of every interpreter read it.
    let pythons = pythons::for_tests();
    assert!(!pythons.is_empty());
    for python in &pythons {
        let out = run(Command::new(&python.exe)
            .arg("-c")
            .arg("import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats('tottime').print_stats(5)")
            .arg(&prof));
        assert!(
            out.status.success(),
            "CPython {}: {}",
            python.version,
            stderr_of(&out)
        );
        assert!(
            stdout_of(&out).contains("(c_spin_inner)"),
            "CPython {}",
            python.version
        );
    }
    let out = run(Command::new(&pythons[pythons.len() - 1].exe)
        .args(["-c", PSTATS_DUMP])
        .arg(&prof));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc: Value = serde_json::from_str(&stdout_of(&out)).unwrap();
    let total_tt = doc["total_tt"].as_f64().unwrap();
    assert!((total_tt - app.report.total_weight as f64 / 1e9).abs() < 1e-6);

    let report = &app.report;
    let c = pstats_entry(&doc, "c_spin_inner", "spinext.c");
    let c_row = report.row("c_spin_inner", ".so");
    assert_pct(
        "pstats tottime c_spin_inner",
        100.0 * c["tt"].as_f64().unwrap() / total_tt,
        c_row.self_pct,
    );
    assert_pct(
        "pstats cumtime c_spin_inner",
        100.0 * c["ct"].as_f64().unwrap() / total_tt,
        c_row.total_pct,
    );
    // ncalls: samples with the function on the stack.
    let nc = c["nc"].as_u64().unwrap();
    assert!(nc >= c_row.samples && nc <= report.samples, "ncalls {nc}");
    let py = pstats_entry(&doc, "py_work", "fixtures/python/mixed/app.py");
    let py_row = report.row("py_work", "app.py");
    assert_pct(
        "pstats tottime py_work",
        100.0 * py["tt"].as_f64().unwrap() / total_tt,
        py_row.self_pct,
    );
    assert_pct(
        "pstats cumtime py_work",
        100.0 * py["ct"].as_f64().unwrap() / total_tt,
        py_row.total_pct,
    );
    // Caller edges: main (app.py) calls py_work, with all of its cumulative time.
    let callers = py["callers"].as_array().unwrap();
    let main = callers
        .iter()
        .find(|c| c["func"] == "main")
        .unwrap_or_else(|| panic!("main is not a caller of py_work: {callers:?}"));
    assert!(main["file"].as_str().unwrap().ends_with("app.py"));
    assert!((main["ct"].as_f64().unwrap() - py["ct"].as_f64().unwrap()).abs() < 1e-9);
    // The native leaf is called from the C function behind spinext.spin.
    let c_callers: Vec<&str> = c["callers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["func"].as_str().unwrap())
        .collect();
    assert!(c_callers.contains(&"spin"), "{c_callers:?}");
}

#[test]
fn gprof2dot_pyprof2calltree_and_snakeviz_read_pstats() {
    let Some(app) = app() else { return };
    let bin = venv_bin();
    let prof = convert(app, "pstats");
    let c_row = app.report.row("c_spin_inner", ".so");
    let py_row = app.report.row("py_work", "app.py");

    // gprof2dot: node labels are "module:line:function\ntotal%\n(self%)\nN×".
    let out = run(Command::new(bin.join("gprof2dot"))
        .args(["-f", "pstats", "-n", "0", "-e", "0"])
        .arg(&prof));
    assert!(out.status.success(), "gprof2dot: {}", stderr_of(&out));
    let dot = stdout_of(&out);
    let label = |func: &str| -> (f64, f64) {
        let needle = format!(":{func}\\n");
        let start = dot
            .find(&needle)
            .unwrap_or_else(|| panic!("no {func} node in gprof2dot output"));
        let parts: Vec<&str> = dot[start + needle.len()..].split("\\n").take(2).collect();
        let pct = |s: &str| {
            s.trim_matches(|c| c == '(' || c == ')' || c == '%')
                .parse::<f64>()
                .unwrap()
        };
        (pct(parts[0]), pct(parts[1]))
    };
    let (total, self_) = label("c_spin_inner");
    assert_pct("gprof2dot c_spin_inner total", total, c_row.total_pct);
    assert_pct("gprof2dot c_spin_inner self", self_, c_row.self_pct);
    let (total, self_) = label("py_work");
    assert_pct("gprof2dot py_work total", total, py_row.total_pct);
    assert_pct("gprof2dot py_work self", self_, py_row.self_pct);

    // pyprof2calltree, then callgrind_annotate on what it wrote.
    let calltree = prof.with_extension("calltree");
    let out = run(Command::new(bin.join("pyprof2calltree"))
        .arg("-i")
        .arg(&prof)
        .arg("-o")
        .arg(&calltree));
    assert!(out.status.success(), "pyprof2calltree: {}", stderr_of(&out));
    if let Some(annotate) = system_tool("callgrind_annotate", "valgrind") {
        let out = run(Command::new(annotate).arg("--threshold=100").arg(&calltree));
        assert!(out.status.success(), "{}", stderr_of(&out));
        let text = stdout_of(&out);
        // pyprof2calltree states its costs in ns of the pstats times.
        for (func, row) in [("c_spin_inner", c_row), ("py_work", py_row)] {
            let line = text
                .lines()
                .find(|l| l.trim_end().ends_with(&format!(":{func}")))
                .unwrap_or_else(|| panic!("no {func} in\n{text}"));
            let cost: f64 = line
                .split_whitespace()
                .next()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap();
            let want = app.report.self_weight(row);
            assert!(
                (cost - want).abs() <= 0.0051e-2 * app.report.total_weight as f64,
                "pyprof2calltree {func}: {cost} ns, report {want} ns"
            );
        }
    }

    // snakeviz: its server computes the call tree and stats table with pstats.
    let page = snakeviz_page(bin, &prof);
    // Its table: 'spinext.c:LINE(c_spin_inner)': {..., 'stats': [nc, cc, tt, ct], ...}
    let entry = page
        .find("spinext.c:")
        .and_then(|i| page[i..].find("(c_spin_inner)': {").map(|j| i + j))
        .expect("snakeviz lists c_spin_inner from spinext.c");
    let stats_at = page[entry..].find("'stats': [").expect("stats") + entry + 10;
    let stats: Vec<f64> = page[stats_at..]
        .split(']')
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let total_s = app.report.total_weight as f64 / 1e9;
    assert_pct(
        "snakeviz tottime c_spin_inner",
        100.0 * stats[2] / total_s,
        c_row.self_pct,
    );
    assert_pct(
        "snakeviz cumtime c_spin_inner",
        100.0 * stats[3] / total_s,
        c_row.total_pct,
    );
}

/// Starts `snakeviz --server` on a free port and fetches the page for `prof`.
fn snakeviz_page(bin: &Path, prof: &Path) -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(bin.join("snakeviz"))
        .args(["--server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .arg(prof)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snakeviz");
    let encoded: String = prof
        .to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request = format!("GET /snakeviz/{encoded} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
            {
                break response;
            }
        }
        assert!(Instant::now() < deadline, "snakeviz did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"),
        "{}",
        &page[..page.len().min(300)]
    );
    page
}

// --------------------------------------------------------------- callgrind

/// `callgrind_annotate` rows: (cost, percent) of the first event by "file:function".
fn annotate_rows(text: &str) -> Vec<(String, u64, f64)> {
    text.lines()
        .filter(|l| l.contains("%)") && !l.contains("PROGRAM TOTALS"))
        .filter_map(|l| {
            let cost: u64 = l.split_whitespace().next()?.replace(',', "").parse().ok()?;
            let pct: f64 = l
                .split('(')
                .nth(1)?
                .split('%')
                .next()?
                .trim()
                .parse()
                .ok()?;
            let name = l.rsplit(")  ").next()?.to_string();
            Some((name, cost, pct))
        })
        .collect()
}

#[test]
fn callgrind_annotate_reads_callgrind_with_objects_files_and_calls() {
    let Some(annotate) = system_tool("callgrind_annotate", "valgrind") else {
        return;
    };
    let Some(app) = app() else { return };
    let out_path = convert(app, "callgrind");
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(text.starts_with("# callgrind format\n"));
    assert!(text.contains("\npositions: line\n"));

    let out = run(Command::new(&annotate)
        .arg("--threshold=100")
        .arg(&out_path));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows = annotate_rows(&stdout_of(&out));
    let find = |func: &str| {
        rows.iter()
            .find(|(name, _, _)| {
                name.split(" [")
                    .next()
                    .unwrap()
                    .ends_with(&format!(":{func}"))
            })
            .unwrap_or_else(|| panic!("no {func} in callgrind_annotate output: {rows:?}"))
    };
    let c_row = app.report.row("c_spin_inner", ".so");
    let py_row = app.report.row("py_work", "app.py");
    let (name, _, pct) = find("c_spin_inner");
    assert_pct("callgrind self c_spin_inner", *pct, c_row.self_pct);
    assert!(
        name.contains("spinext.c:c_spin_inner [") && name.ends_with(".so]"),
        "{name}"
    );
    let (name, _, pct) = find("py_work");
    assert_pct("callgrind self py_work", *pct, py_row.self_pct);
    assert!(name.contains("app.py:py_work [[python]]"), "{name}");

    // Inclusive costs come from the call edges.
    let out = run(Command::new(&annotate)
        .args(["--threshold=100", "--inclusive=yes"])
        .arg(&out_path));
    let rows = annotate_rows(&stdout_of(&out));
    let py = rows
        .iter()
        .find(|(name, _, _)| name.contains(":py_work ["))
        .expect("py_work inclusive");
    assert_pct("callgrind inclusive py_work", py.2, py_row.total_pct);
    // py_work's self cost sits on its hot line (auto-annotation of app.py).
    let out = run(Command::new(&annotate)
        .args(["--auto=yes", "--threshold=100"])
        .arg(&out_path));
    let annotated = stdout_of(&out);
    assert!(
        annotated.contains("def py_work"),
        "app.py was not annotated"
    );
    let line = py_work_line(app);
    let source = std::fs::read_to_string(fixtures::python_fixture("app")).unwrap();
    let hot_text = source.lines().nth(line as usize - 1).unwrap().trim();
    let hot_cost = annotated
        .lines()
        .find(|l| l.trim_end().ends_with(hot_text))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|c| c.replace(',', "").parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no cost on app.py line {line} ({hot_text})"));
    assert!(
        hot_cost >= 0.9 * app.report.self_weight(py_row),
        "line {line} holds {hot_cost} of py_work's {} ns",
        app.report.self_weight(py_row)
    );
}

// ----------------------------------------------------------------- firefox

#[test]
fn firefox_profile_has_thread_tracks_sample_times_and_source_positions() {
    let threads = &shared().threads;
    let doc = json(&convert(threads, "firefox"));
    let counts = check_firefox(&doc, threads);
    for worker in ["worker_one", "worker_two"] {
        let row = threads.report.row(worker, "callsplit_threads");
        assert_eq!(
            counts.get(worker).copied(),
            Some(row.samples),
            "{worker} samples"
        );
    }
    let names: Vec<&str> = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("worker_one")),
        "{names:?}"
    );

    let Some(app) = app() else { return };
    let doc = json(&convert(app, "firefox"));
    let counts = check_firefox(&doc, app);
    for (func, location) in [("c_spin_inner", ".so"), ("py_work", "app.py")] {
        assert_eq!(
            counts[func],
            app.report.row(func, location).samples,
            "{func} samples"
        );
    }
    // Python functions are the profiler's "JS" frames, in the Python category, with file and line.
    let thread = &doc["threads"][0];
    let strings = thread["stringArray"].as_array().unwrap();
    let funcs = &thread["funcTable"];
    let frames = &thread["frameTable"];
    let categories: Vec<&str> = doc["meta"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let func_index = |name: &str| {
        (0..funcs["length"].as_u64().unwrap() as usize)
            .find(|&i| strings[funcs["name"][i].as_u64().unwrap() as usize] == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    };
    let py = func_index("py_work");
    assert_eq!(funcs["isJS"][py], true);
    let file = strings[funcs["fileName"][py].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    assert!(file.ends_with("fixtures/python/mixed/app.py"), "{file}");
    let c = func_index("c_spin_inner");
    assert_eq!(funcs["isJS"][c], false);
    let file = strings[funcs["fileName"][c].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    assert!(file.ends_with("spinext.c"), "{file}");
    let py_frames: Vec<usize> = (0..frames["length"].as_u64().unwrap() as usize)
        .filter(|&f| frames["func"][f].as_u64().unwrap() as usize == py)
        .collect();
    assert!(
        py_frames
            .iter()
            .any(|&f| frames["line"][f] == py_work_line(app)),
        "no py_work frame at its hot line"
    );
    for &f in &py_frames {
        assert_eq!(
            categories[frames["category"][f].as_u64().unwrap() as usize],
            "Python"
        );
    }
}

/// Checks the processed-profile tables and returns self sample counts by function.
fn check_firefox(doc: &Value, rec: &Recorded) -> HashMap<String, u64> {
    assert!(doc["meta"]["preprocessedProfileVersion"].as_u64().unwrap() >= 40);
    assert!(
        doc["meta"]["startTime"].as_f64().unwrap() > 1.0e12,
        "startTime is ms since the epoch"
    );
    let threads = doc["threads"].as_array().unwrap();
    assert!(!threads.is_empty());
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut total = 0u64;
    for t in threads {
        let strings = t["stringArray"].as_array().unwrap();
        let (funcs, frames, stacks, samples) = (
            &t["funcTable"],
            &t["frameTable"],
            &t["stackTable"],
            &t["samples"],
        );
        let n_funcs = funcs["length"].as_u64().unwrap();
        let n_frames = frames["length"].as_u64().unwrap();
        let n_stacks = stacks["length"].as_u64().unwrap();
        for col in [
            "name",
            "isJS",
            "relevantForJS",
            "resource",
            "fileName",
            "lineNumber",
        ] {
            assert_eq!(
                funcs[col].as_array().unwrap().len() as u64,
                n_funcs,
                "funcTable.{col}"
            );
        }
        for col in ["func", "line", "category", "address"] {
            assert_eq!(
                frames[col].as_array().unwrap().len() as u64,
                n_frames,
                "frameTable.{col}"
            );
        }
        for i in 0..n_funcs as usize {
            assert!(funcs["name"][i].as_u64().unwrap() < strings.len() as u64);
            let file = &funcs["fileName"][i];
            assert!(file.is_null() || file.as_u64().unwrap() < strings.len() as u64);
        }
        assert!((0..n_frames as usize).all(|f| frames["func"][f].as_u64().unwrap() < n_funcs));
        for s in 0..n_stacks as usize {
            assert!(stacks["frame"][s].as_u64().unwrap() < n_frames);
            let prefix = &stacks["prefix"][s];
            assert!(
                prefix.is_null() || prefix.as_u64().unwrap() < s as u64,
                "stack prefixes come first"
            );
        }
        let len = samples["length"].as_u64().unwrap() as usize;
        assert_eq!(samples["stack"].as_array().unwrap().len(), len);
        let deltas = samples["timeDeltas"].as_array().unwrap();
        assert_eq!(deltas.len(), len);
        assert!(
            deltas.iter().skip(1).all(|d| d.as_f64().unwrap() >= 0.0),
            "samples in time order"
        );
        for s in samples["stack"].as_array().unwrap() {
            let frame = stacks["frame"][s.as_u64().unwrap() as usize]
                .as_u64()
                .unwrap() as usize;
            let func = frames["func"][frame].as_u64().unwrap() as usize;
            let name = strings[funcs["name"][func].as_u64().unwrap() as usize]
                .as_str()
                .unwrap();
            *counts.entry(strip_kind(name).to_string()).or_default() += 1;
        }
        total += len as u64;
    }
    assert_eq!(total, rec.report.samples, "Firefox samples vs report");
    counts
}

// ------------------------------------------------------------------- pprof

#[test]
fn pprof_decodes_with_profile_proto_and_keeps_totals() {
    use pprof::protos::Message;
    let Some(app) = app() else { return };
    let path = convert(app, "pprof");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut raw)
        .expect("gzip");
    let p = pprof::protos::Profile::decode(raw.as_slice()).expect("a perftools.profiles.Profile");
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(s(0), "");
    let types: Vec<(&str, &str)> = p.sample_type.iter().map(|t| (s(t.ty), s(t.unit))).collect();
    assert_eq!(types, [("samples", "count"), ("cpu-clock", "nanoseconds")]);
    assert_eq!(s(p.default_sample_type), "cpu-clock");
    let sum = |col: usize| p.sample.iter().map(|x| x.value[col] as u64).sum::<u64>();
    assert_eq!(sum(0), app.report.samples);
    assert_eq!(sum(1), app.report.total_weight);

    let location: HashMap<u64, &pprof::protos::Location> =
        p.location.iter().map(|l| (l.id, l)).collect();
    let function: HashMap<u64, &pprof::protos::Function> =
        p.function.iter().map(|f| (f.id, f)).collect();
    let mapping: HashMap<u64, &pprof::protos::Mapping> =
        p.mapping.iter().map(|m| (m.id, m)).collect();
    let mut leaf_weight: HashMap<&str, u64> = HashMap::new();
    for sample in &p.sample {
        let leaf = location[&sample.location_id[0]];
        let f = function[&leaf.line[0].function_id];
        *leaf_weight.entry(strip_kind(s(f.name))).or_default() += sample.value[1] as u64;
        let keys: Vec<&str> = sample.label.iter().map(|l| s(l.key)).collect();
        assert_eq!(keys, ["pid", "tid", "thread"]);
    }
    for (func, loc) in [("c_spin_inner", ".so"), ("py_work", "app.py")] {
        let got = 100.0 * leaf_weight[func] as f64 / app.report.total_weight as f64;
        assert_pct(
            &format!("pprof self {func}"),
            got,
            app.report.row(func, loc).self_pct,
        );
    }
    // Python vs native identity, files, lines and mappings.
    let find_loc = |name: &str| {
        p.location
            .iter()
            .filter(|l| s(function[&l.line[0].function_id].name) == name)
            .collect::<Vec<_>>()
    };
    let py = find_loc("py_work");
    let f = function[&py[0].line[0].function_id];
    assert_eq!(s(f.system_name), "python:py_work");
    assert!(s(f.filename).ends_with("fixtures/python/mixed/app.py"));
    assert!(py.iter().all(|l| l.mapping_id == 0));
    assert!(py
        .iter()
        .any(|l| l.line[0].line == i64::from(py_work_line(app))));
    let c = find_loc("c_spin_inner");
    let f = function[&c[0].line[0].function_id];
    assert_eq!(s(f.system_name), "native:c_spin_inner");
    assert!(s(f.filename).ends_with("spinext.c"));
    let m = mapping[&c[0].mapping_id];
    assert!(s(m.filename).contains("spinext") && m.has_functions);
}

// ------------------------------------------------------------------ chrome

#[test]
fn chrome_trace_nests_slices_per_thread_with_report_shares() {
    let threads = &shared().threads;
    let doc = json(&convert(threads, "chrome"));
    let thread_names = check_chrome(&doc, threads);
    assert!(
        thread_names.iter().any(|n| n.starts_with("worker_two")),
        "{thread_names:?}"
    );
    let Some(app) = app() else { return };
    let doc = json(&convert(app, "chrome"));
    check_chrome(&doc, app);
    let events = doc["traceEvents"].as_array().unwrap();
    let py = events
        .iter()
        .find(|e| e["name"] == "py_work" && e["args"]["line"] == py_work_line(app))
        .expect("a py_work slice at its hot line");
    assert_eq!(py["cat"], "python");
    assert!(py["args"]["file"].as_str().unwrap().ends_with("app.py"));
    let c = events
        .iter()
        .find(|e| e["name"] == "c_spin_inner")
        .expect("c_spin_inner slice");
    assert_eq!(c["cat"], "native");
    assert!(c["args"]["module"].as_str().unwrap().contains("spinext"));
}

/// Checks nesting per thread and self-time shares; returns the thread names.
fn check_chrome(doc: &Value, rec: &Recorded) -> Vec<String> {
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let mut names = Vec::new();
    // (pid, tid) -> slices (ts, dur, name)
    type Slices = Vec<(f64, f64, String)>;
    let mut by_thread: HashMap<(u64, u64), Slices> = HashMap::new();
    for e in events {
        match e["ph"].as_str().unwrap() {
            "M" => {
                if e["name"] == "thread_name" {
                    names.push(e["args"]["name"].as_str().unwrap().to_string());
                }
            }
            "X" => {
                let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
                let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
                assert!(ts >= 0.0 && dur > 0.0, "{e}");
                by_thread.entry(key).or_default().push((
                    ts,
                    dur,
                    strip_kind(e["name"].as_str().unwrap()).to_string(),
                ));
            }
            other => panic!("unexpected phase {other}"),
        }
    }
    // Self time: duration minus the direct children's, found by nesting.
    let mut self_us: HashMap<String, f64> = HashMap::new();
    let eps = 1e-3;
    for slices in by_thread.values_mut() {
        slices.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap()
                .then(b.1.partial_cmp(&a.1).unwrap())
        });
        let mut open: Vec<(f64, String, f64)> = Vec::new(); // end, name, children
        let close =
            |open: &mut Vec<(f64, String, f64)>, self_us: &mut HashMap<String, f64>, start: f64| {
                while let Some((end, _, _)) = open.last() {
                    if *end > start + eps {
                        break;
                    }
                    let (end, name, children) = open.pop().unwrap();
                    let _ = end;
                    *self_us.entry(name).or_default() -= children;
                }
            };
        for (ts, dur, name) in slices.iter() {
            close(&mut open, &mut self_us, *ts);
            if let Some(parent) = open.last_mut() {
                assert!(
                    ts + dur <= parent.0 + eps,
                    "slice {name} at {ts} overlaps its parent's end {}",
                    parent.0
                );
                parent.2 += dur;
            }
            *self_us.entry(name.clone()).or_default() += dur;
            open.push((ts + dur, name.clone(), 0.0));
        }
        close(&mut open, &mut self_us, f64::INFINITY);
    }
    // Frames' self time is the CPU time of their samples (plus gaps under a
    // microsecond, which stay inside the shared frames); longer pauses
    // between samples that share frames have slices of their own.
    let pauses = self_us.remove("[between samples]").unwrap_or(0.0);
    let total: f64 = self_us.values().sum();
    let weight_us = rec.report.total_weight as f64 / 1000.0;
    assert!(
        (total - weight_us).abs() < 1e-4 * weight_us,
        "trace CPU time {total} us vs sampled {weight_us} us ({pauses} us between samples)"
    );
    for row in rec.report.rows.iter().take(2) {
        let got = 100.0 * self_us.get(&row.function).copied().unwrap_or(0.0) / total;
        assert_pct(
            &format!("chrome self time of {}", row.function),
            got,
            row.self_pct,
        );
    }
    names
}

// ------------------------------------------------------------------ record

#[test]
fn record_format_records_then_converts_and_removes_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("threads.json");
    let binary = fixtures::native("callsplit_threads");
    let out = run(pyperf()
        .arg("record")
        .args(EVENT)
        .arg("499")
        .args(["--format", "speedscope", "-o"])
        .arg(&out_path)
        .arg("--")
        .arg(&binary)
        .arg("0.4"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let doc = json(&out_path);
    // One profile per sampled thread: both workers (the main thread, which
    // mostly waits, may have a sample or two).
    let names: Vec<&str> = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for worker in ["worker_one", "worker_two"] {
        assert!(names.iter().any(|n| n.starts_with(worker)), "{names:?}");
    }
    let weights: u64 = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_u64().unwrap())
        })
        .sum();
    assert!(weights > 300_000_000, "{weights} ns sampled of 0.6 s");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["threads.json"],
        "the intermediate profile is removed"
    );
}

// -------------------------------------------------------------------- diff

/// Two Python functions sharing the CPU time in a ratio given on the
/// command line (measured with process_time, so it holds on any machine).
const SPLIT_PY: &str = r#"
import sys, time

def hot_a(n):
    x = 0
    for i in range(n): x += i * i
    return x

def hot_b(n):
    x = 0
    for i in range(n): x += i * i
    return x

def main(share_a, seconds):
    used = {hot_a: 0.0, hot_b: 0.0}
    end = time.process_time() + seconds
    while time.process_time() < end:
        f = hot_a if used[hot_a] * (1 - share_a) <= used[hot_b] * share_a else hot_b
        t = time.process_time()
        f(20000)
        used[f] += time.process_time() - t

main(float(sys.argv[1]), float(sys.argv[2]))
"#;

#[test]
fn diff_draws_growth_red_and_lists_the_largest_share_changes() {
    let Some(python) = pythons::find(12).or_else(|| pythons::installed().pop()) else {
        eprintln!("SKIPPED: no CPython 3.8+ installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("split.py");
    std::fs::write(&script, SPLIT_PY).unwrap();
    let split = |name: &str, share_a: &str| {
        record(
            dir.path(),
            name,
            &[
                python.exe.as_os_str(),
                script.as_os_str(),
                share_a.as_ref(),
                "1".as_ref(),
            ],
        )
    };
    let before = split("before", "0.7");
    let after = split("after", "0.3");
    let (rb, ra) = (Report::of(&before, &[]), Report::of(&after, &[]));
    let svg_path = dir.path().join("diff.svg");
    let out = run(pyperf()
        .arg("diff")
        .arg(&before)
        .arg(&after)
        .arg("-o")
        .arg(&svg_path));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let table = stdout_of(&out);

    // The two functions whose share moved lead the table, by the amounts
    // the two reports give (each rounded to two decimals).
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim_start().starts_with("Self"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let leaders: Vec<&str> = rows.iter().take(2).map(|r| r[6]).collect();
    assert!(
        leaders.contains(&"hot_a") && leaders.contains(&"hot_b"),
        "{table}"
    );
    for row in rows.iter().take(2) {
        let func = row[6];
        let change: f64 = row[2].parse().unwrap();
        let want = ra.row(func, "split.py").self_pct - rb.row(func, "split.py").self_pct;
        assert!(
            (change - want).abs() <= 0.011,
            "{func}: change {change}, reports say {want:.2}\n{table}"
        );
    }
    let grew = ra.row("hot_b", "split.py").self_pct - rb.row("hot_b", "split.py").self_pct;
    assert!(grew > 20.0, "hot_b grew by only {grew:.2} points");

    // inferno's differential graph: boxes of AFTER, red where the share grew, blue where it shrank.
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains("<svg"), "not an SVG");
    let fill_of = |func: &str| -> (u32, u32, u32, String) {
        let start = svg
            .find(&format!("<title>{func} ("))
            .unwrap_or_else(|| panic!("no box for {func}"));
        let title_end = svg[start..].find("</title>").unwrap() + start;
        let title = svg[start..title_end].to_string();
        let fill_at = svg[title_end..].find("fill=\"rgb(").unwrap() + title_end + 10;
        let rgb: Vec<u32> = svg[fill_at..]
            .split(')')
            .next()
            .unwrap()
            .split(',')
            .map(|c| c.trim().parse().unwrap())
            .collect();
        (rgb[0], rgb[1], rgb[2], title)
    };
    let (r, _, b, title) = fill_of("hot_b");
    assert!(
        r == 255 && b < 255 && title.contains("; +"),
        "hot_b not red: rgb({r},_,{b}) {title}"
    );
    let (r, _, b, title) = fill_of("hot_a");
    assert!(
        b == 255 && r < 255 && title.contains("; -"),
        "hot_a not blue: rgb({r},_,{b}) {title}"
    );
}

// ---------------------------------------------------------------- progress

#[test]
fn progress_is_drawn_on_a_terminal_and_cleared() {
    // `script` gives the command a pseudo-terminal and keeps what it drew.
    let Some(script) = system_tool("script", "bsdutils") else {
        return;
    };
    let threads = &shared().threads;
    let dir = tempfile::tempdir().unwrap();
    let typescript = dir.path().join("typescript");
    let command = format!(
        "'{}' convert '{}' --format firefox -o '{}'",
        common::pyperf_path().display(),
        threads.path.display(),
        dir.path().join("out.json").display()
    );
    let out = run(Command::new(script)
        .args(["-q", "-e", "-c", &command])
        .arg(&typescript));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let drawn = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(
        drawn.contains("reading ") && drawn.contains("writing "),
        "no progress drawn: {drawn:?}"
    );
    assert!(drawn.contains("\u{1b}[2K"), "the progress line is cleared");
    assert!(dir.path().join("out.json").exists());
}
