//! Symbolization of real binaries checked against binutils: `nm` for
//! names, `addr2line -f -i` for file:line and inline chains. Programs
//! are compiled with and without DWARF, stripped with their debug info in
//! a `.gnu_debuglink` file or under a build-id path, and system libraries
//! (libc, libpython) are symbolized as installed.

mod symbols_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pyperf::profile::{Frame, FrameKind};
use pyperf::symbols::demangle::demangle;
use pyperf::symbols::elf::ElfFile;
use pyperf::symbols::{Symbolizer, SymbolizerOptions, UNKNOWN};
use symbols_support::{
    addr2line, compile, fixture, gdb_views, have_tool, nm, run, sized_functions, GdbView,
    OracleFrame,
};

fn tools_present() -> bool {
    ["gcc", "g++", "nm", "addr2line", "objdump", "objcopy"]
        .iter()
        .all(|t| have_tool(t))
}

/// Every instruction address in `.text`, from `objdump -d`.
fn instruction_addresses(binary: &Path) -> Vec<u64> {
    let out = run(Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-j", ".text"])
        .arg(binary));
    out.lines()
        .filter_map(|l| {
            let (addr, rest) = l.trim_start().split_once(":\t")?;
            (!rest.is_empty()).then_some(())?;
            u64::from_str_radix(addr, 16).ok()
        })
        .collect()
}

/// The instructions of `.text` that lie inside a sized function symbol of
/// `symbols_from`: the padding between functions is never executed, and
/// binutils (unlike us) names it after the function before it.
fn code_addresses(binary: &Path, symbols_from: &Path) -> Vec<u64> {
    let mut functions = sized_functions(symbols_from, &[]);
    if functions.is_empty() {
        functions = sized_functions(symbols_from, &["-D"]);
    }
    functions.sort_unstable();
    let mut addrs: Vec<u64> = instruction_addresses(binary)
        .into_iter()
        .filter(|&a| {
            let i = functions.partition_point(|f| f.0 <= a);
            i > 0 && a < functions[i - 1].0 + functions[i - 1].1
        })
        .collect();
    addrs.extend(functions.iter().map(|f| f.0));
    addrs.sort_unstable();
    addrs.dedup();
    addrs
}

/// Function symbols defined in the file (`nm` types T/t/W/w).
fn function_starts(binary: &Path) -> Vec<u64> {
    let mut starts: Vec<u64> = nm(binary, &["--defined-only"])
        .into_iter()
        .filter(|s| matches!(s.kind, 'T' | 't' | 'W' | 'w') && s.addr != 0)
        .map(|s| s.addr)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// Our frames for `addr`, innermost first and shaped like addr2line's.
fn ours(sym: &mut Symbolizer, binary: &Path, addr: u64) -> Vec<OracleFrame> {
    let path = binary.to_str().expect("utf-8 path");
    let mut frames: Vec<Frame> = sym.symbolize(path, None, addr).to_vec();
    if frames.is_empty() {
        // Unknown: shaped as addr2line prints it.
        frames.push(Frame {
            kind: FrameKind::Native,
            function: UNKNOWN.into(),
            file: None,
            line: None,
            module: Some(path.to_string()),
            inlined: false,
        });
    }
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.kind, FrameKind::Native);
        assert_eq!(f.module.as_deref(), Some(path));
        assert_eq!(
            f.inlined,
            i > 0,
            "only the outermost frame is the real function"
        );
    }
    frames
        .into_iter()
        .rev()
        .map(|f| OracleFrame {
            function: if f.function == UNKNOWN {
                "??".into()
            } else {
                f.function
            },
            file: f.file,
            line: f.line,
        })
        .collect()
}

/// Compares our frames for `addrs` in `binary` with addr2line's on
/// `oracle_binary` (the same code, possibly unstripped); returns mismatches.
///
/// The chain length and every line must agree with binutils. Where binutils
/// 2.40 is known to be wrong, another oracle decides instead:
/// - C++ inline functions without a linkage name (constructors, members of
///   class templates): binutils names them after the function they were
///   inlined into. gdb names them; ours must be gdb's name or its
///   unqualified tail (DWARF's `DW_AT_name`).
/// - The real (outermost) function: binutils may give its bare
///   `DW_AT_name`, or the ELF symbol of a `.cold` piece. Ours must then be
///   the demangled `nm` symbol containing the address, or for `.cold`
///   pieces the function they belong to.
/// - Files: with DWARF 5 file tables binutils can name the compilation
///   unit's own file for a line of a header inlined into it, and it
///   doubles relative directories (`./iconv/./iconv/x.h`); gdb's file for
///   the innermost frame decides.
fn mismatches(
    sym: &mut Symbolizer,
    binary: &Path,
    oracle_binary: &Path,
    addrs: &[u64],
) -> Vec<String> {
    let expected = addr2line(oracle_binary, addrs);
    let mut pending = Vec::new();
    let mut bad = Vec::new();
    for (&addr, mut want) in addrs.iter().zip(expected) {
        for f in &mut want {
            f.function = demangle(&f.function).into_owned();
        }
        let got = ours(sym, binary, addr);
        if got != want {
            pending.push((addr, got, want));
        }
    }
    if pending.is_empty() {
        return bad;
    }
    let pcs: Vec<u64> = pending.iter().map(|p| p.0).collect();
    let views = gdb_views(oracle_binary, &pcs);
    let mut functions = sized_functions(oracle_binary, &[]);
    if functions.is_empty() {
        functions = sized_functions(oracle_binary, &["-D"]);
    }
    functions.sort_unstable();
    let mut settled_by_gdb = 0;
    for (i, (addr, got, want)) in pending.iter().enumerate() {
        let view = views.as_ref().map(|v| &v[i]);
        let at = functions.partition_point(|f| f.0 <= *addr);
        let symbol = at
            .checked_sub(1)
            .map(|i| &functions[i])
            .filter(|f| *addr < f.0 + f.1)
            .map(|f| demangle(&f.2).into_owned());
        match explain(got, want, view, symbol.as_deref()) {
            Ok(()) => settled_by_gdb += 1,
            Err(why) => bad.push(format!(
                "{addr:#x}: {why}\n   ours:      {got:?}\n   addr2line: {want:?}\n   gdb:       {view:?}"
            )),
        }
    }
    eprintln!(
        "{}: {settled_by_gdb} addresses where binutils is known to err and gdb agrees with us",
        binary.display()
    );
    bad
}

/// Why `got` and `want` may differ (see [`mismatches`]), or what is wrong.
fn explain(
    got: &[OracleFrame],
    want: &[OracleFrame],
    gdb: Option<&GdbView>,
    nm_symbol: Option<&str>,
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err("inline chains differ in length".into());
    }
    let last = got.len() - 1;
    for (depth, (g, w)) in got.iter().zip(want).enumerate() {
        if g.line != w.line {
            return Err(format!("line differs at depth {depth}"));
        }
        let name_ok = g.function == w.function
            || if depth == last {
                w.function.strip_suffix(".cold") == Some(g.function.as_str())
                    || nm_symbol == Some(g.function.as_str())
            } else {
                gdb.and_then(|v| v.functions.get(depth))
                    .is_some_and(|name| {
                        name == &g.function || name.ends_with(&format!("::{}", g.function))
                    })
            };
        if !name_ok {
            return Err(format!("function differs at depth {depth}"));
        }
        let file_ok = g.file == w.file
            || match (&g.file, &w.file) {
                (Some(ours), Some(theirs)) => {
                    theirs.ends_with(ours.trim_start_matches("./"))
                        || (depth == 0
                            && gdb.is_some_and(|v| {
                                v.file.as_deref().is_some_and(|f| ours.ends_with(f))
                            }))
                }
                _ => false,
            };
        if !file_ok {
            return Err(format!("file differs at depth {depth}"));
        }
    }
    Ok(())
}

fn assert_all_match(label: &str, bad: &[String], total: usize) {
    assert!(
        bad.is_empty(),
        "{label}: {} of {total} addresses differ from addr2line:\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!("{label}: {total} addresses match addr2line -f -i");
}

struct Built {
    _dir: tempfile::TempDir,
    with_dwarf: PathBuf,
    cxx_with_dwarf: PathBuf,
    dir: PathBuf,
}

fn build() -> Built {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let with_dwarf = d.join("inline");
    compile("gcc", &fixture("inline.c"), &with_dwarf, &["-O2", "-g"]);
    let cxx_with_dwarf = d.join("cxx_names");
    compile(
        "g++",
        &fixture("cxx_names.cpp"),
        &cxx_with_dwarf,
        &["-O2", "-g"],
    );
    Built {
        _dir: dir,
        with_dwarf,
        cxx_with_dwarf,
        dir: d,
    }
}

#[test]
fn binaries_with_dwarf_match_addr2line_everywhere() {
    if !tools_present() {
        return;
    }
    let b = build();
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    for bin in [&b.with_dwarf, &b.cxx_with_dwarf] {
        let addrs = code_addresses(bin, bin);
        let bad = mismatches(&mut sym, bin, bin, &addrs);
        assert_all_match(&bin.display().to_string(), &bad, addrs.len());
    }
    // The fixtures' point: an inline chain and a C++ template were seen.
    let compute = nm(&b.with_dwarf, &[])
        .into_iter()
        .find(|s| s.name == "compute")
        .expect("compute symbol");
    let chains: Vec<Vec<OracleFrame>> = instruction_addresses(&b.with_dwarf)
        .into_iter()
        .filter(|&a| a >= compute.addr && a < compute.addr + 0x40)
        .map(|a| ours(&mut sym, &b.with_dwarf, a))
        .collect();
    assert!(
        chains.iter().any(|c| c.len() >= 3
            && c[0].function == "square"
            && c.iter().any(|f| f.function == "sum_squares")
            && c.last().map(|f| f.function.as_str()) == Some("compute")),
        "no square <- sum_squares <- compute chain in compute(): {chains:?}"
    );
    let cxx_names: Vec<String> = instruction_addresses(&b.cxx_with_dwarf)
        .into_iter()
        .flat_map(|a| ours(&mut sym, &b.cxx_with_dwarf, a))
        .map(|f| f.function)
        .collect();
    assert!(cxx_names
        .iter()
        .any(|n| n.contains("std::vector<") && n.contains("::")));
    assert!(cxx_names.iter().any(|n| n.contains("{lambda(")));
    assert!(sym.take_warnings().is_empty());
}

#[test]
fn binaries_without_dwarf_are_named_by_their_symbols() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    for (source, compiler) in [("inline.c", "gcc"), ("cxx_names.cpp", "g++")] {
        let bin = dir.path().join(source.replace('.', "_"));
        compile(compiler, &fixture(source), &bin, &["-O2"]);
        // Ground truth: nm's symbols. Each sized function's start, middle and
        // last byte is named after one of the names nm lists at its start.
        let all = nm(&bin, &["--defined-only"]);
        let mut checked = 0;
        for (start, size, _) in sized_functions(&bin, &[]) {
            let aliases: Vec<String> = all
                .iter()
                .filter(|s| s.addr == start)
                .map(|s| demangle(&s.name).into_owned())
                .collect();
            for addr in [start, start + size / 2, start + size - 1] {
                let got = ours(&mut sym, &bin, addr);
                assert_eq!(got.len(), 1, "no DWARF, so no inline chain: {got:?}");
                assert!(got[0].file.is_none() && got[0].line.is_none());
                assert!(
                    aliases.contains(&got[0].function),
                    "{addr:#x}: {} not in {aliases:?}",
                    got[0].function
                );
                checked += 1;
            }
        }
        assert!(checked >= 12, "{source}: only {checked} addresses checked");
        eprintln!("{source} -O2 without -g: {checked} addresses named as nm names them");
    }
}

#[test]
fn stripped_binaries_find_their_debug_files() {
    if !tools_present() {
        return;
    }
    let b = build();
    let original = &b.with_dwarf;
    let addrs = code_addresses(original, original);

    // 1. objcopy --only-keep-debug + --add-gnu-debuglink, debug file alongside.
    let linked_dir = b.dir.join("linked");
    std::fs::create_dir(&linked_dir).expect("mkdir");
    let linked = linked_dir.join("inline");
    let linked_debug = linked_dir.join("inline.debug");
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(original)
        .arg(&linked_debug));
    run(Command::new("objcopy")
        .arg("--strip-all")
        .arg(original)
        .arg(&linked));
    run(Command::new("objcopy")
        .arg(format!("--add-gnu-debuglink={}", linked_debug.display()))
        .arg(&linked));
    // Make sure the build-id route cannot be what finds it.
    let empty_root = b.dir.join("empty-root");
    std::fs::create_dir(&empty_root).expect("mkdir");
    let mut sym = Symbolizer::new(SymbolizerOptions {
        debug_roots: vec![empty_root.clone()],
        ..SymbolizerOptions::default()
    });
    assert!(
        nm(&linked, &[]).is_empty(),
        "the stripped binary still has symbols"
    );
    let bad = mismatches(&mut sym, &linked, original, &addrs);
    assert_all_match("stripped + .gnu_debuglink", &bad, addrs.len());

    // 2. Same in the `.debug/` subdirectory; a debug file whose CRC does
    //    not match (from another build) is refused.
    let subdir_dir = b.dir.join("subdir");
    std::fs::create_dir_all(subdir_dir.join(".debug")).expect("mkdir");
    let subdir_bin = subdir_dir.join("inline");
    std::fs::copy(&linked, &subdir_bin).expect("copy");
    std::fs::copy(&linked_debug, subdir_dir.join(".debug/inline.debug")).expect("copy");
    let bad = mismatches(&mut sym, &subdir_bin, original, &addrs[..50]);
    assert_all_match("stripped + .debug/ subdirectory", &bad, 50);

    let wrong_dir = b.dir.join("wrong");
    std::fs::create_dir(&wrong_dir).expect("mkdir");
    let wrong_bin = wrong_dir.join("inline");
    std::fs::copy(&linked, &wrong_bin).expect("copy");
    let other = wrong_dir.join("other");
    compile("gcc", &fixture("inline.c"), &other, &["-O1", "-g"]);
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(&other)
        .arg(wrong_dir.join("inline.debug")));
    let main_addr = function_starts(original)[0];
    let frames = ours(&mut sym, &wrong_bin, main_addr);
    assert_eq!(frames.len(), 1);
    assert!(
        frames[0].file.is_none(),
        "a debug file with the wrong CRC was used: {frames:?}"
    );

    // 3. By build-id under a debug root, no debuglink at all.
    let root = b.dir.join("debug-root");
    let build_id = run(Command::new("readelf").arg("-n").arg(original))
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .expect("the compiler wrote a build-id");
    let id_dir = root.join(".build-id").join(&build_id[..2]);
    std::fs::create_dir_all(&id_dir).expect("mkdir");
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(original)
        .arg(id_dir.join(format!("{}.debug", &build_id[2..]))));
    let by_id_bin = b.dir.join("by-id");
    run(Command::new("objcopy")
        .arg("--strip-all")
        .arg(original)
        .arg(&by_id_bin));
    let mut sym = Symbolizer::new(SymbolizerOptions {
        debug_roots: vec![root],
        ..SymbolizerOptions::default()
    });
    let bad = mismatches(&mut sym, &by_id_bin, original, &addrs);
    assert_all_match("stripped + build-id debug root", &bad, addrs.len());
}

#[test]
fn a_binary_changed_since_recording_is_not_misnamed() {
    if !tools_present() {
        return;
    }
    let b = build();
    let path = b.with_dwarf.to_str().expect("utf-8");
    let main_addr = nm(&b.with_dwarf, &[])
        .into_iter()
        .find(|s| s.name == "main")
        .expect("main")
        .addr;
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    let recorded = [0xde, 0xad, 0xbe, 0xef].repeat(5);
    assert!(sym.symbolize(path, Some(&recorded), main_addr).is_empty());
    assert!(sym
        .symbolize(path, Some(&recorded), main_addr + 1)
        .is_empty());
    let warnings = sym.take_warnings();
    assert_eq!(warnings.len(), 1, "warned once: {warnings:?}");
    assert!(
        warnings[0].contains("changed since it was recorded"),
        "{}",
        warnings[0]
    );
    // The same file with no recorded build-id is named as usual.
    assert_eq!(sym.symbolize(path, None, main_addr)[0].function, "main");
}

#[test]
fn libc_symbol_table_matches_nm_dynamic_symbols() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    if !libc.exists() || !have_tool("nm") {
        eprintln!("skipping: libc or nm missing");
        return;
    }
    // The file's own symbol table (Debian strips libc's .symtab, so .dynsym).
    let elf = ElfFile::open(libc).expect("libc opens");
    let dynsyms = nm(libc, &["-D", "--defined-only"]);
    let mut checked = 0;
    for (start, size, _) in sized_functions(libc, &["-D"]) {
        let aliases: Vec<&str> = dynsyms
            .iter()
            .filter(|s| s.addr == start)
            .map(|s| s.name.split('@').next().unwrap_or_default())
            .collect();
        for addr in [start, start + size / 2, start + size - 1] {
            let got = elf.lookup_symbol(addr).map(|s| s.name);
            assert!(
                got.is_some_and(|g| aliases.contains(&g)),
                "{addr:#x}: {got:?} not in {aliases:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} libc addresses checked");
    eprintln!("libc: {checked} addresses named as nm -D names them");
    // Among exported aliases the one with fewer underscores wins (glibc's
    // `getpid` is a weak alias of `__getpid`), then the global one.
    for (name, rival) in [
        ("malloc", "__libc_malloc"),
        ("getpid", "__getpid"),
        ("calloc", "__libc_calloc"),
        ("_exit", "_Exit"),
    ] {
        let s = dynsyms
            .iter()
            .find(|s| s.name.split('@').next() == Some(name))
            .expect(name);
        assert_eq!(
            elf.lookup_symbol(s.addr).map(|s| s.name),
            Some(name),
            "not {rival}"
        );
    }
}

#[test]
fn libc_with_its_debug_file_matches_addr2line() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    if !libc.exists() || !have_tool("addr2line") || !have_tool("objdump") {
        eprintln!("skipping: libc or binutils missing");
        return;
    }
    // Whether or not /usr/lib/debug holds libc's debug file, addr2line
    // (which looks there too) and we must agree.
    let text = code_addresses(libc, libc);
    let addrs: Vec<u64> = text.iter().copied().step_by(text.len() / 1000).collect();
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    let bad = mismatches(&mut sym, libc, libc, &addrs);
    assert_all_match("libc", &bad, addrs.len());
}

#[test]
fn plt_stubs_are_named_like_objdump_names_them() {
    if !tools_present() {
        return;
    }
    let b = build();
    let out = run(Command::new("objdump").arg("-d").arg(&b.with_dwarf));
    let stubs: Vec<(u64, String)> = out
        .lines()
        .filter_map(|l| {
            let (addr, rest) = l.split_once(" <")?;
            let name = rest.strip_suffix(">:")?;
            name.ends_with("@plt").then_some(())?;
            Some((u64::from_str_radix(addr.trim(), 16).ok()?, name.to_string()))
        })
        .collect();
    assert!(
        stubs.len() >= 3,
        "expected PLT stubs in objdump output: {stubs:?}"
    );
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    let path = b.with_dwarf.to_str().expect("utf-8");
    for (addr, name) in &stubs {
        for a in [*addr, addr + 4] {
            assert_eq!(&sym.symbolize(path, None, a)[0].function, name, "{a:#x}");
        }
    }
}

fn libpython() -> Option<PathBuf> {
    let p = PathBuf::from("/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0");
    if p.exists() && have_tool("addr2line") && have_tool("nm") {
        Some(p)
    } else {
        eprintln!("skipping: {} (or binutils) not present", p.display());
        None
    }
}

#[test]
fn libpython_eval_loop_and_lines_match_addr2line() {
    let Some(lib) = libpython() else {
        return;
    };
    let eval = nm(&lib, &["--defined-only"])
        .into_iter()
        .find(|s| s.name == "_PyEval_EvalFrameDefault")
        .expect("_PyEval_EvalFrameDefault");
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    let path = lib.to_str().expect("utf-8");
    let at_start = sym.symbolize(path, None, eval.addr).to_vec();
    assert_eq!(at_start[0].function, "_PyEval_EvalFrameDefault");
    assert!(
        at_start[0]
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("ceval.c")),
        "{at_start:?}"
    );

    // Every 7th instruction of the eval loop, and a spread over all of .text.
    let text = code_addresses(&lib, &lib);
    let eval_addrs: Vec<u64> = text
        .iter()
        .copied()
        .filter(|&a| a >= eval.addr && a < eval.addr + 0x8000)
        .step_by(7)
        .collect();
    let spread: Vec<u64> = text.iter().copied().step_by(text.len() / 1500).collect();
    for (label, addrs) in [
        ("libpython eval loop", eval_addrs),
        ("libpython .text", spread),
    ] {
        let bad = mismatches(&mut sym, &lib, &lib, &addrs);
        assert_all_match(label, &bad, addrs.len());
    }
}

#[test]
fn libpython_10000_addresses_timing() {
    let Some(lib) = libpython() else {
        return;
    };
    let text = code_addresses(&lib, &lib);
    let step = (text.len() / 10_000).max(1);
    let addrs: Vec<u64> = text.iter().copied().step_by(step).take(10_000).collect();
    assert_eq!(addrs.len(), 10_000);
    let path = lib.to_str().expect("utf-8");

    let started = Instant::now();
    let mut sym = Symbolizer::new(SymbolizerOptions::default());
    sym.symbolize(path, None, addrs[0]);
    let first = started.elapsed();
    let mut named = 0;
    let mut with_line = 0;
    for &a in &addrs {
        let frames = sym.symbolize(path, None, a);
        named += usize::from(!frames.is_empty() && frames[0].function != UNKNOWN);
        with_line += usize::from(frames.last().is_some_and(|f| f.line.is_some()));
    }
    let ours = started.elapsed();
    let started = Instant::now();
    for &a in &addrs {
        sym.symbolize(path, None, a);
    }
    let cached = started.elapsed();

    let started = Instant::now();
    let oracle = addr2line(&lib, &addrs);
    let binutils = started.elapsed();
    assert_eq!(oracle.len(), addrs.len());
    assert!(
        named == 10_000 && with_line > 9_900,
        "named {named}, with line {with_line}"
    );
    eprintln!(
        "libpython, 10000 distinct addresses (open + symbolize, inline chains): {:.0} ms, \
         of which open + first address {:.0} ms; again from the cache: {:.1} ms; \
         binutils addr2line -f -i on the same: {:.0} ms (ratio {:.2}x)",
        ours.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3,
        binutils.as_secs_f64() * 1e3,
        binutils.as_secs_f64() / ours.as_secs_f64()
    );
}
