//! Names for x86-64 PLT stubs (`printf@plt`), as objdump and perf give them.
//!
//! Each stub is an indirect jump through a GOT slot: `jmp *disp32(%rip)`
//! (`ff 25`), possibly after `endbr64` and/or a `bnd` prefix (`f2`). The
//! dynamic relocation that fills that slot (JUMP_SLOT for `.plt`/`.plt.sec`,
//! GLOB_DAT for `.plt.got`) names the function. Decoding the jump instead
//! of counting entries works for all three stub sections and any layout.

use std::collections::HashMap;

use object::{elf, Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};

use super::symtab::{Binding, SymbolTableBuilder};

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// Adds a `name@plt` symbol for every decodable stub of an x86-64 ELF file.
pub fn add_plt_symbols(file: &object::File<'_>, builder: &mut SymbolTableBuilder) {
    if file.architecture() != object::Architecture::X86_64 {
        return;
    }
    let slots = got_slot_names(file);
    if slots.is_empty() {
        return;
    }
    for (section_name, default_stride) in [(".plt", 16), (".plt.sec", 16), (".plt.got", 8)] {
        let Some(section) = file.section_by_name(section_name) else {
            continue;
        };
        let Ok(data) = section.data() else {
            continue;
        };
        let stride = entry_size(file, section_name).unwrap_or(default_stride);
        let base = section.address();
        let end = base.saturating_add(section.size());
        for (i, entry) in data.chunks_exact(stride as usize).enumerate() {
            let start = base + i as u64 * stride;
            let Some(slot) = jump_slot(entry, start) else {
                continue; // e.g. the PLT0 header, which jumps to the resolver
            };
            if let Some(name) = slots.get(&slot) {
                builder.add(
                    &format!("{name}@plt"),
                    start,
                    stride,
                    Binding::Local,
                    true,
                    Some(end),
                );
            }
        }
    }
}

/// `sh_entsize` of a section, when it is a usable stub stride.
fn entry_size(file: &object::File<'_>, name: &str) -> Option<u64> {
    let object::File::Elf64(elf_file) = file else {
        return None;
    };
    use object::read::elf::SectionHeader;
    let endian = elf_file.endian();
    let (_, header) = elf_file
        .elf_section_table()
        .section_by_name(endian, name.as_bytes())?;
    let size = header.sh_entsize(endian);
    (size == 8 || size == 16).then_some(size)
}

/// The GOT slot a stub jumps through, from its `jmp *disp32(%rip)`.
fn jump_slot(entry: &[u8], entry_addr: u64) -> Option<u64> {
    let mut at = 0;
    if entry.starts_with(&ENDBR64) {
        at = 4;
    }
    if entry.get(at) == Some(&0xf2) {
        at += 1; // bnd prefix
    }
    if entry.get(at..at + 2) != Some(&[0xff, 0x25]) {
        return None;
    }
    let disp = i32::from_le_bytes(entry.get(at + 2..at + 6)?.try_into().ok()?);
    let next_insn = entry_addr.checked_add(at as u64 + 6)?;
    next_insn.checked_add_signed(i64::from(disp))
}

/// GOT slot address -> name of the function whose address fills it.
fn got_slot_names(file: &object::File<'_>) -> HashMap<u64, String> {
    let mut names = HashMap::new();
    let (Some(relocations), Some(dynsym)) =
        (file.dynamic_relocations(), file.dynamic_symbol_table())
    else {
        return names;
    };
    for (slot, relocation) in relocations {
        let object::RelocationFlags::Elf { r_type } = relocation.flags() else {
            continue;
        };
        if r_type != elf::R_X86_64_JUMP_SLOT && r_type != elf::R_X86_64_GLOB_DAT {
            continue;
        }
        let RelocationTarget::Symbol(index) = relocation.target() else {
            continue;
        };
        if let Ok(name) = dynsym
            .symbol_by_index(index)
            .and_then(|s| s.name().map(str::to_string))
        {
            if !name.is_empty() {
                names.insert(slot, name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_three_stub_shapes() {
        // jmp *0x2fe2(%rip) at 0x1030: slot = 0x1036 + 0x2fe2.
        let plain = [
            0xff, 0x25, 0xe2, 0x2f, 0, 0, 0x68, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0,
        ];
        assert_eq!(jump_slot(&plain, 0x1030), Some(0x1036 + 0x2fe2));
        // endbr64; bnd jmp *0x10(%rip)
        let ibt = [
            0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25, 0x10, 0, 0, 0, 0x0f, 0x1f, 0x44, 0, 0,
        ];
        assert_eq!(jump_slot(&ibt, 0x2000), Some(0x200b + 0x10));
        // PLT0: push GOT+8; jmp *GOT+16 -> not a stub (starts with ff 35).
        let plt0 = [
            0xff, 0x35, 0, 0, 0, 0, 0xff, 0x25, 0, 0, 0, 0, 0x0f, 0x1f, 0x40, 0,
        ];
        assert_eq!(jump_slot(&plt0, 0x1020), None);
        assert_eq!(jump_slot(&[0xff], 0), None);
    }
}
