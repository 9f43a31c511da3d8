//! Code objects: name, file and line table, decoded once and cached.
//!
//! A code object's address can be reused for another code object after the
//! first is freed, so a cache entry is keyed on the address *and* on the
//! pointers to its name, qualname, filename and line table and its first
//! line, all re-read (one small read) on every lookup.

use std::collections::HashMap;
use std::sync::Arc;

use super::layouts::Layout;
use super::linetable::LineTable;
use super::memory::{read_bytes, Fields, RemoteMemory};
use super::objects::{read_bytes_object, read_unicode, ObjError};
use super::process::TypeAddresses;

/// Entries kept before the cache is emptied and refilled.
const MAX_CACHED: usize = 1 << 14;

/// What pyperf keeps of a code object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// `co_qualname` where the version has it (3.11+), else `co_name`.
    pub function: String,
    pub filename: String,
    pub first_line: u32,
    pub lines: LineTable,
    /// A name or the filename was longer than the string cap and was cut.
    pub truncated: bool,
}

/// The fields whose change means "a different code object".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeKey {
    name: u64,
    qualname: u64,
    filename: u64,
    linetable: u64,
    first_line: i32,
}

/// Cache of decoded code objects by address.
#[derive(Debug, Default)]
pub struct CodeCache {
    entries: HashMap<u64, (CodeKey, Arc<CodeInfo>)>,
}

/// Result of a lookup: the code and whether it came from the cache.
pub(crate) struct Lookup {
    pub info: Arc<CodeInfo>,
    pub hit: bool,
}

impl CodeCache {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The code object at `addr`, validated against its type and decoded
    /// (from the cache when its identifying pointers are unchanged).
    pub(crate) fn lookup<M: RemoteMemory + ?Sized>(
        &mut self,
        mem: &M,
        layout: &Layout,
        types: &TypeAddresses,
        addr: u64,
    ) -> Result<Lookup, ObjError> {
        if addr == 0 {
            return Err(ObjError::Invalid);
        }
        let len = usize::try_from(layout.code_read_size()).map_err(|_| ObjError::Invalid)?;
        let header = read_bytes(mem, addr, len).map_err(|_| ObjError::Unreadable)?;
        let h = Fields(&header);
        if let Some(code_type) = types.code {
            if h.u64(layout.ob_type) != Some(code_type) {
                return Err(ObjError::WrongType);
            }
        }
        let c = &layout.code;
        let key = CodeKey {
            name: h.u64(c.name).ok_or(ObjError::Invalid)?,
            qualname: match c.qualname {
                Some(off) => h.u64(off).ok_or(ObjError::Invalid)?,
                None => 0,
            },
            filename: h.u64(c.filename).ok_or(ObjError::Invalid)?,
            linetable: h.u64(c.linetable).ok_or(ObjError::Invalid)?,
            first_line: h.i32(c.firstlineno).ok_or(ObjError::Invalid)?,
        };
        if let Some((cached_key, info)) = self.entries.get(&addr) {
            if *cached_key == key {
                return Ok(Lookup {
                    info: Arc::clone(info),
                    hit: true,
                });
            }
        }
        let info = Arc::new(decode(mem, layout, types, &key)?);
        if self.entries.len() >= MAX_CACHED {
            self.entries.clear();
        }
        self.entries.insert(addr, (key, Arc::clone(&info)));
        Ok(Lookup { info, hit: false })
    }
}

fn decode<M: RemoteMemory + ?Sized>(
    mem: &M,
    layout: &Layout,
    types: &TypeAddresses,
    key: &CodeKey,
) -> Result<CodeInfo, ObjError> {
    let first_line = u32::try_from(key.first_line).map_err(|_| ObjError::Invalid)?;
    let name_addr = if key.qualname != 0 {
        key.qualname
    } else {
        key.name
    };
    let function = read_unicode(mem, layout, types.unicode, name_addr)?;
    let filename = read_unicode(mem, layout, types.unicode, key.filename)?;
    let table = read_bytes_object(mem, layout, types.bytes, key.linetable)?;
    Ok(CodeInfo {
        truncated: function.truncated || filename.truncated,
        function: function.text,
        filename: filename.text,
        first_line,
        lines: LineTable::decode(layout.code.linetable_format, &table, first_line),
    })
}
