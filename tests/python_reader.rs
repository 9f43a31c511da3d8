//! The Python interpreter-state reader against real interpreters: every
//! installed CPython 3.8-3.13 runs fixtures/python/call_chain.py, which
//! records its own stacks (traceback.extract_stack, co_qualname, thread
//! ids); the reader's view of the same process must match exactly.

#[path = "common/pyfixture.rs"]
mod pyfixture;
#[path = "common/pythons.rs"]
mod pythons;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pyfixture::{Fixture, TruthThread};
use pyperf::python::layouts::{self, LayoutMatch};
use pyperf::python::{ProcessMemory, PyThread, PythonProcess};
use pythons::Python;

fn attach(fixture: &Fixture) -> PythonProcess {
    PythonProcess::attach(fixture.pid())
        .expect("attach")
        .expect("the fixture is a Python process")
}

/// (function, filename, line), outermost first, as the reader should see
/// them: qualname where the version has co_qualname.
fn expected(truth: &TruthThread, minor: u8) -> Vec<(String, String, Option<u32>)> {
    truth
        .frames
        .iter()
        .map(|f| {
            let function = if minor >= 11 { &f.qualname } else { &f.name };
            (function.clone(), f.filename.clone(), Some(f.line))
        })
        .collect()
}

fn observed(thread: &PyThread) -> Vec<(String, String, Option<u32>)> {
    thread
        .frames
        .iter()
        .rev()
        .map(|f| (f.function.clone(), f.filename.clone(), f.line))
        .collect()
}

fn check_against_truth(python: &Python, fixture: &Fixture, py: &mut PythonProcess) {
    let mem = ProcessMemory::new(fixture.pid());
    let threads = py.read_threads(&mem).expect("read threads");
    assert_eq!(threads.len(), fixture.threads.len(), "{}", python.version);
    for truth in &fixture.threads {
        let thread = threads
            .iter()
            .find(|t| t.thread_id == truth.ident)
            .unwrap_or_else(|| panic!("{}: no thread {:#x}", python.version, truth.ident));
        assert!(thread.complete, "{}", python.version);
        assert_eq!(
            observed(thread),
            expected(truth, python.minor),
            "Python {}",
            python.version
        );
    }
    assert_eq!(py.stats().frames_skipped, 0);
    assert_eq!(py.stats().stacks_truncated, 0);
}

#[test]
fn call_chain_matches_the_interpreter_in_every_version() {
    for python in pythons::for_tests() {
        let fixture = Fixture::start(&python.exe, "single", &[]);
        let mut py = attach(&fixture);
        assert_eq!(py.version().to_string(), python.version);
        assert_eq!(py.layout_match(), LayoutMatch::Exact);
        let names: Vec<&str> = fixture.threads[0]
            .frames
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        // The chain covers what it should: method, generator, lambda,
        // nested function, recursion, a second module.
        for want in ["run", "produce", "<lambda>", "inner", "recurse", "leaf"] {
            assert!(names.contains(&want), "{}: {names:?}", python.version);
        }
        check_against_truth(&python, &fixture, &mut py);
        // Read again: same answer, from the code cache.
        let misses = py.stats().code_cache_misses;
        check_against_truth(&python, &fixture, &mut py);
        assert_eq!(py.stats().code_cache_misses, misses, "{}", python.version);
        eprintln!("Python {}: call chain matches", python.version);
    }
}

#[test]
fn two_threads_match_the_interpreter_in_every_version() {
    for python in pythons::for_tests() {
        let fixture = Fixture::start(&python.exe, "threads", &[]);
        assert_eq!(fixture.threads.len(), 2);
        let mut py = attach(&fixture);
        check_against_truth(&python, &fixture, &mut py);
        // One thread state can also be read on its own.
        let mem = ProcessMemory::new(fixture.pid());
        let states = py.thread_states(&mem).expect("thread states");
        for state in states {
            let alone = py.read_thread(&mem, state.addr).expect("read thread");
            let truth = fixture
                .threads
                .iter()
                .find(|t| t.ident == alone.thread_id)
                .expect("known thread");
            assert_eq!(observed(&alone), expected(truth, python.minor));
        }
        eprintln!("Python {}: two threads match", python.version);
    }
}

#[test]
fn thread_ids_are_pthreads_and_kernel_tids() {
    for python in pythons::for_tests() {
        let fixture = Fixture::start(&python.exe, "threads", &[]);
        let mut py = attach(&fixture);
        let threads = py
            .read_threads(&ProcessMemory::new(fixture.pid()))
            .expect("read threads");
        // pthread_t -> TID through each thread's fs_base (x86-64 glibc).
        let pointers =
            pyperf::python::tids::thread_pointers(fixture.pid()).expect("thread pointers");
        for truth in &fixture.threads {
            let thread = threads
                .iter()
                .find(|t| t.thread_id == truth.ident)
                .expect("thread_id equals threading.get_ident()");
            if python.minor >= 11 {
                assert_eq!(
                    thread.native_thread_id,
                    Some(truth.native_id),
                    "{}",
                    python.version
                );
            } else {
                assert_eq!(thread.native_thread_id, None);
            }
            assert_eq!(
                pointers.get(&thread.thread_id),
                Some(&truth.native_id),
                "{}: fs_base of TID {} is the thread's pthread_t",
                python.version,
                truth.native_id
            );
        }
        // Both threads are blocked in os.read, which releases the GIL.
        assert!(
            threads.iter().all(|t| t.holds_gil == Some(false)),
            "{}",
            python.version
        );
    }
}

/// Per thread (by pthread_t), how many `_PyEval_EvalFrameDefault` frames
/// gdb finds on the native stack.
fn native_eval_frames(pid: i32) -> Option<HashMap<u64, usize>> {
    let out = Command::new("timeout")
        .args([
            "120",
            "gdb",
            "-p",
            &pid.to_string(),
            "-batch",
            "-nx",
            "-ex",
            "thread apply all bt",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = HashMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            // Thread 2 (Thread 0x7f510435a6c0 (LWP 21751) "python"):
            current = rest
                .split("(Thread 0x")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|hex| u64::from_str_radix(hex, 16).ok());
            if let Some(t) = current {
                counts.insert(t, 0);
            }
        } else if line.starts_with('#') {
            let function = line
                .split_whitespace()
                .skip(1)
                .find(|w| !w.starts_with("0x") && *w != "in");
            if function == Some("_PyEval_EvalFrameDefault") {
                if let Some(t) = current {
                    *counts.entry(t).or_insert(0) += 1;
                }
            }
        }
    }
    Some(counts)
}

#[test]
fn entry_frames_match_native_eval_loop_calls() {
    if Command::new("gdb").arg("--version").output().is_err() {
        eprintln!("skipping: gdb is not installed");
        return;
    }
    for python in pythons::for_tests() {
        let fixture = Fixture::start(&python.exe, "threads", &[]);
        let mut py = attach(&fixture);
        let threads = py
            .read_threads(&ProcessMemory::new(fixture.pid()))
            .expect("read threads");
        let Some(native) = native_eval_frames(fixture.pid()) else {
            eprintln!("skipping Python {}: gdb could not attach", python.version);
            continue;
        };
        for thread in &threads {
            let entries = thread.frames.iter().filter(|f| f.entry).count();
            let eval_calls = native.get(&thread.thread_id).copied();
            assert_eq!(
                Some(entries),
                eval_calls,
                "Python {}: thread {:#x}: entry frames vs _PyEval_EvalFrameDefault frames",
                python.version,
                thread.thread_id
            );
            assert!(!thread.leaf_eval_without_frames);
            // The outermost frame always starts an eval-loop call.
            assert!(thread.frames.last().is_some_and(|f| f.entry));
        }
        eprintln!("Python {}: entry frames match gdb", python.version);
    }
}

#[test]
fn debug_offsets_equal_the_header_layout() {
    let mut checked = 0;
    for python in pythons::for_tests().into_iter().filter(|p| p.minor >= 13) {
        let fixture = Fixture::start(&python.exe, "single", &[]);
        let py = attach(&fixture);
        let debug = py.debug_offsets().expect("3.13+ has _Py_DebugOffsets");
        let table = layouts::generated::LAYOUTS
            .iter()
            .find(|l| l.version == python.version)
            .expect("generated entry");
        assert_eq!(debug.version(), py.version());
        // The target's own offsets, applied over the header-probed entry,
        // change nothing: the two sources agree on every field.
        assert_eq!(debug.apply(table), *table, "Python {}", python.version);
        assert_eq!(py.layout(), table);
        checked += 1;
    }
    if checked == 0 {
        eprintln!("skipping: no Python 3.13+ installed");
    }
}

#[test]
fn busy_process_reads_never_fail() {
    for python in pythons::for_tests() {
        let fixture = Fixture::start(&python.exe, "busy", &[]);
        let mut py = attach(&fixture);
        let mem = ProcessMemory::new(fixture.pid());
        // The only shape the stack can have, outermost first (the
        // comprehension is a frame of its own before 3.12).
        let comprehension = if python.minor >= 11 {
            "spin_b.<locals>.<listcomp>"
        } else {
            "<listcomp>"
        };
        let shape = ["<module>", "busy", "spin_a", "spin_b", comprehension];
        let (mut consistent, mut torn, mut holding, mut in_spin_b) = (0, 0, 0, 0);
        let deadline = Instant::now() + Duration::from_millis(400);
        while Instant::now() < deadline {
            let threads = py
                .read_threads(&mem)
                .expect("a running process is always readable");
            assert_eq!(threads.len(), 1);
            let t = &threads[0];
            // The only thread runs Python code: it holds the GIL except
            // for the moments the interpreter hands it around.
            if t.holds_gil == Some(true) {
                holding += 1;
            }
            let names: Vec<&str> = t.frames.iter().rev().map(|f| f.function.as_str()).collect();
            if t.complete {
                assert_eq!(
                    names.first(),
                    Some(&"<module>"),
                    "{}: {names:?}",
                    python.version
                );
            }
            // A consistent read is a prefix of the one possible chain.
            if t.complete && names.len() <= shape.len() && names[..] == shape[..names.len()] {
                consistent += 1;
                if names.len() >= 4 {
                    in_spin_b += 1;
                }
            } else {
                torn += 1;
            }
        }
        eprintln!(
            "Python {}: busy process: {consistent} consistent reads, {torn} torn, GIL held in {holding}, {in_spin_b} in spin_b",
            python.version
        );
        assert!(
            in_spin_b > 0,
            "{}: the loop's inner frames were seen",
            python.version
        );
        assert!(
            holding * 2 > consistent + torn,
            "{}: the running thread mostly holds the GIL",
            python.version
        );
        assert!(
            consistent > torn,
            "{}: mostly consistent reads",
            python.version
        );
    }
}

#[test]
fn statically_linked_interpreters() {
    let mut ran = 0;
    // Debian's /usr/bin/python3.X: libpython linked in, symbols only in .dynsym.
    if let Some(python) = pythons::system_static() {
        if layouts::find(
            pyperf::python::PyVersion::parse(&python.version).expect("version"),
            false,
        )
        .is_some()
        {
            let fixture = Fixture::start(&python.exe, "threads", &[]);
            let mut py = attach(&fixture);
            assert_eq!(py.binary(), python.exe);
            assert_eq!(py.version().to_string(), python.version);
            check_against_truth(&python, &fixture, &mut py);
            eprintln!("static system Python {}: matches", python.version);
            ran += 1;
        }
    }
    // Each pyenv interpreter relinked from its libpython3.X.a without
    // -export-dynamic, under a name that says nothing of the version:
    // _PyRuntime is only in .symtab, and before 3.11 (no Py_Version) the
    // version comes from the string in .rodata alone.
    for python in pythons::installed() {
        let Some(exe) = build_static(&python) else {
            eprintln!(
                "skipping static build of {}: no libpython .a or no cc",
                python.version
            );
            continue;
        };
        let fixture = Fixture::start(exe.path(), "single", &[]);
        // Deleted while running (as after an upgrade): still readable
        // through /proc/PID/map_files.
        std::fs::remove_file(exe.path()).expect("delete the running executable");
        let mut py = attach(&fixture);
        assert_eq!(py.binary(), exe.path());
        check_against_truth(&python, &fixture, &mut py);
        eprintln!(
            "static relink of Python {} (deleted): matches",
            python.version
        );
        ran += 1;
    }
    if ran == 0 {
        eprintln!("skipping: no statically linked interpreter available");
    }
}

/// A built executable, removed on drop.
struct TempExe {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl TempExe {
    fn path(&self) -> &Path {
        &self.path
    }
}

fn build_static(python: &Python) -> Option<TempExe> {
    let prefix = pythons::prefix_of(&python.exe)?;
    let config = prefix
        .join("lib")
        .join(format!("python3.{}", python.minor))
        .join(format!("config-3.{}-x86_64-linux-gnu", python.minor));
    let archive = config.join(format!("libpython3.{}.a", python.minor));
    let main = config.join("python.o");
    if !archive.is_file() || !main.is_file() {
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("static-python");
    let ok = Command::new("cc")
        .arg("-o")
        .arg(&path)
        .arg(&main)
        .arg(&archive)
        .args(["-lm", "-ldl", "-lpthread", "-lutil"])
        .status()
        .ok()?
        .success();
    ok.then_some(TempExe { _dir: dir, path })
}

#[test]
fn not_a_python_process_yet() {
    let Some(python) = pythons::for_tests().pop() else {
        eprintln!("skipping: no Python installed");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("truth.json");
    let script = format!(
        "sleep 1; exec {} {} {} single",
        python.exe.display(),
        pyfixture::fixture_path("call_chain.py").display(),
        out.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("sh");
    let pid = child.id() as i32;
    // While it is still the shell: no interpreter, and no error.
    let early = PythonProcess::attach(pid);
    let later = (|| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if out.exists() {
                return PythonProcess::attach(pid);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("fixture never started");
    })();
    let _ = child.kill();
    let _ = child.wait();
    assert!(matches!(early, Ok(None)), "{early:?}");
    let later = later.expect("attach").expect("now it is Python");
    assert_eq!(later.version().to_string(), python.version);
}

#[test]
fn stack_read_cost_30_frames() {
    for python in pythons::for_tests() {
        // <module>, main, run, produce, <lambda>, outer, inner, 22 x recurse, leaf.
        let fixture = Fixture::start(&python.exe, "deep", &["21"]);
        let mut py = attach(&fixture);
        let mem = ProcessMemory::new(fixture.pid());
        let threads = py.read_threads(&mem).expect("read");
        let depth = threads[0].frames.len();
        assert_eq!(depth, 30, "{}", python.version);
        let states = py.thread_states(&mem).expect("states");
        let rounds = 2000;
        let start = Instant::now();
        for _ in 0..rounds {
            let t = py.read_thread(&mem, states[0].addr).expect("read");
            assert_eq!(t.frames.len(), depth);
        }
        let per_read = start.elapsed() / rounds;
        let counting = Counting {
            inner: mem,
            reads: std::cell::Cell::new(0),
        };
        py.read_thread(&counting, states[0].addr).expect("read");
        eprintln!(
            "Python {}: {depth}-frame stack read in {:.1} us, {} process_vm_readv calls (cached code objects)",
            python.version,
            per_read.as_secs_f64() * 1e6,
            counting.reads.get()
        );
        // A loose bound that still catches pathologies (e.g. no caching).
        assert!(
            per_read < Duration::from_millis(5),
            "{}: {per_read:?}",
            python.version
        );
    }
}

/// Counts the reads that reach the process.
struct Counting {
    inner: ProcessMemory,
    reads: std::cell::Cell<usize>,
}

impl pyperf::python::RemoteMemory for Counting {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), pyperf::python::MemError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.read(addr, buf)
    }
}
