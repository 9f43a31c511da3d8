//! Streams a profile to disk while recording.
//!
//! Entries accumulate in a memory buffer that is written out as one
//! checksummed chunk whenever it reaches [`CHUNK_TARGET_LEN`] or when the
//! caller calls [`ProfileWriter::flush`]. The recorder should flush every few
//! hundred milliseconds: a run killed with SIGKILL then loses at most what it
//! buffered since, and the file reads as a prefix.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::ProfileError;
use super::layout::*;
use super::varint::{put_bytes, put_opt_u64, put_u64, zigzag};
use crate::profile::model::{
    EventIdx, EventInfo, Frame, FrameKind, Meta, ProcessInfo, Profile, ThreadIdx, ThreadInfo,
};
use crate::profile::raw::{ModuleId, ModuleInfo, RawFrame, RawFrameId, StackNodeId};

/// What a recording knows when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The profiled command line, or empty when attached to a pid.
    pub command: Vec<String>,
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// The recorded events; samples refer to them by index.
    pub events: Vec<EventInfo>,
}

/// Size figures of a written profile, for the record summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    pub file_bytes: u64,
    pub samples: u64,
}

impl WriteSummary {
    /// Average file bytes per sample (everything included), `None` without samples.
    pub fn bytes_per_sample(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.file_bytes as f64 / self.samples as f64)
    }
}

/// Appends a profile to a file as the recording goes.
pub struct ProfileWriter {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    bytes_written: u64,
    strings: HashMap<String, u32>,
    frames: HashMap<RawFrame, RawFrameId>,
    /// Per raw frame: is it an address frame (only those take symbols)?
    frame_is_address: Vec<bool>,
    /// Prefix tree: (parent node, frame) -> node.
    nodes: HashMap<(StackNodeId, RawFrameId), StackNodeId>,
    /// Per node (index = node id): already announced as a whole stack?
    node_is_whole: Vec<bool>,
    modules: u32,
    threads: u32,
    events: u16,
    /// Processes as last written, for [`ProfileWriter::finish`] to complete.
    processes: Vec<ProcessInfo>,
    prev_time: u64,
    prev_thread: ThreadIdx,
    prev_event: EventIdx,
    prev_weight: Vec<u64>,
    samples: u64,
    finished: bool,
    /// Set when a write failed: the file may end inside a chunk, so nothing
    /// more may follow it (the reader would see the next chunk as damage).
    failed: bool,
}

impl ProfileWriter {
    /// Creates (or truncates) `path` and writes the header at once, so the
    /// file is a valid empty profile from the start.
    pub fn create(path: &Path, header: &Header) -> Result<ProfileWriter, ProfileError> {
        if header.events.len() > usize::from(u16::MAX) {
            return Err(ProfileError::Misuse(format!(
                "{} events, at most {} fit",
                header.events.len(),
                u16::MAX
            )));
        }
        let file = File::create(path).map_err(|source| ProfileError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut w = ProfileWriter {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(CHUNK_TARGET_LEN + 1024),
            bytes_written: 0,
            strings: HashMap::new(),
            frames: HashMap::new(),
            frame_is_address: Vec::new(),
            nodes: HashMap::new(),
            node_is_whole: vec![false],
            modules: 0,
            threads: 0,
            events: header.events.len() as u16,
            processes: Vec::new(),
            prev_time: 0,
            prev_thread: 0,
            prev_event: 0,
            prev_weight: vec![0; header.events.len()],
            samples: 0,
            finished: false,
            failed: false,
        };
        let mut start = MAGIC.to_vec();
        start.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        w.write_raw(&start)?;
        w.put_header(header);
        w.flush()?;
        Ok(w)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples added so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Bytes on disk plus bytes still buffered.
    pub fn bytes_so_far(&self) -> u64 {
        self.bytes_written + self.buf.len() as u64
    }

    /// Adds a module that address frames can point into.
    pub fn add_module(&mut self, module: &ModuleInfo) -> Result<ModuleId, ProfileError> {
        let path = self.intern_str(&module.path);
        self.buf.push(TAG_MODULE);
        put_u64(&mut self.buf, u64::from(path));
        match &module.build_id {
            None => put_u64(&mut self.buf, 0),
            Some(id) => {
                put_u64(&mut self.buf, id.len() as u64 + 1);
                self.buf.extend_from_slice(id);
            }
        }
        self.modules += 1;
        self.flush_if_full()?;
        Ok(self.modules - 1)
    }

    /// The id of a raw frame, writing it on first sight.
    pub fn intern_frame(&mut self, frame: &RawFrame) -> Result<RawFrameId, ProfileError> {
        if let Some(&id) = self.frames.get(frame) {
            return Ok(id);
        }
        match frame {
            RawFrame::Symbolic(f) => {
                let body = self.frame_body(f);
                self.buf.push(TAG_SYMBOLIC_FRAME);
                self.buf.extend_from_slice(&body);
            }
            RawFrame::Address { module, address } => {
                if *module >= self.modules {
                    return Err(ProfileError::Misuse(format!(
                        "address frame refers to module {module}, only {} added",
                        self.modules
                    )));
                }
                self.buf.push(TAG_ADDRESS_FRAME);
                put_u64(&mut self.buf, u64::from(*module));
                put_u64(&mut self.buf, *address);
            }
        }
        let id = self.frame_is_address.len() as RawFrameId;
        self.frame_is_address
            .push(matches!(frame, RawFrame::Address { .. }));
        self.frames.insert(frame.clone(), id);
        self.flush_if_full()?;
        Ok(id)
    }

    /// The id of a root-to-leaf stack of raw frame ids, to pass to
    /// [`ProfileWriter::add_sample`]. Stacks share prefixes on disk, so a new
    /// stack costs a few bytes per frame it does not share.
    pub fn intern_stack(&mut self, frames: &[RawFrameId]) -> Result<StackNodeId, ProfileError> {
        let known = self.frame_is_address.len() as u32;
        if let Some(bad) = frames.iter().find(|&&f| f >= known) {
            return Err(ProfileError::Misuse(format!(
                "stack refers to frame {bad}, only {known} interned"
            )));
        }
        let mut node: StackNodeId = 0;
        for (depth, &frame) in frames.iter().enumerate() {
            if let Some(&child) = self.nodes.get(&(node, frame)) {
                node = child;
                continue;
            }
            let child = self.node_is_whole.len() as StackNodeId;
            let whole = depth + 1 == frames.len();
            self.buf.push(if whole {
                TAG_STACK_NODE_WHOLE
            } else {
                TAG_STACK_NODE
            });
            put_u64(&mut self.buf, u64::from(node));
            put_u64(&mut self.buf, u64::from(frame));
            self.nodes.insert((node, frame), child);
            self.node_is_whole.push(whole);
            node = child;
        }
        if !self.node_is_whole[node as usize] {
            self.buf.push(TAG_STACK_MARK_WHOLE);
            put_u64(&mut self.buf, u64::from(node));
            self.node_is_whole[node as usize] = true;
        }
        self.flush_if_full()?;
        Ok(node)
    }

    /// Adds a thread (no de-duplication: the recorder knows thread identity).
    pub fn add_thread(&mut self, thread: &ThreadInfo) -> Result<ThreadIdx, ProfileError> {
        let name = self.intern_str(&thread.name);
        self.buf.push(TAG_THREAD);
        put_u64(&mut self.buf, u64::from(thread.pid));
        put_u64(&mut self.buf, u64::from(thread.tid));
        put_u64(&mut self.buf, u64::from(name));
        self.threads += 1;
        self.flush_if_full()?;
        Ok(self.threads - 1)
    }

    /// Records a thread's new name (comm change, exec).
    pub fn update_thread_name(
        &mut self,
        thread: ThreadIdx,
        name: &str,
    ) -> Result<(), ProfileError> {
        if thread >= self.threads {
            return Err(ProfileError::Misuse(format!(
                "rename of thread {thread}, only {} added",
                self.threads
            )));
        }
        let name = self.intern_str(name);
        self.buf.push(TAG_THREAD_NAME);
        put_u64(&mut self.buf, u64::from(thread));
        put_u64(&mut self.buf, u64::from(name));
        self.flush_if_full()
    }

    /// Records a process, or replaces the earlier record with the same pid
    /// (after an exec, or once its Python version is known).
    pub fn add_process(&mut self, process: &ProcessInfo) -> Result<(), ProfileError> {
        let command = self.intern_str(&process.command);
        let version = process
            .python_version
            .as_deref()
            .map(|v| self.intern_str(v));
        self.buf.push(TAG_PROCESS);
        put_u64(&mut self.buf, u64::from(process.pid));
        put_u64(&mut self.buf, u64::from(command));
        put_u64(&mut self.buf, version.map_or(0, |v| u64::from(v) + 1));
        match self.processes.iter_mut().find(|p| p.pid == process.pid) {
            Some(p) => *p = process.clone(),
            None => self.processes.push(process.clone()),
        }
        self.flush_if_full()
    }

    /// Adds one sample. `stack` comes from [`ProfileWriter::intern_stack`],
    /// `time_ns` is CLOCK_MONOTONIC, `weight` the sample period.
    pub fn add_sample(
        &mut self,
        stack: StackNodeId,
        thread: ThreadIdx,
        time_ns: u64,
        event: EventIdx,
        weight: u64,
        idle: bool,
    ) -> Result<(), ProfileError> {
        if stack as usize >= self.node_is_whole.len()
            || thread >= self.threads
            || event >= self.events
        {
            return Err(ProfileError::Misuse(format!(
                "sample refers to stack {stack}, thread {thread}, event {event}; \
                 known: {} stacks, {} threads, {} events",
                self.node_is_whole.len(),
                self.threads,
                self.events
            )));
        }
        let prev_weight = self.prev_weight[usize::from(event)];
        let mut tag = TAG_SAMPLE;
        if idle {
            tag |= SAMPLE_IDLE;
        }
        if thread != self.prev_thread {
            tag |= SAMPLE_HAS_THREAD;
        }
        if weight != prev_weight {
            tag |= SAMPLE_HAS_WEIGHT;
        }
        if event != self.prev_event {
            tag |= SAMPLE_HAS_EVENT;
        }
        self.buf.push(tag);
        if tag & SAMPLE_HAS_EVENT != 0 {
            put_u64(&mut self.buf, u64::from(event));
        }
        if tag & SAMPLE_HAS_THREAD != 0 {
            put_u64(&mut self.buf, u64::from(thread));
        }
        put_u64(&mut self.buf, u64::from(stack));
        put_u64(
            &mut self.buf,
            zigzag(time_ns.wrapping_sub(self.prev_time) as i64),
        );
        if tag & SAMPLE_HAS_WEIGHT != 0 {
            put_u64(
                &mut self.buf,
                zigzag(weight.wrapping_sub(prev_weight) as i64),
            );
        }
        self.prev_time = time_ns;
        self.prev_thread = thread;
        self.prev_event = event;
        self.prev_weight[usize::from(event)] = weight;
        self.samples += 1;
        self.flush_if_full()
    }

    /// Writes the symbolic frames of address frames (caller first; an empty
    /// list means the symbolizer found nothing). Call once symbolization is
    /// done, before [`ProfileWriter::finish`].
    pub fn write_symbols<I, F>(&mut self, symbols: I) -> Result<(), ProfileError>
    where
        I: IntoIterator<Item = (RawFrameId, F)>,
        F: AsRef<[Frame]>,
    {
        for (raw, frames) in symbols {
            let frames = frames.as_ref();
            if self.frame_is_address.get(raw as usize) != Some(&true) {
                return Err(ProfileError::Misuse(format!(
                    "symbols given for frame {raw}, which is not an address frame"
                )));
            }
            let bodies: Vec<Vec<u8>> = frames.iter().map(|f| self.frame_body(f)).collect();
            self.buf.push(TAG_SYMBOLS);
            put_u64(&mut self.buf, u64::from(raw));
            put_u64(&mut self.buf, bodies.len() as u64);
            for body in bodies {
                self.buf.extend_from_slice(&body);
            }
            self.flush_if_full()?;
        }
        Ok(())
    }

    /// Writes the run counters of `meta` (not its command or processes) and
    /// flushes, so a killed run keeps the latest figures.
    pub fn checkpoint(&mut self, meta: &Meta) -> Result<(), ProfileError> {
        self.put_counters(meta);
        self.flush()
    }

    /// Writes out everything buffered as one chunk.
    pub fn flush(&mut self) -> Result<(), ProfileError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.buf.len() > MAX_CHUNK_LEN {
            return Err(ProfileError::Misuse(format!(
                "a single entry of {} bytes exceeds the chunk limit",
                self.buf.len()
            )));
        }
        let len = (self.buf.len() as u32).to_le_bytes();
        let crc = chunk_crc(len, &self.buf);
        let mut chunk = Vec::with_capacity(CHUNK_HEADER_LEN + self.buf.len());
        chunk.extend_from_slice(&len);
        chunk.extend_from_slice(&crc.to_le_bytes());
        chunk.extend_from_slice(&self.buf);
        self.buf.clear();
        self.write_raw(&chunk)
    }

    /// Completes the file: processes and counters from `meta` (its command and
    /// start come from the header), the end record, then fsync.
    pub fn finish(mut self, meta: &Meta) -> Result<WriteSummary, ProfileError> {
        for p in &meta.processes {
            if !self.processes.contains(p) {
                self.add_process(p)?;
            }
        }
        self.put_counters(meta);
        self.buf.push(TAG_END);
        put_u64(&mut self.buf, self.samples);
        put_u64(&mut self.buf, self.frame_is_address.len() as u64);
        put_u64(&mut self.buf, self.node_is_whole.len() as u64 - 1);
        self.flush()?;
        self.finished = true;
        match self.file.sync_all() {
            // Devices and pipes (`-o /dev/null`) cannot be synced; nothing to lose.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            other => other.map_err(|source| ProfileError::Write {
                path: self.path.clone(),
                source,
            })?,
        }
        Ok(WriteSummary {
            file_bytes: self.bytes_written,
            samples: self.samples,
        })
    }

    fn put_header(&mut self, header: &Header) {
        self.buf.push(TAG_HEADER);
        let producer = concat!("pyperf ", env!("CARGO_PKG_VERSION"));
        put_bytes(&mut self.buf, producer.as_bytes());
        put_u64(&mut self.buf, header.command.len() as u64);
        for arg in &header.command {
            put_bytes(&mut self.buf, capped(arg).as_bytes());
        }
        put_u64(&mut self.buf, header.start_unix_ns);
        put_u64(&mut self.buf, header.events.len() as u64);
        for e in &header.events {
            put_bytes(&mut self.buf, capped(&e.name).as_bytes());
            put_opt_u64(&mut self.buf, e.period);
            put_opt_u64(&mut self.buf, e.frequency);
            put_bytes(&mut self.buf, capped(&e.unit).as_bytes());
        }
    }

    fn put_counters(&mut self, meta: &Meta) {
        self.buf.push(TAG_COUNTERS);
        for v in [
            meta.duration_ns,
            meta.lost_samples,
            meta.truncated_stacks,
            meta.inconsistent_merges,
            meta.merged_samples,
        ] {
            put_u64(&mut self.buf, v);
        }
    }

    /// Encodes a frame body, interning its strings first.
    fn frame_body(&mut self, f: &Frame) -> Vec<u8> {
        let function = self.intern_str(&f.function);
        let file = f.file.as_deref().map(|s| self.intern_str(s));
        let module = f.module.as_deref().map(|s| self.intern_str(s));
        let kind = match f.kind {
            FrameKind::Python => 0,
            FrameKind::Native => 1,
            FrameKind::Kernel => 2,
            FrameKind::Marker => 3,
        };
        let mut body = vec![kind | if f.inlined { FRAME_INLINED } else { 0 }];
        put_u64(&mut body, u64::from(function));
        put_u64(&mut body, file.map_or(0, |s| u64::from(s) + 1));
        put_u64(&mut body, f.line.map_or(0, |l| u64::from(l) + 1));
        put_u64(&mut body, module.map_or(0, |s| u64::from(s) + 1));
        body
    }

    fn intern_str(&mut self, s: &str) -> u32 {
        let s = capped(s);
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.buf.push(TAG_STRING);
        put_bytes(&mut self.buf, s.as_bytes());
        self.strings.insert(s.to_string(), id);
        id
    }

    fn flush_if_full(&mut self) -> Result<(), ProfileError> {
        if self.buf.len() >= CHUNK_TARGET_LEN {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ProfileError> {
        if self.failed {
            return Err(ProfileError::Write {
                path: self.path.clone(),
                source: std::io::Error::other("an earlier write failed; the file ends there"),
            });
        }
        if let Err(source) = self.file.write_all(bytes) {
            self.failed = true;
            return Err(ProfileError::Write {
                path: self.path.clone(),
                source,
            });
        }
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

impl Drop for ProfileWriter {
    /// A writer dropped without `finish` (an error path) still writes what it
    /// buffered, leaving a readable, incomplete profile.
    fn drop(&mut self) {
        if !self.finished && !self.failed {
            let _ = self.flush();
        }
    }
}

/// `s` cut to at most [`MAX_STRING_LEN`] bytes at a char boundary.
fn capped(s: &str) -> &str {
    if s.len() <= MAX_STRING_LEN {
        return s;
    }
    let mut end = MAX_STRING_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes a whole symbolic profile in the streaming format (converters, tests).
/// Frame and stack ids survive a round trip when the profile has no duplicate
/// frames or stacks (as [`ProfileBuilder`](crate::profile::ProfileBuilder) guarantees).
pub fn write_profile(path: &Path, profile: &Profile) -> Result<WriteSummary, ProfileError> {
    let header = Header {
        command: profile.meta.command.clone(),
        start_unix_ns: profile.meta.start_unix_ns,
        events: profile.events.clone(),
    };
    let mut w = ProfileWriter::create(path, &header)?;
    let mut frame_ids = Vec::with_capacity(profile.frames.len());
    for f in &profile.frames {
        frame_ids.push(w.intern_frame(&RawFrame::Symbolic(f.clone()))?);
    }
    let mut stack_ids = Vec::with_capacity(profile.stacks.len());
    let mut raw = Vec::new();
    for stack in &profile.stacks {
        raw.clear();
        for &f in stack {
            let id = frame_ids.get(f as usize).ok_or_else(|| {
                ProfileError::Misuse(format!("profile stack refers to missing frame {f}"))
            })?;
            raw.push(*id);
        }
        stack_ids.push(w.intern_stack(&raw)?);
    }
    for t in &profile.threads {
        w.add_thread(t)?;
    }
    for p in &profile.meta.processes {
        w.add_process(p)?;
    }
    for s in &profile.samples {
        let stack = *stack_ids.get(s.stack as usize).ok_or_else(|| {
            ProfileError::Misuse(format!("sample refers to missing stack {}", s.stack))
        })?;
        w.add_sample(stack, s.thread, s.time_ns, s.event, s.weight, s.idle)?;
    }
    w.finish(&profile.meta)
}
