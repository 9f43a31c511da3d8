//! `perf record` + `perf script` as the oracle for stacks: what perf itself
//! unwinds for a program, one user-space stack per sample, root to leaf.

use std::ffi::OsStr;
use std::process::Command;

use super::perf;

/// One sample as perf reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfSample {
    /// The sampled thread's comm.
    pub comm: String,
    pub tid: u32,
    /// User-space frames, root to leaf (kernel frames dropped), as perf names
    /// them (`[unknown]` where it cannot), without perf's " (inlined)" mark.
    pub frames: Vec<String>,
    /// For each frame: perf marked it as an inlined function.
    pub inlined: Vec<bool>,
}

/// Runs `perf record -e cpu-clock -F 999 --call-graph CALL_GRAPH -- argv`
/// and returns the samples, or `None` after printing why the caller skips
/// (no perf, or perf cannot record here). Panics if the program fails.
pub fn perf_record<S: AsRef<OsStr>>(call_graph: &str, argv: &[S]) -> Option<Vec<PerfSample>> {
    let Some(perf) = perf() else {
        eprintln!("SKIPPED: perf is not installed");
        return None;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("perf.data");
    let out = Command::new(&perf)
        .args([
            "record",
            "--no-bpf-event",
            "-q",
            "-e",
            "cpu-clock",
            "-F",
            "999",
        ])
        .args(["--call-graph", call_graph, "-o"])
        .arg(&data)
        .arg("--")
        .args(argv)
        .output()
        .expect("run perf record");
    if !data.exists() {
        eprintln!(
            "SKIPPED: perf record cannot record here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    assert!(
        out.status.success(),
        "program under perf record failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let script = Command::new(&perf)
        .args(["script", "-F", "comm,tid,ip,sym", "-i"])
        .arg(&data)
        .output()
        .expect("run perf script");
    assert!(script.status.success(), "perf script failed");
    Some(parse_perf_script(&String::from_utf8_lossy(&script.stdout)))
}

/// Parses `perf script -F comm,tid,ip,sym`: a `comm tid` line per sample,
/// then one tab-indented `ip symbol` line per frame, leaf first.
pub fn parse_perf_script(text: &str) -> Vec<PerfSample> {
    let mut samples = Vec::new();
    let mut current: Option<PerfSample> = None;
    for line in text.lines() {
        if let Some(frame) = line.strip_prefix('\t') {
            let Some(sample) = current.as_mut() else {
                continue;
            };
            let frame = frame.trim_start();
            let (ip, sym) = frame.split_once(' ').unwrap_or((frame, "[unknown]"));
            let is_kernel = u64::from_str_radix(ip, 16).is_ok_and(|ip| ip >= 0xffff_8000_0000_0000);
            if !is_kernel {
                let sym = sym.trim();
                let name = sym.strip_suffix(" (inlined)");
                sample.frames.push(name.unwrap_or(sym).to_string());
                sample.inlined.push(name.is_some());
            }
        } else if line.trim().is_empty() {
            samples.extend(current.take());
        } else {
            samples.extend(current.take());
            let line = line.trim();
            let (comm, tid) = line.rsplit_once(' ').unwrap_or((line, ""));
            current = Some(PerfSample {
                comm: comm.trim().to_string(),
                tid: tid.parse().unwrap_or(0),
                frames: Vec::new(),
                inlined: Vec::new(),
            });
        }
    }
    samples.extend(current);
    for sample in &mut samples {
        sample.frames.reverse();
        sample.inlined.reverse();
    }
    samples
}

/// The share of `samples` that `classify` puts in each of `n` classes
/// (samples it returns `None` for count in the total only).
pub fn shares(
    samples: &[PerfSample],
    n: usize,
    classify: impl Fn(&PerfSample) -> Option<usize>,
) -> Vec<f64> {
    let mut counts = vec![0usize; n];
    for sample in samples {
        if let Some(class) = classify(sample) {
            counts[class] += 1;
        }
    }
    let total = samples.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}
