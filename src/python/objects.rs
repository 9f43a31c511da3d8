//! Reading `str` and `bytes` objects out of a target, bounded and checked.

use super::layouts::Layout;
use super::memory::{read_bytes, read_u64, Fields, RemoteMemory};

/// Longest string decoded, in characters; longer ones are cut (and the cut
/// is reported through [`RemoteString::truncated`]).
pub const MAX_STRING_CHARS: usize = 4096;

/// A claimed length above this is taken as garbage rather than cut: no
/// function or file name is a million characters long.
const MAX_PLAUSIBLE_CHARS: usize = 1 << 20;

/// Largest `bytes` object read (line tables).
pub const MAX_BYTES: usize = 1 << 20;

/// Why an object could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ObjError {
    #[error("unreadable memory")]
    Unreadable,
    #[error("not an object of the expected type")]
    WrongType,
    #[error("implausible size or state")]
    Invalid,
}

/// A decoded string and whether it was cut at [`MAX_STRING_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteString {
    pub text: String,
    pub truncated: bool,
}

/// Check `ob_type` against `expected` (when the type's address is known).
fn check_type(header: &Fields<'_>, layout: &Layout, expected: Option<u64>) -> Result<(), ObjError> {
    match expected {
        Some(t) if header.u64(layout.ob_type) != Some(t) => Err(ObjError::WrongType),
        _ => Ok(()),
    }
}

/// Read the `str` at `addr`.
pub fn read_unicode<M: RemoteMemory + ?Sized>(
    mem: &M,
    layout: &Layout,
    unicode_type: Option<u64>,
    addr: u64,
) -> Result<RemoteString, ObjError> {
    let u = &layout.unicode;
    if addr == 0 {
        return Err(ObjError::Invalid);
    }
    // PyASCIIObject: type, length and state; compact strings may be no longer.
    let header_len = usize::try_from(u.ascii_size).map_err(|_| ObjError::Invalid)?;
    let header = read_bytes(mem, addr, header_len).map_err(|_| ObjError::Unreadable)?;
    let h = Fields(&header);
    check_type(&h, layout, unicode_type)?;
    let length = h.i64(u.length).ok_or(ObjError::Invalid)?;
    let state = h.u32(u.state).ok_or(ObjError::Invalid)?;
    let length = usize::try_from(length)
        .ok()
        .filter(|n| *n <= MAX_PLAUSIBLE_CHARS)
        .ok_or(ObjError::Invalid)?;
    if let Some(ready) = u.ready {
        if ready.get(state) == 0 {
            return Err(ObjError::Invalid);
        }
    }
    let kind = u.kind.get(state);
    let char_size = match kind {
        1 => 1usize,
        2 => 2,
        4 => 4,
        _ => return Err(ObjError::Invalid),
    };
    let compact = u.compact.get(state) != 0;
    let ascii = u.ascii.get(state) != 0;
    if ascii && kind != 1 {
        return Err(ObjError::Invalid);
    }
    let data = if compact {
        addr + if ascii { u.ascii_size } else { u.compact_size }
    } else {
        read_u64(mem, addr + u.data_ptr)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(ObjError::Invalid)?
    };
    let chars = length.min(MAX_STRING_CHARS);
    let raw = read_bytes(mem, data, chars * char_size).map_err(|_| ObjError::Unreadable)?;
    let text = match char_size {
        // Latin-1 (ASCII is a subset): each byte is one code point.
        1 => raw.iter().map(|&b| char::from(b)).collect(),
        2 => raw
            .chunks_exact(2)
            .map(|c| char_or_replacement(u32::from(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        _ => raw
            .chunks_exact(4)
            .map(|c| char_or_replacement(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
    };
    Ok(RemoteString {
        text,
        truncated: length > chars,
    })
}

/// Lone surrogates are valid in Python strings but not in Rust ones.
fn char_or_replacement(cp: u32) -> char {
    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Read the `bytes` at `addr` (at most [`MAX_BYTES`]; larger is an error).
pub fn read_bytes_object<M: RemoteMemory + ?Sized>(
    mem: &M,
    layout: &Layout,
    bytes_type: Option<u64>,
    addr: u64,
) -> Result<Vec<u8>, ObjError> {
    let b = &layout.bytes;
    if addr == 0 {
        return Err(ObjError::Invalid);
    }
    let header_len = usize::try_from(b.ob_sval).map_err(|_| ObjError::Invalid)?;
    let header = read_bytes(mem, addr, header_len).map_err(|_| ObjError::Unreadable)?;
    let h = Fields(&header);
    check_type(&h, layout, bytes_type)?;
    let size = h.i64(b.ob_size).ok_or(ObjError::Invalid)?;
    let size = usize::try_from(size).map_err(|_| ObjError::Invalid)?;
    if size > MAX_BYTES {
        return Err(ObjError::Invalid);
    }
    read_bytes(mem, addr + b.ob_sval, size).map_err(|_| ObjError::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::layouts::generated::LAYOUTS;
    use crate::python::memory::FakeMemory;

    const STR_TYPE: u64 = 0x5000;

    /// Lay out a compact string the way CPython does, from the layout's own
    /// offsets and bit positions.
    fn put_str(mem: &mut FakeMemory, l: &Layout, addr: u64, s: &str) {
        let u = &l.unicode;
        let max = s.chars().map(u32::from).max().unwrap_or(0);
        let (kind, ascii) = match max {
            0..=0x7f => (1u32, true),
            0x80..=0xff => (1, false),
            0x100..=0xffff => (2, false),
            _ => (4, false),
        };
        let data_at = if ascii { u.ascii_size } else { u.compact_size };
        let mut obj = vec![0u8; (data_at + 4 * s.chars().count() as u64 + 4) as usize];
        obj[l.ob_type as usize..][..8].copy_from_slice(&STR_TYPE.to_le_bytes());
        obj[u.length as usize..][..8].copy_from_slice(&(s.chars().count() as i64).to_le_bytes());
        let mut state = (kind << u.kind.shift) | (1 << u.compact.shift);
        if ascii {
            state |= 1 << u.ascii.shift;
        }
        if let Some(ready) = u.ready {
            state |= 1 << ready.shift;
        }
        obj[u.state as usize..][..4].copy_from_slice(&state.to_le_bytes());
        let mut at = data_at as usize;
        for c in s.chars() {
            let cp = u32::from(c);
            obj[at..at + kind as usize].copy_from_slice(&cp.to_le_bytes()[..kind as usize]);
            at += kind as usize;
        }
        mem.map(addr, obj);
    }

    #[test]
    fn decodes_every_kind_in_every_layout() {
        for l in LAYOUTS {
            for s in ["main", "caf\u{e9}", "\u{3b1}\u{3b2}", "\u{1f40d}snake", ""] {
                let mut mem = FakeMemory::new();
                put_str(&mut mem, l, 0x10000, s);
                let got = read_unicode(&mem, l, Some(STR_TYPE), 0x10000).expect(s);
                assert_eq!(got.text, s, "{}", l.version);
                assert!(!got.truncated);
            }
        }
    }

    #[test]
    fn rejects_wrong_type_and_huge_length() {
        let l = &LAYOUTS[0];
        let mut mem = FakeMemory::new();
        put_str(&mut mem, l, 0x10000, "abc");
        assert_eq!(
            read_unicode(&mem, l, Some(STR_TYPE + 8), 0x10000),
            Err(ObjError::WrongType)
        );
        mem.put(0x10000 + l.unicode.length, &(1i64 << 40).to_le_bytes());
        let got = read_unicode(&mem, l, Some(STR_TYPE), 0x10000);
        assert_eq!(got, Err(ObjError::Invalid));
        mem.put(0x10000 + l.unicode.length, &(1i64 << 16).to_le_bytes());
        let got = read_unicode(&mem, l, Some(STR_TYPE), 0x10000);
        // Cut at MAX_STRING_CHARS: the fake object is too small, so unreadable.
        assert_eq!(got, Err(ObjError::Unreadable));
        mem.put(0x10000 + l.unicode.length, &(-1i64).to_le_bytes());
        assert_eq!(
            read_unicode(&mem, l, Some(STR_TYPE), 0x10000),
            Err(ObjError::Invalid)
        );
    }

    #[test]
    fn long_strings_are_truncated() {
        let l = &LAYOUTS[0];
        let mut mem = FakeMemory::new();
        let long = "x".repeat(MAX_STRING_CHARS + 10);
        put_str(&mut mem, l, 0x10000, &long);
        let got = read_unicode(&mem, l, None, 0x10000).expect("readable");
        assert_eq!(got.text.len(), MAX_STRING_CHARS);
        assert!(got.truncated);
    }

    #[test]
    fn bytes_objects() {
        let l = &LAYOUTS[0];
        let mut mem = FakeMemory::new();
        let mut obj = vec![0u8; l.bytes.ob_sval as usize + 3];
        obj[l.bytes.ob_size as usize..][..8].copy_from_slice(&3i64.to_le_bytes());
        obj[l.bytes.ob_sval as usize..].copy_from_slice(b"abc");
        mem.map(0x2000, obj);
        assert_eq!(
            read_bytes_object(&mem, l, None, 0x2000),
            Ok(b"abc".to_vec())
        );
        mem.put(
            0x2000 + l.bytes.ob_size,
            &((MAX_BYTES as i64) + 1).to_le_bytes(),
        );
        assert_eq!(
            read_bytes_object(&mem, l, None, 0x2000),
            Err(ObjError::Invalid)
        );
    }
}
