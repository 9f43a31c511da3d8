//! The programs with known behaviour that profiler tests measure against.
//!
//! `scripts/build-fixtures` builds them into `build/fixtures/` and writes
//! `manifest.json`; [`ensure_built`] runs it once per test process (the script
//! holds a lock file, so parallel test binaries wait for each other) and
//! returns the manifest. Ground truth comes from the fixtures, never from the
//! profiler: native fixtures from `fixtures/native/EXPECTED.json`
//! ([`expected`]), Python fixtures from the JSON file each run writes about
//! itself ([`run_python_fixture`], [`Truth`]). See the READMEs under
//! `fixtures/native/` and `fixtures/python/mixed/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::pythons::Python;
use super::repo_root;

/// `build/fixtures/manifest.json`: every built artifact, paths relative to [`build_dir`].
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The Cython version the `cyspin` modules were generated with.
    pub cython: String,
    /// Native fixture name -> path of the binary (or `libsplitplug` -> the plugin).
    pub native: BTreeMap<String, PathBuf>,
    /// "3.12" -> what was built for that interpreter, or why it was skipped.
    pub python: BTreeMap<String, PythonBuild>,
}

/// The extensions built for one CPython minor version.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PythonBuild {
    Built {
        /// e.g. "3.12.1"
        version: String,
        executable: PathBuf,
        /// Directory holding both extensions (relative to [`build_dir`]).
        dir: PathBuf,
        spinext: PathBuf,
        cyspin: PathBuf,
    },
    Skipped {
        skipped: String,
    },
}

/// Where the build script puts everything.
pub fn build_dir() -> PathBuf {
    repo_root().join("build").join("fixtures")
}

/// Builds the fixtures (once per process; cheap when up to date) and returns the manifest.
///
/// Panics with the script's output when the build fails: every fixture test
/// depends on it, and the script's message says what is missing.
pub fn ensure_built() -> &'static Manifest {
    static MANIFEST: OnceLock<Result<Manifest, String>> = OnceLock::new();
    let built = MANIFEST.get_or_init(|| {
        super::run_setup_script("build-fixtures")?;
        let path = build_dir().join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("bad {}: {e}", path.display()))
    });
    match built {
        Ok(manifest) => manifest,
        Err(message) => panic!("fixtures not built: {message}"),
    }
}

/// A built native fixture (`callsplit`, `callsplit_threads`, `callsplit_fork`,
/// `deep`, `splitcxx`, or `libsplitplug`).
pub fn native(name: &str) -> PathBuf {
    let manifest = ensure_built();
    let rel = manifest
        .native
        .get(name)
        .unwrap_or_else(|| panic!("no native fixture {name:?} in the manifest"));
    build_dir().join(rel)
}

/// The directory with `spinext` and `cyspin` built for `python`, or `None`
/// after printing why the caller skips.
pub fn python_ext_dir(python: &Python) -> Option<PathBuf> {
    let key = format!("3.{}", python.minor);
    match ensure_built().python.get(&key) {
        Some(PythonBuild::Built { dir, .. }) => Some(build_dir().join(dir)),
        Some(PythonBuild::Skipped { skipped }) => {
            eprintln!("SKIPPED: fixtures for CPython {key} were not built: {skipped}");
            None
        }
        None => {
            eprintln!("SKIPPED: scripts/build-fixtures does not build for CPython {key}");
            None
        }
    }
}

/// A Python fixture script: `app`, `app_cython`, `app_pure`, `app_calls`,
/// `app_threads` or `sleeper` (under `fixtures/python/mixed/`).
pub fn python_fixture(name: &str) -> PathBuf {
    repo_root()
        .join("fixtures/python/mixed")
        .join(format!("{name}.py"))
}

// ---------------------------------------------------------------- native truth

/// One native fixture's entry in `fixtures/native/EXPECTED.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Key of the binary in [`Manifest::native`].
    pub binary: String,
    pub stacks: Vec<ExpectedStack>,
    /// Frames that exist only as DWARF inlined subroutines.
    #[serde(default)]
    pub inlined: Vec<String>,
    /// Frame -> how many times it occurs in a row (deep recursion).
    #[serde(default)]
    pub repeat: BTreeMap<String, usize>,
    /// Frame -> the shared object it lives in, when not the binary.
    #[serde(default)]
    pub module: BTreeMap<String, String>,
}

/// A stack (root to leaf, from `main` or the thread's start routine) and its share of samples.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedStack {
    pub stack: Vec<String>,
    pub share: f64,
    /// The thread's comm, for per-thread fixtures.
    pub thread: Option<String>,
    /// "parent" or "child", for the fork fixture.
    pub process: Option<String>,
    /// The process's comm, for the fork fixture.
    pub comm: Option<String>,
}

/// The ground truth of native fixture `name` (a key of EXPECTED.json).
pub fn expected(name: &str) -> Expected {
    let path = repo_root().join("fixtures/native/EXPECTED.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut all: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad {}: {e}", path.display()));
    let entry = all
        .remove(name)
        .unwrap_or_else(|| panic!("no fixture {name:?} in {}", path.display()));
    serde_json::from_value(entry).unwrap_or_else(|e| panic!("bad entry {name:?}: {e}"))
}

impl Expected {
    /// Stack `index` with repeated frames written out, root to leaf.
    pub fn frames(&self, index: usize) -> Vec<String> {
        let mut out = Vec::new();
        for frame in &self.stacks[index].stack {
            let times = self.repeat.get(frame).copied().unwrap_or(1);
            out.extend(std::iter::repeat_n(frame.clone(), times));
        }
        out
    }

    /// Which expected stack a sampled stack (root to leaf, function names as a
    /// symbolizer prints them) is, if any.
    ///
    /// Frames above the expected root are ignored; names are compared by
    /// [`short_name`]; inlined frames may be present or absent.
    pub fn stack_of<S: AsRef<str>>(&self, sampled: &[S]) -> Option<usize> {
        let names: Vec<String> = sampled.iter().map(|s| short_name(s.as_ref())).collect();
        (0..self.stacks.len()).find(|&i| {
            let want = self.frames(i);
            let Some(start) = names.iter().position(|n| *n == want[0]) else {
                return false;
            };
            let got = &names[start..];
            let without_inlined: Vec<&String> =
                want.iter().filter(|f| !self.inlined.contains(f)).collect();
            got.iter().eq(want.iter()) || got.iter().eq(without_inlined.iter().copied())
        })
    }
}

/// A demangled C/C++ name without its parameter list and return type:
/// `int run_template<int>(unsigned long)` -> `run_template<int>`.
pub fn short_name(name: &str) -> String {
    // Bracket depth over <> and (), so `(anonymous namespace)` and template
    // arguments are never cut.
    let mut depth = 0i32;
    let mut params = None; // the last top-level '(' that follows a name
    let mut spaces = Vec::new(); // top-level spaces
    for (i, c) in name.char_indices() {
        match c {
            '(' => {
                let after_name =
                    name[..i].ends_with(|p: char| p.is_alphanumeric() || "_>".contains(p));
                if depth == 0 && after_name {
                    params = Some(i);
                }
                depth += 1;
            }
            '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ' ' if depth == 0 => spaces.push(i),
            _ => {}
        }
    }
    let end = params.unwrap_or(name.len());
    let start = spaces
        .iter()
        .rev()
        .find(|&&i| i < end)
        .map_or(0, |&i| i + 1);
    name[start..end].to_string()
}

// ---------------------------------------------------------------- Python truth

/// A frame of a Python fixture's expected stack.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TruthFrame {
    /// "python" or "native".
    pub kind: String,
    /// Python: the function name (`<module>` for module level); native: the ELF symbol.
    pub name: String,
    pub file: Option<PathBuf>,
    /// Python: the hot line of a leaf, or the executing line in a sleeper stack.
    /// Native (Cython): the `.pyx` hot line.
    pub line: Option<u32>,
    /// Native: the extension's name prefix (`spinext`, `cyspin`).
    pub module: Option<String>,
    /// Cython: the name in the `.pyx` (`cyspin.cy_spin_inner`).
    pub cython_name: Option<String>,
}

/// One part of a Python fixture's CPU time, as the fixture measured it.
#[derive(Debug, Clone, Deserialize)]
pub struct Part {
    pub target: f64,
    /// CPU time of this part over the sum of all parts.
    pub share: f64,
    pub cpu_s: f64,
    pub calls: u64,
    /// Required frames, root to leaf (see [`Part::matches`]).
    pub stack: Vec<TruthFrame>,
    /// True when the share covers the whole subtree below `stack` (call-heavy fixture).
    #[serde(default)]
    pub inclusive: bool,
    /// Frames that may appear below `stack`, in call order, for inclusive parts.
    #[serde(default)]
    pub callees: Vec<TruthFrame>,
    /// Thread fixture: the OS thread name and id of the thread running this part.
    pub thread_name: Option<String>,
    pub native_id: Option<u64>,
}

/// The ground truth a Python fixture writes about its own run.
#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub fixture: String,
    /// e.g. "3.12.1"
    pub python: String,
    pub pid: u32,
    pub duration_s: f64,
    /// CPU seconds spent in all parts together.
    pub parts_cpu_s: f64,
    /// CPU seconds of the whole process (start-up included).
    pub process_cpu_s: f64,
    pub parts: BTreeMap<String, Part>,
}

impl Part {
    /// Whether a sampled stack (root to leaf, frame names, with the frames a
    /// default report hides already removed: interpreter internals, libpython,
    /// libc) belongs to this part.
    ///
    /// The expected frames must appear in order (other frames may sit between
    /// them) and the sample must end at the expected leaf, or, for inclusive
    /// parts, at the leaf or one of its callees.
    pub fn matches<S: AsRef<str>>(&self, sampled: &[S]) -> bool {
        let mut rest = sampled.iter().map(AsRef::as_ref);
        let found_all = self
            .stack
            .iter()
            .all(|want| rest.any(|name| name == want.name));
        if !found_all {
            return false;
        }
        let tail: Vec<&str> = rest.collect();
        if !self.inclusive {
            return tail.is_empty();
        }
        let mut callees = self.callees.iter().map(|f| f.name.as_str());
        tail.iter().all(|name| callees.any(|c| c == *name))
    }
}

/// Runs Python fixture `name` under `python` for `duration` CPU seconds,
/// returning its output and ground truth; panics if it fails.
pub fn run_python_fixture(python: &Python, name: &str, duration: f64) -> (Output, Truth) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let truth_path = dir.path().join("truth.json");
    let mut cmd = python_fixture_command(python, name, duration, &truth_path);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (out, read_truth(&truth_path))
}

/// The command that runs Python fixture `name`, writing its truth to `truth`
/// (for running it under a profiler). Builds the fixtures first.
pub fn python_fixture_command(python: &Python, name: &str, duration: f64, truth: &Path) -> Command {
    ensure_built();
    let mut cmd = Command::new(&python.exe);
    cmd.arg(python_fixture(name))
        .arg(duration.to_string())
        .arg("--truth")
        .arg(truth);
    cmd
}

/// Parses a ground-truth file written by a Python fixture.
pub fn read_truth(path: &Path) -> Truth {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no ground truth at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad truth {}: {e}", path.display()))
}

// ---------------------------------------------------------------- sleeper

/// What `sleeper.py` says about itself once it is blocked.
#[derive(Debug, Clone, Deserialize)]
pub struct SleeperTruth {
    pub pid: u32,
    /// Thread id of the blocked (main) thread.
    pub native_id: u64,
    /// "native" (blocked in spinext.sleep_in_c) or "python" (in time.sleep).
    pub mode: String,
    /// The Python stack, root to leaf, with the line executing in each frame.
    pub python_stack: Vec<TruthFrame>,
    /// Native frames below the Python leaf (excluding libc), root to leaf.
    pub native_stack: Vec<TruthFrame>,
    /// Native mode: the names the libc leaf below `native_stack` may have.
    #[serde(default)]
    pub native_leaf_libc: Vec<String>,
}

/// A running `sleeper.py`, blocked; killed when dropped.
pub struct Sleeper {
    pub child: Child,
    pub truth: SleeperTruth,
    _dir: tempfile::TempDir,
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sleeper.py --mode MODE` and returns once it is blocked (its truth
/// file exists and /proc/PID/stat shows state S). Panics after 20 s.
pub fn spawn_sleeper(python: &Python, mode: &str) -> Sleeper {
    let dir = tempfile::tempdir().expect("temporary directory");
    let truth_path = dir.path().join("truth.json");
    let mut cmd = python_fixture_command(python, "sleeper", 60.0, &truth_path);
    cmd.args(["--mode", mode]).stdout(Stdio::null());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut sleeper = Sleeper {
        truth: SleeperTruth {
            pid: child.id(),
            native_id: 0,
            mode: mode.to_string(),
            python_stack: Vec::new(),
            native_stack: Vec::new(),
            native_leaf_libc: Vec::new(),
        },
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let stat = format!("/proc/{}/stat", sleeper.child.id());
    loop {
        if truth_path.exists() {
            let text = std::fs::read_to_string(&stat).unwrap_or_default();
            // The state follows the ")" that ends the command name.
            let state = text.rsplit(')').next().unwrap_or("").trim_start();
            if state.starts_with('S') {
                break;
            }
        }
        if let Ok(Some(status)) = sleeper.child.try_wait() {
            panic!("sleeper.py exited early: {status}");
        }
        assert!(Instant::now() < deadline, "sleeper.py never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(&truth_path).expect("sleeper truth");
    sleeper.truth = serde_json::from_str(&text).expect("sleeper truth is JSON");
    sleeper
}
