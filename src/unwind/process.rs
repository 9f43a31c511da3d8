//! Unwinding the user stacks of one process with framehop.
//!
//! Each executable file mapping becomes a framehop module carrying the file's
//! `.eh_frame`/`.eh_frame_hdr`/`.debug_frame`; addresses outside any module
//! are unwound with frame pointers (framehop's fallback rule).

use std::sync::Arc;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};

use super::sections::SectionData;
use super::stack::StackMemory;
use crate::record::processes::Process;
use crate::symbols::elf::ElfFile;

/// Deepest stack pyperf follows; deeper stacks are marked truncated.
pub const MAX_FRAMES: usize = 1024;

/// The result of unwinding one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwound {
    /// Lookup addresses, leaf first: the sampled ip, then each return address minus one.
    pub frames: Vec<u64>,
    /// The stack copy ended before the unwinder reached the root.
    pub truncated: bool,
}

/// framehop state for one process.
pub struct ProcessUnwinder {
    unwinder: UnwinderX86_64<SectionData>,
    cache: CacheX86_64,
    maps_generation: Option<u64>,
}

impl Default for ProcessUnwinder {
    fn default() -> Self {
        ProcessUnwinder {
            unwinder: UnwinderX86_64::new(),
            cache: CacheX86_64::new(),
            maps_generation: None,
        }
    }
}

fn module_for(
    elf: &Arc<ElfFile>,
    name: &str,
    start: u64,
    end: u64,
    pgoff: u64,
) -> Option<Module<SectionData>> {
    let base_avma = start.checked_sub(elf.file_offset_to_svma(pgoff)?)?;
    let sections = elf.unwind_sections();
    let wrap = |s: &Option<crate::symbols::elf::SectionRef<'_>>| {
        s.as_ref().map(|s| SectionData::of(elf, s))
    };
    let range =
        |s: &Option<crate::symbols::elf::SectionRef<'_>>| s.as_ref().map(|s| s.svma.clone());
    let info = ExplicitModuleSectionInfo {
        base_svma: elf.base_svma(),
        text_svma: range(&sections.text),
        text: wrap(&sections.text),
        got_svma: range(&sections.got),
        eh_frame_svma: range(&sections.eh_frame),
        eh_frame: wrap(&sections.eh_frame),
        eh_frame_hdr_svma: range(&sections.eh_frame_hdr),
        eh_frame_hdr: wrap(&sections.eh_frame_hdr),
        debug_frame: wrap(&sections.debug_frame),
        stubs_svma: None,
        stub_helper_svma: None,
        unwind_info: None,
        text_segment_svma: None,
        text_segment: None,
    };
    Some(Module::new(name.to_string(), start..end, base_avma, info))
}

impl ProcessUnwinder {
    /// Brings the module list in line with the process's current mappings.
    /// `elf_of` opens (or returns the cached) ELF file of a path.
    pub fn sync(
        &mut self,
        process: &Process,
        elf_of: &mut dyn FnMut(&str) -> Option<Arc<ElfFile>>,
    ) {
        if self.maps_generation == Some(process.maps_generation) {
            return;
        }
        self.unwinder = UnwinderX86_64::new();
        for mapping in process.maps.values().filter(|m| m.is_file()) {
            if let Some(elf) = elf_of(&mapping.path) {
                if let Some(module) = module_for(
                    &elf,
                    &mapping.path,
                    mapping.start,
                    mapping.end,
                    mapping.pgoff,
                ) {
                    self.unwinder.add_module(module);
                }
            }
        }
        self.maps_generation = Some(process.maps_generation);
    }

    /// Walks the stack from `ip`/`sp`/`bp`, reading stack words from `stack`.
    pub fn unwind(&mut self, ip: u64, sp: u64, bp: u64, stack: &mut dyn StackMemory) -> Unwound {
        self.unwind_with(ip, sp, bp, stack, &|_| None)
    }

    /// Like [`ProcessUnwinder::unwind`], with a rule for code that has no
    /// unwind information of its own: `special(lookup_address)` gives the
    /// [`StackRule`] of such a frame (e.g. a CPython perf trampoline).
    pub fn unwind_with(
        &mut self,
        ip: u64,
        sp: u64,
        bp: u64,
        stack: &mut dyn StackMemory,
        special: &dyn Fn(u64) -> Option<StackRule>,
    ) -> Unwound {
        let mut read = |addr: u64| stack.read_u64(addr).ok_or(());
        let mut regs = UnwindRegsX86_64::new(ip, sp, bp);
        let mut address = FrameAddress::InstructionPointer(ip);
        let mut frames = vec![ip];
        let mut too_deep = false;
        loop {
            let lookup = lookup_address(address);
            let next = match special(lookup) {
                Some(rule) => rule.apply(&mut regs, &mut read),
                None => self
                    .unwinder
                    .unwind_frame(address, &mut regs, &mut self.cache, &mut read)
                    .ok()
                    .flatten(),
            };
            let Some(return_address) = next.and_then(FrameAddress::from_return_address) else {
                break;
            };
            if frames.len() == MAX_FRAMES {
                too_deep = true;
                break;
            }
            address = return_address;
            frames.push(lookup_address(address));
        }
        Unwound {
            frames,
            truncated: too_deep || stack.truncated(),
        }
    }
}

/// How to step out of a frame that has no unwind information: the return
/// address is at `sp + return_address_at`, and the caller's `sp` is
/// `sp + caller_sp`; `bp` is untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackRule {
    pub return_address_at: u64,
    pub caller_sp: u64,
}

impl StackRule {
    fn apply(
        self,
        regs: &mut UnwindRegsX86_64,
        read: &mut dyn FnMut(u64) -> Result<u64, ()>,
    ) -> Option<u64> {
        let sp = regs.sp();
        let return_address = read(sp.checked_add(self.return_address_at)?).ok()?;
        regs.set_sp(sp.checked_add(self.caller_sp)?);
        Some(return_address)
    }
}

/// CPython's x86-64 perf trampoline (3.12, 3.13 `-X perf`), which carries no
/// unwind information and keeps no frame pointer:
/// `sub $8,%rsp; call *%rcx; add $8,%rsp; ret`.
pub const CPYTHON_TRAMPOLINE: [u8; 11] = [
    0x48, 0x83, 0xec, 0x08, 0xff, 0xd1, 0x48, 0x83, 0xc4, 0x08, 0xc3,
];

/// The rule for a lookup address `offset` bytes into a CPython trampoline
/// whose code is `code`; `None` when the code is not that trampoline.
pub fn cpython_trampoline_rule(code: &[u8], offset: u64) -> Option<StackRule> {
    if code != CPYTHON_TRAMPOLINE {
        return None;
    }
    match offset {
        // Between `sub` and `add` (the call's return address looks up at 5):
        // the return address sits above the 8 bytes the trampoline reserved.
        4..=6 => Some(StackRule {
            return_address_at: 8,
            caller_sp: 16,
        }),
        // At entry, or at the final `ret`: the return address is on top.
        0 | 10 => Some(StackRule {
            return_address_at: 0,
            caller_sp: 8,
        }),
        _ => None,
    }
}

/// The address to symbolize: return addresses point after the call, so look
/// up the byte before them to land inside the calling instruction's line.
fn lookup_address(address: FrameAddress) -> u64 {
    address.address_for_lookup()
}
