//! Stack memory an unwinder may read: a copy taken with a sample, or the
//! memory of a stopped thread.

/// Reads 8-byte stack words; remembers whether a read fell past the copy.
pub trait StackMemory {
    fn read_u64(&mut self, addr: u64) -> Option<u64>;
    /// True when a read wanted memory beyond what this copy holds, while the
    /// copy was full (so the stack was cut short rather than ended).
    fn truncated(&self) -> bool;
}

/// The user stack copied into a sample, starting at `sp`.
pub struct CopiedStack<'a> {
    pub sp: u64,
    pub bytes: &'a [u8],
    /// The copy used its whole buffer.
    pub full: bool,
    read_past_end: bool,
}

impl<'a> CopiedStack<'a> {
    pub fn new(sp: u64, bytes: &'a [u8], full: bool) -> CopiedStack<'a> {
        CopiedStack {
            sp,
            bytes,
            full,
            read_past_end: false,
        }
    }
}

impl StackMemory for CopiedStack<'_> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        let offset = addr.checked_sub(self.sp)? as usize;
        match self.bytes.get(offset..offset.checked_add(8)?) {
            Some(word) => Some(u64::from_ne_bytes(word.try_into().ok()?)),
            None => {
                self.read_past_end = true;
                None
            }
        }
    }

    fn truncated(&self) -> bool {
        self.full && self.read_past_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_flags_reads_past_a_full_copy() {
        let bytes: Vec<u8> = (0u64..4).flat_map(|w| (w + 100).to_ne_bytes()).collect();
        let mut stack = CopiedStack::new(0x1000, &bytes, true);
        assert_eq!(stack.read_u64(0x1008), Some(101));
        assert_eq!(stack.read_u64(0x0ff8), None);
        assert!(!stack.truncated(), "below sp is not truncation");
        assert_eq!(stack.read_u64(0x1020), None);
        assert!(stack.truncated());
        let mut partial = CopiedStack::new(0x1000, &bytes, false);
        assert_eq!(partial.read_u64(0x1020), None);
        assert!(
            !partial.truncated(),
            "a copy that was not full holds the whole stack"
        );
    }
}
