//! The committed layout table is what scripts/gen-python-layouts derives
//! from the headers of the interpreters installed here: each entry the
//! generator produces on this machine must be in the committed file, byte
//! for byte (no hand edits, no stale entries for installed versions).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Table entries by version, as text.
fn entries(text: &str) -> HashMap<String, String> {
    let Some((_, table)) = text.split_once("pub static LAYOUTS: &[Layout] = &[") else {
        return HashMap::new();
    };
    table
        .split("\n    Layout {\n")
        .skip(1)
        .filter_map(|block| {
            let version = block.split('"').nth(1)?.to_string();
            Some((version, block.trim_end_matches("\n];\n").to_string()))
        })
        .collect()
}

#[test]
fn committed_layouts_match_the_installed_headers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    if !have("cc") || !have("rustfmt") || !have("python3") {
        eprintln!("skipping: needs cc, rustfmt and python3 to run the generator");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh_path = dir.path().join("generated.rs");
    let out = Command::new("python3")
        .arg(root.join("scripts/gen-python-layouts"))
        .arg("--output")
        .arg(&fresh_path)
        .output()
        .expect("run the generator");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("no CPython 3.8+ headers found") {
            eprintln!("skipping: no CPython headers installed");
            return;
        }
        panic!("generator failed: {err}");
    }
    let fresh = entries(&std::fs::read_to_string(&fresh_path).expect("fresh"));
    let committed = entries(
        &std::fs::read_to_string(root.join("src/python/layouts/generated.rs")).expect("committed"),
    );
    assert!(!fresh.is_empty());
    for (version, entry) in &fresh {
        assert_eq!(
            committed.get(version),
            Some(entry),
            "entry for {version} differs: run scripts/gen-python-layouts"
        );
    }
    eprintln!(
        "{} generated entries match the committed table",
        fresh.len()
    );
}
