//! Perf maps and jitdump files written by real CPython runs, read while
//! the program is still running; the interpreter itself tells the
//! qualnames and file names to expect.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use gimli::{BaseAddresses, EhFrame, EhFrameHdr, LittleEndian, UnwindContext, UnwindSection};
use pyperf::profile::FrameKind;
use pyperf::symbols::jitdump::JitDump;
use pyperf::symbols::perfmap::{JitName, PerfMap};

/// A script that runs in two phases, waiting on stdin between them, and
/// prints (pid, then per function: qualname and file) as the interpreter
/// knows them.
const SCRIPT: &str = r#"
import os, sys

class Outer:
    def method(self):
        def inner(n):
            return sum(range(n))
        return inner(10), inner

def my_leaf(n):
    return n * 2

print(os.getpid(), flush=True)
for _ in range(3):
    _, inner = Outer().method()
    my_leaf(3)
for f in (Outer.method, inner, my_leaf):
    print("FUNC", f.__qualname__, f.__code__.co_filename, flush=True)
print("PHASE1", flush=True)
sys.stdin.readline()

namespace = {}
exec(compile("def late_function():\n    return 42\n", __file__, "exec"), namespace)
namespace["late_function"]()
print("FUNC", namespace["late_function"].__qualname__, __file__, flush=True)
print("PHASE2", flush=True)
sys.stdin.readline()
"#;

fn python(version: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("/root/.pyenv/versions/{version}/bin/python3"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: CPython {version} is not installed at {}",
            p.display()
        );
        None
    }
}

/// A running script: its pid, and (qualname, file) pairs per phase.
struct Run {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: u32,
}

impl Run {
    fn start(python: &Path, flag: &str, script: &Path) -> Run {
        let mut child = Command::new(python)
            .args(["-X", flag])
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("pid line");
        let pid = line.trim().parse().expect("pid");
        Run {
            child,
            stdin,
            stdout,
            pid,
        }
    }

    /// Reads FUNC lines up to the next PHASE marker.
    fn functions_until_phase(&mut self) -> Vec<(String, String)> {
        let mut functions = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).expect("read") > 0,
                "script ended early"
            );
            if line.starts_with("PHASE") {
                return functions;
            }
            if let Some(rest) = line.trim_end().strip_prefix("FUNC ") {
                let (qualname, file) = rest.split_once(' ').expect("qualname and file");
                functions.push((qualname.to_string(), file.to_string()));
            }
        }
    }

    fn next_phase(&mut self) {
        self.stdin.write_all(b"\n").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn finish(mut self) {
        self.next_phase();
        let status = self.child.wait().expect("wait");
        assert!(status.success());
    }
}

fn python_entries(map: &PerfMap) -> Vec<(String, String)> {
    map.entries()
        .filter_map(|e| match e.jit_name() {
            JitName::Python { qualname, file } => Some((qualname.to_string(), file.to_string())),
            JitName::Other(_) => None,
        })
        .collect()
}

fn perf_map_of_a_live_process(version: &str) {
    let Some(python) = python(version) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("maps_fixture.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let mut run = Run::start(&python, "perf", &script);
    let map_path = PathBuf::from(format!("/tmp/perf-{}.map", run.pid));
    let mut map = PerfMap::for_pid(run.pid);
    assert_eq!(map.path(), map_path);

    let phase1 = run.functions_until_phase();
    assert!(
        map.refresh().expect("read map") > 0,
        "{version}: no entries in {}",
        map_path.display()
    );
    let seen = python_entries(&map);
    for f in &phase1 {
        assert!(seen.contains(f), "{version}: {f:?} not in the perf map");
    }
    assert!(
        !seen.iter().any(|(q, _)| q == "late_function"),
        "not run yet"
    );

    // Each Python entry is found by any address inside it, as a Python frame.
    for e in map.entries() {
        for addr in [e.start, e.start + e.size - 1] {
            let found = map.lookup(addr).expect("inside an entry");
            assert_eq!(found, e);
        }
        if let JitName::Python { qualname, file } = e.jit_name() {
            let frame = map.frame(e.start).expect("frame");
            assert_eq!(frame.kind, FrameKind::Python);
            assert_eq!(
                (frame.function.as_str(), frame.file.as_deref()),
                (qualname, Some(file))
            );
        }
    }

    run.next_phase();
    let phase2 = run.functions_until_phase();
    let before = map.len();
    assert!(
        map.refresh().expect("read map") > 0,
        "{version}: nothing appended"
    );
    assert!(map.len() > before);
    let seen = python_entries(&map);
    for f in phase1.iter().chain(&phase2) {
        assert!(
            seen.contains(f),
            "{version}: {f:?} not in the perf map after phase 2"
        );
    }
    eprintln!(
        "python {version} -X perf: {} entries ({} Python), read in two increments while running",
        map.len(),
        seen.len()
    );
    run.finish();
    let _ = std::fs::remove_file(map_path);
}

#[test]
fn perf_map_of_python_3_12() {
    perf_map_of_a_live_process("3.12.1");
}

#[test]
fn perf_map_of_python_3_13() {
    perf_map_of_a_live_process("3.13.0");
}

#[test]
fn jitdump_of_python_3_13() {
    let Some(python) = python("3.13.0") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("maps_fixture.py");
    std::fs::write(&script, SCRIPT).expect("write script");
    let mut run = Run::start(&python, "perf_jit", &script);
    let pid = run.pid;
    let dump_path = PathBuf::from(format!("/tmp/jit-{pid}.dump"));
    let mut dump = JitDump::for_pid(pid);

    // CPython 3.13.0 writes the dump through a buffered FILE: while the
    // program runs the file ends wherever the last buffer flush did, often
    // in the middle of a record. That cut-off record is left for later.
    let phase1 = run.functions_until_phase();
    let while_running = dump.refresh().expect("a cut-off tail is not an error");
    run.next_phase();
    let phase2 = run.functions_until_phase();
    run.finish();
    let after_exit = dump.refresh().expect("read the rest");
    assert!(after_exit > 0, "nothing appended after exit");
    let header = *dump.header().expect("header");
    assert_eq!(header.pid, pid);
    // CPython 3.13.0 writes 0 here; later versions write EM_X86_64 (62).
    assert!(
        matches!(header.elf_mach, 0 | 62),
        "elf_mach {}",
        header.elf_mach
    );
    let names: Vec<(String, String)> = dump
        .code_loads()
        .filter_map(|l| match l.jit_name() {
            JitName::Python { qualname, file } => Some((qualname.to_string(), file.to_string())),
            JitName::Other(_) => None,
        })
        .collect();
    for f in phase1.iter().chain(&phase2) {
        assert!(names.contains(f), "{f:?} not among the code loads");
    }
    assert_eq!(dump.len(), while_running + after_exit);

    // The unwind info is usable as is: gimli finds, through the header's
    // search table, an FDE covering each trampoline, and its CFA rule after
    // the trampoline's `sub $8,%rsp` is rsp+16 (DESIGN.md).
    let mut checked = 0;
    for load in dump.code_loads() {
        let unwind = load
            .unwind
            .as_ref()
            .expect("CPython writes unwind info for every trampoline");
        let eh_frame_addr = load.eh_frame_svma().expect("eh_frame address");
        let hdr_addr = eh_frame_addr + unwind.eh_frame.len() as u64;
        let bases = BaseAddresses::default()
            .set_eh_frame(eh_frame_addr)
            .set_eh_frame_hdr(hdr_addr)
            .set_text(load.code_addr);
        let hdr = EhFrameHdr::new(&unwind.eh_frame_hdr, LittleEndian)
            .parse(&bases, 8)
            .expect("eh_frame_hdr parses");
        let table = hdr.table().expect("search table");
        let eh_frame = EhFrame::new(&unwind.eh_frame, LittleEndian);
        let fde = table
            .fde_for_address(&eh_frame, &bases, load.code_addr, EhFrame::cie_from_offset)
            .expect("an FDE covers the code start");
        assert_eq!(fde.initial_address(), load.code_addr);
        assert!(
            fde.len() >= load.code_size,
            "FDE covers the whole trampoline"
        );
        let mut ctx = Box::new(UnwindContext::new());
        let row = eh_frame
            .unwind_info_for_address(
                &bases,
                &mut ctx,
                load.code_addr + 4,
                EhFrame::cie_from_offset,
            )
            .expect("unwind row after sub $8,%rsp");
        match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => {
                assert_eq!((register.0, *offset), (7, 16), "CFA = rsp+16");
            }
            other => panic!("unexpected CFA rule {other:?}"),
        }
        // perf's own placement rule gives the same address for these.
        assert_eq!(eh_frame_addr, (load.code_addr + load.code_size + 7) & !7);
        checked += 1;
    }
    eprintln!(
        "python 3.13 -X perf_jit: {} code loads ({while_running} readable while running, \
         the rest after exit), unwind info of {checked} checked with gimli",
        dump.len()
    );
    // An address inside a Python trampoline is a Python frame.
    let leaf = dump
        .code_loads()
        .find(|l| {
            matches!(
                l.jit_name(),
                JitName::Python {
                    qualname: "my_leaf",
                    ..
                }
            )
        })
        .expect("my_leaf");
    let frame = dump.frame(leaf.code_addr + 2).expect("frame");
    assert_eq!(
        (frame.kind, frame.function.as_str()),
        (FrameKind::Python, "my_leaf")
    );
    let _ = std::fs::remove_file(dump_path);
}
