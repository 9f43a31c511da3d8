//! Decoding the records the kernel writes into a ring buffer.
//!
//! The layout of a sample depends on the `sample_type` bits the event was
//! opened with, so decoding takes the [`SampleFormat`] used at open time.
//! Every read is bounds-checked: a short or malformed record decodes to an
//! error, never a panic.

use perf_event_open_sys::bindings as b;

/// The attr fields that decide how samples and sample_id trailers are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleFormat {
    pub sample_type: u64,
    pub regs_user_mask: u64,
    /// Whether non-sample records carry the sample_id trailer.
    pub sample_id_all: bool,
}

/// Sample fields pyperf knows how to decode; opening with others is a bug.
pub const SUPPORTED_SAMPLE_TYPE: u64 = (b::PERF_SAMPLE_IDENTIFIER
    | b::PERF_SAMPLE_IP
    | b::PERF_SAMPLE_TID
    | b::PERF_SAMPLE_TIME
    | b::PERF_SAMPLE_ADDR
    | b::PERF_SAMPLE_ID
    | b::PERF_SAMPLE_STREAM_ID
    | b::PERF_SAMPLE_CPU
    | b::PERF_SAMPLE_PERIOD
    | b::PERF_SAMPLE_CALLCHAIN
    | b::PERF_SAMPLE_REGS_USER
    | b::PERF_SAMPLE_STACK_USER) as u64;

/// A sample; slices borrow from the ring (or its scratch copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRecord<'a> {
    /// Header `misc`: tells user/kernel mode (PERF_RECORD_MISC_CPUMODE_MASK).
    pub misc: u16,
    pub id: Option<u64>,
    pub ip: u64,
    pub pid: u32,
    pub tid: u32,
    pub time: u64,
    pub cpu: u32,
    pub period: u64,
    /// Callchain entries, including PERF_CONTEXT_* markers.
    pub callchain: Vec<u64>,
    /// User registers in mask order; empty when the sample hit a kernel thread.
    pub regs_user: Vec<u64>,
    /// The copied user stack (only the `dyn_size` valid bytes).
    pub stack_user: &'a [u8],
    /// True when the kernel could not copy as many stack bytes as requested
    /// because the copy buffer was full (the stack may be cut short).
    pub stack_full: bool,
}

/// The sample_id trailer of non-sample records (with sample_id_all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleId {
    pub pid: u32,
    pub tid: u32,
    pub time: u64,
    pub id: Option<u64>,
    pub cpu: u32,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Sample(SampleRecord<'a>),
    Mmap2 {
        pid: u32,
        tid: u32,
        addr: u64,
        len: u64,
        pgoff: u64,
        prot: u32,
        flags: u32,
        filename: String,
        /// Build id, when the kernel sent one instead of device/inode.
        build_id: Option<Vec<u8>>,
        sample_id: SampleId,
    },
    Comm {
        pid: u32,
        tid: u32,
        comm: String,
        /// The comm changed because the task exec'd.
        exec: bool,
        sample_id: SampleId,
    },
    Fork {
        pid: u32,
        ppid: u32,
        tid: u32,
        ptid: u32,
        time: u64,
    },
    Exit {
        pid: u32,
        ppid: u32,
        tid: u32,
        ptid: u32,
        time: u64,
    },
    /// The ring was full and the kernel dropped `lost` records.
    Lost {
        lost: u64,
    },
    /// Samples dropped for other reasons (e.g. the stack copy failed).
    LostSamples {
        lost: u64,
    },
    Throttle {
        time: u64,
        unthrottle: bool,
    },
    /// A record type pyperf does not use.
    Other {
        kind: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed perf record of type {kind}: {what}")]
pub struct DecodeError {
    pub kind: u32,
    pub what: &'static str,
}

/// A bounds-checked little cursor over record bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    kind: u32,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            kind: self.kind,
            what,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(self.err("record too short"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_ne_bytes(
            b.try_into().map_err(|_| self.err("record too short"))?,
        ))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_ne_bytes(
            b.try_into().map_err(|_| self.err("record too short"))?,
        ))
    }

    /// A NUL-terminated string padded to 8 bytes.
    fn string(&mut self) -> Result<String, DecodeError> {
        let rest = &self.bytes[self.pos..];
        let nul = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or(self.err("unterminated string"))?;
        let text = String::from_utf8_lossy(&rest[..nul]).into_owned();
        let padded = (nul + 1).div_ceil(8) * 8;
        self.take(padded.min(rest.len()))?;
        Ok(text)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

impl SampleFormat {
    fn has(&self, bit: u32) -> bool {
        self.sample_type & bit as u64 != 0
    }

    /// Decodes one record (header included).
    pub fn decode<'a>(&self, record: &'a [u8]) -> Result<Record<'a>, DecodeError> {
        if record.len() < 8 {
            return Err(DecodeError {
                kind: 0,
                what: "record shorter than its header",
            });
        }
        let kind = u32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
        let misc = u16::from_ne_bytes([record[4], record[5]]);
        let mut c = Cursor {
            bytes: record,
            pos: 8,
            kind,
        };
        Ok(match kind {
            b::PERF_RECORD_SAMPLE => Record::Sample(self.sample(&mut c, misc)?),
            b::PERF_RECORD_MMAP2 => {
                let (pid, tid) = (c.u32()?, c.u32()?);
                let (addr, len, pgoff) = (c.u64()?, c.u64()?, c.u64()?);
                let build_id = if misc as u32 & b::PERF_RECORD_MISC_MMAP_BUILD_ID != 0 {
                    let size = c.take(4)?[0] as usize;
                    let bytes = c.take(20)?;
                    Some(bytes[..size.min(20)].to_vec())
                } else {
                    c.take(24)?; // maj, min, ino, ino_generation
                    None
                };
                let (prot, flags) = (c.u32()?, c.u32()?);
                let filename = c.string()?;
                Record::Mmap2 {
                    pid,
                    tid,
                    addr,
                    len,
                    pgoff,
                    prot,
                    flags,
                    filename,
                    build_id,
                    sample_id: self.sample_id(&mut c)?,
                }
            }
            b::PERF_RECORD_COMM => {
                let (pid, tid) = (c.u32()?, c.u32()?);
                let comm = c.string()?;
                let exec = misc as u32 & b::PERF_RECORD_MISC_COMM_EXEC != 0;
                Record::Comm {
                    pid,
                    tid,
                    comm,
                    exec,
                    sample_id: self.sample_id(&mut c)?,
                }
            }
            b::PERF_RECORD_FORK | b::PERF_RECORD_EXIT => {
                let (pid, ppid, tid, ptid, time) =
                    (c.u32()?, c.u32()?, c.u32()?, c.u32()?, c.u64()?);
                if kind == b::PERF_RECORD_FORK {
                    Record::Fork {
                        pid,
                        ppid,
                        tid,
                        ptid,
                        time,
                    }
                } else {
                    Record::Exit {
                        pid,
                        ppid,
                        tid,
                        ptid,
                        time,
                    }
                }
            }
            b::PERF_RECORD_LOST => {
                let _id = c.u64()?;
                Record::Lost { lost: c.u64()? }
            }
            b::PERF_RECORD_LOST_SAMPLES => Record::LostSamples { lost: c.u64()? },
            b::PERF_RECORD_THROTTLE | b::PERF_RECORD_UNTHROTTLE => {
                let time = c.u64()?;
                Record::Throttle {
                    time,
                    unthrottle: kind == b::PERF_RECORD_UNTHROTTLE,
                }
            }
            other => Record::Other { kind: other },
        })
    }

    fn sample<'a>(&self, c: &mut Cursor<'a>, misc: u16) -> Result<SampleRecord<'a>, DecodeError> {
        let mut s = SampleRecord {
            misc,
            id: None,
            ip: 0,
            pid: 0,
            tid: 0,
            time: 0,
            cpu: 0,
            period: 0,
            callchain: Vec::new(),
            regs_user: Vec::new(),
            stack_user: &[],
            stack_full: false,
        };
        if self.has(b::PERF_SAMPLE_IDENTIFIER) {
            s.id = Some(c.u64()?);
        }
        if self.has(b::PERF_SAMPLE_IP) {
            s.ip = c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_TID) {
            s.pid = c.u32()?;
            s.tid = c.u32()?;
        }
        if self.has(b::PERF_SAMPLE_TIME) {
            s.time = c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_ADDR) {
            c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_ID) {
            s.id = Some(c.u64()?);
        }
        if self.has(b::PERF_SAMPLE_STREAM_ID) {
            c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_CPU) {
            s.cpu = c.u32()?;
            c.u32()?;
        }
        if self.has(b::PERF_SAMPLE_PERIOD) {
            s.period = c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_CALLCHAIN) {
            let nr = c.u64()? as usize;
            if nr > c.remaining() / 8 {
                return Err(c.err("callchain longer than the record"));
            }
            s.callchain = (0..nr).map(|_| c.u64()).collect::<Result<_, _>>()?;
        }
        if self.has(b::PERF_SAMPLE_REGS_USER) {
            let abi = c.u64()?;
            if abi != b::PERF_SAMPLE_REGS_ABI_NONE as u64 {
                let n = self.regs_user_mask.count_ones() as usize;
                s.regs_user = (0..n).map(|_| c.u64()).collect::<Result<_, _>>()?;
            }
        }
        if self.has(b::PERF_SAMPLE_STACK_USER) {
            let size = c.u64()? as usize;
            if size > 0 {
                let data = c.take(size)?;
                let dyn_size = c.u64()? as usize;
                s.stack_user = &data[..dyn_size.min(size)];
                s.stack_full = dyn_size >= size;
            }
        }
        Ok(s)
    }

    fn sample_id(&self, c: &mut Cursor<'_>) -> Result<SampleId, DecodeError> {
        let mut id = SampleId::default();
        if !self.sample_id_all {
            return Ok(id);
        }
        if self.has(b::PERF_SAMPLE_TID) {
            id.pid = c.u32()?;
            id.tid = c.u32()?;
        }
        if self.has(b::PERF_SAMPLE_TIME) {
            id.time = c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_ID) {
            id.id = Some(c.u64()?);
        }
        if self.has(b::PERF_SAMPLE_STREAM_ID) {
            c.u64()?;
        }
        if self.has(b::PERF_SAMPLE_CPU) {
            id.cpu = c.u32()?;
            c.u32()?;
        }
        if self.has(b::PERF_SAMPLE_IDENTIFIER) {
            id.id = Some(c.u64()?);
        }
        Ok(id)
    }
}

/// Index of register `reg` (a PERF_REG_X86_* number) in a sample's regs, given the mask.
pub fn reg_index(mask: u64, reg: u32) -> Option<usize> {
    (mask & (1u64 << reg) != 0).then(|| (mask & ((1u64 << reg) - 1)).count_ones() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u32, misc: u16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&misc.to_ne_bytes());
        out.extend_from_slice(&((body.len() + 8) as u16).to_ne_bytes());
        out.extend_from_slice(body);
        out
    }

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    #[test]
    fn decodes_a_sample_with_regs_and_stack() {
        let format = SampleFormat {
            sample_type: (b::PERF_SAMPLE_IDENTIFIER
                | b::PERF_SAMPLE_IP
                | b::PERF_SAMPLE_TID
                | b::PERF_SAMPLE_TIME
                | b::PERF_SAMPLE_PERIOD
                | b::PERF_SAMPLE_CALLCHAIN
                | b::PERF_SAMPLE_REGS_USER
                | b::PERF_SAMPLE_STACK_USER) as u64,
            regs_user_mask: (1 << 6) | (1 << 7) | (1 << 8),
            sample_id_all: true,
        };
        let mut body = words(&[42, 0x401000]);
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend_from_slice(&8u32.to_ne_bytes());
        body.extend(words(&[
            1234,
            1_000_000,
            2,
            0xffff_ffff_ffff_fe00,
            0x401000,
            2,
            0x7ff0,
            0x7fe0,
            0x401000,
            16,
        ]));
        body.extend_from_slice(&[0xaa; 16]);
        body.extend(words(&[12]));
        let rec = record(b::PERF_RECORD_SAMPLE, 2, &body);
        let Record::Sample(s) = format.decode(&rec).unwrap() else {
            panic!("not a sample")
        };
        assert_eq!(
            (s.id, s.ip, s.pid, s.tid, s.time, s.period),
            (Some(42), 0x401000, 7, 8, 1234, 1_000_000)
        );
        assert_eq!(s.callchain, vec![0xffff_ffff_ffff_fe00, 0x401000]);
        assert_eq!(s.regs_user, vec![0x7ff0, 0x7fe0, 0x401000]);
        assert_eq!(s.stack_user.len(), 12);
        assert!(!s.stack_full);
        assert_eq!(reg_index(format.regs_user_mask, 8), Some(2));
        assert_eq!(reg_index(format.regs_user_mask, 0), None);
    }

    #[test]
    fn short_and_lying_records_are_errors() {
        let format = SampleFormat {
            sample_type: (b::PERF_SAMPLE_IP | b::PERF_SAMPLE_CALLCHAIN) as u64,
            regs_user_mask: 0,
            sample_id_all: false,
        };
        let rec = record(b::PERF_RECORD_SAMPLE, 0, &words(&[1, u64::MAX]));
        assert!(format.decode(&rec).is_err());
        assert!(format.decode(&rec[..4]).is_err());
        let comm = record(b::PERF_RECORD_COMM, 0, &words(&[1, 0x4141_4141_4141_4141]));
        assert!(format.decode(&comm).is_err(), "unterminated comm");
        // Random bytes never panic.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let len = (seed % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = format.decode(&bytes);
        }
    }

    #[test]
    fn decodes_comm_with_exec_and_trailer() {
        let format = SampleFormat {
            sample_type: (b::PERF_SAMPLE_TID | b::PERF_SAMPLE_TIME) as u64,
            regs_user_mask: 0,
            sample_id_all: true,
        };
        let mut body = Vec::new();
        body.extend_from_slice(&5u32.to_ne_bytes());
        body.extend_from_slice(&6u32.to_ne_bytes());
        body.extend_from_slice(b"python3\0");
        body.extend_from_slice(&5u32.to_ne_bytes());
        body.extend_from_slice(&6u32.to_ne_bytes());
        body.extend(words(&[99]));
        let rec = record(
            b::PERF_RECORD_COMM,
            b::PERF_RECORD_MISC_COMM_EXEC as u16,
            &body,
        );
        assert_eq!(
            format.decode(&rec).unwrap(),
            Record::Comm {
                pid: 5,
                tid: 6,
                comm: "python3".into(),
                exec: true,
                sample_id: SampleId {
                    pid: 5,
                    tid: 6,
                    time: 99,
                    id: None,
                    cpu: 0
                }
            }
        );
    }
}
