//! Running fixtures/python/call_chain.py and reading its ground truth.
//!
//! Included with `#[path = "common/pyfixture.rs"] mod pyfixture;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A frame as the interpreter itself reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthFrame {
    pub name: String,
    pub qualname: String,
    pub filename: String,
    pub line: u32,
}

/// A thread's ground truth.
#[derive(Debug, Clone)]
pub struct TruthThread {
    pub ident: u64,
    pub native_id: u32,
    /// Outermost first, as traceback.extract_stack() gives them.
    pub frames: Vec<TruthFrame>,
}

/// A running fixture, killed on drop.
pub struct Fixture {
    pub child: Child,
    pub threads: Vec<TruthThread>,
    _dir: tempfile::TempDir,
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("python")
        .join(name)
}

impl Fixture {
    /// Start `python call_chain.py OUT mode args...` and wait for its
    /// ground truth (and, unless `busy`, for every thread to block).
    pub fn start(python: &Path, mode: &str, args: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("truth.json");
        let mut child = Command::new(python)
            .arg(fixture_path("call_chain.py"))
            .arg(&out)
            .arg(mode)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the fixture");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !out.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("fixture exited with {status}: {err}");
            }
            assert!(Instant::now() < deadline, "fixture wrote no ground truth");
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = std::fs::read_to_string(&out).expect("truth");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("truth json");
        let threads = doc["threads"]
            .as_array()
            .expect("threads")
            .iter()
            .map(|t| TruthThread {
                ident: t["ident"].as_u64().expect("ident"),
                native_id: t["native_id"].as_u64().expect("native_id") as u32,
                frames: t["frames"]
                    .as_array()
                    .expect("frames")
                    .iter()
                    .map(|f| TruthFrame {
                        name: f["name"].as_str().expect("name").to_string(),
                        qualname: f["qualname"].as_str().expect("qualname").to_string(),
                        filename: f["filename"].as_str().expect("filename").to_string(),
                        line: f["line"].as_u64().expect("line") as u32,
                    })
                    .collect(),
            })
            .collect();
        let fixture = Fixture {
            child,
            threads,
            _dir: dir,
        };
        if mode != "busy" {
            fixture.wait_blocked();
        }
        fixture
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait until every thread of the fixture sits in read(2), so that its
    /// stacks are those recorded.
    pub fn wait_blocked(&self) {
        #[cfg(target_arch = "x86_64")]
        const READ: &str = "0";
        #[cfg(target_arch = "aarch64")]
        const READ: &str = "63";
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("tasks");
            let all_reading = tasks.flatten().all(|t| {
                std::fs::read_to_string(t.path().join("syscall"))
                    .map(|s| s.split_whitespace().next() == Some(READ))
                    .unwrap_or(false)
            });
            if all_reading {
                return;
            }
            assert!(Instant::now() < deadline, "fixture threads never blocked");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
