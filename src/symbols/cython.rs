//! Cython functions under their Python names.
//!
//! Cython mangles `def`/`cpdef`/`cdef` functions into C names such as
//! `__pyx_pw_6cyspin_1cy_spin` (the Python-callable wrapper),
//! `__pyx_pf_6cyspin_cy_spin` (its body) and `__pyx_f_6cyspin_cy_spin_inner`
//! (a `cdef` function): a prefix, then the module path and any class names
//! each written as `<length><name>_`, then (for wrappers) a running index,
//! then the function name. Shown as `cyspin.cy_spin` and `cyspin.cy_spin_inner`,
//! with the `.pyx` file and line that Cython's line directives put in DWARF.

use crate::profile::Frame;

/// Prefixes of Cython's function symbols. A running index may precede the
/// function name (wrappers, and method bodies); names never start with a digit.
const PREFIXES: [&str; 4] = ["__pyx_pw_", "__pyx_pf_", "__pyx_f_", "__pyx_gb_"];

/// Reads `<length><name>` from the start of `text`.
fn length_prefixed(text: &str) -> Option<(&str, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let len: usize = text.get(..digits)?.parse().ok()?;
    let name = text.get(digits..digits + len)?;
    Some((name, &text[digits + len..]))
}

/// The Python name of a Cython symbol (`module.Class.func`), if it is one.
pub fn python_name(symbol: &str) -> Option<String> {
    let rest = PREFIXES
        .iter()
        .find_map(|prefix| symbol.strip_prefix(prefix))?;
    let mut parts = Vec::new();
    let mut rest = rest;
    // Length-prefixed segments each followed by '_': module path, then classes.
    while let Some((name, after)) = length_prefixed(rest) {
        let Some(after) = after.strip_prefix('_') else {
            break;
        };
        // A wrapper's "<index><name>" can look like a segment; the name after
        // the last segment must not be empty.
        if after.is_empty() {
            break;
        }
        parts.push(name);
        rest = after;
    }
    if parts.is_empty() {
        return None;
    }
    let name = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    if name.is_empty()
        || !name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    {
        return None;
    }
    parts.push(name);
    Some(parts.join("."))
}

/// Renames Cython frames of one address's inline chain (caller first) and
/// drops an inlined body that repeats its wrapper's name.
pub fn rename_frames(frames: &mut Vec<Frame>) {
    let mut renamed = false;
    for frame in frames.iter_mut() {
        if let Some(name) = python_name(&frame.function) {
            frame.function = name;
            renamed = true;
        }
    }
    if renamed {
        frames.dedup_by(|inner, outer| inner.inlined && inner.function == outer.function);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FrameKind;

    #[test]
    fn names_from_cython_symbols() {
        assert_eq!(
            python_name("__pyx_pw_6cyspin_1cy_spin").as_deref(),
            Some("cyspin.cy_spin")
        );
        assert_eq!(
            python_name("__pyx_pf_6cyspin_cy_spin").as_deref(),
            Some("cyspin.cy_spin")
        );
        assert_eq!(
            python_name("__pyx_f_6cyspin_cy_spin_inner").as_deref(),
            Some("cyspin.cy_spin_inner")
        );
        assert_eq!(
            python_name("__pyx_pw_3pkg_3mod_5Shape_3area").as_deref(),
            Some("pkg.mod.Shape.area")
        );
        assert_eq!(
            python_name("__pyx_pf_3pkg_3mod_5Shape_2area").as_deref(),
            Some("pkg.mod.Shape.area")
        );
        assert_eq!(python_name("PyObject_Call"), None);
        assert_eq!(python_name("__pyx_pw_"), None);
        assert_eq!(python_name("__pyx_pw_99x_1y"), None);
    }

    #[test]
    fn inlined_body_of_a_wrapper_is_not_shown_twice() {
        let frame = |f: &str, inlined: bool| Frame {
            kind: FrameKind::Native,
            function: f.into(),
            file: Some("cyspin.pyx".into()),
            line: Some(20),
            module: None,
            inlined,
        };
        let mut frames = vec![
            frame("__pyx_pw_6cyspin_1cy_spin", false),
            frame("__pyx_pf_6cyspin_cy_spin", true),
        ];
        rename_frames(&mut frames);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].function, "cyspin.cy_spin");
        assert!(!frames[0].inlined);
    }
}
