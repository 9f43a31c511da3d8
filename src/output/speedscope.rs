//! speedscope's file format (<https://www.speedscope.app/file-format-schema.json>):
//! one *sampled* profile per thread, samples in time order with their
//! weights, and a shared frame table whose frames carry file and line.
//!
//! Frame names follow [`super::label::frame_name`] (kernel `_[k]`, inlined
//! `_[i]`); a Python frame has its `.py` file and executing line, a native
//! frame its source file and line from debug info (or its binary when there
//! is none). Weights are nanoseconds for clock events, so speedscope shows
//! times; for other events they are event counts (unit `none`).

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use super::convert::ConvertOptions;
use super::label::{frame_file, frame_name, profile_title};
use super::select::View;
use super::OutputError;
use crate::profile::{FrameId, Profile};

const SCHEMA: &str = "https://www.speedscope.app/file-format-schema.json";

#[derive(Serialize)]
struct File {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared,
    profiles: Vec<SampledProfile>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: usize,
    exporter: String,
}

#[derive(Serialize)]
struct Shared {
    frames: Vec<Frame>,
}

#[derive(Serialize, PartialEq, Eq, Hash, Clone)]
struct Frame {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
}

#[derive(Serialize)]
struct SampledProfile {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    #[serde(rename = "startValue")]
    start_value: u64,
    #[serde(rename = "endValue")]
    end_value: u64,
    /// Frame indices, root first.
    samples: Vec<Vec<usize>>,
    weights: Vec<u64>,
}

/// Writes the speedscope JSON document.
pub fn write_speedscope(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let threads = view.threads_with_samples()?;
    // Frames of the view -> shared frame index; equal-looking frames share one.
    let mut index_of: HashMap<Frame, usize> = HashMap::new();
    let mut frames: Vec<Frame> = Vec::new();
    let mut shared_of: Vec<Option<usize>> = vec![None; view.frame_count()];
    let mut shared = |id: FrameId| -> usize {
        if let Some(i) = shared_of[id as usize] {
            return i;
        }
        let f = view.frame(id);
        let frame = Frame {
            name: frame_name(f),
            file: frame_file(f).map(str::to_string),
            line: f.line,
        };
        let next = frames.len();
        let i = *index_of.entry(frame.clone()).or_insert_with(|| {
            frames.push(frame);
            next
        });
        shared_of[id as usize] = Some(i);
        i
    };
    let unit = if view.weights_are_ns() {
        "nanoseconds"
    } else {
        "none"
    };
    let mut profiles = Vec::with_capacity(threads.len());
    for (thread, samples) in &threads {
        let mut stacks = Vec::with_capacity(samples.len());
        let mut weights = Vec::with_capacity(samples.len());
        for s in samples {
            stacks.push(view.stack(s.stack).iter().map(|&f| shared(f)).collect());
            weights.push(s.weight);
        }
        let total = weights.iter().fold(0u64, |a, &w| a.saturating_add(w));
        profiles.push(SampledProfile {
            kind: "sampled",
            name: format!("{} ({})", view.thread_label(*thread), view.event_name()),
            unit,
            start_value: 0,
            end_value: total,
            samples: stacks,
            weights,
        });
    }
    let active_profile_index = profiles
        .iter()
        .enumerate()
        .max_by_key(|(i, p)| (p.end_value, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let file = File {
        schema: SCHEMA,
        shared: Shared { frames },
        profiles,
        name: profile_title(profile, view.event_name()),
        active_profile_index,
        exporter: format!("pyperf {}", env!("CARGO_PKG_VERSION")),
    };
    serde_json::to_writer(&mut *out, &file).map_err(|e| OutputError::Output(e.into()))?;
    out.flush().map_err(OutputError::Output)
}
