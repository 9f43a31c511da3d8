//! Recording real programs with pyperf and reading the profile back through
//! the library, so tests see every sample's frames, thread and weight.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use pyperf::profile::{read_profile, Frame, FrameKind, Profile};
use pyperf::symbols::{Symbolizer, SymbolizerOptions};

/// A finished recording: pyperf's own output and the profile it wrote.
pub struct Recording {
    pub output: Output,
    pub profile: Profile,
    pub complete: bool,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Runs `pyperf record ARGS -o TMP -- ARGV` and reads the result.
pub fn record<A: AsRef<OsStr>, B: AsRef<OsStr>>(args: &[A], argv: &[B]) -> Recording {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("prof.pyperf");
    let output = super::run(
        super::pyperf()
            .arg("record")
            .args(args)
            .arg("-o")
            .arg(&path)
            .arg("--")
            .args(argv),
    );
    assert!(
        path.exists(),
        "pyperf record wrote no profile:\n{}",
        super::stderr_of(&output)
    );
    let (profile, complete) = read(&path);
    Recording {
        output,
        profile,
        complete,
        path,
        _dir: dir,
    }
}

/// Reads a profile, resolving what the file left unsymbolized.
pub fn read(path: &Path) -> (Profile, bool) {
    let mut symbolizer = Symbolizer::new(SymbolizerOptions::default());
    let outcome = read_profile(path, Some(&mut symbolizer))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (outcome.profile, outcome.complete)
}

/// One sample as a test sees it.
pub struct SampleView<'p> {
    pub pid: u32,
    pub tid: u32,
    pub thread_name: &'p str,
    pub weight: u64,
    pub event: &'p str,
    /// Root to leaf.
    pub frames: Vec<&'p Frame>,
}

impl SampleView<'_> {
    /// User-space function names, root to leaf (kernel frames and markers dropped).
    pub fn user_names(&self) -> Vec<&str> {
        self.frames
            .iter()
            .filter(|f| matches!(f.kind, FrameKind::Native | FrameKind::Python))
            .map(|f| f.function.as_str())
            .collect()
    }

    /// The Python frames' function names, root to leaf.
    pub fn python_names(&self) -> Vec<&str> {
        self.frames
            .iter()
            .filter(|f| f.kind == FrameKind::Python)
            .map(|f| f.function.as_str())
            .collect()
    }

    pub fn leaf(&self) -> Option<&Frame> {
        self.frames
            .iter()
            .rev()
            .find(|f| matches!(f.kind, FrameKind::Native | FrameKind::Python))
            .copied()
    }
}

/// Every sample of the profile, in file order.
pub fn samples(profile: &Profile) -> Vec<SampleView<'_>> {
    profile
        .samples
        .iter()
        .map(|s| {
            let thread = &profile.threads[s.thread as usize];
            SampleView {
                pid: thread.pid,
                tid: thread.tid,
                thread_name: &thread.name,
                weight: s.weight,
                event: &profile.events[s.event as usize].name,
                frames: profile.stack_frames(s.stack).collect(),
            }
        })
        .collect()
}

/// The samples whose innermost user frame is `function`.
pub fn with_leaf<'s, 'p>(samples: &'s [SampleView<'p>], function: &str) -> Vec<&'s SampleView<'p>> {
    samples
        .iter()
        .filter(|s| s.leaf().is_some_and(|f| f.function == function))
        .collect()
}

/// How many of `samples` show exactly these Python frames, root to leaf.
pub fn count_python_stack(samples: &[&SampleView<'_>], want: &[&str]) -> usize {
    samples.iter().filter(|s| s.python_names() == want).count()
}
