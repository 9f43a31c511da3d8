//! Timings and sizes on a 200k-sample synthetic profile (2000 stacks of
//! depth 20-60, 4 threads, cpu-clock weights around 1,001,001 ns).
//! Ignored by default; run in release:
//! `cargo test --release --test profile_bench -- --ignored --nocapture`

mod support;

use std::collections::HashMap;
use std::time::Instant;

use pyperf::output::{
    render_flamegraph, render_report, FlamegraphOptions, ReportOptions, ReportView,
};
use pyperf::profile::{
    read_profile, write_profile, FrameKind, Header, ModuleInfo, ProfileWriter, RawFrame,
};
use support::{synthetic_profile, Shape};

/// Release-build targets: reading plus one view under two seconds.
const TARGET_SECONDS: f64 = 2.0;

fn check(what: &str, seconds: f64) {
    eprintln!("{what}: {seconds:.3} s");
    if cfg!(debug_assertions) {
        eprintln!("  (debug build: target of {TARGET_SECONDS} s not checked)");
    } else {
        assert!(seconds < TARGET_SECONDS, "{what} took {seconds:.3} s");
    }
}

#[test]
#[ignore]
fn read_then_report_and_flamegraph_200k_samples() {
    let profile = synthetic_profile(&Shape::realistic(), 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.pyperf");
    let t = Instant::now();
    let summary = write_profile(&path, &profile).unwrap();
    eprintln!(
        "write: {:.3} s, {} bytes, {:.2} bytes/sample",
        t.elapsed().as_secs_f64(),
        summary.file_bytes,
        summary.bytes_per_sample().unwrap()
    );

    let t = Instant::now();
    let read = read_profile(&path, None).unwrap();
    let read_s = t.elapsed().as_secs_f64();
    eprintln!("read alone: {read_s:.3} s");

    for (name, view) in [
        ("functions", ReportView::Functions),
        ("lines", ReportView::Lines),
        ("tree", ReportView::Tree),
    ] {
        let t = Instant::now();
        let read = read_profile(&path, None).unwrap();
        let report = render_report(
            &read.profile,
            &ReportOptions {
                view,
                limit: Some(50),
                ..ReportOptions::default()
            },
        )
        .unwrap();
        check(
            &format!("read + report ({name})"),
            t.elapsed().as_secs_f64(),
        );
        assert!(report.lines().count() > 10);
    }

    let t = Instant::now();
    let svg = render_flamegraph(&read.profile, &FlamegraphOptions::default()).unwrap();
    eprintln!("flamegraph alone: {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let read = read_profile(&path, None).unwrap();
    let svg2 = render_flamegraph(&read.profile, &FlamegraphOptions::default()).unwrap();
    check("read + flamegraph", t.elapsed().as_secs_f64());
    assert_eq!(svg.len(), svg2.len());
    eprintln!("svg: {} bytes", svg.len());
}

/// The recorder's path: native frames written as addresses while recording,
/// their symbols at the end.
#[test]
#[ignore]
fn recorder_style_file_with_address_frames() {
    let profile = synthetic_profile(&Shape::realistic(), 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.pyperf");
    let t = Instant::now();
    let mut w = ProfileWriter::create(
        &path,
        &Header {
            command: profile.meta.command.clone(),
            start_unix_ns: profile.meta.start_unix_ns,
            events: profile.events.clone(),
        },
    )
    .unwrap();
    let mut modules = HashMap::new();
    let mut symbols = Vec::new();
    let mut raw_ids = Vec::new();
    for (i, f) in profile.frames.iter().enumerate() {
        let raw = match (f.kind, &f.module) {
            (FrameKind::Native, Some(m)) => {
                let next = modules.len();
                let module = *modules.entry(m.clone()).or_insert(next);
                if module == next {
                    w.add_module(&ModuleInfo {
                        path: m.clone(),
                        build_id: Some(vec![0x5a; 20]),
                    })
                    .unwrap();
                }
                RawFrame::Address {
                    module: module as u32,
                    address: 0x40_0000 + 0x1234 * i as u64,
                }
            }
            _ => RawFrame::Symbolic(f.clone()),
        };
        let id = w.intern_frame(&raw).unwrap();
        if matches!(raw, RawFrame::Address { .. }) {
            symbols.push((id, vec![f.clone()]));
        }
        raw_ids.push(id);
    }
    for t in &profile.threads {
        w.add_thread(t).unwrap();
    }
    let mut stack_ids = HashMap::new();
    for (n, s) in profile.samples.iter().enumerate() {
        let stack = *stack_ids.entry(s.stack).or_insert_with(|| {
            let raw: Vec<u32> = profile.stacks[s.stack as usize]
                .iter()
                .map(|&f| raw_ids[f as usize])
                .collect();
            w.intern_stack(&raw).unwrap()
        });
        w.add_sample(stack, s.thread, s.time_ns, s.event, s.weight, s.idle)
            .unwrap();
        if n % 10_000 == 0 {
            w.flush().unwrap();
        }
    }
    w.write_symbols(symbols).unwrap();
    let summary = w.finish(&profile.meta).unwrap();
    eprintln!(
        "recorder-style write: {:.3} s, {} bytes, {:.2} bytes/sample",
        t.elapsed().as_secs_f64(),
        summary.file_bytes,
        summary.bytes_per_sample().unwrap()
    );
    let read = read_profile(&path, None).unwrap();
    assert!(read.complete);
    assert_eq!(read.info.unresolved, 0);
    assert_eq!(read.profile.samples.len(), profile.samples.len());
    for (a, b) in read.profile.samples.iter().zip(&profile.samples) {
        let got: Vec<_> = read.profile.stack_frames(a.stack).collect();
        let want: Vec<_> = profile.stack_frames(b.stack).collect();
        assert_eq!(got, want);
    }
}
