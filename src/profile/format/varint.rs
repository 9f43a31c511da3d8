//! LEB128 varints, zigzag signed deltas, and a bounds-checked decoder.
//!
//! Every length or count the decoder reads is checked against the bytes that
//! remain, so a corrupt file can never make the reader allocate more than the
//! file itself holds.

use super::error::FormatProblem;

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends an optional value as `0` for `None` or `1, value` for `Some`.
pub(crate) fn put_opt_u64(buf: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => buf.push(0),
        Some(v) => {
            buf.push(1);
            put_u64(buf, v);
        }
    }
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Maps a signed delta to an unsigned value with small magnitudes near zero.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads the encoded values back from one chunk's payload.
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// File offset of `bytes[0]`, for error messages.
    base: u64,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Decoder<'a> {
        Decoder {
            bytes,
            pos: 0,
            base,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// File offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// A corruption error at the current position.
    pub(crate) fn corrupt(&self, detail: impl Into<String>) -> FormatProblem {
        FormatProblem::Corrupt {
            offset: self.offset(),
            detail: detail.into(),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatProblem> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.corrupt("record ends in the middle of a field"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatProblem> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatProblem> {
        let v = self.u64()?;
        u32::try_from(v).map_err(|_| self.corrupt(format!("value {v} does not fit 32 bits")))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, FormatProblem> {
        let v = self.u64()?;
        u16::try_from(v).map_err(|_| self.corrupt(format!("value {v} does not fit 16 bits")))
    }

    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, FormatProblem> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            b => Err(self.corrupt(format!("option flag {b} is neither 0 nor 1"))),
        }
    }

    /// A count of items that each take at least one byte, checked against the
    /// bytes left so that `Vec::with_capacity(count)` stays bounded.
    pub(crate) fn count(&mut self) -> Result<usize, FormatProblem> {
        let n = self.u64()?;
        if n > self.remaining() as u64 {
            return Err(self.corrupt(format!(
                "count {n} exceeds the {} bytes left in the chunk",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], FormatProblem> {
        let n = self.u64()?;
        self.take(n)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], FormatProblem> {
        if n > self.remaining() as u64 {
            return Err(self.corrupt(format!(
                "length {n} exceeds the {} bytes left in the chunk",
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(slice)
    }

    pub(crate) fn string(&mut self) -> Result<String, FormatProblem> {
        let at = self.offset();
        let raw = self.bytes()?;
        String::from_utf8(raw.to_vec()).map_err(|_| FormatProblem::Corrupt {
            offset: at,
            detail: "string is not valid UTF-8".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let mut values = vec![0u64, 1, 127, 128, 255, 300, 16383, 16384, u64::MAX];
        values.extend((0..64).map(|s| 1u64 << s));
        values.extend((1..64).map(|s| (1u64 << s) - 1));
        let mut buf = Vec::new();
        for &v in &values {
            put_u64(&mut buf, v);
        }
        let mut d = Decoder::new(&buf, 0);
        for &v in &values {
            assert_eq!(d.u64().unwrap(), v);
        }
        assert!(d.is_empty());
    }

    #[test]
    fn zigzag_round_trips_and_keeps_small_values_small() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            1_000_000,
            -1_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn overlong_and_overflowing_varints_are_errors() {
        let eleven = [0x80u8; 11];
        assert!(Decoder::new(&eleven, 0).u64().is_err());
        let mut overflow = vec![0xffu8; 9];
        overflow.push(0x02);
        assert!(Decoder::new(&overflow, 0).u64().is_err());
        assert!(Decoder::new(&[0x80], 0).u64().is_err());
    }

    #[test]
    fn lengths_beyond_the_chunk_are_errors_not_allocations() {
        let mut buf = Vec::new();
        put_u64(&mut buf, u64::MAX / 2);
        buf.extend_from_slice(b"abc");
        let err = Decoder::new(&buf, 100).bytes().unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");
    }
}
