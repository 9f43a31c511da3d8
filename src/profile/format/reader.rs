//! Reads a profile file (complete or cut short) into a symbolic [`Profile`].
//!
//! Reading has two steps: decode every complete chunk into raw tables (string,
//! module, raw frame, stack node, sample), then assemble the symbolic profile,
//! expanding each address frame through the file's symbols, the caller's
//! [`AddressResolver`], or a `libfoo.so+0x1234` placeholder, in that order.

use std::collections::HashMap;
use std::path::Path;

use super::error::{FormatProblem, ProfileError};
use super::layout::*;
use super::varint::{unzigzag, Decoder};
use crate::profile::builder::ProfileBuilder;
use crate::profile::model::{
    EventIdx, EventInfo, Frame, FrameId, FrameKind, Meta, ProcessInfo, Profile, Sample, StackId,
    ThreadIdx, ThreadInfo,
};
use crate::profile::raw::{
    unresolved_frame, AddressResolver, ModuleId, ModuleInfo, RawFrameId, StackNodeId,
};

/// A profile as read from disk.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub profile: Profile,
    /// False when the file was cut short (the recording was killed, or is
    /// still running): `profile` then holds everything up to the last
    /// complete chunk, and run counters may be missing or stale.
    pub complete: bool,
    pub info: FileInfo,
}

/// Facts about the file itself, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileInfo {
    pub format_version: u32,
    /// The program that wrote the file, e.g. `pyperf 0.1.0`.
    pub producer: String,
    pub file_bytes: u64,
    /// Bytes up to the end of the last complete chunk (all of them when complete).
    pub readable_bytes: u64,
    pub samples: u64,
    /// Address frames that samples used.
    pub address_frames: u64,
    /// ... of which the file's own symbols section named,
    pub symbolized_in_file: u64,
    /// ... of which the caller's resolver named,
    pub symbolized_by_resolver: u64,
    /// ... and of which are shown as `module+0xaddr`.
    pub unresolved: u64,
}

impl FileInfo {
    /// Average file bytes per sample, `None` without samples.
    pub fn bytes_per_sample(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.file_bytes as f64 / self.samples as f64)
    }
}

/// Reads the profile at `path`. `resolver` names address frames the file has
/// no symbols for (a killed recording); without one they get placeholder names.
pub fn read_profile(
    path: &Path,
    resolver: Option<&mut dyn AddressResolver>,
) -> Result<ReadOutcome, ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode_profile(&bytes, resolver).map_err(|problem| ProfileError::Invalid {
        path: path.to_path_buf(),
        problem,
    })
}

/// Reads a profile from the bytes of a file.
pub fn decode_profile(
    bytes: &[u8],
    resolver: Option<&mut dyn AddressResolver>,
) -> Result<ReadOutcome, FormatProblem> {
    let format_version = check_file_header(bytes)?;
    let mut raw = RawTables::default();
    let mut pos = FILE_HEADER_LEN;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < CHUNK_HEADER_LEN {
            break; // cut inside a chunk header
        }
        let len_bytes = [rest[0], rest[1], rest[2], rest[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len == 0 || len > MAX_CHUNK_LEN {
            return Err(FormatProblem::Corrupt {
                offset: pos as u64,
                detail: format!("chunk length {len} is impossible"),
            });
        }
        if len > rest.len() - CHUNK_HEADER_LEN {
            break; // cut inside a chunk
        }
        let payload = &rest[CHUNK_HEADER_LEN..CHUNK_HEADER_LEN + len];
        if chunk_crc(len_bytes, payload) != crc {
            return Err(FormatProblem::Corrupt {
                offset: pos as u64,
                detail: "chunk checksum mismatch".into(),
            });
        }
        if raw.end.is_some() {
            return Err(FormatProblem::Corrupt {
                offset: pos as u64,
                detail: "data after the end record".into(),
            });
        }
        raw.decode_chunk(&mut Decoder::new(payload, (pos + CHUNK_HEADER_LEN) as u64))?;
        pos += CHUNK_HEADER_LEN + len;
    }
    if raw.header.is_none() {
        return Err(FormatProblem::TruncatedHeader {
            len: bytes.len() as u64,
        });
    }
    if raw.end.is_some() && pos != bytes.len() {
        return Err(FormatProblem::Corrupt {
            offset: pos as u64,
            detail: "data after the end record".into(),
        });
    }
    raw.check_end_counts(pos as u64)?;
    let complete = raw.end.is_some();
    let mut info = FileInfo {
        format_version,
        file_bytes: bytes.len() as u64,
        readable_bytes: pos as u64,
        samples: raw.samples.len() as u64,
        ..FileInfo::default()
    };
    let profile = Assembler::new(raw, resolver, &mut info).run();
    Ok(ReadOutcome {
        profile,
        complete,
        info,
    })
}

/// Checks magic and version; returns the version.
fn check_file_header(bytes: &[u8]) -> Result<u32, FormatProblem> {
    if bytes.is_empty() {
        return Err(FormatProblem::Empty);
    }
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        if bytes.starts_with(b"PYPERF") {
            return Err(FormatProblem::Corrupt {
                offset: 0,
                detail: "the magic number is damaged".into(),
            });
        }
        return Err(FormatProblem::Foreign(describe_foreign(bytes)));
    }
    if bytes.len() < FILE_HEADER_LEN {
        return Err(FormatProblem::TruncatedHeader {
            len: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version == 0 {
        return Err(FormatProblem::Corrupt {
            offset: 8,
            detail: "format version 0 does not exist".into(),
        });
    }
    if version > FORMAT_VERSION {
        return Err(FormatProblem::FutureVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(version)
}

/// Names a file that is not a profile, so the user sees what they passed.
fn describe_foreign(bytes: &[u8]) -> String {
    let known: [(&[u8], &str); 8] = [
        (b"\x7fELF", "it is an ELF executable or library"),
        (b"\x89PNG", "it is a PNG image"),
        (
            b"PERFILE2",
            "it is a perf.data file from `perf record`; read it with `perf report`",
        ),
        (
            b"PERFFILE",
            "it is an old perf.data file; read it with `perf report`",
        ),
        (b"\x1f\x8b", "it is gzip-compressed; decompress it first"),
        (b"<svg", "it is an SVG image"),
        (b"<?xml", "it is an XML document"),
        (
            b"\x28\xb5\x2f\xfd",
            "it is zstd-compressed; decompress it first",
        ),
    ];
    if let Some((_, what)) = known.iter().find(|(m, _)| bytes.starts_with(m)) {
        return what.to_string();
    }
    let head = &bytes[..bytes.len().min(24)];
    match std::str::from_utf8(head) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            format!("it is text starting with {:?}", text)
        }
        _ => {
            let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("it starts with bytes {}", hex.join(" "))
        }
    }
}

/// Counts read from a file only size the first allocation up to this; the
/// rest grows with items actually decoded.
const PREALLOC_LIMIT: usize = 256;
/// Text the reader will copy out of the string table. Real profiles copy a
/// few megabytes; a crafted file could otherwise make millions of tiny
/// records that each copy one long string.
const STRING_COPY_BUDGET: u64 = 1 << 30;

#[derive(Debug)]
struct RawHeader {
    producer: String,
    command: Vec<String>,
    start_unix_ns: u64,
    events: Vec<EventInfo>,
}

#[derive(Debug, Clone, Copy)]
enum RawFrameEntry {
    /// Already interned into the builder.
    Symbolic(FrameId),
    Address {
        module: ModuleId,
        address: u64,
    },
}

/// Everything decoded from the chunks, still in file terms.
#[derive(Debug, Default)]
struct RawTables {
    header: Option<RawHeader>,
    strings: Vec<String>,
    modules: Vec<ModuleInfo>,
    frames: Vec<RawFrameEntry>,
    /// Stack node n (n >= 1) is `nodes[n - 1]` = (parent node, raw frame).
    nodes: Vec<(StackNodeId, RawFrameId)>,
    /// Nodes announced as whole stacks, in order.
    whole: Vec<StackNodeId>,
    threads: Vec<ThreadInfo>,
    processes: Vec<ProcessInfo>,
    symbols: HashMap<RawFrameId, Vec<Frame>>,
    /// Samples whose `stack` is still a stack node id.
    samples: Vec<Sample>,
    counters: Option<[u64; 5]>,
    /// (#samples, #raw frames, #stack nodes) from the end record.
    end: Option<(u64, u64, u64)>,
    /// Symbolic frames are interned as they are read so their ids keep file order.
    builder: ProfileBuilder,
    prev_time: u64,
    prev_thread: ThreadIdx,
    prev_event: EventIdx,
    prev_weight: Vec<u64>,
    /// Bytes copied out of the string table so far (see [`STRING_COPY_BUDGET`]).
    copied_string_bytes: u64,
}

impl RawTables {
    fn decode_chunk(&mut self, d: &mut Decoder<'_>) -> Result<(), FormatProblem> {
        while !d.is_empty() {
            let at = d.offset();
            let tag = d.u8()?;
            if self.header.is_none() && tag != TAG_HEADER {
                return Err(FormatProblem::Corrupt {
                    offset: at,
                    detail: "the file does not start with a header record".into(),
                });
            }
            if self.end.is_some() {
                return Err(FormatProblem::Corrupt {
                    offset: at,
                    detail: "data after the end record".into(),
                });
            }
            if tag & TAG_SAMPLE_MASK == TAG_SAMPLE {
                self.decode_sample(tag, d)?;
                continue;
            }
            match tag {
                TAG_HEADER => self.decode_header(d, at)?,
                TAG_STRING => {
                    let s = d.string()?;
                    self.strings.push(s);
                }
                TAG_MODULE => {
                    let path = self.string_ref(d)?;
                    let build_id = match d.u64()? {
                        0 => None,
                        n => Some(d.take(n - 1)?.to_vec()),
                    };
                    self.modules.push(ModuleInfo { path, build_id });
                }
                TAG_SYMBOLIC_FRAME => {
                    let frame = self.frame_body(d)?;
                    let id = self.builder.intern_frame(&frame);
                    self.frames.push(RawFrameEntry::Symbolic(id));
                }
                TAG_ADDRESS_FRAME => {
                    let module = d.u32()?;
                    if module as usize >= self.modules.len() {
                        return Err(d.corrupt(format!("frame refers to missing module {module}")));
                    }
                    let address = d.u64()?;
                    self.frames.push(RawFrameEntry::Address { module, address });
                }
                TAG_STACK_NODE | TAG_STACK_NODE_WHOLE => {
                    let parent = d.u32()?;
                    let frame = d.u32()?;
                    if parent as usize > self.nodes.len() || frame as usize >= self.frames.len() {
                        return Err(d.corrupt(format!(
                            "stack node refers to missing parent {parent} or frame {frame}"
                        )));
                    }
                    self.nodes.push((parent, frame));
                    if tag == TAG_STACK_NODE_WHOLE {
                        self.whole.push(self.nodes.len() as StackNodeId);
                    }
                }
                TAG_STACK_MARK_WHOLE => {
                    let node = self.node_ref(d)?;
                    self.whole.push(node);
                }
                TAG_THREAD => {
                    let pid = d.u32()?;
                    let tid = d.u32()?;
                    let name = self.string_ref(d)?;
                    self.threads.push(ThreadInfo { pid, tid, name });
                }
                TAG_THREAD_NAME => {
                    let thread = d.u32()?;
                    let name = self.string_ref(d)?;
                    let t = self
                        .threads
                        .get_mut(thread as usize)
                        .ok_or_else(|| d.corrupt(format!("rename of missing thread {thread}")))?;
                    t.name = name;
                }
                TAG_PROCESS => {
                    let pid = d.u32()?;
                    let command = self.string_ref(d)?;
                    let python_version = self.opt_string_ref(d)?;
                    let p = ProcessInfo {
                        pid,
                        command,
                        python_version,
                    };
                    match self.processes.iter_mut().find(|q| q.pid == pid) {
                        Some(q) => *q = p,
                        None => self.processes.push(p),
                    }
                }
                TAG_SYMBOLS => {
                    let raw = d.u32()?;
                    if !matches!(
                        self.frames.get(raw as usize),
                        Some(RawFrameEntry::Address { .. })
                    ) {
                        return Err(d.corrupt(format!("symbols for {raw}, not an address frame")));
                    }
                    let n = d.count()?;
                    let mut frames = Vec::with_capacity(n.min(PREALLOC_LIMIT));
                    for _ in 0..n {
                        frames.push(self.frame_body(d)?);
                    }
                    self.symbols.insert(raw, frames);
                }
                TAG_COUNTERS => {
                    let mut c = [0u64; 5];
                    for v in &mut c {
                        *v = d.u64()?;
                    }
                    self.counters = Some(c);
                }
                TAG_END => {
                    self.end = Some((d.u64()?, d.u64()?, d.u64()?));
                }
                _ => {
                    return Err(FormatProblem::Corrupt {
                        offset: at,
                        detail: format!("unknown record tag {tag:#04x}"),
                    })
                }
            }
        }
        Ok(())
    }

    fn decode_header(&mut self, d: &mut Decoder<'_>, at: u64) -> Result<(), FormatProblem> {
        if self.header.is_some() {
            return Err(FormatProblem::Corrupt {
                offset: at,
                detail: "a second header record".into(),
            });
        }
        let producer = d.string()?;
        let n = d.count()?;
        let mut command = Vec::with_capacity(n.min(PREALLOC_LIMIT));
        for _ in 0..n {
            command.push(d.string()?);
        }
        let start_unix_ns = d.u64()?;
        let n = d.count()?;
        if n > usize::from(u16::MAX) {
            return Err(d.corrupt(format!("{n} events is more than the format allows")));
        }
        let mut events = Vec::with_capacity(n.min(PREALLOC_LIMIT));
        for _ in 0..n {
            events.push(EventInfo {
                name: d.string()?,
                period: d.opt_u64()?,
                frequency: d.opt_u64()?,
                unit: d.string()?,
            });
        }
        self.prev_weight = vec![0; events.len()];
        self.header = Some(RawHeader {
            producer,
            command,
            start_unix_ns,
            events,
        });
        Ok(())
    }

    fn decode_sample(&mut self, tag: u8, d: &mut Decoder<'_>) -> Result<(), FormatProblem> {
        let event = if tag & SAMPLE_HAS_EVENT != 0 {
            d.u16()?
        } else {
            self.prev_event
        };
        let thread = if tag & SAMPLE_HAS_THREAD != 0 {
            d.u32()?
        } else {
            self.prev_thread
        };
        let stack = self.node_ref(d)?;
        let time_ns = self.prev_time.wrapping_add(unzigzag(d.u64()?) as u64);
        let prev_weight = *self
            .prev_weight
            .get(usize::from(event))
            .ok_or_else(|| d.corrupt(format!("sample of missing event {event}")))?;
        let weight = if tag & SAMPLE_HAS_WEIGHT != 0 {
            prev_weight.wrapping_add(unzigzag(d.u64()?) as u64)
        } else {
            prev_weight
        };
        if thread as usize >= self.threads.len() {
            return Err(d.corrupt(format!("sample of missing thread {thread}")));
        }
        self.prev_event = event;
        self.prev_thread = thread;
        self.prev_time = time_ns;
        self.prev_weight[usize::from(event)] = weight;
        self.samples.push(Sample {
            stack,
            thread,
            time_ns,
            event,
            weight,
            idle: tag & SAMPLE_IDLE != 0,
        });
        Ok(())
    }

    fn frame_body(&mut self, d: &mut Decoder<'_>) -> Result<Frame, FormatProblem> {
        let flags = d.u8()?;
        let kind = match flags & 3 {
            0 => FrameKind::Python,
            1 => FrameKind::Native,
            2 => FrameKind::Kernel,
            _ => FrameKind::Marker,
        };
        if flags & !(3 | FRAME_INLINED) != 0 {
            return Err(d.corrupt(format!("unknown frame flags {flags:#04x}")));
        }
        let function = self.string_ref(d)?;
        let file = self.opt_string_ref(d)?;
        let line = match d.u64()? {
            0 => None,
            n => Some(
                u32::try_from(n - 1).map_err(|_| d.corrupt(format!("line {} too large", n - 1)))?,
            ),
        };
        let module = self.opt_string_ref(d)?;
        Ok(Frame {
            kind,
            function,
            file,
            line,
            module,
            inlined: flags & FRAME_INLINED != 0,
        })
    }

    fn string_ref(&mut self, d: &mut Decoder<'_>) -> Result<String, FormatProblem> {
        let id = d.u64()?;
        self.string_by_id(d, id)
    }

    /// `0` for none, else a string id plus one.
    fn opt_string_ref(&mut self, d: &mut Decoder<'_>) -> Result<Option<String>, FormatProblem> {
        match d.u64()? {
            0 => Ok(None),
            n => self.string_by_id(d, n - 1).map(Some),
        }
    }

    fn string_by_id(&mut self, d: &Decoder<'_>, id: u64) -> Result<String, FormatProblem> {
        let s = self
            .strings
            .get(id as usize)
            .ok_or_else(|| d.corrupt(format!("reference to missing string {id}")))?;
        self.copied_string_bytes += s.len() as u64;
        if self.copied_string_bytes > STRING_COPY_BUDGET {
            return Err(d.corrupt(
                "records refer to more than 1 GiB of text; the file is not a real profile",
            ));
        }
        Ok(s.clone())
    }

    fn node_ref(&self, d: &mut Decoder<'_>) -> Result<StackNodeId, FormatProblem> {
        let node = d.u32()?;
        if node as usize > self.nodes.len() {
            return Err(d.corrupt(format!("reference to missing stack {node}")));
        }
        Ok(node)
    }

    /// The end record's counts must match what was read.
    fn check_end_counts(&self, offset: u64) -> Result<(), FormatProblem> {
        let Some((samples, frames, nodes)) = self.end else {
            return Ok(());
        };
        let found = (
            self.samples.len() as u64,
            self.frames.len() as u64,
            self.nodes.len() as u64,
        );
        if (samples, frames, nodes) != found {
            return Err(FormatProblem::Corrupt {
                offset,
                detail: format!(
                    "the end record counts {samples} samples, {frames} frames, {nodes} stack nodes \
                     but the file holds {}, {}, {}",
                    found.0, found.1, found.2
                ),
            });
        }
        Ok(())
    }
}

/// Turns raw tables into a symbolic profile.
struct Assembler<'r, 'i> {
    raw: RawTables,
    resolver: Option<&'r mut dyn AddressResolver>,
    info: &'i mut FileInfo,
    /// Symbolic frame ids of each raw frame, once expanded.
    expanded: Vec<Option<Vec<FrameId>>>,
    /// Profile stack of each stack node, once built.
    node_stacks: Vec<Option<StackId>>,
}

impl<'r, 'i> Assembler<'r, 'i> {
    fn new(
        raw: RawTables,
        resolver: Option<&'r mut dyn AddressResolver>,
        info: &'i mut FileInfo,
    ) -> Self {
        let expanded = raw
            .frames
            .iter()
            .map(|f| match f {
                RawFrameEntry::Symbolic(id) => Some(vec![*id]),
                RawFrameEntry::Address { .. } => None,
            })
            .collect();
        let node_stacks = vec![None; raw.nodes.len() + 1];
        Assembler {
            raw,
            resolver,
            info,
            expanded,
            node_stacks,
        }
    }

    fn run(mut self) -> Profile {
        for i in 0..self.raw.whole.len() {
            self.stack_of(self.raw.whole[i]);
        }
        let samples = std::mem::take(&mut self.raw.samples);
        let mut resolved = Vec::with_capacity(samples.len());
        for mut s in samples {
            s.stack = self.stack_of(s.stack);
            resolved.push(s);
        }
        let raw = self.raw;
        let header = raw.header.unwrap_or(RawHeader {
            producer: String::new(),
            command: Vec::new(),
            start_unix_ns: 0,
            events: Vec::new(),
        });
        self.info.producer = header.producer;
        let counters = raw.counters.unwrap_or_default();
        let mut b = raw.builder;
        b.set_meta(Meta {
            command: header.command,
            start_unix_ns: header.start_unix_ns,
            duration_ns: counters[0],
            lost_samples: counters[1],
            truncated_stacks: counters[2],
            inconsistent_merges: counters[3],
            merged_samples: counters[4],
            processes: raw.processes,
        });
        for e in header.events {
            b.add_event(e);
        }
        for t in raw.threads {
            b.add_thread(t);
        }
        for s in resolved {
            b.add_sample(s);
        }
        b.finish()
    }

    /// The profile stack of a node, built on first use.
    fn stack_of(&mut self, node: StackNodeId) -> StackId {
        if let Some(id) = self.node_stacks[node as usize] {
            return id;
        }
        let mut raw_frames = Vec::new();
        let mut n = node;
        while n != 0 {
            // Decoding guarantees parent < node, so this walk ends.
            let (parent, frame) = self.raw.nodes[n as usize - 1];
            raw_frames.push(frame);
            n = parent;
        }
        let mut frames = Vec::with_capacity(raw_frames.len());
        for &raw in raw_frames.iter().rev() {
            frames.extend_from_slice(self.expand(raw));
        }
        let id = self.raw.builder.intern_stack(&frames);
        self.node_stacks[node as usize] = Some(id);
        id
    }

    /// The symbolic frames of a raw frame, caller first.
    fn expand(&mut self, raw: RawFrameId) -> &[FrameId] {
        if self.expanded[raw as usize].is_none() {
            let ids = self.expand_address(raw);
            self.expanded[raw as usize] = Some(ids);
        }
        self.expanded[raw as usize].as_deref().unwrap_or_default()
    }

    fn expand_address(&mut self, raw: RawFrameId) -> Vec<FrameId> {
        let RawFrameEntry::Address { module, address } = self.raw.frames[raw as usize] else {
            return Vec::new();
        };
        self.info.address_frames += 1;
        let module = &self.raw.modules[module as usize];
        let mut frames = self.raw.symbols.remove(&raw).unwrap_or_default();
        if !frames.is_empty() {
            self.info.symbolized_in_file += 1;
        } else if let Some(r) = self.resolver.as_mut() {
            frames = r.resolve(module, address);
            if !frames.is_empty() {
                self.info.symbolized_by_resolver += 1;
            }
        }
        if frames.is_empty() {
            self.info.unresolved += 1;
            frames.push(unresolved_frame(module, address));
        }
        frames
            .iter()
            .map(|f| self.raw.builder.intern_frame(f))
            .collect()
    }
}
