//! Symbol demangling: C++ (Itanium ABI) as `c++filt` prints it, Rust legacy
//! and v0 without the hash suffix, anything else unchanged.

use std::borrow::Cow;

/// Demangles `name` if it is a mangled C++ or Rust symbol; returns it
/// unchanged otherwise (C functions, Python qualnames, already-demangled text).
pub fn demangle(name: &str) -> Cow<'_, str> {
    if let Some(rust) = demangle_rust(name) {
        return Cow::Owned(rust);
    }
    if name.starts_with("_Z") {
        // Symbol names come from arbitrary files; a demangler bug on a
        // malformed name must cost that name its demangling, not the run.
        let cpp = std::panic::catch_unwind(|| demangle_cpp(name))
            .ok()
            .flatten();
        if let Some(cpp) = cpp {
            return Cow::Owned(cpp);
        }
    }
    Cow::Borrowed(name)
}

/// Rust symbols: v0 (`_R...`) always; legacy (`_ZN...E`) only when it ends
/// in rustc's `17h<16 hex digits>E` hash, since a plain `_ZN...E` is an
/// ordinary C++ name (which demangles the same either way).
fn demangle_rust(name: &str) -> Option<String> {
    if !(name.starts_with("_R") || name.starts_with("_ZN")) {
        return None;
    }
    let demangled = rustc_demangle::try_demangle(name).ok()?;
    let with_hash = demangled.to_string();
    // `{:#}` drops the hash; a legacy symbol without one prints identically.
    let without_hash = format!("{demangled:#}");
    if name.starts_with("_R") || with_hash != without_hash {
        Some(without_hash)
    } else {
        None
    }
}

/// C++: the default `cpp_demangle` options print what `c++filt` prints
/// (parameters, return types of template functions, `[clone .cold]`).
/// Known cpp_demangle 0.5.1 defects, measured against `c++filt` in
/// tests/symbols_demangle.rs: in function templates, a parameter that
/// repeats or forwards a template parameter can be dropped or lose its
/// `&&`, and `A::B&` can print as `A&::B` (0.4% of libstdc++'s names,
/// about 8% of an -O0 STL-heavy program's). The qualified function name
/// itself is right in those cases; only the parameter list is off.
/// Thunks are worded as `c++filt` words them: `cpp_demangle` prints their
/// this-pointer adjustments (`{virtual override thunk({offset(-16)}, ...)}`),
/// which says nothing useful in a profile.
fn demangle_cpp(name: &str) -> Option<String> {
    if let Some((kind, target)) = split_thunk(name) {
        return Some(format!(
            "{kind} to {}",
            demangle_cpp(&format!("_Z{target}"))?
        ));
    }
    let symbol = cpp_demangle::Symbol::new(name).ok()?;
    let text = symbol
        .demangle_with_options(&cpp_demangle::DemangleOptions::new())
        .ok()?;
    Some(reword_special(text))
}

/// `cpp_demangle` prints vtables as `{vtable(T)}` and VTTs as `{vtt(T)}`;
/// `c++filt` (and every other tool) says `vtable for T` / `VTT for T`.
fn reword_special(text: String) -> String {
    for (open, words) in [("{vtable(", "vtable for "), ("{vtt(", "VTT for ")] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(")}")) {
            return format!("{words}{inner}");
        }
    }
    text
}

/// Splits a thunk symbol (`_ZTh`, `_ZTv`, `_ZTc` + call offsets) into its
/// wording and the mangled encoding of the function it forwards to.
fn split_thunk(name: &str) -> Option<(&'static str, &str)> {
    let rest = name.strip_prefix("_ZT")?;
    let (kind, rest) = match rest.as_bytes().first()? {
        b'h' | b'v' => ("", rest),
        b'c' => ("covariant return thunk", &rest[1..]),
        _ => return None,
    };
    let (first, rest) = skip_call_offset(rest)?;
    let (kind, rest) = if kind.is_empty() {
        let kind = if first == b'h' {
            "non-virtual thunk"
        } else {
            "virtual thunk"
        };
        (kind, rest)
    } else {
        (kind, skip_call_offset(rest)?.1)
    };
    (!rest.is_empty()).then_some((kind, rest))
}

/// Skips one `<call-offset>`: `h <nv-offset> _` or `v <offset> _ <offset> _`,
/// each offset a decimal number with `n` for minus. Returns its letter.
fn skip_call_offset(s: &str) -> Option<(u8, &str)> {
    let letter = *s.as_bytes().first()?;
    let numbers = match letter {
        b'h' => 1,
        b'v' => 2,
        _ => return None,
    };
    let mut rest = &s[1..];
    for _ in 0..numbers {
        let digits = rest.strip_prefix('n').unwrap_or(rest);
        let end = digits.find('_')?;
        if end == 0 || !digits[..end].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = &digits[end + 1..];
    }
    Some((letter, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(demangle("main"), "main");
        assert_eq!(
            demangle("_PyEval_EvalFrameDefault"),
            "_PyEval_EvalFrameDefault"
        );
        assert_eq!(demangle("py::f:/tmp/x.py"), "py::f:/tmp/x.py");
        // Looks mangled but is not: left alone rather than garbled.
        assert_eq!(demangle("_Zinvalid"), "_Zinvalid");
        assert_eq!(demangle("_R"), "_R");
    }

    #[test]
    fn plain_cpp_nested_name_is_not_mistaken_for_rust() {
        assert_eq!(demangle("_ZN3foo3barEv"), "foo::bar()");
        assert_eq!(demangle("_ZN3foo3barE"), "foo::bar");
    }

    #[test]
    fn malformed_thunks_are_left_alone() {
        assert_eq!(demangle("_ZTh"), "_ZTh");
        assert_eq!(demangle("_ZThn_N3fooEv"), "_ZThn_N3fooEv");
        assert_eq!(demangle("_ZTv0_n24_"), "_ZTv0_n24_");
    }
}
