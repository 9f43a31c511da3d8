//! Walking one thread's chain of Python frames.

use std::collections::HashSet;

use super::code::CodeCache;
use super::layouts::{FrameModel, Layout};
use super::memory::{read_bytes, Fields, RemoteMemory};
use super::process::TypeAddresses;
use super::threads::ReadStats;

/// Most frames read for one thread; deeper stacks are cut (and counted).
pub const MAX_FRAMES: usize = 4096;

/// Frames skipped in a row (unreadable code objects) after which the rest
/// of the chain is taken for garbage and cut.
pub const MAX_CONSECUTIVE_SKIPS: usize = 4;

/// One Python frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFrame {
    /// `co_qualname` where the version has it (3.11+, e.g. "Worker.run"),
    /// else `co_name`.
    pub function: String,
    /// `co_filename`.
    pub filename: String,
    /// Line being executed; `None` for instructions without a line.
    pub line: Option<u32>,
    /// `co_firstlineno`.
    pub first_line: u32,
    /// Address of the code object in the target.
    pub code_address: u64,
    /// This frame was the first one run by its `_PyEval_EvalFrameDefault`
    /// call: walking from the innermost frame outwards, one native eval-loop
    /// frame corresponds to the Python frames up to and including the next
    /// entry frame. 3.8-3.10: every frame; 3.11: `is_entry`; 3.12+: the
    /// frame whose `previous` is the eval call's C-stack shim frame.
    pub entry: bool,
}

impl PyFrame {
    /// The profile frame for this Python frame.
    pub fn to_frame(&self) -> crate::profile::Frame {
        crate::profile::Frame {
            kind: crate::profile::FrameKind::Python,
            function: self.function.clone(),
            file: Some(self.filename.clone()),
            line: self.line,
            module: None,
            inlined: false,
        }
    }
}

/// A thread's frames as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameChain {
    /// Innermost (running) frame first, outermost (`<module>`) last.
    pub frames: Vec<PyFrame>,
    /// Every frame in the chain was read: none skipped, nothing cut.
    pub complete: bool,
    /// 3.12+: the innermost eval-loop call has pushed its shim frame but no
    /// Python frame yet (or has just popped it): that native eval frame has
    /// no Python frames.
    pub leaf_eval_without_frames: bool,
}

/// Read the chain of frames starting at `first` (a `PyFrameObject*` or
/// `_PyInterpreterFrame*`, innermost). Garbage is skipped or cuts the chain
/// and is counted in `stats`; this never fails.
pub(crate) fn walk<M: RemoteMemory + ?Sized>(
    mem: &M,
    layout: &Layout,
    types: &TypeAddresses,
    codes: &mut CodeCache,
    stats: &mut ReadStats,
    first: u64,
) -> FrameChain {
    let f = &layout.frame;
    let mut chain = FrameChain {
        complete: true,
        ..FrameChain::default()
    };
    let Ok(read_len) = usize::try_from(layout.frame_read_size()) else {
        chain.complete = false;
        return chain;
    };
    let mut visited = HashSet::new();
    // Index in `chain.frames` of the frame read in the previous step (None
    // if that step was a skipped frame or a shim).
    let mut previous_step: Option<usize> = None;
    let mut addr = first;
    let mut steps = 0usize;
    let mut skips_in_a_row = 0usize;
    while addr != 0 {
        steps += 1;
        if steps > MAX_FRAMES || !visited.insert(addr) {
            // Too deep, or a cycle: the chain is not trustworthy past here.
            stats.stacks_truncated += 1;
            chain.complete = false;
            break;
        }
        let Ok(buf) = read_bytes(mem, addr, read_len) else {
            stats.stacks_truncated += 1;
            chain.complete = false;
            break;
        };
        let b = Fields(&buf);
        let Some(back) = b.u64(f.back) else {
            stats.stacks_truncated += 1;
            chain.complete = false;
            break;
        };
        let (code_addr, offset, entry) = match f.model {
            FrameModel::FrameObject => {
                if let Some(frame_type) = types.frame {
                    if b.u64(layout.ob_type) != Some(frame_type) {
                        // Not a frame object: whatever `back` says is garbage.
                        stats.stacks_truncated += 1;
                        chain.complete = false;
                        break;
                    }
                }
                let code_addr = b.u64(f.code).unwrap_or(0);
                let lasti = f.lasti.and_then(|o| b.i32(o)).unwrap_or(-1);
                (code_addr, i64::from(lasti) * f.lasti_unit as i64, true)
            }
            FrameModel::Interpreter => {
                let owner = f.owner.and_then(|o| b.u8(o));
                let cstack = owner.is_some() && owner == f.owner_cstack;
                let base = owner.is_some() && owner == f.owner_interpreter;
                if cstack || base {
                    // A shim frame: not Python code. A C-stack shim marks the
                    // frame run just before it (further in) as an entry frame.
                    if cstack {
                        match previous_step {
                            Some(i) => chain.frames[i].entry = true,
                            None if chain.frames.is_empty() && steps == 1 => {
                                chain.leaf_eval_without_frames = true
                            }
                            None => {}
                        }
                    }
                    previous_step = None;
                    addr = back;
                    continue;
                }
                let code_addr = b.u64(f.code).unwrap_or(0) & !f.code_tag_mask;
                let entry = f.is_entry.and_then(|o| b.u8(o)).is_some_and(|v| v != 0);
                let instr = f.instr_ptr.and_then(|o| b.u64(o)).unwrap_or(0);
                let start = code_addr.wrapping_add(layout.code.code_adaptive.unwrap_or(0));
                // Both prev_instr (3.11-3.12) and instr_ptr (3.13+) point at
                // the instruction the frame is executing; CPython maps it to
                // a line exactly this way (`_PyInterpreterFrame_LASTI`).
                let offset = instr.wrapping_sub(start) as i64;
                (code_addr, offset, entry)
            }
        };
        match codes.lookup(mem, layout, types, code_addr) {
            Ok(found) => {
                if found.hit {
                    stats.code_cache_hits += 1;
                } else {
                    stats.code_cache_misses += 1;
                }
                if found.info.truncated {
                    stats.strings_truncated += 1;
                }
                let info = found.info;
                skips_in_a_row = 0;
                previous_step = Some(chain.frames.len());
                chain.frames.push(PyFrame {
                    function: info.function.clone(),
                    filename: info.filename.clone(),
                    line: info.lines.line_at(offset),
                    first_line: info.first_line,
                    code_address: code_addr,
                    entry,
                });
                stats.frames += 1;
            }
            Err(_) => {
                stats.frames_skipped += 1;
                chain.complete = false;
                previous_step = None;
                skips_in_a_row += 1;
                if skips_in_a_row >= MAX_CONSECUTIVE_SKIPS {
                    stats.stacks_truncated += 1;
                    break;
                }
            }
        }
        addr = back;
    }
    chain
}
