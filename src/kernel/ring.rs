//! The mmap'd perf ring buffer: page 0 is the control page, then 2^n data pages.
//!
//! The kernel writes records at `data_head`; we read from our tail up to the
//! head loaded with acquire ordering, then publish the new `data_tail` with
//! release ordering so the kernel may reuse the space. Records are 8-byte
//! aligned, so a header never straddles the end of the buffer; a body can, and
//! such records are copied into a scratch buffer before being handed out.

use std::mem::offset_of;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};
use perf_event_open_sys::bindings::perf_event_mmap_page;

use super::sys::PerfFd;

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error("data pages must be a power of two, got {0}")]
    NotPowerOfTwo(usize),
    #[error("cannot map the perf ring buffer ({0}); raise the limit in /proc/sys/kernel/perf_event_mlock_kb or use fewer pages (-m)")]
    Map(std::io::Error),
    #[error("the perf ring buffer holds a malformed record (size {size} at offset {offset})")]
    Corrupt { size: usize, offset: u64 },
}

/// A mapped ring buffer of one perf fd (other fds may be routed into it).
pub struct RingBuffer {
    map: MmapRaw,
    data_offset: usize,
    data_size: u64,
    scratch: Vec<u8>,
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize)
}

impl RingBuffer {
    /// Maps `data_pages` (a power of two) data pages plus the control page.
    pub fn map(fd: &PerfFd, data_pages: usize) -> Result<RingBuffer, RingError> {
        if !data_pages.is_power_of_two() {
            return Err(RingError::NotPowerOfTwo(data_pages));
        }
        let page = page_size();
        let len = (data_pages + 1) * page;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(fd.as_owned())
            .map_err(RingError::Map)?;
        Ok(RingBuffer {
            map,
            // Older kernels leave data_offset/data_size zero: the data then
            // starts right after the control page.
            data_offset: page,
            data_size: (data_pages * page) as u64,
            scratch: Vec::new(),
        })
    }

    fn control_word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: `offset` is the offset of an 8-byte-aligned u64 field inside the
        // control page, which stays mapped for the lifetime of `self`; the kernel
        // and this process access it concurrently, hence the atomic view.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU64) }
    }

    fn head(&self) -> u64 {
        self.control_word(offset_of!(perf_event_mmap_page, data_head))
            .load(Ordering::Acquire)
    }

    fn tail(&self) -> u64 {
        self.control_word(offset_of!(perf_event_mmap_page, data_tail))
            .load(Ordering::Relaxed)
    }

    fn set_tail(&self, tail: u64) {
        self.control_word(offset_of!(perf_event_mmap_page, data_tail))
            .store(tail, Ordering::Release);
    }

    fn data(&self) -> &[u8] {
        // SAFETY: the data area lies inside the mapping. Only the part between our
        // tail and the loaded head is read, which the kernel does not write until
        // we publish a new tail.
        unsafe {
            std::slice::from_raw_parts(
                self.map.as_ptr().add(self.data_offset),
                self.data_size as usize,
            )
        }
    }

    /// Hands every complete record (header included) to `each`, then frees the space.
    pub fn drain(&mut self, mut each: impl FnMut(&[u8])) -> Result<usize, RingError> {
        let head = self.head();
        let mut tail = self.tail();
        let size = self.data_size;
        let mut count = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = loop {
            if head.wrapping_sub(tail) < 8 {
                break Ok(count);
            }
            let data = self.data();
            let start = (tail % size) as usize;
            let len = u16::from_ne_bytes([data[start + 6], data[start + 7]]) as usize;
            if len < 8 || len as u64 > head.wrapping_sub(tail) || len % 8 != 0 {
                break Err(RingError::Corrupt {
                    size: len,
                    offset: tail,
                });
            }
            if start + len <= data.len() {
                each(&data[start..start + len]);
            } else {
                let first = data.len() - start;
                scratch.clear();
                scratch.extend_from_slice(&data[start..]);
                scratch.extend_from_slice(&data[..len - first]);
                each(&scratch);
            }
            tail = tail.wrapping_add(len as u64);
            count += 1;
        };
        self.scratch = scratch;
        // On corruption, skip everything written so far so that reading can go on.
        self.set_tail(if result.is_ok() { tail } else { head });
        result
    }
}
