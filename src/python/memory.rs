//! Reading another process's memory, and decoding fields from byte buffers.
//!
//! Everything the reader learns about a target goes through [`RemoteMemory`].
//! Values are decoded explicitly (little-endian, bounds-checked) from copied
//! bytes; nothing is transmuted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IoSliceMut;

use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use super::error::MemError;

/// A source of bytes at addresses of a target process.
pub trait RemoteMemory {
    /// Fill `buf` with the bytes at `addr..addr + buf.len()`, or fail
    /// without a partial result.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;
}

impl<T: RemoteMemory + ?Sized> RemoteMemory for &T {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        (**self).read(addr, buf)
    }
}

/// A live process's memory, read with `process_vm_readv(2)` (needs the same
/// permission as ptrace: same user and `ptrace_scope` allowing it, or root /
/// CAP_SYS_PTRACE). The process is not stopped: reads of a running process
/// may observe structures mid-update, which the reader validates.
#[derive(Debug, Clone, Copy)]
pub struct ProcessMemory {
    pid: i32,
}

impl ProcessMemory {
    pub fn new(pid: i32) -> Self {
        ProcessMemory { pid }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl ProcessMemory {
    /// Reads as much of `addr..addr + buf.len()` as is mapped, from the start;
    /// returns the number of bytes read (0 on any failure).
    pub fn read_partial(&self, addr: u64, buf: &mut [u8]) -> usize {
        let (Ok(base), len) = (usize::try_from(addr), buf.len()) else {
            return 0;
        };
        if len == 0 || base.checked_add(len).is_none() {
            return 0;
        }
        let remote = [RemoteIoVec { base, len }];
        let mut local = [IoSliceMut::new(buf)];
        process_vm_readv(Pid::from_raw(self.pid), &mut local, &remote).unwrap_or(0)
    }
}

impl RemoteMemory for ProcessMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let len = buf.len();
        if len == 0 {
            return Ok(());
        }
        let base = usize::try_from(addr).map_err(|_| MemError::Unmapped { addr, len })?;
        if base.checked_add(len).is_none() {
            return Err(MemError::Unmapped { addr, len });
        }
        let remote = [RemoteIoVec { base, len }];
        let mut local = [IoSliceMut::new(buf)];
        match process_vm_readv(Pid::from_raw(self.pid), &mut local, &remote) {
            Ok(got) if got == len => Ok(()),
            Ok(got) => Err(MemError::Short { addr, len, got }),
            Err(errno) => Err(MemError::Read {
                pid: self.pid,
                addr,
                len,
                errno,
            }),
        }
    }
}

const PAGE: u64 = 4096;

/// A snapshot-scoped page cache over another memory: small reads are served
/// from whole 4 KiB pages fetched once, so walking a stack costs one system
/// call per page touched instead of one per field. Use one per sample and
/// drop it: it never notices changes in the target.
pub struct PageCache<'a, M: RemoteMemory + ?Sized> {
    inner: &'a M,
    /// `None`: the page could not be read as a whole.
    pages: RefCell<HashMap<u64, Option<Box<[u8]>>>>,
}

impl<'a, M: RemoteMemory + ?Sized> PageCache<'a, M> {
    /// Most pages kept (4 MiB); the cache is emptied when full.
    const MAX_PAGES: usize = 1024;
    /// Reads longer than this bypass the cache.
    const MAX_CACHED_READ: usize = 2 * PAGE as usize;

    pub fn new(inner: &'a M) -> Self {
        PageCache {
            inner,
            pages: RefCell::new(HashMap::new()),
        }
    }

    /// Copy what the cached pages hold of `addr..addr+buf.len()`; `false`
    /// if a page is not readable as a whole.
    fn read_pages(&self, addr: u64, buf: &mut [u8]) -> bool {
        let mut pages = self.pages.borrow_mut();
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr + done as u64;
            let base = at & !(PAGE - 1);
            if pages.len() >= Self::MAX_PAGES && !pages.contains_key(&base) {
                pages.clear();
            }
            let page = pages.entry(base).or_insert_with(|| {
                let mut data = vec![0u8; PAGE as usize].into_boxed_slice();
                self.inner.read(base, &mut data).ok().map(|()| data)
            });
            let Some(page) = page else {
                return false;
            };
            let from = (at - base) as usize;
            let n = (PAGE as usize - from).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[from..from + n]);
            done += n;
        }
        true
    }
}

impl<M: RemoteMemory + ?Sized> RemoteMemory for PageCache<'_, M> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let fits = addr.checked_add(buf.len() as u64).is_some();
        if fits && buf.len() <= Self::MAX_CACHED_READ && self.read_pages(addr, buf) {
            return Ok(());
        }
        // Large reads, and ranges whose pages are not readable whole (the
        // inner memory may serve smaller pieces), go straight through.
        self.inner.read(addr, buf)
    }
}

/// Memory made of byte regions at chosen addresses: for tests of code that
/// reads targets, and for replaying captured memory.
#[derive(Debug, Default, Clone)]
pub struct FakeMemory {
    regions: Vec<(u64, Vec<u8>)>,
}

impl FakeMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Map `bytes` at `addr` (later regions win where they overlap).
    pub fn map(&mut self, addr: u64, bytes: Vec<u8>) {
        self.regions.push((addr, bytes));
    }

    /// Overwrite a little-endian u64 at `addr` inside a mapped region.
    pub fn put_u64(&mut self, addr: u64, value: u64) {
        self.put(addr, &value.to_le_bytes());
    }

    /// Overwrite bytes at `addr` inside a mapped region (ignored if unmapped).
    pub fn put(&mut self, addr: u64, bytes: &[u8]) {
        for (base, data) in self.regions.iter_mut().rev() {
            let Some(start) = addr.checked_sub(*base) else {
                continue;
            };
            let Ok(start) = usize::try_from(start) else {
                continue;
            };
            if let Some(dst) = data.get_mut(start..start + bytes.len()) {
                dst.copy_from_slice(bytes);
                return;
            }
        }
    }
}

impl RemoteMemory for FakeMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let len = buf.len();
        for (base, data) in self.regions.iter().rev() {
            let Some(start) = addr.checked_sub(*base) else {
                continue;
            };
            let Ok(start) = usize::try_from(start) else {
                continue;
            };
            if let Some(src) = start.checked_add(len).and_then(|end| data.get(start..end)) {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        Err(MemError::Unmapped { addr, len })
    }
}

/// Read `len` bytes at `addr` into a new buffer.
pub fn read_bytes<M: RemoteMemory + ?Sized>(
    mem: &M,
    addr: u64,
    len: usize,
) -> Result<Vec<u8>, MemError> {
    let mut buf = vec![0u8; len];
    mem.read(addr, &mut buf)?;
    Ok(buf)
}

/// Read a little-endian u64 (a pointer on the 64-bit targets we support).
pub fn read_u64<M: RemoteMemory + ?Sized>(mem: &M, addr: u64) -> Result<u64, MemError> {
    let mut buf = [0u8; 8];
    mem.read(addr, &mut buf)?;
    Ok(u64::from_le_bytes(buf))
}

/// Little-endian field decoding from a copied struct. Every accessor is
/// bounds-checked and returns `None` past the end of the buffer.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    fn array<const N: usize>(&self, offset: u64) -> Option<[u8; N]> {
        let start = usize::try_from(offset).ok()?;
        let bytes = self.0.get(start..start.checked_add(N)?)?;
        bytes.try_into().ok()
    }

    pub fn u64(&self, offset: u64) -> Option<u64> {
        self.array::<8>(offset).map(u64::from_le_bytes)
    }

    pub fn i64(&self, offset: u64) -> Option<i64> {
        self.array::<8>(offset).map(i64::from_le_bytes)
    }

    pub fn u32(&self, offset: u64) -> Option<u32> {
        self.array::<4>(offset).map(u32::from_le_bytes)
    }

    pub fn i32(&self, offset: u64) -> Option<i32> {
        self.array::<4>(offset).map(i32::from_le_bytes)
    }

    pub fn u8(&self, offset: u64) -> Option<u8> {
        self.array::<1>(offset).map(|[b]| b)
    }

    /// An unsigned integer of `size` bytes (1, 2, 4 or 8).
    pub fn uint(&self, offset: u64, size: u64) -> Option<u64> {
        match size {
            1 => self.u8(offset).map(u64::from),
            2 => self
                .array::<2>(offset)
                .map(|b| u64::from(u16::from_le_bytes(b))),
            4 => self.u32(offset).map(u64::from),
            8 => self.u64(offset),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_little_endian_and_check_bounds() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 0xff];
        let f = Fields(&buf);
        assert_eq!(f.u64(0), Some(0x0807_0605_0403_0201));
        assert_eq!(f.u32(4), Some(0x0807_0605));
        assert_eq!(f.i32(5), Some(i32::from_le_bytes([6, 7, 8, 0xff])));
        assert_eq!(f.u8(8), Some(0xff));
        assert_eq!(f.u64(2), None);
        assert_eq!(f.u8(9), None);
        assert_eq!(f.u64(u64::MAX), None);
        assert_eq!(f.uint(0, 2), Some(0x0201));
        assert_eq!(f.uint(0, 3), None);
    }

    #[test]
    fn fake_memory_reads_inside_regions_only() {
        let mut m = FakeMemory::new();
        m.map(0x1000, vec![0; 16]);
        m.put_u64(0x1008, 42);
        assert_eq!(read_u64(&m, 0x1008), Ok(42));
        assert!(read_u64(&m, 0x100c).is_err());
        assert!(read_u64(&m, 0xff8).is_err());
        assert!(read_u64(&m, u64::MAX - 2).is_err());
    }

    #[test]
    fn process_memory_reads_own_process() {
        let value: u64 = 0x1122_3344_5566_7788;
        let mem = ProcessMemory::new(std::process::id() as i32);
        let addr = &value as *const u64 as u64;
        match read_u64(&mem, addr) {
            Ok(v) => assert_eq!(v, value),
            // process_vm_readv on ourselves can be forbidden by a seccomp
            // sandbox; that is not what this test is about.
            Err(MemError::Read {
                errno: nix::errno::Errno::EPERM,
                ..
            }) => {
                eprintln!("skipping: process_vm_readv not permitted here");
            }
            Err(e) => panic!("{e}"),
        }
        assert!(read_u64(&mem, 8).is_err(), "page zero is never mapped");
    }

    #[test]
    fn page_cache_serves_reads_across_pages_and_falls_back() {
        let mut m = FakeMemory::new();
        let bytes: Vec<u8> = (0..3 * PAGE as usize).map(|i| (i % 251) as u8).collect();
        m.map(0x10000, bytes.clone());
        // An odd-sized region that no whole page covers.
        m.map(0x40010, vec![7; 16]);
        let cache = PageCache::new(&m);
        let mut buf = [0u8; 100];
        cache
            .read(0x10000 + PAGE - 50, &mut buf)
            .expect("spans two pages");
        assert_eq!(&buf[..], &bytes[PAGE as usize - 50..PAGE as usize + 50]);
        assert_eq!(read_u64(&cache, 0x40010), Ok(0x0707_0707_0707_0707));
        assert!(read_u64(&cache, 0x40020).is_err());
        let mut big = vec![0u8; 3 * PAGE as usize];
        cache.read(0x10000, &mut big).expect("large read");
        assert_eq!(big, bytes);
    }
}
