//! Python's pstats file, as `cProfile` writes it and `pstats.Stats(path)`
//! loads it: a `marshal`led dict
//!
//! ```text
//! (file, line, function) -> (cc, nc, tt, ct, {caller key: (nc, cc, tt, ct)})
//! ```
//!
//! so snakeviz, gprof2dot (`-f pstats`), pyprof2calltree and tuna read
//! pyperf's mixed stacks. How the sampled figures fill the fields:
//! - a key is one function (lines merged, as `report` groups them): Python
//!   code by its `.py` file, native code by its source file from debug info
//!   or else its binary, kernel code by `[kernel.kallsyms]`; the line is the
//!   smallest line sampled in the function (a sampler never sees the `def`);
//! - `tt` (tottime) and `ct` (cumtime) are the sample weights where the
//!   function ran / was on the stack, in seconds for clock events (event
//!   counts otherwise), `ct` counted once per sample under recursion;
//! - call counts are unknown to a sampler: `nc` and `cc` are the number of
//!   samples with the function on the stack, so "percall" columns are time
//!   per sample, not per call;
//! - a caller entry holds the same figures for the samples where that
//!   caller called the function directly.

use std::collections::HashMap;
use std::io::Write;

use super::aggregate::{
    edge_tallies, first_lines, group_frames, group_tallies, merge_groups, GroupBy,
};
use super::convert::ConvertOptions;
use super::label::frame_file;
use super::select::{Tally, View};
use super::OutputError;
use crate::profile::{FrameKind, Profile};

/// The (file, line, function) key of one pstats entry.
type Key = (String, u32, String);

/// Writes the marshalled pstats dict.
pub fn write_pstats(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let (per_stack, _) = view.nonempty_stack_tallies()?;
    // Functions, then functions that print as the same key merged.
    let functions = group_frames(&view, GroupBy::Function);
    let lines = first_lines(&view, &functions);
    let mut keys: Vec<Key> = Vec::new();
    let mut key_index: HashMap<Key, u32> = HashMap::new();
    let merged: Vec<u32> = functions
        .example
        .iter()
        .zip(&lines)
        .map(|(&frame, line)| {
            let key = key_of(view.frame(frame), *line);
            let next = keys.len() as u32;
            *key_index.entry(key.clone()).or_insert_with(|| {
                keys.push(key);
                next
            })
        })
        .collect();
    let entries = merge_groups(&functions, &merged);
    let tallies = group_tallies(&view, &entries, &per_stack);
    let edges = edge_tallies(&view, &per_stack, |caller, callee| {
        (
            entries.of_frame[caller as usize],
            entries.of_frame[callee as usize],
        )
    });
    let mut callers_of: Vec<Vec<(u32, Tally, Tally)>> = vec![Vec::new(); keys.len()];
    for ((caller, callee), edge) in &edges {
        callers_of[*callee as usize].push((*caller, edge.self_, edge.total));
    }
    let seconds = |t: Tally| {
        if view.weights_are_ns() {
            t.weight as f64 / 1e9
        } else {
            t.weight as f64
        }
    };
    let mut m = Marshal::default();
    let shown: Vec<usize> = (0..keys.len())
        .filter(|&k| tallies[k].total.samples > 0)
        .collect();
    m.dict_start();
    for k in shown {
        let t = &tallies[k];
        m.key(&keys[k]);
        m.tuple_start(5);
        m.int(t.total.samples as i64); // cc: primitive calls, here samples
        m.int(t.total.samples as i64); // nc
        m.float(seconds(t.self_));
        m.float(seconds(t.total));
        let callers = &mut callers_of[k];
        callers.sort_by_key(|&(caller, _, _)| caller);
        m.dict_start();
        for &(caller, self_, total) in callers.iter() {
            m.key(&keys[caller as usize]);
            m.tuple_start(4);
            m.int(total.samples as i64);
            m.int(total.samples as i64);
            m.float(seconds(self_));
            m.float(seconds(total));
        }
        m.dict_end();
    }
    m.dict_end();
    out.write_all(&m.bytes).map_err(OutputError::Output)?;
    out.flush().map_err(OutputError::Output)
}

fn key_of(frame: &crate::profile::Frame, line: Option<u32>) -> Key {
    let file = match frame.kind {
        FrameKind::Kernel => frame
            .module
            .clone()
            .unwrap_or_else(|| "[kernel.kallsyms]".into()),
        FrameKind::Marker => "~".into(), // cProfile's file for code without one
        _ => frame_file(frame).unwrap_or("~").to_string(),
    };
    (file, line.unwrap_or(0), frame.function.clone())
}

/// A writer of Python's marshal format, version 2 (what every Python 3
/// reads): no back-references, `u` strings, `i`/`l` ints, `g` binary floats,
/// `(` tuples and `{`...`0` dicts.
#[derive(Default)]
struct Marshal {
    bytes: Vec<u8>,
}

impl Marshal {
    fn dict_start(&mut self) {
        self.bytes.push(b'{');
    }

    fn dict_end(&mut self) {
        self.bytes.push(b'0');
    }

    fn tuple_start(&mut self, len: u32) {
        self.bytes.push(b'(');
        self.bytes.extend_from_slice(&len.to_le_bytes());
    }

    fn key(&mut self, (file, line, function): &Key) {
        self.tuple_start(3);
        self.str(file);
        self.int(i64::from(*line));
        self.str(function);
    }

    fn str(&mut self, s: &str) {
        self.bytes.push(b'u');
        // Longer than 2 GiB cannot be a name; cut rather than corrupt.
        let len = s.len().min(i32::MAX as usize);
        self.bytes.extend_from_slice(&(len as u32).to_le_bytes());
        self.bytes.extend_from_slice(&s.as_bytes()[..len]);
    }

    fn int(&mut self, v: i64) {
        if let Ok(small) = i32::try_from(v) {
            self.bytes.push(b'i');
            self.bytes.extend_from_slice(&small.to_le_bytes());
            return;
        }
        // A long: base-2**15 digits, least significant first; the digit
        // count carries the sign.
        let mut magnitude = v.unsigned_abs();
        let mut digits = Vec::new();
        while magnitude > 0 {
            digits.push((magnitude & 0x7fff) as u16);
            magnitude >>= 15;
        }
        let count = digits.len() as i32;
        self.bytes.push(b'l');
        let signed = if v < 0 { -count } else { count };
        self.bytes.extend_from_slice(&signed.to_le_bytes());
        for d in digits {
            self.bytes.extend_from_slice(&d.to_le_bytes());
        }
    }

    fn float(&mut self, v: f64) {
        self.bytes.push(b'g');
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What `marshal.dumps(value, 2)` gives for a Python expression, from
    /// the real interpreter; `None` (test skipped) without python3.
    fn python_marshal(expr: &str) -> Option<Vec<u8>> {
        let script =
            format!("import marshal,sys; sys.stdout.buffer.write(marshal.dumps({expr}, 2))");
        match Command::new("python3").args(["-c", &script]).output() {
            Ok(out) if out.status.success() => Some(out.stdout),
            _ => {
                eprintln!("SKIPPED: python3 is not available to check marshal output");
                None
            }
        }
    }

    /// main -> f -> f -> g (3 samples of 2 ms) and main -> f (1 sample of 2 ms).
    fn recursive_profile() -> Profile {
        use crate::profile::{EventInfo, Frame, ProfileBuilder, Sample, ThreadInfo};
        let py = |name: &str, line| Frame {
            kind: FrameKind::Python,
            function: name.into(),
            file: Some("app.py".into()),
            line: Some(line),
            module: None,
            inlined: false,
        };
        let mut b = ProfileBuilder::new();
        b.add_event(EventInfo {
            name: "cpu-clock".into(),
            period: None,
            frequency: Some(500),
            unit: "ns".into(),
        });
        b.add_thread(ThreadInfo {
            pid: 1,
            tid: 1,
            name: "t".into(),
        });
        let deep = b.intern_frames([py("main", 9), py("f", 4), py("f", 3), py("g", 7)].iter());
        let shallow = b.intern_frames([py("main", 9), py("f", 5)].iter());
        for (i, stack) in [deep, deep, deep, shallow].into_iter().enumerate() {
            b.add_sample(Sample {
                stack,
                thread: 0,
                time_ns: i as u64 * 2_000_000,
                event: 0,
                weight: 2_000_000,
                idle: false,
            });
        }
        b.finish()
    }

    #[test]
    fn recursion_counts_once_and_callers_are_edges_as_pstats_reads_them() {
        let mut bytes = Vec::new();
        write_pstats(&recursive_profile(), &ConvertOptions::default(), &mut bytes).unwrap();
        let dir = std::env::temp_dir().join(format!("pyperf-pstats-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.prof");
        std::fs::write(&path, &bytes).unwrap();
        // Each entry as "func cc nc tt ct callers(func:nc:tt:ct)", sorted.
        let script = r#"
import pstats, sys
s = pstats.Stats(sys.argv[1])
for (fl, ln, fn), (cc, nc, tt, ct, callers) in sorted(s.stats.items(), key=lambda kv: kv[0][2]):
    cs = ','.join('%s:%d:%.3f:%.3f' % (k[2], v[0], v[2], v[3]) for k, v in sorted(callers.items()))
    print(fn, fl, ln, cc, nc, '%.3f' % tt, '%.3f' % ct, cs)
print('total', '%.3f' % s.total_tt)
"#;
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let out = match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
            Ok(out) => panic!(
                "pstats rejected the file: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(_) => {
                eprintln!("SKIPPED: python3 is not available to load the pstats file");
                return;
            }
        };
        let want = "\
f app.py 3 4 4 0.002 0.008 f:3:0.000:0.006,main:4:0.002:0.008
g app.py 7 3 3 0.006 0.006 f:3:0.006:0.006
main app.py 9 4 4 0.000 0.008 
total 0.008
";
        assert_eq!(out, want);
    }

    #[test]
    fn encoding_matches_the_interpreters_marshal() {
        let mut m = Marshal::default();
        m.dict_start();
        m.key(&("app.py".into(), 12, "work".into()));
        m.tuple_start(6);
        for v in [
            0,
            -1,
            2_147_483_647,
            2_147_483_648,
            -40_000_000_000,
            i64::MIN + 1,
        ] {
            m.int(v);
        }
        m.dict_end();
        m.float(0.125);
        m.float(-1e-9);
        m.str("h\u{e9}llo \u{1f40d}");
        m.str("");
        let expr = "({('app.py', 12, 'work'): (0, -1, 2147483647, 2147483648, -40000000000, -9223372036854775807)}, 0.125, -1e-9, 'h\\u00e9llo \\U0001f40d', '')";
        let Some(expected) = python_marshal(expr) else {
            return;
        };
        // Python marshals the whole tuple; ours is its items one after another.
        let mut ours = Vec::new();
        ours.push(b'(');
        ours.extend_from_slice(&5u32.to_le_bytes());
        ours.extend_from_slice(&m.bytes);
        assert_eq!(ours, expected);
    }
}
