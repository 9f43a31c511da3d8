//! CPython version numbers: `PY_VERSION_HEX` and version strings.

use std::fmt;

/// A CPython version, as in `PY_VERSION_HEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    pub major: u8,
    pub minor: u8,
    pub micro: u8,
    /// 0xA alpha, 0xB beta, 0xC release candidate, 0xF final.
    pub level: u8,
    pub serial: u8,
}

const FINAL: u8 = 0xF;

impl PyVersion {
    /// A final release.
    pub fn new(major: u8, minor: u8, micro: u8) -> Self {
        PyVersion {
            major,
            minor,
            micro,
            level: FINAL,
            serial: 0,
        }
    }

    /// Decode `PY_VERSION_HEX` (also the value of `Py_Version` and of
    /// `_Py_DebugOffsets.version`).
    pub fn from_hex(hex: u32) -> Self {
        PyVersion {
            major: (hex >> 24) as u8,
            minor: (hex >> 16) as u8,
            micro: (hex >> 8) as u8,
            level: ((hex >> 4) & 0xF) as u8,
            serial: (hex & 0xF) as u8,
        }
    }

    pub fn hex(&self) -> u32 {
        (u32::from(self.major) << 24)
            | (u32::from(self.minor) << 16)
            | (u32::from(self.micro) << 8)
            | (u32::from(self.level & 0xF) << 4)
            | u32::from(self.serial & 0xF)
    }

    pub fn same_minor(&self, other: PyVersion) -> bool {
        self.major == other.major && self.minor == other.minor
    }

    /// Parse "3.12.1", "3.13.0rc2", "3.14.0a1", "3.11.2+" (a trailing "+"
    /// marks a build from a branch after that release and is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_suffix('+').unwrap_or(text);
        let mut parts = text.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let micro = rest.get(..digits)?.parse().ok()?;
        let suffix = rest.get(digits..)?;
        let (level, serial) = if suffix.is_empty() {
            (FINAL, 0)
        } else {
            let (level, serial) = if let Some(s) = suffix.strip_prefix("rc") {
                (0xC, s)
            } else if let Some(s) = suffix.strip_prefix('a') {
                (0xA, s)
            } else if let Some(s) = suffix.strip_prefix('b') {
                (0xB, s)
            } else {
                return None;
            };
            let serial: u8 = serial.parse().ok()?;
            if serial > 0xF {
                return None;
            }
            (level, serial)
        };
        Some(PyVersion {
            major,
            minor,
            micro,
            level,
            serial,
        })
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)?;
        match self.level {
            0xA => write!(f, "a{}", self.serial),
            0xB => write!(f, "b{}", self.serial),
            0xC => write!(f, "rc{}", self.serial),
            _ => Ok(()),
        }
    }
}

/// Version strings of the form "3.X.Y" (with optional pre-release suffix and
/// "+") that appear as NUL-terminated strings (or NUL-terminated tails of
/// strings, after a character that is neither a digit nor a dot) in
/// `rodata`. CPython embeds `PY_VERSION` this way; the linker may merge it
/// into the tail of a longer string such as an install prefix.
pub fn scan_version_strings(rodata: &[u8]) -> Vec<PyVersion> {
    let mut found = Vec::new();
    for (end, _) in rodata.iter().enumerate().filter(|(_, b)| **b == 0) {
        // Longest plausible version string: "3.14.15rc1+".
        let start = end.saturating_sub(12);
        let window = &rodata[start..end];
        // Try every start inside the window that is preceded by a
        // non-version character.
        for s in 0..window.len() {
            if window[s] != b'3' {
                continue;
            }
            let prev = if s == 0 {
                start.checked_sub(1).and_then(|i| rodata.get(i)).copied()
            } else {
                Some(window[s - 1])
            };
            if matches!(prev, Some(b) if b.is_ascii_digit() || b == b'.') {
                continue;
            }
            let Ok(text) = std::str::from_utf8(&window[s..]) else {
                continue;
            };
            if let Some(v) = PyVersion::parse(text) {
                if !found.contains(&v) {
                    found.push(v);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let v = PyVersion::from_hex(0x030c01f0);
        assert_eq!(v, PyVersion::new(3, 12, 1));
        assert_eq!(v.hex(), 0x030c01f0);
        assert_eq!(v.to_string(), "3.12.1");
        let rc = PyVersion::from_hex(0x030d00c2);
        assert_eq!(rc.to_string(), "3.13.0rc2");
        assert_eq!(PyVersion::parse("3.13.0rc2"), Some(rc));
    }

    #[test]
    fn parse_variants() {
        assert_eq!(PyVersion::parse("3.11.2+"), Some(PyVersion::new(3, 11, 2)));
        assert_eq!(
            PyVersion::parse("3.14.0a7").map(|v| v.hex()),
            Some(0x030e00a7)
        );
        assert_eq!(PyVersion::parse("3.14.0b1").map(|v| v.level), Some(0xB));
        assert_eq!(PyVersion::parse("3.x.1"), None);
        assert_eq!(PyVersion::parse("3.12"), None);
        assert_eq!(PyVersion::parse("3.12.1z"), None);
        assert_eq!(PyVersion::parse("3.12.1a99"), None);
    }

    #[test]
    fn scan_finds_tail_merged_version() {
        let ro =
            b"\0/root/.pyenv/versions/3.8.18\0lib/python3.8\0GNU/Linux 3.2.0\0v13.8.1\0x3.9.1.2\0";
        let found = scan_version_strings(ro);
        assert!(found.contains(&PyVersion::new(3, 8, 18)));
        assert!(found.contains(&PyVersion::new(3, 2, 0)));
        // "v13.8.1" and "3.9.1.2" are not versions.
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
