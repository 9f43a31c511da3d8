//! Chrome's trace-event JSON (the "JSON Object Format" of the Trace Event
//! Format), as viztracer writes it, for Perfetto (ui.perfetto.dev) and
//! chrome://tracing: a timeline per thread where each sample becomes a stack
//! of nested complete (`"ph": "X"`) slices.
//!
//! A sample at time `t` with weight `w` nanoseconds (clock events) stands for
//! the thread's CPU time `[t - w, t]`: the sampled stack was running then
//! (a sample stamped sooner than `w` after the previous one, from time-stamp
//! jitter, is moved to start where that one ended, keeping its duration).
//! Consecutive samples extend the slices of the frames they share, so a
//! function that keeps running is one long slice. The short wall-clock gap
//! between two such samples (the profiler stopping the thread to read its
//! stack, or a brief time off the CPU) becomes a `[between samples]` slice
//! inside the shared frames, so every frame's self time is exactly the CPU
//! time its samples stand for while the timeline stays true to the clock. A
//! longer gap (over a tenth of a sample's span: the thread waited) closes
//! every slice. For events that are not clocks, a sample covers the
//! sampling interval (`1/F`), or 1 ms when only a period is known.
//!
//! Slice names follow [`super::label::frame_name`]; `cat` is the frame kind
//! (`python`, `native`, `kernel`, `marker`) and `args` hold file, line and
//! module.

use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};

use super::convert::ConvertOptions;
use super::label::{frame_name, kind_name, profile_title};
use super::select::View;
use super::OutputError;
use crate::profile::{FrameId, Profile, Sample};

/// The name of the slices between two samples that share frames.
pub const BETWEEN_SAMPLES: &str = "[between samples]";

/// Gaps shorter than this are clock noise, not worth a slice.
const MIN_GAP_NS: u64 = 1000;

/// One finished slice: frame (`None`: between samples), start and end (ns
/// since the trace start), depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    frame: Option<FrameId>,
    start: u64,
    end: u64,
    depth: usize,
}

#[derive(Serialize)]
struct Trace {
    #[serde(rename = "traceEvents")]
    trace_events: Vec<Value>,
    #[serde(rename = "displayTimeUnit")]
    display_time_unit: &'static str,
    #[serde(rename = "otherData")]
    other_data: Value,
}

/// Writes the trace-event JSON document.
pub fn write_chrome_trace(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let threads = view.threads_with_samples()?;
    let nominal = nominal_span_ns(&view);
    let origin = threads
        .iter()
        .filter_map(|(_, samples)| samples.first())
        .map(|s| s.time_ns.saturating_sub(span_of(&view, s, nominal)))
        .min()
        .unwrap_or(0);
    let mut events = Vec::new();
    let mut named_processes = Vec::new();
    for (thread, samples) in &threads {
        let (pid, tid, name) = match profile.threads.get(*thread as usize) {
            Some(t) => (t.pid, t.tid, t.name.clone()),
            None => (0, *thread, format!("[thread {thread}]")),
        };
        if !named_processes.contains(&pid) {
            named_processes.push(pid);
            let process = profile
                .meta
                .processes
                .iter()
                .find(|p| p.pid == pid)
                .map_or_else(|| name.clone(), |p| p.command.clone());
            events.push(
                json!({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                               "args": {"name": process}}),
            );
        }
        events.push(
            json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                           "args": {"name": format!("{name} ({tid})")}}),
        );
        let mut slices = thread_slices(&view, samples, nominal, origin);
        // Parents before children at equal start times, as viewers nest them.
        slices.sort_by_key(|s| (s.start, s.depth));
        for s in slices {
            let Some(frame) = s.frame else {
                events.push(json!({
                    "name": BETWEEN_SAMPLES,
                    "cat": "marker",
                    "ph": "X",
                    "ts": micros(s.start),
                    "dur": micros(s.end - s.start),
                    "pid": pid,
                    "tid": tid,
                }));
                continue;
            };
            let f = view.frame(frame);
            let mut args = serde_json::Map::new();
            if let Some(file) = &f.file {
                args.insert("file".into(), json!(file));
            }
            if let Some(line) = f.line {
                args.insert("line".into(), json!(line));
            }
            if let Some(module) = &f.module {
                args.insert("module".into(), json!(module));
            }
            events.push(json!({
                "name": frame_name(f),
                "cat": kind_name(f.kind),
                "ph": "X",
                "ts": micros(s.start),
                "dur": micros(s.end - s.start),
                "pid": pid,
                "tid": tid,
                "args": args,
            }));
        }
    }
    let trace = Trace {
        trace_events: events,
        display_time_unit: "ms",
        other_data: json!({
            "name": profile_title(profile, view.event_name()),
            "event": view.event_name(),
            "exporter": format!("pyperf {}", env!("CARGO_PKG_VERSION")),
            "start_unix_ns": profile.meta.start_unix_ns,
        }),
    };
    serde_json::to_writer(&mut *out, &trace).map_err(|e| OutputError::Output(e.into()))?;
    out.flush().map_err(OutputError::Output)
}

/// Nanoseconds as the microseconds trace events count in (ns precision kept).
fn micros(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The span of a sample of a non-clock event.
fn nominal_span_ns(view: &View<'_>) -> u64 {
    match view.event_info().and_then(|e| e.frequency) {
        Some(hz) if hz > 0 => 1_000_000_000 / hz,
        _ => 1_000_000,
    }
}

/// The time a sample stands for.
fn span_of(view: &View<'_>, s: &Sample, nominal: u64) -> u64 {
    if view.weights_are_ns() {
        s.weight
    } else {
        nominal
    }
}

/// The slices of one thread's samples (in time order).
fn thread_slices(view: &View<'_>, samples: &[&Sample], nominal: u64, origin: u64) -> Vec<Slice> {
    let mut slices = Vec::new();
    // Open frames, root first: (frame, start).
    let mut open: Vec<(FrameId, u64)> = Vec::new();
    let mut last_end = 0u64;
    let close_from =
        |open: &mut Vec<(FrameId, u64)>, keep: usize, at: u64, out: &mut Vec<Slice>| {
            while open.len() > keep {
                if let Some((frame, start)) = open.pop() {
                    if at > start {
                        out.push(Slice {
                            frame: Some(frame),
                            start,
                            end: at,
                            depth: open.len(),
                        });
                    }
                }
            }
        };
    for s in samples {
        let span = span_of(view, s, nominal);
        // A sample seen sooner than its span after the previous one (the
        // time stamp's jitter) starts where that one ended: its duration
        // stays its weight, and the next gap puts it back on the clock.
        let start = s
            .time_ns
            .saturating_sub(origin)
            .saturating_sub(span)
            .max(last_end);
        let end = start + span;
        if span == 0 {
            continue;
        }
        if start > last_end + span / 10 {
            close_from(&mut open, 0, last_end, &mut slices);
        }
        let frames = view.stack(s.stack);
        let shared = open
            .iter()
            .zip(frames)
            .take_while(|((open_frame, _), &frame)| *open_frame == frame)
            .count();
        close_from(&mut open, shared, last_end, &mut slices);
        if shared > 0 && start >= last_end + MIN_GAP_NS {
            slices.push(Slice {
                frame: None,
                start: last_end,
                end: start,
                depth: shared,
            });
        }
        for &frame in &frames[shared..] {
            open.push((frame, start));
        }
        last_end = end;
    }
    close_from(&mut open, 0, last_end, &mut slices);
    slices
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Selection;
    use crate::profile::{EventInfo, Frame, FrameKind, ProfileBuilder, ThreadInfo};

    fn frame(name: &str) -> Frame {
        Frame {
            kind: FrameKind::Python,
            function: name.into(),
            file: Some("app.py".into()),
            line: Some(1),
            module: None,
            inlined: false,
        }
    }

    /// 1 ms samples: main;a at 1 and 2 ms, main;b at 3.05 ms (after a 50 us
    /// pause) and at 10 ms (after a long wait).
    fn profile() -> Profile {
        let mut b = ProfileBuilder::new();
        b.add_event(EventInfo {
            name: "cpu-clock".into(),
            period: None,
            frequency: Some(1000),
            unit: "ns".into(),
        });
        b.add_thread(ThreadInfo {
            pid: 1,
            tid: 1,
            name: "t".into(),
        });
        let a = b.intern_frames([frame("main"), frame("a")].iter());
        let bb = b.intern_frames([frame("main"), frame("b")].iter());
        for (stack, us) in [(a, 1000), (a, 2000), (bb, 3050), (bb, 10_000)] {
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: us * 1000,
                event: 0,
                weight: 1_000_000,
                idle: false,
            });
        }
        b.finish()
    }

    #[test]
    fn shared_frames_extend_pauses_get_their_own_slice_and_waits_close_all() {
        let p = profile();
        let view = View::one_event(&p, &Selection::default()).unwrap();
        let threads = view.samples_by_thread();
        let mut slices = thread_slices(&view, &threads[0].1, 1_000_000, 0);
        slices.sort_by_key(|s| (s.start, s.depth));
        // (name, start, end in units of 10 us, depth)
        let got: Vec<(String, u64, u64, usize)> = slices
            .iter()
            .map(|s| {
                let name = s.frame.map_or(BETWEEN_SAMPLES.to_string(), |f| {
                    view.frame(f).function.clone()
                });
                (name, s.start / 10_000, s.end / 10_000, s.depth)
            })
            .collect();
        let want: Vec<(String, u64, u64, usize)> = [
            ("main", 0, 305, 0),
            ("a", 0, 200, 1),
            (BETWEEN_SAMPLES, 200, 205, 1),
            ("b", 205, 305, 1),
            ("main", 900, 1000, 0),
            ("b", 900, 1000, 1),
        ]
        .iter()
        .map(|&(n, s, e, d)| (n.to_string(), s, e, d))
        .collect();
        assert_eq!(got, want);
    }
}
