//! Line-table decoders against the live interpreters: every installed
//! CPython 3.8-3.13 compiles a set of its own standard-library modules plus
//! fixtures/python/linetable_cases.py and reports, through its own
//! PyCode_Addr2Line, the line of every instruction offset of every code
//! object; the decoders must agree everywhere.

#[path = "common/pyfixture.rs"]
mod pyfixture;
#[path = "common/pythons.rs"]
mod pythons;

use std::process::Command;

use pyperf::python::layouts::LineTableFormat;
use pyperf::python::linetable::LineTable;

fn format_for(minor: u8) -> LineTableFormat {
    match minor {
        0..=9 => LineTableFormat::Lnotab,
        10 => LineTableFormat::Pep626,
        _ => LineTableFormat::Location,
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Standard-library modules with big, varied functions.
const STDLIB: [&str; 6] = [
    "argparse.py",
    "typing.py",
    "dataclasses.py",
    "json/decoder.py",
    "asyncio/base_events.py",
    "inspect.py",
];

#[test]
fn decoders_agree_with_pycode_addr2line() {
    for python in pythons::for_tests() {
        let prefix = pythons::prefix_of(&python.exe).expect("prefix");
        let lib = prefix.join("lib").join(format!("python3.{}", python.minor));
        let mut files = vec![pyfixture::fixture_path("linetable_cases.py")];
        files.extend(STDLIB.iter().map(|m| lib.join(m)).filter(|p| p.is_file()));
        let out = Command::new(&python.exe)
            .arg(pyfixture::fixture_path("dump_linetables.py"))
            .args(&files)
            .output()
            .expect("run the dumper");
        assert!(
            out.status.success(),
            "{}: {}",
            python.version,
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let format = format_for(python.minor);
        let (mut codes, mut offsets) = (0, 0);
        for code in doc["codes"].as_array().expect("codes") {
            let first = code["first_line"].as_u64().expect("first_line") as u32;
            let table = unhex(code["table"].as_str().expect("table"));
            let decoded = LineTable::decode(format, &table, first);
            let range = code["offsets"].as_array().expect("offsets");
            let (start, step) = (
                range[0].as_i64().expect("start"),
                range[2].as_i64().expect("step"),
            );
            for (i, want) in code["lines"].as_array().expect("lines").iter().enumerate() {
                let offset = start + step * i as i64;
                let want = u32::try_from(want.as_i64().expect("line")).ok();
                assert_eq!(
                    decoded.line_at(offset),
                    want,
                    "Python {}: {} in {} at offset {offset}",
                    python.version,
                    code["name"],
                    code["file"]
                );
                offsets += 1;
            }
            codes += 1;
        }
        assert!(codes > 500, "{}: only {codes} code objects", python.version);
        eprintln!(
            "Python {}: {codes} code objects, {offsets} offsets agree",
            python.version
        );
    }
}
