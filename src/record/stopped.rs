//! Stopped mode: each sample's thread is stopped right after the sample, its
//! native stack unwound from live memory and its Python stack read from the
//! interpreter; the ring's sample (event, period, kernel frames, registers)
//! is then paired with what the stop read.

use std::collections::VecDeque;

use super::recorder::{adjust_return_addresses, Recorder};
use super::sampler::OwnedSample;
use crate::profile::{Frame, ProfileError, RawFrameId, KERNEL_MODULE};
use crate::python::memory::{ProcessMemory, RemoteMemory};
use crate::python::merge::{merge, Merged};
use crate::python::PyThread;
use crate::unwind::{cpython_trampoline_rule, CopiedStack, StackRule, CPYTHON_TRAMPOLINE};

/// What one stop of one thread read. The native stack is unwound later
/// from `stack`, so the thread is stopped only as long as copying takes.
#[derive(Debug, Clone)]
pub struct Capture {
    /// CLOCK_MONOTONIC when the thread was stopped (after its sample).
    pub time: u64,
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The thread's stack from `sp` upwards, as copied at the stop.
    pub stack: Vec<u8>,
    /// The copy ended at its size limit rather than at the end of the stack.
    pub stack_full: bool,
    pub python: Option<PyThread>,
}

/// How much stack to copy at a stop: what the thread used so far, plus room.
const FIRST_STACK_COPY: usize = 32 << 10;
const MAX_STACK_COPY: usize = 1 << 20;

/// CPython's perf trampolines, recognised by their code: they live in
/// anonymous memory, and the perf map or jitdump that names them may not be
/// written (or flushed) yet when a stack runs through them.
pub(super) struct Trampolines<'a> {
    memory: &'a ProcessMemory,
    /// Per candidate start address: does the trampoline's code sit there?
    known: &'a std::cell::RefCell<std::collections::HashMap<(u32, u64), bool>>,
    pid: u32,
}

impl Trampolines<'_> {
    fn is_trampoline_at(&self, start: u64) -> bool {
        *self
            .known
            .borrow_mut()
            .entry((self.pid, start))
            .or_insert_with(|| {
                let mut code = [0u8; CPYTHON_TRAMPOLINE.len()];
                self.memory.read(start, &mut code).is_ok() && code == CPYTHON_TRAMPOLINE
            })
    }

    /// The trampoline start holding lookup address `addr`, if any: a return
    /// address into one looks up at start + 5; a sampled ip sits on one of
    /// its four instructions.
    fn start_of(&self, addr: u64) -> Option<u64> {
        [5u64, 0, 4, 6, 10]
            .into_iter()
            .filter_map(|offset| addr.checked_sub(offset))
            .find(|&start| self.is_trampoline_at(start))
    }

    fn rule(&self, addr: u64) -> Option<StackRule> {
        let start = self.start_of(addr)?;
        cpython_trampoline_rule(&CPYTHON_TRAMPOLINE, addr - start)
    }
}

/// How long a sample waits for its stop before it is written without one.
const PAIRING_WAIT_NS: u64 = 500_000_000;

/// Functions of the eval loop: each native frame of one of these ran Python frames.
fn is_eval_function(name: &str) -> bool {
    name == "_PyEval_EvalFrameDefault" || name.starts_with("_PyEval_EvalFrameDefault.")
}

/// The registers a stop starts from.
#[derive(Debug, Clone, Copy)]
pub struct StopRegs {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The thread's `pthread_self()`, which identifies its Python thread state.
    pub fs_base: u64,
}

impl Recorder {
    /// Whether the stop of a thread of `pid` needs the latest mappings (to
    /// find a Python interpreter that may just have been loaded).
    pub fn needs_fresh_maps(&self, pid: u32) -> bool {
        self.python && !self.pythons.found(pid)
    }

    /// Copies what a stopped thread `tid` of `pid` shows at `time`: its stack
    /// and its Python frames. Unwinding waits until the thread runs again.
    pub fn capture(&mut self, pid: u32, tid: u32, regs: StopRegs, time: u64) {
        let memory = ProcessMemory::new(pid as i32);
        let (stack, stack_full) = if self.native {
            let want = self
                .stack_copy
                .get(&tid)
                .copied()
                .unwrap_or(FIRST_STACK_COPY);
            let mut stack = vec![0u8; want];
            let got = memory.read_partial(regs.sp, &mut stack);
            stack.truncate(got);
            (stack, got == want)
        } else {
            (Vec::new(), false)
        };
        let python = match (self.python, self.processes.process(pid)) {
            (true, Some(process)) => self.pythons.thread(process, tid, regs.fs_base),
            _ => None,
        };
        self.captures.entry(tid).or_default().push_back(Capture {
            time,
            ip: regs.ip,
            sp: regs.sp,
            bp: regs.bp,
            stack,
            stack_full,
            python,
        });
    }

    /// Unwinds a capture's stack copy; grows the thread's next copy when this
    /// one was too short.
    fn unwind_capture(&mut self, pid: u32, tid: u32, capture: &Capture) -> (Vec<u64>, bool) {
        let Some(process) = self.processes.process(pid) else {
            return (vec![capture.ip], false);
        };
        let memory = ProcessMemory::new(pid as i32);
        let in_anonymous_code = |addr: u64| process.mapping_at(addr).is_none_or(|m| !m.is_file());
        let unwinder = self.unwinders.entry(pid).or_default();
        let symbolizer = &mut self.symbolizer;
        unwinder.sync(process, &mut |path| {
            symbolizer.elf(std::path::Path::new(path))
        });
        let trampolines = Trampolines {
            memory: &memory,
            known: &self.trampoline_code,
            pid,
        };
        let mut stack = CopiedStack::new(capture.sp, &capture.stack, capture.stack_full);
        let unwound =
            unwinder.unwind_with(capture.ip, capture.sp, capture.bp, &mut stack, &|addr| {
                if in_anonymous_code(addr) {
                    trampolines.rule(addr)
                } else {
                    None
                }
            });
        if unwound.truncated {
            let next = (capture.stack.len() * 2).clamp(FIRST_STACK_COPY, MAX_STACK_COPY);
            self.stack_copy.insert(tid, next);
            self.counts.truncated += 1;
        }
        (unwound.frames, unwound.truncated)
    }

    /// Writes every pending sample whose stop has been read; with `force` (or
    /// once a sample has waited too long) writes the rest without one.
    pub fn pair_pending(&mut self, now: u64, force: bool) -> Result<(), ProfileError> {
        let mut waiting = VecDeque::new();
        while let Some(sample) = self.pending.pop_front() {
            let captures = self.captures.entry(sample.tid).or_default();
            // Stops before this sample belonged to earlier samples.
            while captures.front().is_some_and(|c| c.time < sample.time) {
                captures.pop_front();
            }
            match captures.front().cloned() {
                Some(capture) => self.write_stopped(&sample, Some(&capture))?,
                None if force || now.saturating_sub(sample.time) > PAIRING_WAIT_NS => {
                    self.counts.unpaired += 1;
                    self.write_stopped(&sample, None)?;
                }
                None => waiting.push_back(sample),
            }
        }
        self.pending = waiting;
        Ok(())
    }

    /// The raw frame of native address `addr`, and whether it is an eval-loop frame.
    fn native_frame(&mut self, pid: u32, addr: u64) -> Result<(RawFrameId, bool), ProfileError> {
        let raw = self.user_frame(pid, addr)?;
        if let Some(&eval) = self.eval_frames.get(&raw) {
            return Ok((raw, eval));
        }
        let eval = self.address_is_eval(pid, addr);
        self.eval_frames.insert(raw, eval);
        Ok((raw, eval))
    }

    fn is_python_trampoline(&self, pid: u32, addr: u64) -> bool {
        let anonymous = self
            .processes
            .process(pid)
            .is_none_or(|p| p.mapping_at(addr).is_none_or(|m| !m.is_file()));
        let memory = ProcessMemory::new(pid as i32);
        anonymous
            && Trampolines {
                memory: &memory,
                known: &self.trampoline_code,
                pid,
            }
            .start_of(addr)
            .is_some()
    }

    fn address_is_eval(&mut self, pid: u32, addr: u64) -> bool {
        let Some(mapping) = self
            .processes
            .process(pid)
            .and_then(|p| p.mapping_at(addr))
            .filter(|m| m.is_file())
            .cloned()
        else {
            return false;
        };
        let Some(elf) = self.symbolizer.elf(std::path::Path::new(&*mapping.path)) else {
            return false;
        };
        let Some(svma) = elf.file_offset_to_svma(mapping.file_offset(addr)) else {
            return false;
        };
        elf.lookup_symbol(svma)
            .is_some_and(|s| is_eval_function(s.name))
    }

    /// Writes one sample with the stacks its stop read.
    fn write_stopped(
        &mut self,
        sample: &OwnedSample,
        capture: Option<&Capture>,
    ) -> Result<(), ProfileError> {
        let thread = self.thread_index(sample.pid, sample.tid)?;
        let mut leaf_first: Vec<RawFrameId> = Vec::new();
        if !sample.kernel_chain.is_empty() {
            let kernel = self.module_id(KERNEL_MODULE, None)?;
            for address in adjust_return_addresses(&sample.kernel_chain) {
                leaf_first.push(self.address_frame(kernel, address)?);
            }
        }
        match capture {
            Some(capture) => {
                let python = capture.python.as_ref();
                let (addresses, truncated) = if self.native {
                    self.unwind_capture(sample.pid, sample.tid, capture)
                } else {
                    (Vec::new(), false)
                };
                let mut native = Vec::with_capacity(addresses.len());
                for &addr in addresses.iter().rev() {
                    let (raw, eval) = self.native_frame(sample.pid, addr)?;
                    // A perf trampoline names the Python function it runs; the
                    // interpreter's own frames (with lines) take its place.
                    if python.is_some() && self.is_python_trampoline(sample.pid, addr) {
                        continue;
                    }
                    native.push((raw, eval));
                }
                let python_frames = python.map_or(&[][..], |t| &t.frames[..]);
                let merged = merge(
                    &native,
                    python_frames,
                    python.is_some_and(|t| t.leaf_eval_without_frames),
                );
                let mut root_first = Vec::with_capacity(merged.frames.len());
                for frame in &merged.frames {
                    root_first.push(match frame {
                        Merged::Native(raw) => *raw,
                        Merged::Python(py) => self.symbolic_frame(py.to_frame())?,
                    });
                }
                leaf_first.extend(root_first.into_iter().rev());
                if truncated {
                    leaf_first.push(self.symbolic_frame(Frame::marker("[truncated]"))?);
                }
                if !python_frames.is_empty() {
                    self.counts.merged += 1;
                    let same_instant = sample
                        .user_regs
                        .is_none_or(|r| r.ip == capture.ip && r.sp == capture.sp);
                    if !(same_instant && merged.consistent) {
                        self.counts.inconsistent += 1;
                    }
                }
            }
            None if self.native => {
                if let Some(regs) = sample.user_regs {
                    leaf_first.push(self.user_frame(sample.pid, regs.ip)?);
                }
            }
            None => {}
        }
        if leaf_first.is_empty() {
            // Python-only stacks: time outside Python shows as one marker.
            let frame = if self.native {
                super::recorder::unknown_frame(None)
            } else {
                Frame::marker("[native code]")
            };
            leaf_first.push(self.symbolic_frame(frame)?);
        }
        self.write_sample(sample, thread, leaf_first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_loop_functions_include_their_cold_parts() {
        assert!(is_eval_function("_PyEval_EvalFrameDefault"));
        assert!(is_eval_function("_PyEval_EvalFrameDefault.cold"));
        assert!(!is_eval_function("_PyEval_EvalFrame"));
        assert!(!is_eval_function("PyEval_EvalCode"));
    }
}
