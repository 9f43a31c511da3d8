//! Turning batches of records into the profile file: attributing each sample
//! to its process and thread, unwinding its stack, interning frames.

use std::collections::HashMap;

use super::options::CallGraph;
use super::processes::Processes;
use super::sampler::{Item, OwnedSample};
use crate::profile::{
    Frame, FrameKind, Meta, ModuleId, ModuleInfo, ProcessInfo, ProfileError, ProfileWriter,
    RawFrame, RawFrameId, ThreadIdx, ThreadInfo, KERNEL_MODULE,
};
use crate::symbols::jit::{jit_module, JitSymbols};
use crate::symbols::{Symbolizer, SymbolizerOptions};
use crate::unwind::{CopiedStack, ProcessUnwinder};

/// Counters for the end-of-recording summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub samples: u64,
    pub truncated: u64,
    /// Samples whose user stack could not be unwound past the sampled ip.
    pub unwind_failed: u64,
    /// Samples with Python frames merged in (stopped mode).
    pub merged: u64,
    /// Of those: the stop did not see the sampled instant, or the eval-loop
    /// frames and Python frames did not pair up.
    pub inconsistent: u64,
    /// Samples whose thread could not be stopped and read (it exited first).
    pub unpaired: u64,
}

/// Everything needed to write samples as they arrive.
pub struct Recorder {
    pub writer: ProfileWriter,
    pub processes: Processes,
    pub(super) call_graph: CallGraph,
    /// Stopped mode: read Python frames / unwind native frames.
    pub(super) python: bool,
    pub(super) native: bool,
    perf_map: bool,
    pub(super) unwinders: HashMap<u32, ProcessUnwinder>,
    pub(super) symbolizer: Symbolizer,
    modules: HashMap<String, ModuleId>,
    /// Symbolizes address frames as they appear.
    background: super::symbolize::BackgroundSymbolizer,
    /// Modules by id.
    module_infos: HashMap<ModuleId, ModuleInfo>,
    known_address_frames: HashMap<(ModuleId, u64), RawFrameId>,
    /// tid -> (file thread index, last name written, pid).
    threads: HashMap<u32, (ThreadIdx, String, u32)>,
    pub counts: RecordCounts,
    /// Stopped mode: samples waiting for the stop that read their stacks.
    pub(super) pending: std::collections::VecDeque<OwnedSample>,
    /// Stopped mode: what each thread's stops read, oldest first.
    pub(super) captures: HashMap<u32, std::collections::VecDeque<super::stopped::Capture>>,
    pub(super) pythons: super::pystate::PythonStates,
    /// Whether an address frame is an eval-loop frame, by raw frame id.
    pub(super) eval_frames: HashMap<RawFrameId, bool>,
    /// Stopped mode: bytes of stack to copy per thread (grows when too short).
    pub(super) stack_copy: HashMap<u32, usize>,
    /// Stopped mode: where CPython perf trampolines start, by (pid, address).
    pub(super) trampoline_code: std::cell::RefCell<HashMap<(u32, u64), bool>>,
}

impl Recorder {
    pub fn new(writer: ProfileWriter, options: &super::options::RecordOptions) -> Recorder {
        Recorder {
            writer,
            processes: Processes::default(),
            call_graph: options.call_graph,
            python: options.python,
            native: options.native,
            perf_map: options.perf_map,
            pending: Default::default(),
            captures: HashMap::new(),
            pythons: Default::default(),
            eval_frames: HashMap::new(),
            stack_copy: HashMap::new(),
            trampoline_code: Default::default(),
            unwinders: HashMap::new(),
            symbolizer: Symbolizer::new(SymbolizerOptions::default()),
            modules: HashMap::new(),
            background: super::symbolize::BackgroundSymbolizer::start(),
            module_infos: HashMap::new(),
            known_address_frames: HashMap::new(),
            threads: HashMap::new(),
            counts: RecordCounts::default(),
        }
    }

    /// Applies a time-ordered batch.
    pub fn apply(&mut self, items: Vec<Item>) -> Result<(), ProfileError> {
        for item in items {
            match item {
                Item::Sample(sample) if self.call_graph == CallGraph::Stopped => {
                    self.pending.push_back(sample)
                }
                Item::Sample(sample) => self.sample(&sample)?,
                Item::Mmap {
                    pid,
                    addr,
                    len,
                    pgoff,
                    executable,
                    path,
                    build_id,
                    ..
                } => {
                    if executable {
                        let mapping = super::processes::Mapping {
                            start: addr,
                            end: addr + len,
                            pgoff,
                            path: path.into(),
                            build_id: build_id.map(Into::into),
                        };
                        self.processes.process_mut(pid).add_mapping(mapping);
                    }
                }
                Item::Comm {
                    pid,
                    tid,
                    comm,
                    exec,
                    ..
                } => {
                    if exec {
                        self.exec(pid);
                    }
                    self.processes.set_comm(pid, tid, &comm, exec);
                    if let Some((index, name, _)) = self.threads.get_mut(&tid) {
                        if *name != comm {
                            self.writer.update_thread_name(*index, &comm)?;
                            name.clone_from(&comm);
                        }
                    }
                }
                Item::Fork { pid, ppid, tid, .. } => self.processes.fork(pid, ppid, tid),
                Item::Exit { .. } => {}
            }
        }
        Ok(())
    }

    pub(super) fn thread_index(&mut self, pid: u32, tid: u32) -> Result<ThreadIdx, ProfileError> {
        if let Some((index, _, _)) = self.threads.get(&tid) {
            return Ok(*index);
        }
        let name = self
            .processes
            .thread(tid)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let index = self.writer.add_thread(&ThreadInfo {
            pid,
            tid,
            name: name.clone(),
        })?;
        self.threads.insert(tid, (index, name, pid));
        Ok(index)
    }

    pub(super) fn module_id(
        &mut self,
        path: &str,
        build_id: Option<&[u8]>,
    ) -> Result<ModuleId, ProfileError> {
        if let Some(&id) = self.modules.get(path) {
            return Ok(id);
        }
        let info = ModuleInfo {
            path: path.to_string(),
            build_id: build_id.map(<[u8]>::to_vec),
        };
        let id = self.writer.add_module(&info)?;
        self.modules.insert(path.to_string(), id);
        self.module_infos.insert(id, info);
        Ok(id)
    }

    pub(super) fn address_frame(
        &mut self,
        module: ModuleId,
        address: u64,
    ) -> Result<RawFrameId, ProfileError> {
        if let Some(&id) = self.known_address_frames.get(&(module, address)) {
            return Ok(id);
        }
        let id = self
            .writer
            .intern_frame(&RawFrame::Address { module, address })?;
        self.known_address_frames.insert((module, address), id);
        if let Some(info) = self.module_infos.get(&module) {
            self.background.submit(id, info, address);
        }
        Ok(id)
    }

    pub(super) fn symbolic_frame(&mut self, frame: Frame) -> Result<RawFrameId, ProfileError> {
        self.writer.intern_frame(&RawFrame::Symbolic(frame))
    }

    /// The raw frame for user address `addr` of process `pid`.
    pub(super) fn user_frame(&mut self, pid: u32, addr: u64) -> Result<RawFrameId, ProfileError> {
        let resolved = self
            .processes
            .process(pid)
            .and_then(|p| p.mapping_at(addr))
            .map(|m| (m.clone(), m.is_file()));
        match resolved {
            Some((mapping, true)) => {
                let svma = self
                    .symbolizer
                    .elf(std::path::Path::new(&*mapping.path))
                    .and_then(|elf| elf.file_offset_to_svma(mapping.file_offset(addr)));
                match svma {
                    Some(svma) => {
                        let module = self.module_id(&mapping.path, mapping.build_id.as_deref())?;
                        self.address_frame(module, svma)
                    }
                    None => self.symbolic_frame(unknown_frame(Some(&mapping.path))),
                }
            }
            // The kernel's own pages ([vdso], [vsyscall]) have no file to name them from.
            Some((mapping, false))
                if mapping.path.starts_with('[') && !mapping.path.starts_with("[anon") =>
            {
                self.symbolic_frame(unknown_frame(Some(&mapping.path)))
            }
            // Code outside any file (JIT code, CPython's perf trampolines):
            // named at the end from the perf map and jitdump, which the
            // program may still be writing (or buffering) now.
            Some(_) | None => {
                let module = self.module_id(&jit_module(pid), None)?;
                self.address_frame(module, addr)
            }
        }
    }

    /// User frames of a sample, leaf first, as lookup addresses; and whether the stack was cut short.
    fn user_addresses(&mut self, sample: &OwnedSample) -> (Vec<u64>, bool) {
        match self.call_graph {
            CallGraph::FramePointer => (adjust_return_addresses(&sample.user_chain), false),
            CallGraph::None => match sample.user_regs {
                Some(regs) => (vec![regs.ip], false),
                None if !sample.in_kernel => (vec![sample.ip], false),
                None => (Vec::new(), false),
            },
            // Stopped samples are written by `write_stopped`.
            CallGraph::Stopped => (vec![sample.ip], false),
            CallGraph::Dwarf { .. } => {
                let Some(regs) = sample.user_regs else {
                    return (Vec::new(), false);
                };
                let Some(process) = self.processes.process(sample.pid) else {
                    return (vec![regs.ip], false);
                };
                let unwinder = self.unwinders.entry(sample.pid).or_default();
                let symbolizer = &mut self.symbolizer;
                unwinder.sync(process, &mut |path| {
                    symbolizer.elf(std::path::Path::new(path))
                });
                let mut stack = CopiedStack::new(regs.sp, &sample.stack, sample.stack_full);
                let unwound = unwinder.unwind(regs.ip, regs.sp, regs.bp, &mut stack);
                (unwound.frames, unwound.truncated)
            }
        }
    }

    fn sample(&mut self, sample: &OwnedSample) -> Result<(), ProfileError> {
        let thread = self.thread_index(sample.pid, sample.tid)?;
        let (user, truncated) = self.user_addresses(sample);
        if user.len() == 1 && matches!(self.call_graph, CallGraph::Dwarf { .. }) {
            self.counts.unwind_failed += 1;
        }
        // Leaf first: kernel frames, then user frames; reversed below to root first.
        let mut leaf_first: Vec<RawFrameId> =
            Vec::with_capacity(sample.kernel_chain.len() + user.len() + 1);
        if !sample.kernel_chain.is_empty() {
            let kernel = self.module_id(KERNEL_MODULE, None)?;
            for address in adjust_return_addresses(&sample.kernel_chain) {
                leaf_first.push(self.address_frame(kernel, address)?);
            }
        }
        for address in user {
            leaf_first.push(self.user_frame(sample.pid, address)?);
        }
        if truncated {
            self.counts.truncated += 1;
            leaf_first.push(self.symbolic_frame(Frame::marker("[truncated]"))?);
        }
        if leaf_first.is_empty() {
            leaf_first.push(self.symbolic_frame(unknown_frame(None))?);
        }
        self.write_sample(sample, thread, leaf_first)
    }

    /// Writes `sample` with its stack given leaf first.
    pub(super) fn write_sample(
        &mut self,
        sample: &OwnedSample,
        thread: ThreadIdx,
        mut leaf_first: Vec<RawFrameId>,
    ) -> Result<(), ProfileError> {
        leaf_first.reverse();
        let stack = self.writer.intern_stack(&leaf_first)?;
        self.writer.add_sample(
            stack,
            thread,
            sample.time,
            sample.event,
            sample.period,
            false,
        )?;
        self.counts.samples += 1;
        Ok(())
    }

    /// The processes that took samples, for the file's process table.
    pub fn process_infos(&self) -> Vec<ProcessInfo> {
        let sampled: std::collections::HashSet<u32> = self.threads.values().map(|t| t.2).collect();
        let mut infos: Vec<ProcessInfo> = self
            .processes
            .processes()
            .filter(|p| sampled.contains(&p.pid))
            .map(|p| ProcessInfo {
                pid: p.pid,
                command: p.comm.clone(),
                python_version: self.pythons.version(p.pid),
            })
            .collect();
        infos.sort_by_key(|p| p.pid);
        infos
    }

    /// Writes the symbols of every address frame (symbolized once each, while
    /// the recording ran) and completes the file.
    /// `base` carries what the recorder does not know (lost samples, duration);
    /// returns what was written, the file's final Meta and the run's counters.
    pub fn finish(
        mut self,
        base: &Meta,
    ) -> Result<(crate::profile::WriteSummary, Meta, RecordCounts), ProfileError> {
        // Samples still waiting for their stop are written (and counted) first.
        self.pair_pending(u64::MAX, true)?;
        let meta = self.meta(base);
        let symbols = self.background.finish();
        self.writer.write_symbols(symbols.frames)?;
        for warning in symbols
            .warnings
            .iter()
            .chain(&self.symbolizer.take_warnings())
        {
            eprintln!("pyperf: {warning}");
        }
        if self.perf_map {
            // JIT frames are named now; the files pyperf made the program
            // write are not needed any more.
            for process in self.processes.processes() {
                for file in JitSymbols::for_pid(process.pid).files() {
                    let _ = std::fs::remove_file(file);
                }
            }
        }
        let written = self.writer.finish(&meta)?;
        Ok((written, meta, self.counts))
    }

    /// A process exec'd a new program: what was learnt about the old one
    /// (interpreter, unwind modules, JIT code) no longer applies.
    pub fn exec(&mut self, pid: u32) {
        self.pythons.forget(pid);
        self.unwinders.remove(&pid);
        self.trampoline_code
            .borrow_mut()
            .retain(|(p, _), _| *p != pid);
    }

    /// Threads that took samples.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// Run counters as the file's Meta expects them.
    pub fn meta(&self, base: &Meta) -> Meta {
        Meta {
            truncated_stacks: self.counts.truncated,
            merged_samples: self.counts.merged,
            inconsistent_merges: self.counts.inconsistent,
            processes: self.process_infos(),
            ..base.clone()
        }
    }
}

/// Subtracts one from every return address (all but the first entry), so that
/// lookups land inside the call instruction.
pub(super) fn adjust_return_addresses(chain: &[u64]) -> Vec<u64> {
    chain
        .iter()
        .enumerate()
        .map(|(i, &a)| if i == 0 { a } else { a.saturating_sub(1) })
        .collect()
}

/// A frame for code outside any known file mapping.
pub(super) fn unknown_frame(module: Option<&str>) -> Frame {
    Frame {
        kind: FrameKind::Native,
        function: "[unknown]".to_string(),
        file: None,
        line: None,
        module: module.map(str::to_string),
        inlined: false,
    }
}
