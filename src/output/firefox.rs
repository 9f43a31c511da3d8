//! The Firefox Profiler's processed profile format (what
//! <https://profiler.firefox.com> loads from a file), built with the
//! `fxprof-processed-profile` crate: a track per thread, grouped by process,
//! with every sample at its time.
//!
//! Frames are categorised by kind (Python green, native yellow, kernel
//! orange, markers grey) and Python frames are flagged as the profiler's
//! "JS" frames, so its stack-type switch (JavaScript / native / all) shows
//! Python-only, native-only or mixed call trees. Each frame keeps its line
//! (`frameTable.line`); each function its name (kernel `_[k]`, inlined
//! `_[i]`) and file (`funcTable.fileName`: `.py` file, native source file,
//! or the binary when there is no debug info). The crate has no file or
//! line for label frames, so frames are first interned under a unique
//! placeholder label per pyperf frame and the serialized tables are then
//! rewritten: placeholders become names, functions are regrouped by (name,
//! file, kind) and lines filled in.
//!
//! Every sample has weight 1 (the profiler counts samples); for clock events
//! its weight in ns is also given as the thread's CPU delta, which the
//! profiler draws as CPU usage.

use std::collections::HashMap;
use std::io::Write;

use fxprof_processed_profile::{
    CategoryColor, CategoryHandle, CategoryPairHandle, CpuDelta, Frame as FxFrame, FrameFlags,
    FrameInfo, ProcessHandle, Profile as FxProfile, ReferenceTimestamp, SamplingInterval,
    StackHandle, StringHandle, ThreadHandle, Timestamp,
};
use serde_json::Value;

use super::convert::ConvertOptions;
use super::label::{frame_file, frame_name, profile_title};
use super::select::View;
use super::OutputError;
use crate::profile::{FrameId, FrameKind, Profile};

/// Placeholder labels start with this (a control character no name has).
const PLACEHOLDER: char = '\u{1}';

/// Writes the Firefox Profiler JSON document.
pub fn write_firefox(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let threads = view.threads_with_samples()?;
    let mut fx = build(profile, &view, &threads);
    fx.set_symbolicated(true);
    let mut doc = serde_json::to_value(&fx).map_err(|e| OutputError::Output(e.into()))?;
    rewrite_frames(&mut doc, &view)?;
    serde_json::to_writer(&mut *out, &doc).map_err(|e| OutputError::Output(e.into()))?;
    out.flush().map_err(OutputError::Output)
}

type ThreadSamples<'p> = [(u32, Vec<&'p crate::profile::Sample>)];

/// The crate's profile, with placeholder labels.
fn build(profile: &Profile, view: &View<'_>, threads: &ThreadSamples<'_>) -> FxProfile {
    let origin = threads
        .iter()
        .filter_map(|(_, s)| s.first().map(|s| s.time_ns))
        .min()
        .unwrap_or(0);
    let at = |time_ns: u64| Timestamp::from_nanos_since_reference(time_ns.saturating_sub(origin));
    let interval = view
        .event_info()
        .and_then(|e| match (e.frequency, e.period) {
            (Some(hz), _) if hz > 0 => Some(SamplingInterval::from_hz(hz as f32)),
            (_, Some(p)) if e.unit == "ns" => Some(SamplingInterval::from_nanos(p)),
            _ => None,
        })
        .unwrap_or(SamplingInterval::from_millis(1));
    let mut fx = FxProfile::new(
        &profile_title(profile, view.event_name()),
        ReferenceTimestamp::from_millis_since_unix_epoch(profile.meta.start_unix_ns as f64 / 1e6),
        interval,
    );
    fx.set_os_name("Linux");
    let python: CategoryPairHandle = fx.add_category("Python", CategoryColor::Green).into();
    let native: CategoryPairHandle = fx.add_category("Native", CategoryColor::Yellow).into();
    let kernel: CategoryPairHandle = fx.add_category("Kernel", CategoryColor::Orange).into();
    let other: CategoryPairHandle = CategoryHandle::OTHER.into();

    let mut labels: HashMap<FrameId, StringHandle> = HashMap::new();
    let mut processes: HashMap<u32, ProcessHandle> = HashMap::new();
    for (thread, samples) in threads {
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            continue;
        };
        let (pid, tid, name) = match profile.threads.get(*thread as usize) {
            Some(t) => (t.pid, t.tid, t.name.as_str()),
            None => (0, *thread, "[unknown thread]"),
        };
        let process = *processes.entry(pid).or_insert_with(|| {
            let command = profile
                .meta
                .processes
                .iter()
                .find(|p| p.pid == pid)
                .map_or(name, |p| p.command.as_str());
            fx.add_process(command, pid, at(first.time_ns))
        });
        let handle: ThreadHandle = fx.add_thread(process, tid, at(first.time_ns), tid == pid);
        fx.set_thread_name(handle, &format!("{name} ({tid})"));
        fx.set_thread_end_time(handle, at(last.time_ns));
        let mut stacks: HashMap<u32, Option<StackHandle>> = HashMap::new();
        for s in samples {
            let stack = *stacks.entry(s.stack).or_insert_with(|| {
                let frames: Vec<FrameInfo> = view
                    .stack(s.stack)
                    .iter()
                    .map(|&id| {
                        let f = view.frame(id);
                        let label = *labels
                            .entry(id)
                            .or_insert_with(|| fx.intern_string(&format!("{PLACEHOLDER}{id}")));
                        let (category_pair, flags) = match f.kind {
                            FrameKind::Python => (python, FrameFlags::IS_JS),
                            FrameKind::Native => (native, FrameFlags::empty()),
                            FrameKind::Kernel => (kernel, FrameFlags::empty()),
                            FrameKind::Marker => (other, FrameFlags::empty()),
                        };
                        FrameInfo {
                            frame: FxFrame::Label(label),
                            category_pair,
                            flags,
                        }
                    })
                    .collect();
                fx.intern_stack_frames(handle, frames.into_iter())
            });
            let cpu = if view.weights_are_ns() {
                CpuDelta::from_nanos(s.weight)
            } else {
                CpuDelta::ZERO
            };
            fx.add_sample(handle, at(s.time_ns), stack, cpu, 1);
        }
    }
    fx
}

fn malformed(what: &str) -> OutputError {
    OutputError::Convert {
        format: "Firefox Profiler",
        detail: format!("unexpected layout from fxprof-processed-profile ({what})"),
    }
}

/// Rewrites every thread's frame and function tables: placeholder labels
/// become names, functions are regrouped by (name, file, kind) with their
/// file, and frames get their lines.
fn rewrite_frames(doc: &mut Value, view: &View<'_>) -> Result<(), OutputError> {
    let threads = doc
        .get_mut("threads")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| malformed("no threads"))?;
    for thread in threads {
        rewrite_thread(thread, view)?;
    }
    Ok(())
}

fn column<'v>(table: &'v Value, name: &str) -> Result<&'v Vec<Value>, OutputError> {
    table
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(name))
}

fn rewrite_thread(thread: &mut Value, view: &View<'_>) -> Result<(), OutputError> {
    let mut strings: Vec<String> = column(thread, "stringArray")?
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    let func_table = thread
        .get("funcTable")
        .ok_or_else(|| malformed("funcTable"))?;
    let old_names = column(func_table, "name")?.clone();
    let frame_table = thread
        .get("frameTable")
        .ok_or_else(|| malformed("frameTable"))?;
    let old_funcs = column(frame_table, "func")?.clone();

    let mut string_index: HashMap<String, usize> = strings
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i))
        .collect();
    let mut intern = |s: &str, strings: &mut Vec<String>| -> usize {
        *string_index.entry(s.to_string()).or_insert_with(|| {
            strings.push(s.to_string());
            strings.len() - 1
        })
    };
    // Old function (one per placeholder) -> pyperf frame.
    let mut frame_of_func: Vec<FrameId> = Vec::with_capacity(old_names.len());
    for name in &old_names {
        let label = name
            .as_u64()
            .and_then(|i| strings.get(i as usize))
            .ok_or_else(|| malformed("function name index"))?;
        let id = label
            .strip_prefix(PLACEHOLDER)
            .and_then(|n| n.parse::<FrameId>().ok())
            .ok_or_else(|| malformed("function without a placeholder label"))?;
        frame_of_func.push(id);
    }
    // New functions.
    let mut new_index: HashMap<(String, Option<String>, FrameKind), usize> = HashMap::new();
    let (mut names, mut files, mut is_python) = (Vec::new(), Vec::new(), Vec::new());
    let mut new_of_old: Vec<usize> = Vec::with_capacity(frame_of_func.len());
    for &id in &frame_of_func {
        let f = view.frame(id);
        let name = frame_name(f);
        let file = frame_file(f).map(str::to_string);
        let next = names.len();
        let key = (name.clone(), file.clone(), f.kind);
        let j = *new_index.entry(key).or_insert(next);
        if j == next {
            names.push(Value::from(intern(&name, &mut strings)));
            files.push(file.map_or(Value::Null, |file| Value::from(intern(&file, &mut strings))));
            is_python.push(Value::from(f.kind == FrameKind::Python));
        }
        new_of_old.push(j);
    }
    let len = names.len();
    let mut funcs = serde_json::Map::new();
    funcs.insert("length".into(), Value::from(len));
    funcs.insert("name".into(), Value::from(names));
    funcs.insert("isJS".into(), Value::from(is_python));
    funcs.insert("relevantForJS".into(), Value::from(vec![false; len]));
    funcs.insert("resource".into(), Value::from(vec![-1; len]));
    funcs.insert("fileName".into(), Value::from(files));
    funcs.insert("lineNumber".into(), Value::from(vec![Value::Null; len]));
    funcs.insert("columnNumber".into(), Value::from(vec![Value::Null; len]));

    let mut frame_funcs = Vec::with_capacity(old_funcs.len());
    let mut frame_lines = Vec::with_capacity(old_funcs.len());
    for func in &old_funcs {
        let old = func
            .as_u64()
            .map(|i| i as usize)
            .filter(|&i| i < new_of_old.len())
            .ok_or_else(|| malformed("frame function index"))?;
        frame_funcs.push(Value::from(new_of_old[old]));
        frame_lines.push(
            view.frame(frame_of_func[old])
                .line
                .map_or(Value::Null, Value::from),
        );
    }
    // The placeholders themselves read as names too, should anything show them.
    for (old, name) in old_names.iter().enumerate() {
        if let Some(i) = name.as_u64() {
            strings[i as usize] = frame_name(view.frame(frame_of_func[old]));
        }
    }
    thread["funcTable"] = Value::Object(funcs);
    thread["frameTable"]["func"] = Value::from(frame_funcs);
    thread["frameTable"]["line"] = Value::from(frame_lines);
    thread["stringArray"] = Value::from(strings);
    Ok(())
}
