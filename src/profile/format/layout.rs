//! The byte layout of a profile file, shared by the writer and the reader.
//!
//! ```text
//! file    = magic "PYPERF\0\0" (8 bytes), version (u32 LE), chunk*
//! chunk   = payload length (u32 LE), crc32 of (length bytes + payload) (u32 LE), payload
//! payload = entry*            entries never straddle chunks
//! entry   = tag (u8), fields (LEB128 varints, length-prefixed UTF-8 strings)
//! ```
//!
//! The writer appends chunks as it records, so a file cut short anywhere
//! (SIGKILL, full disk) still reads: every complete chunk before the cut is
//! used and the reader reports that the end record is missing. A checksum
//! failure is corruption, reported as an error, never misread.
//!
//! Ids are implicit: the n-th string, module, raw frame, stack node or thread
//! entry gets id n (stack nodes start at 1; node 0 is the empty stack).
//! An entry only refers to ids defined before it.
//!
//! | tag | entry | fields |
//! |-----|-------|--------|
//! | 0x01 | header | producer, #command, command strings, start_unix_ns, #events, events |
//! | 0x02 | string | bytes |
//! | 0x03 | module | path string id, build id (`0` none, else `len+1`, bytes) |
//! | 0x04 | symbolic frame | frame body |
//! | 0x05 | address frame | module id, address |
//! | 0x06 | stack node | parent node, raw frame |
//! | 0x07 | stack node that is a whole stack | parent node, raw frame |
//! | 0x08 | mark existing node as a whole stack | node |
//! | 0x09 | thread | pid, tid, name string id |
//! | 0x0a | thread name | thread, name string id |
//! | 0x0b | process (replaces any earlier one with its pid) | pid, command string id, python version string id + 1 |
//! | 0x0c | symbols of an address frame | raw frame, #frames, frame bodies (caller first) |
//! | 0x0d | run counters (last one wins) | duration_ns, lost, truncated, inconsistent, merged |
//! | 0x0e | end | #samples, #raw frames, #stack nodes |
//! | 0x40-0x4f | sample | see below |
//!
//! A frame body is `kind | inlined << 2` (u8), function string id, file string
//! id + 1, line + 1, module string id + 1 (`0` meaning absent).
//!
//! A sample's tag carries four flags: bit 0 idle, bit 1 thread present, bit 2
//! weight present, bit 3 event present. Absent fields repeat the previous
//! sample's thread and event, and the previous weight of that event. Then:
//! `[event] [thread] stack node, zigzag(time - previous time) [zigzag(weight - previous weight of event)]`.

/// The first eight bytes of every profile file.
pub(crate) const MAGIC: [u8; 8] = *b"PYPERF\0\0";
/// The format version this code writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Size of magic plus version.
pub(crate) const FILE_HEADER_LEN: usize = 12;
/// Size of a chunk's length and checksum.
pub(crate) const CHUNK_HEADER_LEN: usize = 8;
/// Largest chunk payload either side accepts; a bigger length is corruption.
pub(crate) const MAX_CHUNK_LEN: usize = 64 << 20;
/// The writer closes a chunk once its payload reaches this size.
pub(crate) const CHUNK_TARGET_LEN: usize = 64 << 10;
/// Longest string the writer stores; longer ones are cut at a char boundary.
pub(crate) const MAX_STRING_LEN: usize = 1 << 20;

pub(crate) const TAG_HEADER: u8 = 0x01;
pub(crate) const TAG_STRING: u8 = 0x02;
pub(crate) const TAG_MODULE: u8 = 0x03;
pub(crate) const TAG_SYMBOLIC_FRAME: u8 = 0x04;
pub(crate) const TAG_ADDRESS_FRAME: u8 = 0x05;
pub(crate) const TAG_STACK_NODE: u8 = 0x06;
pub(crate) const TAG_STACK_NODE_WHOLE: u8 = 0x07;
pub(crate) const TAG_STACK_MARK_WHOLE: u8 = 0x08;
pub(crate) const TAG_THREAD: u8 = 0x09;
pub(crate) const TAG_THREAD_NAME: u8 = 0x0a;
pub(crate) const TAG_PROCESS: u8 = 0x0b;
pub(crate) const TAG_SYMBOLS: u8 = 0x0c;
pub(crate) const TAG_COUNTERS: u8 = 0x0d;
pub(crate) const TAG_END: u8 = 0x0e;

/// Sample tags are `TAG_SAMPLE | flags`.
pub(crate) const TAG_SAMPLE: u8 = 0x40;
pub(crate) const TAG_SAMPLE_MASK: u8 = 0xf0;
pub(crate) const SAMPLE_IDLE: u8 = 1;
pub(crate) const SAMPLE_HAS_THREAD: u8 = 2;
pub(crate) const SAMPLE_HAS_WEIGHT: u8 = 4;
pub(crate) const SAMPLE_HAS_EVENT: u8 = 8;

/// Frame body flag: the frame was inlined into its caller.
pub(crate) const FRAME_INLINED: u8 = 4;

/// Checksum of a chunk: covers its length field and its payload.
pub(crate) fn chunk_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}
