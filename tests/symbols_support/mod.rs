//! Shared helpers for the symbolization tests: compiling fixtures and
//! asking the system tools (nm, addr2line, c++filt) for ground truth.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The fixture directory of this area.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/symbols")
        .join(name)
}

/// True when `tool` runs; prints a skip reason otherwise.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}

/// Runs a command, panicking with its stderr when it fails (test setup only).
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command feeding `input` on stdin; returns stdout.
pub fn run_with_input(cmd: &mut Command, input: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_string();
    // Write from another thread so a large output cannot deadlock the pipe.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer thread").expect("write stdin");
    assert!(out.status.success(), "{cmd:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compiles `source` with `compiler` and `flags` into `out`.
pub fn compile(compiler: &str, source: &Path, out: &Path, flags: &[&str]) {
    run(Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(source));
}

/// `c++filt --no-verbose` (plus `args`) of each name, in order.
pub fn cxxfilt(names: &[String], args: &[&str]) -> Vec<String> {
    let input = names.join("\n") + "\n";
    run_with_input(
        Command::new("c++filt").arg("--no-verbose").args(args),
        &input,
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// One line of `nm` output: address, type letter, name.
#[derive(Debug, Clone)]
pub struct NmSymbol {
    pub addr: u64,
    pub kind: char,
    pub name: String,
}

/// Defined symbols listed by `nm` with `args` (e.g. `["-D"]`; not `-S`), names raw.
pub fn nm(binary: &Path, args: &[&str]) -> Vec<NmSymbol> {
    run(Command::new("nm").args(args).arg(binary))
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
            let kind = parts.next()?.chars().next()?;
            let name = parts.next()?.to_string();
            Some(NmSymbol { addr, kind, name })
        })
        .collect()
}

/// One frame as `addr2line -f -i` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleFrame {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// `addr2line -f -i -e binary` for each address: innermost frame first, as
/// addr2line prints them, names raw (mangled): tests demangle them with our
/// demangler, so that these comparisons test symbolization alone (the
/// demangler is checked against c++filt separately).
pub fn addr2line(binary: &Path, addrs: &[u64]) -> Vec<Vec<OracleFrame>> {
    // addr2line prints a variable number of frames per address; a sentinel
    // address (0) after each one marks where the frames of the next begin.
    let mut input = String::new();
    for a in addrs {
        input.push_str(&format!("{a:#x}\n0\n"));
    }
    let out = run_with_input(
        Command::new("addr2line")
            .args(["-f", "-i", "-e"])
            .arg(binary),
        &input,
    );
    let mut lines = out.lines();
    let mut result = Vec::new();
    for _ in addrs {
        let mut frames = Vec::new();
        loop {
            let func = lines.next().expect("function line");
            let loc = lines.next().expect("location line");
            if func == "??" && loc == "??:0" && !frames.is_empty() {
                // The sentinel; only ever after at least one real entry.
                break;
            }
            frames.push(parse_oracle_frame(func, loc));
        }
        result.push(frames);
    }
    result
}

fn parse_oracle_frame(func: &str, loc: &str) -> OracleFrame {
    // "file:line" or "file:line (discriminator N)"; "??:0" / "??:?" when unknown.
    let loc = loc.split(" (discriminator").next().unwrap_or(loc);
    let (file, line) = match loc.rsplit_once(':') {
        Some((f, l)) => (f, l.parse::<u32>().ok().filter(|&l| l != 0)),
        None => (loc, None),
    };
    OracleFrame {
        function: func.to_string(),
        // Without a line, binutils still names a file taken from the symbol
        // table's STT_FILE entries; that is not source location information.
        file: (file != "??" && line.is_some()).then(|| file.to_string()),
        line,
    }
}

/// Sized code symbols from `nm -S` (types T/t/W/w/i): (start, size, raw name).
pub fn sized_functions(binary: &Path, args: &[&str]) -> Vec<(u64, u64, String)> {
    run(Command::new("nm")
        .args(["-S", "--defined-only"])
        .args(args)
        .arg(binary))
    .lines()
    .filter_map(|line| {
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        if f.len() < 4 || !matches!(f[2], "T" | "t" | "W" | "w" | "i") {
            return None;
        }
        let start = u64::from_str_radix(f[0], 16).ok()?;
        let size = u64::from_str_radix(f[1], 16).ok()?;
        (size > 0).then(|| (start, size, f[3].to_string()))
    })
    .collect()
}

/// What gdb says about a code address: the innermost source line, and the
/// names of the function blocks around it, innermost first (inline
/// functions qualified with their class and namespace, as gdb prints them).
#[derive(Debug, Clone, Default)]
pub struct GdbView {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub functions: Vec<String>,
}

/// Asks gdb (through its Python API, without running the program) about
/// each address. `None` when gdb or its Python support is missing.
pub fn gdb_views(binary: &Path, addrs: &[u64]) -> Option<Vec<GdbView>> {
    let script = tempfile::Builder::new().suffix(".py").tempfile().ok()?;
    let pcs: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
    let source = format!(
        "import gdb\n\
         for pc in [{}]:\n\
         \x20   sal = gdb.find_pc_line(pc)\n\
         \x20   f = sal.symtab.filename if sal.symtab else ''\n\
         \x20   names = []\n\
         \x20   try:\n\
         \x20       b = gdb.block_for_pc(pc)\n\
         \x20   except RuntimeError:\n\
         \x20       b = None\n\
         \x20   while b is not None and not b.is_static and not b.is_global:\n\
         \x20       if b.function is not None:\n\
         \x20           names.append(b.function.print_name)\n\
         \x20       b = b.superblock\n\
         \x20   print('VIEW\\t%s\\t%d\\t%s' % (f, sal.line, '\\x1f'.join(names)))\n",
        pcs.join(", ")
    );
    std::fs::write(script.path(), source).ok()?;
    let out = Command::new("gdb")
        .args(["-batch", "-nx", "-ex"])
        .arg(format!("source {}", script.path().display()))
        .arg(binary)
        .output()
        .ok()?;
    let views: Vec<GdbView> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("VIEW\t"))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let file = parts.next().filter(|f| !f.is_empty()).map(str::to_string);
            let line = parts
                .next()
                .and_then(|l| l.parse().ok())
                .filter(|&l| l != 0);
            let functions = parts
                .next()
                .map(|n| {
                    n.split('\x1f')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            GdbView {
                file,
                line,
                functions,
            }
        })
        .collect();
    (views.len() == addrs.len()).then_some(views)
}
