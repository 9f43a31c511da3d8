//! Chrome's trace-event JSON (the "JSON Object Format" of the Trace Event
//! Format), as viztracer writes it, for Perfetto (ui.perfetto.dev) and
//! chrome://tracing: a timeline per thread where each sample becomes a stack
//! of nested complete (`"ph": "X"`) slices.
//!
//! A sample at time `t` with weight `w` nanoseconds (clock events) stands for
//! the thread's time `[t - w, t]`: the sampled stack was running then.
//! Consecutive samples extend the slices of the frames they share, so a
//! function that keeps running is one long slice; a gap (the thread was off
//! the CPU) closes every slice. For events that are not clocks, a sample
//! covers the sampling interval (`1/F`), or 1 ms when only a period is known.
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

/// One finished slice: frame, start and end (ns since the trace start), depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slice {
    frame: FrameId,
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
    let threads = view.samples_by_thread();
    if threads.is_empty() {
        return Err(OutputError::NoSamples {
            event: view.event_name().to_string(),
        });
    }
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
            let f = view.frame(s.frame);
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
                            frame,
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
        let end = s.time_ns.saturating_sub(origin);
        let start = end.saturating_sub(span).max(last_end);
        if end <= start {
            continue; // entirely covered by the previous sample
        }
        // A gap longer than a tenth of the span: the thread was off the CPU.
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

    /// main;a at 1,2 ms; main;b at 3 ms; (gap) main;b at 10 ms; 1 ms each.
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
        for (stack, ms) in [(a, 1), (a, 2), (bb, 3), (bb, 10)] {
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: ms * 1_000_000,
                event: 0,
                weight: 1_000_000,
                idle: false,
            });
        }
        b.finish()
    }

    #[test]
    fn consecutive_samples_extend_shared_frames_and_gaps_close_them() {
        let p = profile();
        let view = View::one_event(&p, &Selection::default()).unwrap();
        let threads = view.samples_by_thread();
        let mut slices = thread_slices(&view, &threads[0].1, 1_000_000, 0);
        slices.sort_by_key(|s| (s.start, s.depth));
        let named: Vec<(String, u64, u64, usize)> = slices
            .iter()
            .map(|s| {
                (
                    view.frame(s.frame).function.clone(),
                    s.start / 1_000_000,
                    s.end / 1_000_000,
                    s.depth,
                )
            })
            .collect();
        let want = [
            ("main", 0, 3, 0),
            ("a", 0, 2, 1),
            ("b", 2, 3, 1),
            ("main", 9, 10, 0),
            ("b", 9, 10, 1),
        ];
        let want: Vec<(String, u64, u64, usize)> = want
            .iter()
            .map(|&(n, s, e, d)| (n.to_string(), s, e, d))
            .collect();
        assert_eq!(named, want);
    }
}
