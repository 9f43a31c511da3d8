//! Demangling checked against `c++filt` on real symbols: a compiled C++
//! fixture (vectors, templates, lambdas, operators, anonymous namespace),
//! libstdc++, and Rust programs in both mangling schemes.

mod symbols_support;

use std::path::Path;

use pyperf::symbols::demangle::demangle;
use symbols_support::{compile, cxxfilt, fixture, have_tool, nm};

/// Mangled names defined or referenced in `binary`, without `@VERSION` tails.
fn mangled_names(binary: &Path, args: &[&str], prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = nm(binary, args)
        .into_iter()
        .map(|s| s.name.split('@').next().unwrap_or_default().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Known cosmetic differences between `cpp_demangle` and `c++filt -i`,
/// rewritten to one spelling so that only differences of substance remain:
/// - the standard abbreviations `Si`/`So`/`Sd`/`Ss` are spelled out
///   (`std::basic_istream<char, ...>`) in some places by one tool and
///   abbreviated (`std::istream`) by the other, constructor names included;
/// - integer literals in template arguments: `(long)1` versus `1l`;
/// - `decltype(nullptr)` versus `std::nullptr_t`.
fn cosmetic(s: &str) -> String {
    let mut s = s.to_string();
    for (full, short) in [
        (
            "std::basic_istream<char, std::char_traits<char> >",
            "std::istream",
        ),
        (
            "std::basic_ostream<char, std::char_traits<char> >",
            "std::ostream",
        ),
        (
            "std::basic_iostream<char, std::char_traits<char> >",
            "std::iostream",
        ),
        (
            "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
            "std::string",
        ),
        ("decltype(nullptr)", "std::nullptr_t"),
    ] {
        s = s.replace(full, short);
    }
    for class in ["string", "istream", "ostream", "iostream"] {
        s = s.replace(
            &format!("std::{class}::basic_{class}"),
            &format!("std::{class}::{class}"),
        );
        s = s.replace(
            &format!("std::{class}::~basic_{class}"),
            &format!("std::{class}::~{class}"),
        );
    }
    for (cast, suffix) in [("(long)", "l"), ("(unsigned long)", "ul"), ("(int)", "")] {
        while let Some(at) = s.find(cast) {
            let digits_start = at + cast.len();
            let tail = &s[digits_start..];
            let len = tail
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                .map_or(tail.len(), |(i, _)| i);
            let number = tail[..len].to_string();
            s.replace_range(at..digits_start + len, &format!("{number}{suffix}"));
        }
    }
    s
}

/// Our demangling of each name in `style` against c++filt's `expected`:
/// (exact matches, differences of substance as printable lines).
fn compare(names: &[String], expected: &[String]) -> (usize, Vec<String>) {
    assert_eq!(names.len(), expected.len());
    let ours: Vec<String> = names.iter().map(|n| demangle(n).into_owned()).collect();
    let exact = ours.iter().zip(expected).filter(|(o, e)| o == e).count();
    let bad = names
        .iter()
        .zip(ours.iter().zip(expected))
        .filter(|(_, (o, e))| cosmetic(o) != cosmetic(e))
        .map(|(n, (o, e))| format!("{n}\n   ours:     {o}\n   c++filt:  {e}"))
        .collect();
    (exact, bad)
}

/// Our demangling of `names` against `c++filt -i`: differences of
/// substance may only be the cpp_demangle 0.5.1 parameter-list defects (a
/// function template's parameter that repeats or forwards a template
/// parameter is dropped or printed without its `&&`; `A::B&` can print as
/// `A&::B`), within `budget` names. All of them are printed for review.
fn check(label: &str, names: &[String], budget: usize) {
    let (exact, bad) = compare(names, &cxxfilt(names, &[]));
    eprintln!(
        "{label}: {exact} of {} names exactly as c++filt -i prints them, {} differ in substance",
        names.len(),
        bad.len()
    );
    for b in &bad {
        eprintln!("{b}");
    }
    assert!(
        bad.len() <= budget,
        "{label}: {} signatures differ in substance (budget {budget})",
        bad.len()
    );
}

#[test]
fn cpp_fixture_symbols_match_cxxfilt() {
    if !have_tool("g++") || !have_tool("c++filt") || !have_tool("nm") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for opt in ["-O0", "-O2"] {
        let bin = dir.path().join(format!("cxx_names{opt}"));
        compile("g++", &fixture("cxx_names.cpp"), &bin, &[opt, "-g"]);
        let names = mangled_names(&bin, &[], "_Z");
        // The shapes this test exists for must really be present.
        let demangled = cxxfilt(&names, &[]).join("\n");
        for shape in ["{lambda(", "(anonymous namespace)", "std::vector<"] {
            assert!(demangled.contains(shape), "{opt}: no symbol with {shape}");
        }
        if opt == "-O2" {
            assert!(demangled.contains("[clone ."), "{opt}: no clone symbol");
        } else {
            for shape in [
                "::operator+(",
                "::operator==(",
                "::operator[](",
                "::operator bool()",
            ] {
                assert!(demangled.contains(shape), "{opt}: no symbol with {shape}");
            }
        }
        // At -O0 every STL helper template survives, with many forwarding
        // parameters: that is where the full-signature defects show.
        check(&format!("fixture {opt}"), &names, names.len() / 10);
    }
}

#[test]
fn libstdcxx_symbols_match_cxxfilt() {
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    if !lib.exists() {
        eprintln!("skipping: {} not present", lib.display());
        return;
    }
    if !have_tool("c++filt") || !have_tool("nm") {
        return;
    }
    let names = mangled_names(lib, &["-D"], "_Z");
    assert!(
        names.len() > 1000,
        "only {} names in libstdc++",
        names.len()
    );
    check("libstdc++", &names, names.len() / 100);
}

#[test]
fn thunks_are_worded_as_cxxfilt_words_them() {
    if !have_tool("c++filt") {
        return;
    }
    let names: Vec<String> = [
        "_ZThn16_NSdD1Ev",
        "_ZTv0_n24_NSoD0Ev",
        "_ZTch0_h16_N3Foo5cloneEv",
        "_ZTVSo",
        "_ZTTSd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_, bad) = compare(&names, &cxxfilt(&names, &[]));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// c++filt keeps Rust's hashes (`::h0123...`) and crate disambiguators
/// (`r[4dd8...]`); we drop both by design, so normalize the oracle likewise.
fn strip_rust_hashes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c);
        match close {
            Some(close) if rest[open + 1..close].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&rest[..open]);
                rest = &rest[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    match out.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head.to_string()
        }
        _ => out,
    }
}

#[test]
fn rust_legacy_and_v0_symbols_match_cxxfilt_without_hashes() {
    if !have_tool("rustc") || !have_tool("c++filt") || !have_tool("nm") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("r.rs");
    std::fs::write(
        &src,
        "struct W<T>(T);\n\
         impl<T: std::fmt::Debug> W<T> { #[inline(never)] fn show(&self) -> String { format!(\"{:?}\", self.0) } }\n\
         fn main() { let v: Vec<u32> = (0..10).collect(); println!(\"{}\", W(v).show()); }\n",
    )
    .expect("write");
    for (scheme, prefix) in [("legacy", "_ZN"), ("v0", "_R")] {
        let bin = dir.path().join(scheme);
        let mut flags = vec!["-O"];
        if scheme == "v0" {
            flags.extend(["-C", "symbol-mangling-version=v0"]);
        }
        compile("rustc", &src, &bin, &flags);
        // Names with an LLVM suffix (`.0`, `.llvm.123`) are left out:
        // c++filt drops the suffix, rustc-demangle keeps it, by design.
        let names: Vec<String> = mangled_names(&bin, &[], prefix)
            .into_iter()
            .filter(|n| !n.contains('.'))
            .collect();
        assert!(!names.is_empty(), "{scheme}: no {prefix} names");
        let expected: Vec<String> = cxxfilt(&names, &[])
            .iter()
            .map(|e| strip_rust_hashes(e))
            .collect();
        let ours: Vec<String> = names.iter().map(|n| demangle(n).into_owned()).collect();
        assert!(
            ours.iter()
                .any(|n| n.contains("W<") && n.ends_with("::show")),
            "{scheme}: fixture method not found"
        );
        let bad: Vec<String> = names
            .iter()
            .zip(ours.iter().zip(&expected))
            .filter(|(_, (o, e))| o != e)
            .map(|(n, (o, e))| format!("{n}\n   ours:    {o}\n   c++filt: {e}"))
            .collect();
        assert!(
            bad.is_empty(),
            "{scheme}: {} of {} differ:\n{}",
            bad.len(),
            names.len(),
            bad.join("\n")
        );
        eprintln!(
            "rust {scheme}: {} names match c++filt (hashes removed)",
            names.len()
        );
    }
}
