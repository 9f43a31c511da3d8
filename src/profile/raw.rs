//! File-level frame vocabulary: what the recorder knows while it records.
//!
//! During a recording native code is known only by address (symbolizing every
//! sample on the fly would cost too much), so the file stores *address frames*
//! next to symbolic ones and a `symbols` section written at the end maps each
//! address frame to the symbolic frames it stands for. The reader turns every
//! raw frame into symbolic [`Frame`]s before it builds a [`Profile`](super::Profile).

use std::path::Path;

use super::model::{Frame, FrameKind};

/// Index into the file's module table (order of [`ProfileWriter::add_module`](super::ProfileWriter::add_module)).
pub type ModuleId = u32;
/// Index into the file's raw frame table (order of first interning).
pub type RawFrameId = u32;
/// A node of the file's stack prefix tree; `0` is the empty stack.
pub type StackNodeId = u32;

/// The module name kernel addresses are filed under (as in perf).
pub const KERNEL_MODULE: &str = "[kernel.kallsyms]";

/// A binary or shared library that address frames point into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModuleInfo {
    /// Path of the ELF file as mapped in the target.
    pub path: String,
    /// GNU build id, when the ELF has one (lets a later symbolizer find the same file).
    pub build_id: Option<Vec<u8>>,
}

/// A frame as the recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawFrame {
    /// Already symbolic (Python frames, kernel symbols, markers, ...).
    Symbolic(Frame),
    /// Native code not yet symbolized.
    Address {
        module: ModuleId,
        /// Lookup address in the ELF's own virtual address space, already
        /// adjusted by the recorder (return addresses minus one).
        address: u64,
    },
}

/// Turns an address frame into symbolic frames when the file itself has no
/// symbols for it (a killed recording never wrote its `symbols` section).
pub trait AddressResolver {
    /// The frames at `address` in `module`, caller first (an inline chain ends
    /// with the innermost inlined function). An empty list means "unknown";
    /// the reader then falls back to [`unresolved_frame`].
    fn resolve(&mut self, module: &ModuleInfo, address: u64) -> Vec<Frame>;
}

/// The frame shown for an address nobody could symbolize: a native frame named
/// `libfoo.so+0x1234` (file name of the module plus the address), keeping the
/// module path in `module`.
pub fn unresolved_frame(module: &ModuleInfo, address: u64) -> Frame {
    let file_name = Path::new(&module.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| module.path.clone());
    Frame {
        kind: FrameKind::Native,
        function: format!("{file_name}+{address:#x}"),
        file: None,
        line: None,
        module: Some(module.path.clone()),
        inlined: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_frame_names_module_file_and_address() {
        let module = ModuleInfo {
            path: "/usr/lib/libfoo.so.1".into(),
            build_id: None,
        };
        let frame = unresolved_frame(&module, 0x1234);
        assert_eq!(frame.function, "libfoo.so.1+0x1234");
        assert_eq!(frame.module.as_deref(), Some("/usr/lib/libfoo.so.1"));
        assert_eq!(frame.kind, FrameKind::Native);
    }

    #[test]
    fn unresolved_frame_keeps_odd_paths() {
        let module = ModuleInfo {
            path: "[anon]".into(),
            build_id: None,
        };
        assert_eq!(unresolved_frame(&module, 16).function, "[anon]+0x10");
    }
}
