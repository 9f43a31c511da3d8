//! Section bytes handed to framehop without copying the mapped file.

use std::ops::{Deref, Range};
use std::sync::Arc;

use crate::symbols::elf::{ElfFile, SectionRef};

/// A section's bytes: a range of the mapped file, or an owned copy when the
/// section had to be decompressed.
#[derive(Debug, Clone)]
pub enum SectionData {
    Mapped {
        file: Arc<ElfFile>,
        range: Range<usize>,
    },
    Owned(Arc<[u8]>),
}

impl Deref for SectionData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SectionData::Mapped { file, range } => file.data().get(range.clone()).unwrap_or(&[]),
            SectionData::Owned(bytes) => bytes,
        }
    }
}

impl SectionData {
    /// Wraps a section of `file`, borrowing the mapping where the bytes live in it.
    pub fn of(file: &Arc<ElfFile>, section: &SectionRef<'_>) -> SectionData {
        let data = file.data();
        let bytes: &[u8] = &section.data;
        let start = (bytes.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
        let inside = bytes.as_ptr() >= data.as_ptr()
            && start
                .checked_add(bytes.len())
                .is_some_and(|end| end <= data.len());
        if inside {
            SectionData::Mapped {
                file: file.clone(),
                range: start..start + bytes.len(),
            }
        } else {
            SectionData::Owned(bytes.into())
        }
    }
}
