//! The profile file format: round trips, streaming prefixes, a recording
//! killed with SIGKILL, address frames, and hostile or damaged input.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pyperf::profile::{
    decode_profile, read_profile, write_profile, AddressResolver, EventInfo, FormatProblem, Frame,
    FrameKind, Header, Meta, ModuleInfo, ProcessInfo, Profile, ProfileBuilder, ProfileError,
    ProfileWriter, RawFrame, Sample, ThreadInfo,
};
use support::{cpu_clock, native, py, synthetic_profile, Rng, Shape};

fn random_string(rng: &mut Rng) -> String {
    const PIECES: [&str; 10] = ["a", "_", "é", "λ", ";", " ", "\n", "::", "<lambda>", "日本"];
    let n = rng.below(8);
    (0..n)
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

fn random_opt_string(rng: &mut Rng) -> Option<String> {
    rng.chance(70).then(|| random_string(rng))
}

fn random_u64(rng: &mut Rng) -> u64 {
    match rng.below(5) {
        0 => 0,
        1 => u64::MAX,
        2 => rng.below(300),
        _ => rng.next_u64(),
    }
}

/// A profile exercising every field and its edge values.
fn random_profile(rng: &mut Rng) -> Profile {
    let mut b = ProfileBuilder::new();
    let events = rng.range(1, 3);
    for e in 0..events {
        b.add_event(EventInfo {
            name: format!("event{e}{}", random_string(rng)),
            period: rng.chance(50).then(|| random_u64(rng)),
            frequency: rng.chance(50).then(|| random_u64(rng)),
            unit: random_string(rng),
        });
    }
    let threads = rng.range(1, 4);
    for _ in 0..threads {
        b.add_thread(ThreadInfo {
            pid: rng.next_u64() as u32,
            tid: rng.next_u64() as u32,
            name: random_string(rng),
        });
    }
    let mut frames = Vec::new();
    for _ in 0..rng.below(30) {
        let kind = [
            FrameKind::Python,
            FrameKind::Native,
            FrameKind::Kernel,
            FrameKind::Marker,
        ][rng.below(4) as usize];
        let frame = Frame {
            kind,
            function: random_string(rng),
            file: random_opt_string(rng),
            line: rng.chance(60).then(|| match rng.below(3) {
                0 => 0,
                1 => u32::MAX,
                _ => rng.below(5000) as u32,
            }),
            module: random_opt_string(rng),
            inlined: rng.chance(20),
        };
        frames.push(b.intern_frame(&frame));
    }
    let mut stacks = Vec::new();
    for _ in 0..rng.below(20) {
        let depth = if frames.is_empty() { 0 } else { rng.below(12) };
        let ids: Vec<u32> = (0..depth)
            .map(|_| frames[rng.below(frames.len() as u64) as usize])
            .collect();
        let id = b.intern_stack(&ids);
        if !stacks.contains(&id) {
            stacks.push(id);
        }
    }
    if !stacks.is_empty() {
        for _ in 0..rng.below(200) {
            b.add_sample(Sample {
                stack: stacks[rng.below(stacks.len() as u64) as usize],
                thread: rng.below(threads) as u32,
                time_ns: random_u64(rng),
                event: rng.below(events) as u16,
                weight: random_u64(rng),
                idle: rng.chance(30),
            });
        }
    }
    let processes = (0..rng.below(3))
        .map(|i| ProcessInfo {
            pid: i as u32 + 1,
            command: random_string(rng),
            python_version: random_opt_string(rng),
        })
        .collect();
    b.set_meta(Meta {
        command: (0..rng.below(4)).map(|_| random_string(rng)).collect(),
        start_unix_ns: random_u64(rng),
        duration_ns: random_u64(rng),
        lost_samples: random_u64(rng),
        truncated_stacks: random_u64(rng),
        inconsistent_merges: random_u64(rng),
        merged_samples: random_u64(rng),
        processes,
    });
    b.finish()
}

fn write_bytes(profile: &Profile) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pyperf");
    write_profile(&path, profile).unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn generated_profiles_round_trip_exactly() {
    let mut rng = Rng::new(1);
    for case in 0..300 {
        let profile = random_profile(&mut rng);
        let bytes = write_bytes(&profile);
        let out = decode_profile(&bytes, None).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert!(out.complete, "case {case}");
        assert_eq!(out.profile, profile, "case {case}");
        assert_eq!(out.info.samples, profile.samples.len() as u64);
        assert_eq!(out.info.readable_bytes, bytes.len() as u64);
    }
}

#[test]
fn realistic_profile_round_trips_and_is_compact() {
    let profile = synthetic_profile(&Shape::realistic(), 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pyperf");
    let summary = write_profile(&path, &profile).unwrap();
    let out = read_profile(&path, None).unwrap();
    assert!(out.complete);
    assert_eq!(out.profile, profile);
    let per_sample = summary.bytes_per_sample().unwrap();
    eprintln!(
        "200k-sample synthetic profile: {} bytes, {per_sample:.2} bytes/sample",
        summary.file_bytes
    );
    assert_eq!(out.info.bytes_per_sample(), Some(per_sample));
    assert!(per_sample < 24.0, "{per_sample} bytes per sample");
}

/// Writes samples with frequent flushes and snapshots the file after each
/// flush, as a SIGKILL at that moment would leave it.
#[test]
fn every_flushed_prefix_reads_as_an_incomplete_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.pyperf");
    let header = Header {
        command: vec!["python3".into(), "app.py".into()],
        start_unix_ns: 5,
        events: vec![cpu_clock()],
    };
    let mut w = ProfileWriter::create(&path, &header).unwrap();
    let thread = w
        .add_thread(&ThreadInfo {
            pid: 10,
            tid: 10,
            name: "python3".into(),
        })
        .unwrap();
    let mut expected: Vec<(Vec<String>, u64)> = Vec::new();
    let mut snapshots = vec![(std::fs::read(&path).unwrap(), 0usize, 0u64)];
    for i in 0..2000u64 {
        let names: Vec<String> = (0..(i % 7 + 1))
            .map(|d| format!("f{d}_{}", i % 13))
            .collect();
        let ids: Vec<u32> = names
            .iter()
            .map(|n| {
                w.intern_frame(&RawFrame::Symbolic(py(n, "app.py", 3)))
                    .unwrap()
            })
            .collect();
        let stack = w.intern_stack(&ids).unwrap();
        w.add_sample(stack, thread, 1000 + i * 10, 0, 1_001_001 + i % 3, false)
            .unwrap();
        expected.push((names, 1000 + i * 10));
        if i % 150 == 149 {
            let meta = Meta {
                lost_samples: i,
                ..Meta::default()
            };
            w.checkpoint(&meta).unwrap();
            snapshots.push((std::fs::read(&path).unwrap(), expected.len(), i));
        }
    }
    w.finish(&Meta::default()).unwrap();
    assert!(snapshots.len() > 10);
    for (bytes, n, lost) in snapshots {
        let out = decode_profile(&bytes, None).unwrap();
        assert!(!out.complete);
        assert_eq!(out.profile.samples.len(), n);
        assert_eq!(out.profile.meta.lost_samples, lost);
        assert_eq!(out.profile.meta.command, header.command);
        for (s, (names, time)) in out.profile.samples.iter().zip(&expected) {
            let got: Vec<&str> = out
                .profile
                .stack_frames(s.stack)
                .map(|f| f.function.as_str())
                .collect();
            assert_eq!(&got, names);
            assert_eq!(s.time_ns, *time);
        }
    }
    let full = read_profile(&path, None).unwrap();
    assert!(full.complete);
    assert_eq!(full.profile.samples.len(), 2000);
}

/// A small multi-chunk file cut at every byte: an error only before the
/// header chunk is whole, otherwise a prefix of the samples.
#[test]
fn every_truncation_length_is_an_error_or_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.pyperf");
    let mut w = ProfileWriter::create(
        &path,
        &Header {
            command: vec!["x".into()],
            start_unix_ns: 1,
            events: vec![cpu_clock()],
        },
    )
    .unwrap();
    let header_len = std::fs::metadata(&path).unwrap().len() as usize;
    let t = w
        .add_thread(&ThreadInfo {
            pid: 1,
            tid: 2,
            name: "t".into(),
        })
        .unwrap();
    for i in 0..60u32 {
        let f = w
            .intern_frame(&RawFrame::Symbolic(py(&format!("f{}", i % 5), "a.py", i)))
            .unwrap();
        let s = w.intern_stack(&[f]).unwrap();
        w.add_sample(s, t, u64::from(i), 0, 7, i % 2 == 0).unwrap();
        if i % 10 == 9 {
            w.flush().unwrap();
        }
    }
    w.finish(&Meta::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let full = decode_profile(&bytes, None).unwrap();
    assert!(full.complete);
    let mut prefix_sizes = std::collections::BTreeSet::new();
    for len in 0..bytes.len() {
        match decode_profile(&bytes[..len], None) {
            Ok(out) => {
                assert!(len >= header_len, "len {len} read before the header ended");
                assert!(!out.complete, "len {len}");
                let n = out.profile.samples.len();
                assert_eq!(
                    out.profile.samples[..],
                    full.profile.samples[..n],
                    "len {len}"
                );
                prefix_sizes.insert(n);
            }
            Err(e) => {
                assert!(len < header_len, "len {len}: {e}");
                assert!(
                    matches!(
                        e,
                        FormatProblem::Empty | FormatProblem::TruncatedHeader { .. }
                    ),
                    "len {len}: {e}"
                );
            }
        }
    }
    // One readable size per flushed chunk: 0, 10, ..., 60 samples.
    assert_eq!(prefix_sizes.len(), 7, "{prefix_sizes:?}");
}

#[test]
fn bit_flips_give_an_error_or_a_prefix() {
    let profile = synthetic_profile(
        &Shape {
            samples: 300,
            stacks: 40,
            min_depth: 3,
            max_depth: 10,
            threads: 2,
        },
        3,
    );
    let bytes = write_bytes(&profile);
    let mut rng = Rng::new(9);
    let mut errors = 0;
    for _ in 0..4000 {
        let mut damaged = bytes.clone();
        let at = rng.below(bytes.len() as u64) as usize;
        damaged[at] ^= 1 << rng.below(8);
        match decode_profile(&damaged, None) {
            Err(_) => errors += 1,
            Ok(out) => {
                let n = out.profile.samples.len();
                assert!(!out.complete, "flip at {at} went unnoticed");
                assert_eq!(out.profile.samples[..], profile.samples[..n]);
            }
        }
    }
    assert!(errors > 3900, "{errors} errors");
}

/// Rewrites each chunk's checksum so damage reaches the record decoder.
fn fix_checksums(bytes: &mut [u8]) {
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let len_bytes = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > bytes.len() - pos - 8 {
            return;
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&len_bytes);
        h.update(&bytes[pos + 8..pos + 8 + len]);
        bytes[pos + 4..pos + 8].copy_from_slice(&h.finalize().to_le_bytes());
        pos += 8 + len;
    }
}

#[test]
fn damaged_records_behind_valid_checksums_never_panic() {
    let profile = synthetic_profile(
        &Shape {
            samples: 200,
            stacks: 30,
            min_depth: 2,
            max_depth: 8,
            threads: 3,
        },
        4,
    );
    let bytes = write_bytes(&profile);
    let mut rng = Rng::new(11);
    let start = Instant::now();
    for _ in 0..3000 {
        let mut damaged = bytes.clone();
        for _ in 0..rng.range(1, 4) {
            let at = rng.range(20, bytes.len() as u64 - 1) as usize;
            damaged[at] = match rng.below(3) {
                0 => rng.next_u64() as u8,
                1 => 0xff,
                _ => damaged[at] ^ 0x80,
            };
        }
        fix_checksums(&mut damaged);
        let _ = decode_profile(&damaged, None);
    }
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn random_bytes_are_rejected_without_panic() {
    let mut rng = Rng::new(5);
    for _ in 0..5000 {
        let len = rng.below(400) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        assert!(decode_profile(&bytes, None).is_err());
    }
    // Valid magic and version, then garbage: exercises chunk framing.
    for _ in 0..5000 {
        let mut bytes = b"PYPERF\0\0\x01\0\0\0".to_vec();
        let len = rng.below(400) as usize;
        bytes.extend((0..len).map(|_| rng.next_u64() as u8));
        let _ = decode_profile(&bytes, None);
    }
    // Valid framing and checksum around garbage: exercises the record decoder,
    // including huge counts and lengths.
    for _ in 0..5000 {
        let mut payload = vec![0x01u8];
        let len = rng.below(300) as usize;
        payload.extend((0..len).map(|_| match rng.below(4) {
            0 => 0xff,
            _ => rng.next_u64() as u8,
        }));
        let mut bytes = b"PYPERF\0\0\x01\0\0\0".to_vec();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&payload);
        fix_checksums(&mut bytes);
        let _ = decode_profile(&bytes, None);
    }
}

fn read_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input");
    std::fs::write(&path, bytes).unwrap();
    let err = read_profile(&path, None).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("input"), "names the file: {text}");
    text
}

#[test]
fn foreign_and_empty_files_get_clear_errors() {
    assert!(read_error(b"").contains("empty"));
    let elf = std::fs::read("/bin/true").unwrap();
    assert!(read_error(&elf).contains("ELF"));
    assert!(read_error(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").contains("PNG"));
    let perf = read_error(b"PERFILE2\x68\0\0\0\0\0\0\0");
    assert!(
        perf.contains("perf.data") && perf.contains("perf report"),
        "{perf}"
    );
    assert!(read_error(b"hello world\n").contains("text"));
    assert!(read_error(b"PYPERF\0").contains("ends inside its header"));
    assert!(read_error(b"PYPERF\0\0\x01\0\0\0").contains("ends inside its header"));
    assert!(read_error(b"PYPERF\x07\x07\x01\0\0\0").contains("magic"));
    let missing = read_profile(Path::new("/nonexistent/p.pyperf"), None).unwrap_err();
    assert!(matches!(missing, ProfileError::Read { .. }), "{missing}");
}

#[test]
fn a_newer_format_version_asks_for_a_newer_pyperf() {
    let mut bytes = write_bytes(&synthetic_profile(
        &Shape {
            samples: 10,
            stacks: 2,
            min_depth: 1,
            max_depth: 3,
            threads: 1,
        },
        1,
    ));
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let text = read_error(&bytes);
    assert!(
        text.contains("version 2") && text.contains("newer"),
        "{text}"
    );
}

#[test]
fn data_after_the_end_record_is_corruption() {
    let profile = synthetic_profile(
        &Shape {
            samples: 10,
            stacks: 2,
            min_depth: 1,
            max_depth: 3,
            threads: 1,
        },
        1,
    );
    let mut bytes = write_bytes(&profile);
    bytes.extend_from_slice(b"junk");
    let err = decode_profile(&bytes, None).unwrap_err();
    assert!(err.to_string().contains("after the end"), "{err}");
}

/// Names addresses from a fixed table, as the symbols module would.
struct FakeResolver {
    calls: Vec<(String, u64)>,
}

impl AddressResolver for FakeResolver {
    fn resolve(&mut self, module: &ModuleInfo, address: u64) -> Vec<Frame> {
        self.calls.push((module.path.clone(), address));
        match address {
            0x2000 => vec![native("resolved_outer", &module.path), {
                let mut f = native("resolved_inline", &module.path);
                f.inlined = true;
                f
            }],
            _ => Vec::new(),
        }
    }
}

/// A recording with address frames: symbols in the file win, then the
/// resolver, then `module+0xaddr` placeholders.
fn write_address_profile(path: &Path, with_symbols: bool) {
    let mut w = ProfileWriter::create(
        path,
        &Header {
            command: vec!["./prog".into()],
            start_unix_ns: 0,
            events: vec![cpu_clock()],
        },
    )
    .unwrap();
    let libfoo = w
        .add_module(&ModuleInfo {
            path: "/opt/lib/libfoo.so".into(),
            build_id: Some(vec![0xab, 0xcd]),
        })
        .unwrap();
    let t = w
        .add_thread(&ThreadInfo {
            pid: 1,
            tid: 1,
            name: "prog".into(),
        })
        .unwrap();
    let main = w
        .intern_frame(&RawFrame::Symbolic(py("main", "app.py", 4)))
        .unwrap();
    let a = w
        .intern_frame(&RawFrame::Address {
            module: libfoo,
            address: 0x1000,
        })
        .unwrap();
    let b = w
        .intern_frame(&RawFrame::Address {
            module: libfoo,
            address: 0x2000,
        })
        .unwrap();
    let c = w
        .intern_frame(&RawFrame::Address {
            module: libfoo,
            address: 0x3000,
        })
        .unwrap();
    let s1 = w.intern_stack(&[main, a, b]).unwrap();
    let s2 = w.intern_stack(&[main, c]).unwrap();
    w.add_sample(s1, t, 10, 0, 1, false).unwrap();
    w.add_sample(s2, t, 20, 0, 1, false).unwrap();
    w.flush().unwrap();
    if with_symbols {
        let foo_a = vec![native("foo_a", "/opt/lib/libfoo.so")];
        w.write_symbols([(a, foo_a)]).unwrap();
        w.finish(&Meta::default()).unwrap();
    } else {
        // Simulates a killed run: the writer never reaches its symbols.
        std::mem::forget(w);
    }
}

fn stack_names(p: &Profile, stack: u32) -> Vec<String> {
    p.stack_frames(stack).map(|f| f.function.clone()).collect()
}

#[test]
fn address_frames_expand_through_symbols_resolver_or_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("addr.pyperf");
    write_address_profile(&path, true);

    let mut fake = FakeResolver { calls: Vec::new() };
    let out = read_profile(&path, Some(&mut fake)).unwrap();
    assert!(out.complete);
    let p = &out.profile;
    assert_eq!(
        stack_names(p, p.samples[0].stack),
        ["main", "foo_a", "resolved_outer", "resolved_inline"]
    );
    assert_eq!(
        stack_names(p, p.samples[1].stack),
        ["main", "libfoo.so+0x3000"]
    );
    // The file's symbols answered 0x1000: the resolver was not asked.
    let asked: Vec<u64> = fake.calls.iter().map(|c| c.1).collect();
    assert_eq!(asked, [0x2000, 0x3000]);
    assert_eq!(
        (
            out.info.address_frames,
            out.info.symbolized_in_file,
            out.info.symbolized_by_resolver,
            out.info.unresolved
        ),
        (3, 1, 1, 1)
    );

    let plain = read_profile(&path, None).unwrap();
    assert_eq!(
        stack_names(&plain.profile, plain.profile.samples[0].stack),
        ["main", "foo_a", "libfoo.so+0x2000"]
    );
    let placeholder = plain
        .profile
        .frames
        .iter()
        .find(|f| f.function == "libfoo.so+0x2000")
        .unwrap();
    assert_eq!(placeholder.module.as_deref(), Some("/opt/lib/libfoo.so"));
}

#[test]
fn a_killed_run_without_symbols_falls_back_to_the_resolver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.pyperf");
    write_address_profile(&path, false);
    let mut fake = FakeResolver { calls: Vec::new() };
    let out = read_profile(&path, Some(&mut fake)).unwrap();
    assert!(!out.complete);
    assert_eq!(
        stack_names(&out.profile, out.profile.samples[0].stack),
        [
            "main",
            "libfoo.so+0x1000",
            "resolved_outer",
            "resolved_inline"
        ]
    );
}

#[test]
fn writer_rejects_ids_it_never_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("misuse.pyperf");
    let mut w = ProfileWriter::create(&path, &Header::default()).unwrap();
    assert!(w.intern_stack(&[3]).is_err());
    assert!(w.add_sample(0, 0, 0, 0, 1, false).is_err());
    assert!(w
        .intern_frame(&RawFrame::Address {
            module: 0,
            address: 1
        })
        .is_err());
    assert!(w.update_thread_name(0, "x").is_err());
    let f = w
        .intern_frame(&RawFrame::Symbolic(py("f", "a.py", 1)))
        .unwrap();
    assert!(w.write_symbols([(f, Vec::new())]).is_err());
}

const CHILD_ENV: &str = "PYPERF_TEST_SIGKILL_CHILD_OUTPUT";

/// The sample the SIGKILL child writes at step `i` (its ground truth).
fn child_sample(i: u64) -> (Vec<String>, u64, u64) {
    let depth = i % 5 + 1;
    let names = (0..depth).map(|d| format!("fn{d}_{}", i % 11)).collect();
    (names, 1_000 + i * 997, 1_001_001 + i % 17)
}

/// Not a test on its own: the body of the child process that
/// `a_recording_killed_with_sigkill_reads_as_a_prefix` starts and kills.
#[test]
fn sigkill_child_writer() {
    let Ok(out) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut w = ProfileWriter::create(
        Path::new(&out),
        &Header {
            command: vec!["child".into()],
            start_unix_ns: 42,
            events: vec![cpu_clock()],
        },
    )
    .unwrap();
    let t = w
        .add_thread(&ThreadInfo {
            pid: std::process::id(),
            tid: std::process::id(),
            name: "child".into(),
        })
        .unwrap();
    for i in 0.. {
        let (names, time, weight) = child_sample(i);
        let ids: Vec<u32> = names
            .iter()
            .map(|n| {
                w.intern_frame(&RawFrame::Symbolic(py(n, "child.py", 1)))
                    .unwrap()
            })
            .collect();
        let s = w.intern_stack(&ids).unwrap();
        w.add_sample(s, t, time, 0, weight, false).unwrap();
        if i % 500 == 0 {
            w.flush().unwrap();
        }
    }
}

#[test]
fn a_recording_killed_with_sigkill_reads_as_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.pyperf");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigkill_child_writer", "--nocapture"])
        .stdout(std::process::Stdio::null())
        .env(CHILD_ENV, &path)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 300_000 {
        assert!(Instant::now() < deadline, "child wrote too little");
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let out = read_profile(&path, None).unwrap();
    assert!(!out.complete);
    let p = &out.profile;
    assert!(p.samples.len() > 10_000, "{} samples", p.samples.len());
    assert_eq!(p.meta.command, ["child"]);
    for (i, s) in p.samples.iter().enumerate() {
        let (names, time, weight) = child_sample(i as u64);
        assert_eq!(stack_names(p, s.stack), names, "sample {i}");
        assert_eq!((s.time_ns, s.weight), (time, weight), "sample {i}");
    }
    eprintln!(
        "killed child: {} samples readable, {} of {} bytes",
        p.samples.len(),
        out.info.readable_bytes,
        out.info.file_bytes
    );
}

#[test]
fn a_full_disk_is_a_write_error_naming_the_file() {
    let err = match ProfileWriter::create(Path::new("/dev/full"), &Header::default()) {
        Ok(_) => panic!("writing to /dev/full succeeded"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(matches!(err, ProfileError::Write { .. }), "{text}");
    assert!(
        text.contains("/dev/full") && text.contains("space"),
        "{text}"
    );
}
