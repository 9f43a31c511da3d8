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

/// The stack of a stopped thread, read from its process on demand a page at a
/// time: nothing is copied that the unwinder does not touch, and nothing is
/// cut short.
pub struct LiveStack<'a> {
    /// Fills the buffer with the process's bytes at the address, or fails.
    read: &'a dyn Fn(u64, &mut [u8]) -> bool,
    pages: std::collections::HashMap<u64, Option<Box<[u8; PAGE]>>>,
}

const PAGE: usize = 4096;

impl<'a> LiveStack<'a> {
    pub fn new(read: &'a dyn Fn(u64, &mut [u8]) -> bool) -> LiveStack<'a> {
        LiveStack {
            read,
            pages: std::collections::HashMap::new(),
        }
    }
}

impl StackMemory for LiveStack<'_> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        if addr % 8 != 0 {
            let mut word = [0u8; 8];
            return (self.read)(addr, &mut word).then(|| u64::from_ne_bytes(word));
        }
        let base = addr & !(PAGE as u64 - 1);
        let read = self.read;
        let page = self.pages.entry(base).or_insert_with(|| {
            let mut bytes = Box::new([0u8; PAGE]);
            read(base, &mut bytes[..]).then_some(bytes)
        });
        let offset = (addr - base) as usize;
        page.as_ref()
            .map(|p| u64::from_ne_bytes(p[offset..offset + 8].try_into().unwrap_or([0; 8])))
    }

    fn truncated(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stack_reads_words_through_pages() {
        let base = 0x7000_0000u64;
        let memory: Vec<u8> = (0..2 * PAGE as u64 / 8)
            .flat_map(|w| (w * 3).to_ne_bytes())
            .collect();
        let calls = std::cell::Cell::new(0);
        let read = |addr: u64, buf: &mut [u8]| {
            calls.set(calls.get() + 1);
            let Some(offset) = addr.checked_sub(base).map(|o| o as usize) else {
                return false;
            };
            match memory.get(offset..offset + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        };
        let mut stack = LiveStack::new(&read);
        assert_eq!(stack.read_u64(base + 8), Some(3));
        assert_eq!(stack.read_u64(base + 16), Some(6));
        assert_eq!(calls.get(), 1, "one read per page");
        assert_eq!(
            stack.read_u64(base + PAGE as u64 + 8),
            Some((PAGE as u64 / 8 + 1) * 3)
        );
        assert_eq!(stack.read_u64(base + 2 * PAGE as u64), None);
        assert!(!stack.truncated());
    }

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
