//! Walking interpreters and their thread states.

use std::collections::HashSet;

use super::error::PyError;
use super::frames::{self, PyFrame};
use super::layouts::{GilLocation, Layout};
use super::memory::{read_bytes, read_u64, Fields, PageCache, RemoteMemory};
use super::process::PythonProcess;

/// Most thread states read per call, over all interpreters.
pub const MAX_THREADS: usize = 4096;
/// Most interpreters (main + subinterpreters) read.
pub const MAX_INTERPRETERS: usize = 256;
/// Most frames read by one `read_threads` call, over all threads; threads
/// past the budget are returned without frames (and counted as cut).
pub const MAX_FRAMES_PER_READ: u64 = 1 << 18;

/// Counters of what reads skipped or cut short. Garbage in the target
/// (torn reads of a running process, freed memory) shows up here rather
/// than as errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Thread states read.
    pub threads: u64,
    /// Thread states that could not be read (the thread list was cut there).
    pub threads_skipped: u64,
    /// Thread or interpreter lists cut by a cycle or by the size caps.
    pub lists_truncated: u64,
    /// Frames returned.
    pub frames: u64,
    /// Frames left out because their code object was unreadable or invalid.
    pub frames_skipped: u64,
    /// Frame chains cut short: unreadable or invalid frame, cycle, too deep.
    pub stacks_truncated: u64,
    /// Names or filenames cut at the string cap.
    pub strings_truncated: u64,
    pub code_cache_hits: u64,
    pub code_cache_misses: u64,
}

/// A thread state, without its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadState {
    /// Address of the `PyThreadState`.
    pub addr: u64,
    /// Address of its `PyInterpreterState`.
    pub interp: u64,
    /// `thread_id`: the thread's `pthread_t` (`pthread_self()`), which on
    /// x86-64 glibc is also the thread's `fs_base`.
    pub thread_id: u64,
    /// `native_thread_id`: the kernel TID (3.11+; `None` before, or while
    /// the thread state is not bound to a thread).
    pub native_thread_id: Option<u32>,
    /// Whether this thread holds its interpreter's GIL (`None` if the GIL
    /// state was unreadable).
    pub holds_gil: Option<bool>,
    /// The innermost frame (`PyFrameObject*` or `_PyInterpreterFrame*`).
    pub frame: u64,
}

/// A Python thread and its stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyThread {
    pub tstate_addr: u64,
    pub interp_addr: u64,
    /// See [`ThreadState::thread_id`].
    pub thread_id: u64,
    /// See [`ThreadState::native_thread_id`].
    pub native_thread_id: Option<u32>,
    pub holds_gil: Option<bool>,
    /// Innermost (running) frame first, outermost (`<module>`) last.
    pub frames: Vec<PyFrame>,
    /// Every frame was read: none skipped, nothing cut.
    pub complete: bool,
    /// See [`frames::FrameChain::leaf_eval_without_frames`].
    pub leaf_eval_without_frames: bool,
}

/// The GIL's state: is it held, and by which thread state.
#[derive(Debug, Clone, Copy)]
struct GilState {
    locked: bool,
    holder: u64,
}

impl GilState {
    fn held_by(gil: Option<GilState>, tstate: u64) -> Option<bool> {
        gil.map(|g| g.locked && g.holder == tstate)
    }
}

fn read_gil<M: RemoteMemory + ?Sized>(
    mem: &M,
    layout: &Layout,
    runtime_addr: u64,
    interp: u64,
) -> Option<GilState> {
    let g = &layout.gil;
    let base = match g.location {
        GilLocation::Runtime(off) => runtime_addr.checked_add(off)?,
        GilLocation::InterpPointer(off) => read_u64(mem, interp.checked_add(off)?).ok()?,
    };
    if base == 0 {
        return None;
    }
    let len = g.locked.max(g.last_holder) + 8;
    let buf = read_bytes(mem, base, usize::try_from(len).ok()?).ok()?;
    let f = Fields(&buf);
    Some(GilState {
        locked: f.uint(g.locked, g.locked_size)? != 0,
        holder: f.u64(g.last_holder)?,
    })
}

impl PythonProcess {
    /// The first interpreter, or `None` before initialization / after
    /// finalization.
    fn interpreters_head<M: RemoteMemory + ?Sized>(&self, mem: &M) -> Result<u64, PyError> {
        let at = self.runtime_address() + self.layout().runtime.interpreters_head;
        Ok(read_u64(mem, at)?)
    }

    /// Decode the thread state at `addr`.
    fn thread_state<M: RemoteMemory + ?Sized>(
        &self,
        mem: &M,
        addr: u64,
        gil: Option<GilState>,
    ) -> Result<(ThreadState, u64), PyError> {
        let t = &self.layout().tstate;
        let len = usize::try_from(self.layout().tstate_read_size()).unwrap_or(0);
        let buf = read_bytes(mem, addr, len)?;
        let f = Fields(&buf);
        let field = |off: u64| f.u64(off).unwrap_or(0);
        let mut frame = field(t.frame);
        if let Some(current) = t.cframe_current_frame {
            frame = if frame == 0 {
                0
            } else {
                read_u64(mem, frame.wrapping_add(current)).unwrap_or(0)
            };
        }
        let state = ThreadState {
            addr,
            interp: field(t.interp),
            thread_id: field(t.thread_id),
            native_thread_id: t
                .native_thread_id
                .and_then(|o| f.u64(o))
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v != 0),
            holds_gil: GilState::held_by(gil, addr),
            frame,
        };
        Ok((state, field(t.next)))
    }

    /// All thread states of all interpreters, without their frames (cheap:
    /// one read per thread). Unreadable parts are skipped and counted.
    pub fn thread_states<M: RemoteMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Result<Vec<ThreadState>, PyError> {
        let mut out = Vec::new();
        let mut interp = self.interpreters_head(mem)?;
        let mut seen_interps = HashSet::new();
        let mut seen = HashSet::new();
        while interp != 0 {
            if seen_interps.len() >= MAX_INTERPRETERS || !seen_interps.insert(interp) {
                self.stats.lists_truncated += 1;
                break;
            }
            let layout = *self.layout();
            let gil = read_gil(mem, &layout, self.runtime_address(), interp);
            let head = read_u64(mem, interp.wrapping_add(layout.interp.threads_head));
            let mut tstate = match head {
                Ok(t) => t,
                Err(_) => {
                    self.stats.threads_skipped += 1;
                    0
                }
            };
            while tstate != 0 {
                if seen.len() >= MAX_THREADS || !seen.insert(tstate) {
                    self.stats.lists_truncated += 1;
                    break;
                }
                match self.thread_state(mem, tstate, gil) {
                    // A thread state points back at its interpreter; one
                    // that does not is garbage (a torn read, freed memory).
                    Ok((state, _)) if state.interp != interp => {
                        self.stats.threads_skipped += 1;
                        break;
                    }
                    Ok((state, next)) => {
                        self.stats.threads += 1;
                        out.push(state);
                        tstate = next;
                    }
                    Err(_) => {
                        self.stats.threads_skipped += 1;
                        break;
                    }
                }
            }
            if seen.len() >= MAX_THREADS {
                break;
            }
            interp = match read_u64(mem, interp.wrapping_add(layout.interp.next)) {
                Ok(next) => next,
                Err(_) => {
                    self.stats.lists_truncated += 1;
                    0
                }
            };
        }
        Ok(out)
    }

    /// The frames of the thread described by `state`.
    pub fn read_frames<M: RemoteMemory + ?Sized>(
        &mut self,
        mem: &M,
        state: &ThreadState,
    ) -> PyThread {
        let layout = *self.layout();
        let types = self.types;
        let chain = frames::walk(
            mem,
            &layout,
            &types,
            &mut self.codes,
            &mut self.stats,
            state.frame,
        );
        PyThread {
            tstate_addr: state.addr,
            interp_addr: state.interp,
            thread_id: state.thread_id,
            native_thread_id: state.native_thread_id,
            holds_gil: state.holds_gil,
            frames: chain.frames,
            complete: chain.complete,
            leaf_eval_without_frames: chain.leaf_eval_without_frames,
        }
    }

    /// Every thread of every interpreter with its stack. Fails only if
    /// `_PyRuntime` itself is unreadable (the process is gone); an empty
    /// list means the interpreter is not initialized (or is finalized).
    pub fn read_threads<M: RemoteMemory + ?Sized>(
        &mut self,
        mem: &M,
    ) -> Result<Vec<PyThread>, PyError> {
        // One snapshot: each page of the target is read at most once.
        let mem = &PageCache::new(mem);
        let states = self.thread_states(mem)?;
        let budget_end = self.stats.frames + self.stats.frames_skipped + MAX_FRAMES_PER_READ;
        let mut out = Vec::with_capacity(states.len());
        for s in &states {
            if self.stats.frames + self.stats.frames_skipped >= budget_end {
                self.stats.stacks_truncated += 1;
                out.push(PyThread {
                    tstate_addr: s.addr,
                    interp_addr: s.interp,
                    thread_id: s.thread_id,
                    native_thread_id: s.native_thread_id,
                    holds_gil: s.holds_gil,
                    frames: Vec::new(),
                    complete: false,
                    leaf_eval_without_frames: false,
                });
                continue;
            }
            out.push(self.read_frames(mem, s));
        }
        Ok(out)
    }

    /// One thread, given the address of its `PyThreadState` (e.g. found by
    /// [`thread_states`](Self::thread_states) for a sampled TID).
    pub fn read_thread<M: RemoteMemory + ?Sized>(
        &mut self,
        mem: &M,
        tstate_addr: u64,
    ) -> Result<PyThread, PyError> {
        let mem = &PageCache::new(mem);
        let layout = *self.layout();
        let interp = read_u64(mem, tstate_addr.wrapping_add(layout.tstate.interp))?;
        let gil = read_gil(mem, &layout, self.runtime_address(), interp);
        let (state, _) = self.thread_state(mem, tstate_addr, gil)?;
        self.stats.threads += 1;
        Ok(self.read_frames(mem, &state))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::python::layouts::FrameModel;
    use crate::python::testimage::{
        test_layouts, Corrupted, GarbageMemory, Image, Spec, FIRST_LINE,
    };

    /// A stack shaped for the layout's notion of entry frames, and the
    /// entry flags the reader must report for it (innermost first).
    fn shaped_stack(img: &mut Image) -> (Vec<Spec>, Vec<bool>, Vec<usize>) {
        let f: Vec<usize> = (0..4)
            .map(|i| img.function(&format!("f{i}"), "/app/mod.py"))
            .collect();
        let l = img.layout;
        let py = |code, is_entry| Spec::Py { code, is_entry };
        if l.frame.model == FrameModel::FrameObject {
            let specs = vec![py(f[0], false), py(f[1], false), py(f[2], false)];
            return (specs, vec![true, true, true], vec![f[0], f[1], f[2]]);
        }
        match l.frame.owner_cstack {
            // 3.11: the is_entry field says it.
            None => {
                let specs = vec![
                    py(f[0], false),
                    py(f[1], true),
                    py(f[2], false),
                    py(f[3], true),
                ];
                (specs, vec![false, true, false, true], f.clone())
            }
            // 3.12+: the frame before each C-stack shim is an entry frame.
            Some(cstack) => {
                let mut specs = vec![
                    py(f[0], false),
                    py(f[1], false),
                    Spec::Shim(cstack),
                    py(f[2], false),
                    Spec::Shim(cstack),
                ];
                if let Some(base) = l.frame.owner_interpreter {
                    specs.push(Spec::Shim(base));
                }
                (specs, vec![false, true, true], vec![f[0], f[1], f[2]])
            }
        }
    }

    #[test]
    fn reads_synthetic_threads_in_every_layout() {
        for layout in test_layouts() {
            let mut img = Image::new(layout);
            let (specs, entries, codes) = shaped_stack(&mut img);
            img.thread(&specs);
            img.thread(&specs[1..]);
            let mut py = img.process();
            let threads = py.read_threads(&img.mem).expect("readable");
            assert_eq!(threads.len(), 2, "{}", layout.version);
            // The newest thread state is the list head.
            let (second, first) = (&threads[0], &threads[1]);
            assert_eq!(first.thread_id, 0x7f00_0000_0000);
            assert_eq!(second.thread_id, 0x7f00_0000_0001);
            assert_eq!(first.holds_gil, Some(true), "{}", layout.version);
            assert_eq!(second.holds_gil, Some(false));
            assert_eq!(
                first.native_thread_id,
                layout.tstate.native_thread_id.map(|_| 1000)
            );
            assert!(first.complete, "{}", layout.version);
            let got: Vec<(String, Option<u32>, bool)> = first
                .frames
                .iter()
                .map(|f| (f.function.clone(), f.line, f.entry))
                .collect();
            let want: Vec<(String, Option<u32>, bool)> = codes
                .iter()
                .zip(&entries)
                .map(|(c, e)| {
                    (
                        img.reported_name(&format!("f{c}")),
                        Some(FIRST_LINE + 2),
                        *e,
                    )
                })
                .collect();
            assert_eq!(got, want, "{}", layout.version);
            assert!(first.frames.iter().all(|f| f.filename == "/app/mod.py"));
            assert!(!first.leaf_eval_without_frames);
            assert_eq!(py.stats().frames_skipped, 0);
        }
    }

    #[test]
    fn shim_on_top_means_an_eval_call_without_frames() {
        for layout in test_layouts() {
            let Some(cstack) = layout.frame.owner_cstack else {
                continue;
            };
            let mut img = Image::new(layout);
            let f = img.function("f", "/a.py");
            img.thread(&[
                Spec::Shim(cstack),
                Spec::Py {
                    code: f,
                    is_entry: false,
                },
                Spec::Shim(cstack),
            ]);
            let threads = img.process().read_threads(&img.mem).expect("readable");
            assert!(threads[0].leaf_eval_without_frames);
            assert_eq!(threads[0].frames.len(), 1);
            assert!(threads[0].frames[0].entry);
        }
    }

    #[test]
    fn code_cache_hits_on_repeat_and_notices_reuse() {
        let layout = test_layouts()[0];
        let mut img = Image::new(layout);
        let (specs, _, _) = shaped_stack(&mut img);
        img.thread(&specs);
        let mut py = img.process();
        let first = py.read_threads(&img.mem).expect("readable");
        let misses = py.stats().code_cache_misses;
        let again = py.read_threads(&img.mem).expect("readable");
        assert_eq!(first, again);
        assert_eq!(
            py.stats().code_cache_misses,
            misses,
            "second read is all hits"
        );
        assert!(py.stats().code_cache_hits >= misses);
        // Reuse the first code object's address for another function: the
        // name pointer changes, so the cache must not answer.
        let other = img.function("other", "/b.py");
        let name_offset = layout.code.qualname.unwrap_or(layout.code.name);
        let other_name =
            crate::python::memory::read_u64(&img.mem, img.code_address(other) + name_offset)
                .expect("mapped");
        let reused = first[0].frames[0].code_address;
        img.mem.put_u64(reused + name_offset, other_name);
        let after = py.read_threads(&img.mem).expect("readable");
        assert_eq!(after[0].frames[0].function, img.reported_name("other"));
    }

    #[test]
    fn cycles_and_depth_are_bounded() {
        for layout in test_layouts() {
            let mut img = Image::new(layout);
            let f = img.function("f", "/a.py");
            img.thread(
                &[Spec::Py {
                    code: f,
                    is_entry: true,
                }; 3],
            );
            // Point the outermost frame back at the innermost one.
            let frames = 0x40_0000u64;
            img.mem.put_u64(frames + 0x400 + layout.frame.back, frames);
            let mut py = img.process();
            let threads = py.read_threads(&img.mem).expect("readable");
            assert_eq!(threads[0].frames.len(), 3);
            assert!(!threads[0].complete);
            assert_eq!(py.stats().stacks_truncated, 1);
        }
    }

    #[test]
    fn garbage_memory_terminates_without_panic() {
        for layout in test_layouts() {
            for seed in 0..8u64 {
                let mem = GarbageMemory { seed };
                // Without type addresses nothing can be checked by type;
                // reads must still be bounded.
                let types = if seed < 6 {
                    crate::python::testimage::TYPES
                } else {
                    Default::default()
                };
                let mut py =
                    crate::python::PythonProcess::with_layout(0, layout, 0x1000 * seed, types);
                let start = Instant::now();
                let result = py.read_threads(&mem);
                let took = start.elapsed();
                assert!(
                    took < Duration::from_secs(10),
                    "{} seed {seed}: {took:?}",
                    layout.version
                );
                if let Ok(threads) = result {
                    assert!(threads.len() <= MAX_THREADS);
                    let frames: usize = threads.iter().map(|t| t.frames.len()).sum();
                    assert!(frames as u64 <= MAX_FRAMES_PER_READ);
                }
            }
        }
    }

    #[test]
    fn garbage_frame_chains_are_bounded() {
        use crate::python::testimage::OverGarbage;
        for layout in test_layouts() {
            for seed in 0..4u64 {
                let mut img = Image::new(layout);
                let t = img.thread(&[]);
                // The thread's frame pointer leads into noise (or, with a
                // _PyCFrame, the cframe's current_frame does).
                let field = match layout.tstate.cframe_current_frame {
                    Some(off) => {
                        crate::python::memory::read_u64(&img.mem, img.frame_field(t))
                            .expect("cframe")
                            + off
                    }
                    None => img.frame_field(t),
                };
                img.mem.put_u64(field, 0xdead_0000_0000 + seed * 0x1000);
                let mem = OverGarbage {
                    image: &img.mem,
                    garbage: GarbageMemory { seed },
                };
                for types in [crate::python::testimage::TYPES, Default::default()] {
                    let mut py = crate::python::PythonProcess::with_layout(
                        0,
                        layout,
                        crate::python::testimage::RUNTIME,
                        types,
                    );
                    let start = Instant::now();
                    let threads = py.read_threads(&mem).expect("the runtime is intact");
                    assert!(start.elapsed() < Duration::from_secs(10));
                    assert_eq!(threads.len(), 1);
                    assert!(!threads[0].complete || threads[0].frames.is_empty());
                    assert!(threads[0].frames.len() <= crate::python::frames::MAX_FRAMES);
                }
            }
        }
    }

    #[test]
    fn corrupted_images_degrade_to_counted_skips() {
        for layout in test_layouts() {
            let mut img = Image::new(layout);
            let (specs, _, _) = shaped_stack(&mut img);
            for _ in 0..3 {
                img.thread(&specs);
            }
            let clean = img.process().read_threads(&img.mem).expect("readable");
            for seed in 0..200u64 {
                let mem = Corrupted {
                    inner: &img.mem,
                    seed,
                    rate: 24,
                };
                let mut py = img.process();
                let Ok(threads) = py.read_threads(&mem) else {
                    continue;
                };
                for t in &threads {
                    // A complete thread read from partly corrupted memory
                    // must equal the clean read of that thread.
                    if t.complete {
                        if let Some(c) = clean.iter().find(|c| c.tstate_addr == t.tstate_addr) {
                            if t.frames.len() == c.frames.len() {
                                assert!(t
                                    .frames
                                    .iter()
                                    .zip(&c.frames)
                                    .all(|(a, b)| a.code_address == b.code_address));
                            }
                        }
                    }
                }
            }
        }
    }
}
