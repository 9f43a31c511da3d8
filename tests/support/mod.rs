//! Shared helpers for the profile and output tests: a small deterministic
//! random generator and synthetic profiles with a realistic shape.
#![allow(dead_code)]

use pyperf::profile::{
    EventInfo, Frame, FrameKind, Meta, ProcessInfo, Profile, ProfileBuilder, Sample, ThreadInfo,
};

/// SplitMix64: tiny, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub fn py(function: &str, file: &str, line: u32) -> Frame {
    Frame {
        kind: FrameKind::Python,
        function: function.into(),
        file: Some(file.into()),
        line: Some(line),
        module: None,
        inlined: false,
    }
}

pub fn native(function: &str, module: &str) -> Frame {
    Frame {
        kind: FrameKind::Native,
        function: function.into(),
        file: None,
        line: None,
        module: Some(module.into()),
        inlined: false,
    }
}

pub fn kernel(function: &str) -> Frame {
    Frame {
        kind: FrameKind::Kernel,
        function: function.into(),
        file: None,
        line: None,
        module: Some("[kernel.kallsyms]".into()),
        inlined: false,
    }
}

pub fn cpu_clock() -> EventInfo {
    EventInfo {
        name: "cpu-clock".into(),
        period: None,
        frequency: Some(999),
        unit: "ns".into(),
    }
}

/// Shape of a synthetic recording.
pub struct Shape {
    pub samples: usize,
    pub stacks: usize,
    pub min_depth: usize,
    pub max_depth: usize,
    pub threads: u32,
}

impl Shape {
    /// The benchmark shape: 200k samples, 2000 stacks of depth 20-60, 4 threads.
    pub fn realistic() -> Shape {
        Shape {
            samples: 200_000,
            stacks: 2000,
            min_depth: 20,
            max_depth: 60,
            threads: 4,
        }
    }
}

/// A frame pool like a mixed Python program: Python functions over a few
/// dozen files (user code, stdlib, site-packages), libpython and libc
/// functions, a few kernel functions for leaves.
pub fn frame_pool(rng: &mut Rng) -> (Vec<Frame>, Vec<Frame>) {
    let mut inner = Vec::new();
    for f in 0..40 {
        let file = match f % 4 {
            0 => format!("/home/user/project/app/module_{f}.py"),
            1 => format!("/usr/lib/python3.12/lib_{f}.py"),
            2 => format!("/home/user/.venv/lib/python3.12/site-packages/pkg_{f}/core.py"),
            _ => format!("/home/user/project/app/sub/file_{f}.py"),
        };
        for g in 0..12 {
            let name = format!("function_{f}_{g}");
            for _ in 0..3 {
                inner.push(py(&name, &file, rng.range(1, 900) as u32));
            }
        }
    }
    for name in [
        "_PyEval_EvalFrameDefault",
        "PyObject_Call",
        "_PyObject_MakeTpCall",
        "method_vectorcall_O",
        "list_sort_impl",
        "dict_subscript",
        "PyNumber_Add",
    ] {
        inner.push(native(name, "/usr/lib/libpython3.12.so.1.0"));
    }
    let mut leaves = Vec::new();
    for name in [
        "__memmove_avx_unaligned_erms",
        "malloc",
        "free",
        "__strlen_avx2",
    ] {
        leaves.push(native(name, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
    }
    for name in [
        "clear_page_erms",
        "do_syscall_64",
        "entry_SYSCALL_64",
        "__schedule",
    ] {
        leaves.push(kernel(name));
    }
    (inner, leaves)
}

/// A synthetic profile of the given shape: stacks grow from earlier stacks'
/// prefixes (as real call trees do), samples favour hot stacks, four threads
/// interleave in time, cpu-clock weights jitter around 1,001,001 ns.
pub fn synthetic_profile(shape: &Shape, seed: u64) -> Profile {
    let mut rng = Rng::new(seed);
    let (inner, leaves) = frame_pool(&mut rng);
    let mut b = ProfileBuilder::new();
    b.add_event(cpu_clock());
    for t in 0..shape.threads {
        b.add_thread(ThreadInfo {
            pid: 4242,
            tid: 4242 + t,
            name: if t == 0 {
                "python3".into()
            } else {
                format!("worker-{t}")
            },
        });
    }
    let root = py("<module>", "/home/user/project/main.py", 1);
    let mut stacks: Vec<Vec<Frame>> = Vec::new();
    let mut ids = Vec::new();
    while ids.len() < shape.stacks {
        let depth = rng.range(shape.min_depth as u64, shape.max_depth as u64) as usize;
        let mut stack = if stacks.is_empty() {
            vec![root.clone()]
        } else {
            let base = &stacks[rng.below(stacks.len() as u64) as usize];
            let keep = rng.range(1, base.len().min(depth) as u64) as usize;
            base[..keep].to_vec()
        };
        while stack.len() + 1 < depth {
            stack.push(inner[rng.below(inner.len() as u64) as usize].clone());
        }
        if rng.chance(30) {
            stack.push(leaves[rng.below(leaves.len() as u64) as usize].clone());
        } else {
            stack.push(inner[rng.below(inner.len() as u64) as usize].clone());
        }
        let id = b.intern_frames(stack.iter());
        if id as usize == ids.len() {
            ids.push(id);
            stacks.push(stack);
        }
    }
    let mut time = 1_000_000_000_000u64;
    for _ in 0..shape.samples {
        // Hot stacks: square the uniform draw to skew towards low indices.
        let u = rng.below(1 << 20) as f64 / (1u64 << 20) as f64;
        let stack = ids[((u * u) * ids.len() as f64) as usize];
        time += 1_001_001 / u64::from(shape.threads) + rng.below(20_000);
        b.add_sample(Sample {
            stack,
            thread: rng.below(u64::from(shape.threads)) as u32,
            time_ns: time,
            event: 0,
            weight: 1_001_001 - 2_000 + rng.below(4_000),
            idle: rng.chance(5),
        });
    }
    b.set_meta(Meta {
        command: vec!["python3".into(), "main.py".into()],
        start_unix_ns: 1_700_000_000_000_000_000,
        duration_ns: time - 1_000_000_000_000,
        lost_samples: 3,
        truncated_stacks: 17,
        inconsistent_merges: 2,
        merged_samples: shape.samples as u64,
        processes: vec![ProcessInfo {
            pid: 4242,
            command: "python3 main.py".into(),
            python_version: Some("3.12.1".into()),
        }],
    });
    b.finish()
}
