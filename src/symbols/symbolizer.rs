//! The [`Symbolizer`]: frames for (binary, address) pairs and kernel
//! addresses, with every file opened once and every address resolved once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::debuginfo::{self, DebugFileFinder};
use super::demangle::demangle;
use super::dwarf::{DwarfFrame, DwarfInfo};
use super::elf::ElfFile;
use super::kallsyms::{Kallsyms, KERNEL_MODULE};
use super::symtab::{SymbolTable, SymbolTableBuilder};
use crate::profile::{AddressResolver, Frame, FrameKind, ModuleInfo};

/// The function name of a frame whose location is known (DWARF gave its
/// file and line) but whose function is not.
pub const UNKNOWN: &str = "[unknown]";

/// Where the [`Symbolizer`] looks for things.
#[derive(Debug, Clone)]
pub struct SymbolizerOptions {
    /// Roots searched for separate debug files, in order (gdb's
    /// `debug-file-directory`).
    pub debug_roots: Vec<PathBuf>,
    /// The kernel symbol file.
    pub kallsyms_path: PathBuf,
}

impl Default for SymbolizerOptions {
    fn default() -> Self {
        SymbolizerOptions {
            debug_roots: vec![PathBuf::from(debuginfo::SYSTEM_DEBUG_ROOT)],
            kallsyms_path: PathBuf::from("/proc/kallsyms"),
        }
    }
}

/// Symbols and DWARF of one binary, as recorded.
#[derive(Debug)]
struct Module {
    /// The binary's path, as frames name their module.
    name: String,
    symbols: SymbolTable,
    dwarf: Option<DwarfInfo>,
    /// False when neither the binary nor a matching debug file could be used.
    usable: bool,
}

impl Module {
    fn unusable(name: &str) -> Module {
        Module {
            name: name.to_string(),
            symbols: SymbolTable::default(),
            dwarf: None,
            usable: false,
        }
    }
}

/// The modules known under one path, by the build-id they were recorded with.
#[derive(Debug, Default)]
struct PathModules {
    by_build_id: Vec<(Option<Vec<u8>>, usize)>,
}

/// Turns code addresses into frames, caching opened files and results.
#[derive(Debug)]
pub struct Symbolizer {
    options: SymbolizerOptions,
    finder: DebugFileFinder,
    /// Opened ELF files by path (`None`: could not be opened).
    files: HashMap<PathBuf, Option<Arc<ElfFile>>>,
    modules: Vec<Module>,
    paths: HashMap<String, PathModules>,
    results: HashMap<(usize, u64), Vec<Frame>>,
    /// Loaded on first use; `None` after that when it could not be read.
    kallsyms: Option<Kallsyms>,
    kallsyms_tried: bool,
    /// JIT code names per process (perf map, jitdump).
    jit: HashMap<u32, super::jit::JitSymbols>,
    warned: HashSet<String>,
    warnings: Vec<String>,
}

impl Symbolizer {
    pub fn new(options: SymbolizerOptions) -> Symbolizer {
        Symbolizer {
            finder: DebugFileFinder::new(options.debug_roots.clone()),
            options,
            files: HashMap::new(),
            jit: HashMap::new(),
            modules: Vec::new(),
            paths: HashMap::new(),
            results: HashMap::new(),
            kallsyms: None,
            kallsyms_tried: false,
            warned: HashSet::new(),
            warnings: Vec::new(),
        }
    }

    /// The frames for `svma` in the ELF file at `path`, caller first: the
    /// real function (`inlined: false`), then the functions inlined into
    /// it down to the innermost (`inlined: true`). Each carries the line
    /// executing in it: the call site for outer frames, the address's own
    /// line for the innermost.
    ///
    /// Empty when the address cannot be named: the file is missing, no
    /// symbol covers the address (padding between functions), or the file
    /// changed since the recording. `build_id` is the id recorded for the
    /// file; when the file on disk has another, a warning is given once and
    /// only a debug file with the recorded id can still name its addresses.
    pub fn symbolize(&mut self, path: &str, build_id: Option<&[u8]>, svma: u64) -> &[Frame] {
        let index = self.module_index(path, build_id);
        let key = (index, svma);
        if !self.results.contains_key(&key) {
            let (frames, warning) = symbolize_in(&self.modules[index], svma);
            if let Some(w) = warning {
                self.warn_once(format!("dwarf:{index}"), w);
            }
            self.results.insert(key, frames);
        }
        self.results.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The frame for a kernel address, from kallsyms (loaded on first use).
    /// When kernel addresses are hidden from this user the frame says so
    /// (`[kernel symbols hidden]`) rather than guessing.
    /// JIT code of process `pid`, named by its perf map or jitdump (read
    /// again on a miss: the process may have written more since).
    pub fn symbolize_jit(&mut self, pid: u32, addr: u64) -> Option<Frame> {
        let jit = self
            .jit
            .entry(pid)
            .or_insert_with(|| super::jit::JitSymbols::for_pid(pid));
        if let Some(frame) = jit.frame(addr) {
            return Some(frame);
        }
        jit.refresh();
        jit.frame(addr)
    }

    pub fn symbolize_kernel(&mut self, addr: u64) -> Frame {
        if !self.kallsyms_tried {
            self.kallsyms_tried = true;
            match Kallsyms::load(&self.options.kallsyms_path) {
                Ok(table) => {
                    if table.hidden() {
                        self.warn_once(
                            "kallsyms-hidden".into(),
                            "kernel symbols are hidden from this user (kernel.kptr_restrict); \
                             run as root or set kernel.kptr_restrict=0 to name kernel frames"
                                .into(),
                        );
                    }
                    self.kallsyms = Some(table);
                }
                Err(e) => {
                    self.warn_once("kallsyms".into(), format!("{e}; kernel frames are unnamed"));
                }
            }
        }
        let kernel_frame = |function: String, module: &str| Frame {
            kind: FrameKind::Kernel,
            function,
            file: None,
            line: None,
            module: Some(module.to_string()),
            inlined: false,
        };
        match &self.kallsyms {
            Some(table) if table.hidden() => {
                kernel_frame("[kernel symbols hidden]".into(), KERNEL_MODULE)
            }
            Some(table) => match table.lookup(addr) {
                Some(sym) => {
                    let module = sym.module.map(|m| format!("[{m}]"));
                    kernel_frame(
                        sym.name.to_string(),
                        module.as_deref().unwrap_or(KERNEL_MODULE),
                    )
                }
                None => kernel_frame(UNKNOWN.into(), KERNEL_MODULE),
            },
            None => kernel_frame(UNKNOWN.into(), KERNEL_MODULE),
        }
    }

    /// The opened ELF file at `path` (mapped once and shared with
    /// symbolization), e.g. for [`ElfFile::file_offset_to_svma`] or an
    /// unwinder's [`ElfFile::unwind_sections`].
    pub fn elf(&mut self, path: &Path) -> Option<Arc<ElfFile>> {
        self.open_file(path)
    }

    /// Warnings given since the last call (each given once per run).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn module_index(&mut self, path: &str, build_id: Option<&[u8]>) -> usize {
        if let Some(known) = self.paths.get(path) {
            if let Some(&(_, index)) = known
                .by_build_id
                .iter()
                .find(|(id, _)| id.as_deref() == build_id)
            {
                return index;
            }
        }
        let module = self.load_module(path, build_id);
        self.modules.push(module);
        let index = self.modules.len() - 1;
        self.paths
            .entry(path.to_string())
            .or_default()
            .by_build_id
            .push((build_id.map(<[u8]>::to_vec), index));
        index
    }

    fn load_module(&mut self, path: &str, recorded_id: Option<&[u8]>) -> Module {
        let Some(main) = self.open_file(Path::new(path)) else {
            return Module::unusable(path);
        };
        if let (Some(recorded), Some(current)) = (recorded_id, main.build_id()) {
            if recorded != current {
                return self.load_changed_module(path, recorded, current);
            }
        }
        // A binary with its own DWARF and full symbol table needs no debug file.
        let debug = if main.has_dwarf() && main.has_symtab() {
            None
        } else {
            self.finder
                .find(&main)
                .and_then(|found| self.open_file(&found.path))
        };
        let mut builder = SymbolTableBuilder::new();
        main.add_symbols_to(&mut builder);
        if let Some(debug) = &debug {
            debug.add_symbols_to(&mut builder);
        }
        let dwarf_source = if main.has_dwarf() {
            Some(main.clone())
        } else {
            debug.filter(|d| d.has_dwarf())
        };
        Module {
            name: path.to_string(),
            symbols: builder.build(),
            dwarf: dwarf_source.and_then(|file| self.open_dwarf(&file)),
            usable: true,
        }
    }

    /// The file at `path` is not the one recorded. Only a debug file with
    /// the recorded build-id can still name its addresses.
    fn load_changed_module(&mut self, path: &str, recorded: &[u8], current: &[u8]) -> Module {
        let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let debug = self
            .finder
            .find_by_build_id(recorded)
            .and_then(|p| self.open_file(&p));
        let Some(debug) = debug else {
            self.warn_once(
                format!("changed:{path}:{}", hex(recorded)),
                format!(
                    "{path} changed since it was recorded (build-id {} then, {} now) and no debug \
                     file with the recorded build-id was found; its frames cannot be named",
                    hex(recorded),
                    hex(current)
                ),
            );
            return Module::unusable(path);
        };
        self.warn_once(
            format!("changed:{path}:{}", hex(recorded)),
            format!(
                "{path} changed since it was recorded; its frames come from the debug file {} \
                 with the recorded build-id",
                debug.path().display()
            ),
        );
        let dwarf = if debug.has_dwarf() {
            self.open_dwarf(&debug)
        } else {
            None
        };
        Module {
            name: path.to_string(),
            symbols: {
                let mut builder = SymbolTableBuilder::new();
                debug.add_symbols_to(&mut builder);
                builder.build()
            },
            dwarf,
            usable: true,
        }
    }

    fn open_dwarf(&mut self, file: &ElfFile) -> Option<DwarfInfo> {
        let supplementary = match file.debugaltlink() {
            Some(alt) => match self.finder.find_supplementary(file.path(), alt) {
                Some(p) => Some(p),
                None => {
                    self.warn_once(
                        format!("altlink:{}", file.path().display()),
                        format!(
                            "{}: its dwz supplementary debug file {} was not found; \
                             some inlined functions may be unnamed",
                            file.path().display(),
                            alt.path.display()
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        match DwarfInfo::open(file.path(), supplementary.as_deref()) {
            Ok(info) => Some(info),
            Err(e) => {
                self.warn_once(
                    format!("dwarf-open:{}", file.path().display()),
                    e.to_string(),
                );
                None
            }
        }
    }

    fn open_file(&mut self, path: &Path) -> Option<Arc<ElfFile>> {
        if let Some(known) = self.files.get(path) {
            return known.clone();
        }
        let opened = match ElfFile::open(path) {
            Ok(f) => Some(Arc::new(f)),
            Err(e) => {
                self.warn_once(
                    format!("open:{}", path.display()),
                    format!("{e}; its frames cannot be named"),
                );
                None
            }
        };
        self.files.insert(path.to_path_buf(), opened.clone());
        opened
    }

    fn warn_once(&mut self, key: String, message: String) {
        if self.warned.insert(key) {
            self.warnings.push(message);
        }
    }
}

impl AddressResolver for Symbolizer {
    fn resolve(&mut self, module: &ModuleInfo, address: u64) -> Vec<Frame> {
        if module.path == crate::profile::KERNEL_MODULE {
            return vec![self.symbolize_kernel(address)];
        }
        if let Some(pid) = super::jit::jit_module_pid(&module.path) {
            return self.symbolize_jit(pid, address).into_iter().collect();
        }
        self.symbolize(&module.path, module.build_id.as_deref(), address)
            .to_vec()
    }
}

/// Symbolizes one address in a module (empty: unknown); also returns a
/// warning when its DWARF could not be read there (the ELF symbol is used
/// instead).
fn symbolize_in(module: &Module, svma: u64) -> (Vec<Frame>, Option<String>) {
    let native = |function: String, file: Option<String>, line: Option<u32>, inlined: bool| Frame {
        kind: FrameKind::Native,
        function,
        file,
        line,
        module: Some(module.name.clone()),
        inlined,
    };
    if !module.usable {
        return (Vec::new(), None);
    }
    let (dwarf_frames, warning) = match &module.dwarf {
        Some(dwarf) => match dwarf.frames(svma) {
            Ok(frames) => (frames, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        },
        None => (Vec::new(), None),
    };
    if dwarf_frames.is_empty() {
        let frames = module
            .symbols
            .lookup(svma)
            .map(|s| native(demangle(s.name).into_owned(), None, None, false));
        let mut frames: Vec<Frame> = frames.into_iter().collect();
        super::cython::rename_frames(&mut frames);
        return (frames, warning);
    }
    let frames = dwarf_frames
        .into_iter()
        .enumerate()
        .map(
            |(
                i,
                DwarfFrame {
                    function,
                    file,
                    line,
                },
            )| {
                let name = if i == 0 {
                    outer_function_name(function, module.symbols.lookup(svma).map(|s| s.name))
                } else {
                    function.map_or_else(|| UNKNOWN.into(), |raw| demangle(&raw).into_owned())
                };
                native(name, file, line, i > 0)
            },
        )
        .collect();
    let mut frames = frames;
    super::cython::rename_frames(&mut frames);
    (frames, warning)
}

/// The name of the real (outermost) function: DWARF's linkage name when it
/// has one. Without one DWARF only has the bare `DW_AT_name` (C++
/// constructors and some member functions: `_M_invoke`, no class), and then
/// a mangled ELF symbol names the function better. A plain C name stays as
/// DWARF says it, also in `.cold`/`.part.N` pieces the symbol table names
/// separately, so they count as the function they belong to.
fn outer_function_name(dwarf_name: Option<String>, elf_symbol: Option<&str>) -> String {
    let is_mangled = |n: &str| n.starts_with("_Z") || n.starts_with("_R");
    match (dwarf_name, elf_symbol) {
        (Some(d), _) if is_mangled(&d) => demangle(&d).into_owned(),
        (Some(_), Some(sym)) if is_mangled(sym) => demangle(sym).into_owned(),
        (Some(d), _) => d,
        (None, Some(sym)) => demangle(sym).into_owned(),
        (None, None) => UNKNOWN.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolizer_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Symbolizer>();
    }

    fn with_kallsyms(path: &Path) -> Symbolizer {
        Symbolizer::new(SymbolizerOptions {
            kallsyms_path: path.to_path_buf(),
            ..SymbolizerOptions::default()
        })
    }

    #[test]
    fn hidden_kernel_symbols_are_reported_not_guessed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kallsyms");
        std::fs::write(
            &path,
            "0000000000000000 T _stext\n0000000000000000 t schedule\n",
        )
        .expect("write");
        let mut sym = with_kallsyms(&path);
        for addr in [0xffffffff81000010, 0xffffffff81234567] {
            let frame = sym.symbolize_kernel(addr);
            assert_eq!(frame.kind, FrameKind::Kernel);
            assert_eq!(frame.function, "[kernel symbols hidden]");
        }
        let warnings = sym.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("kptr_restrict"));
    }

    #[test]
    fn kernel_frames_from_this_machine() {
        let path = Path::new("/proc/kallsyms");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipping: /proc/kallsyms is not readable");
            return;
        };
        let parse = |line: &str| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let addr = u64::from_str_radix(f.first()?, 16).ok()?;
            (f.len() >= 3 && matches!(f[1], "t" | "T") && addr != 0)
                .then(|| (addr, f[2].to_string(), f.get(3).map(|m| m.to_string())))
        };
        let Some(schedule) = text.lines().filter_map(parse).find(|s| s.1 == "schedule") else {
            eprintln!("skipping: kernel addresses are hidden from this user");
            return;
        };
        let mut sym = with_kallsyms(path);
        let frame = sym.symbolize_kernel(schedule.0 + 1);
        assert_eq!(frame.function, "schedule");
        assert_eq!(frame.module.as_deref(), Some(KERNEL_MODULE));
        // A module symbol that is not the very last one (which has no end).
        let highest = text
            .lines()
            .filter_map(parse)
            .map(|s| s.0)
            .max()
            .unwrap_or(0);
        let module_symbol = text
            .lines()
            .filter_map(parse)
            .find(|s| s.2.is_some() && s.0 < highest);
        if let Some(in_module) = module_symbol {
            let frame = sym.symbolize_kernel(in_module.0);
            assert_eq!(frame.module, in_module.2, "{in_module:?}");
        }
        assert!(sym.take_warnings().is_empty());
    }

    #[test]
    fn results_are_cached_and_missing_files_warned_once() {
        let mut sym = Symbolizer::new(SymbolizerOptions::default());
        let libc = "/lib/x86_64-linux-gnu/libc.so.6";
        if Path::new(libc).exists() {
            let first = sym.symbolize(libc, None, 0x30000).as_ptr();
            let again = sym.symbolize(libc, None, 0x30000).as_ptr();
            assert!(
                std::ptr::eq(first, again),
                "the second lookup is served from the cache"
            );
        }
        let missing = "/nonexistent/libgone.so";
        for addr in [0x1000, 0x2000] {
            assert!(sym.symbolize(missing, None, addr).is_empty());
        }
        let warnings = sym.take_warnings();
        assert_eq!(
            warnings.iter().filter(|w| w.contains(missing)).count(),
            1,
            "{warnings:?}"
        );
    }

    #[test]
    fn resolves_for_the_profile_reader() {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6";
        let Ok(elf) = ElfFile::open(Path::new(libc)) else {
            eprintln!("skipping: {libc} not present");
            return;
        };
        let getpid = elf
            .symbols()
            .iter()
            .find(|s| s.name == "getpid")
            .expect("getpid")
            .start;
        let mut sym = Symbolizer::new(SymbolizerOptions::default());
        let module = ModuleInfo {
            path: libc.into(),
            build_id: elf.build_id().map(<[u8]>::to_vec),
        };
        let frames = AddressResolver::resolve(&mut sym, &module, getpid);
        assert_eq!(frames.last().map(|f| f.module.as_deref()), Some(Some(libc)));
        assert!(frames[0].function.contains("getpid"), "{frames:?}");
        // Unknown is empty, so the reader shows its `libc.so.6+0x...` placeholder.
        let gone = ModuleInfo {
            path: "/nonexistent/lib.so".into(),
            build_id: None,
        };
        assert!(AddressResolver::resolve(&mut sym, &gone, 0x1000).is_empty());
    }
}
