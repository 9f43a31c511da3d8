//! pprof profiles: the gzipped `perftools.profiles.Profile` protobuf
//! (<https://github.com/google/pprof/blob/main/proto/profile.proto>) that
//! `go tool pprof`, Pyroscope, Grafana and Polar Signals read.
//!
//! Each recorded event gives two sample types, `<event>-samples/count` and
//! `<event>/<unit>` (unit `nanoseconds` for clock events, `count`
//! otherwise); with one event the first is plain `samples/count`, as Go's
//! CPU profiles have it. A pyperf sample puts its count and weight in its
//! event's two columns and zeros elsewhere. Every frame is its own
//! `Location` with one `Line` (function, line); a `Function` has the
//! function name, its file (`.py` file or native source), and `system_name`
//! `<kind>:<name>` so Python, native and kernel code stay apart. Native and
//! kernel locations point at a `Mapping` for their binary (marked as already
//! symbolized); Python locations have none. Samples carry `pid`, `tid` and
//! `thread` labels.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;

use super::convert::ConvertOptions;
use super::label::{frame_name, kind_name};
use super::select::View;
use super::OutputError;
use crate::profile::{FrameId, FrameKind, Profile};

/// The messages of profile.proto that pyperf writes, field numbers as there.
pub mod proto {
    /// `perftools.profiles.Profile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Index 0 must be the empty string.
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// A sample type or period type: string indices of type and unit.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// One stack (leaf first) and its values, one per sample type.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
        #[prost(bool, tag = "5")]
        pub is_folded: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
        #[prost(int64, tag = "3")]
        pub column: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// The profile.proto string table.
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            table: vec![String::new()],
            index: HashMap::from([(String::new(), 0)]),
        }
    }

    fn id(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// Builds the profile message (not yet encoded).
pub fn build_pprof(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
) -> Result<proto::Profile, OutputError> {
    let view = View::any_event(profile, &opts.selection)?;
    let events: Vec<usize> = match view.event {
        Some(e) => vec![usize::from(e)],
        None => (0..profile.events.len()).collect(),
    };
    let mut strings = Strings::new();
    let mut out = proto::Profile::default();
    // Event index -> first of its two columns.
    let mut column_of: HashMap<usize, usize> = HashMap::new();
    for &e in &events {
        let info = &profile.events[e];
        let unit = if info.unit == "ns" {
            "nanoseconds"
        } else {
            "count"
        };
        let samples_name = if events.len() == 1 {
            "samples".to_string()
        } else {
            format!("{}-samples", info.name)
        };
        column_of.insert(e, out.sample_type.len());
        out.sample_type.push(proto::ValueType {
            r#type: strings.id(&samples_name),
            unit: strings.id("count"),
        });
        out.sample_type.push(proto::ValueType {
            r#type: strings.id(&info.name),
            unit: strings.id(unit),
        });
    }
    if let Some(&first) = events.first() {
        let info = &profile.events[first];
        out.period_type = Some(out.sample_type[1].clone());
        out.default_sample_type = out.sample_type[1].r#type;
        out.period = match (info.period, info.frequency) {
            (Some(p), _) => p as i64,
            (None, Some(hz)) if hz > 0 && info.unit == "ns" => (1_000_000_000 / hz) as i64,
            _ => 0,
        };
    }
    out.time_nanos = profile.meta.start_unix_ns as i64;
    out.duration_nanos = profile.meta.duration_ns as i64;
    if !profile.meta.command.is_empty() {
        let comment = format!("command: {}", profile.meta.command.join(" "));
        out.comment.push(strings.id(&comment));
    }

    let mut locations = Locations::default();
    let columns = out.sample_type.len();
    let (key_pid, key_tid, key_thread) =
        (strings.id("pid"), strings.id("tid"), strings.id("thread"));
    // One proto sample per (thread, stack, event): pprof sums them anyway.
    let mut merged: HashMap<(u32, u32, u16), (u64, u64)> = HashMap::new();
    for s in view.samples() {
        let entry = merged.entry((s.thread, s.stack, s.event)).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(s.weight);
    }
    let mut keys: Vec<_> = merged.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let (thread, stack, event) = key;
        let (count, weight) = merged[&key];
        let Some(&column) = column_of.get(&usize::from(event)) else {
            continue;
        };
        let mut value = vec![0i64; columns];
        value[column] = count as i64;
        value[column + 1] = weight.min(i64::MAX as u64) as i64;
        let location_id = view
            .stack(stack)
            .iter()
            .rev()
            .map(|&f| locations.id(&view, f, &mut strings))
            .collect();
        let mut label = Vec::new();
        if let Some(t) = profile.threads.get(thread as usize) {
            label.push(proto::Label {
                key: key_pid,
                num: i64::from(t.pid),
                ..Default::default()
            });
            label.push(proto::Label {
                key: key_tid,
                num: i64::from(t.tid),
                ..Default::default()
            });
            label.push(proto::Label {
                key: key_thread,
                str: strings.id(&t.name),
                ..Default::default()
            });
        }
        out.sample.push(proto::Sample {
            location_id,
            value,
            label,
        });
    }
    if out.sample.is_empty() {
        return Err(OutputError::NoSamples {
            event: view.event_name().to_string(),
        });
    }
    out.mapping = locations.mappings;
    out.location = locations.locations;
    out.function = locations.functions;
    out.string_table = strings.table;
    Ok(out)
}

/// Writes the gzipped pprof profile.
pub fn write_pprof(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let message = build_pprof(profile, opts)?;
    let mut gz = GzEncoder::new(out, Compression::default());
    gz.write_all(&message.encode_to_vec())
        .map_err(OutputError::Output)?;
    gz.finish()
        .and_then(|out| out.flush())
        .map_err(OutputError::Output)
}

/// Locations, functions and mappings, interned.
#[derive(Default)]
struct Locations {
    of_frame: HashMap<FrameId, u64>,
    function_ids: HashMap<(i64, i64, i64), u64>,
    mapping_ids: HashMap<String, u64>,
    locations: Vec<proto::Location>,
    functions: Vec<proto::Function>,
    mappings: Vec<proto::Mapping>,
}

impl Locations {
    fn id(&mut self, view: &View<'_>, frame: FrameId, strings: &mut Strings) -> u64 {
        if let Some(&id) = self.of_frame.get(&frame) {
            return id;
        }
        let f = view.frame(frame);
        let name = strings.id(&frame_name(f));
        let system_name = strings.id(&format!("{}:{}", kind_name(f.kind), f.function));
        let filename = strings.id(f.file.as_deref().unwrap_or(""));
        let next_function = self.functions.len() as u64 + 1;
        let function_id = *self
            .function_ids
            .entry((name, system_name, filename))
            .or_insert(next_function);
        if function_id == next_function {
            self.functions.push(proto::Function {
                id: function_id,
                name,
                system_name,
                filename,
                start_line: 0,
            });
        }
        let mapping_id = match (f.kind, &f.module) {
            (FrameKind::Native | FrameKind::Kernel, Some(module)) => self.mapping(module, strings),
            _ => 0,
        };
        let id = self.locations.len() as u64 + 1;
        self.locations.push(proto::Location {
            id,
            mapping_id,
            address: 0,
            line: vec![proto::Line {
                function_id,
                line: f.line.map_or(0, i64::from),
                column: 0,
            }],
            is_folded: false,
        });
        self.of_frame.insert(frame, id);
        id
    }

    fn mapping(&mut self, module: &str, strings: &mut Strings) -> u64 {
        if let Some(&id) = self.mapping_ids.get(module) {
            return id;
        }
        let id = self.mappings.len() as u64 + 1;
        self.mappings.push(proto::Mapping {
            id,
            filename: strings.id(module),
            // Already symbolized: readers must not try to symbolize again.
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
            ..Default::default()
        });
        self.mapping_ids.insert(module.to_string(), id);
        id
    }
}
