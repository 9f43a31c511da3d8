//! Kernel symbols from `/proc/kallsyms`.
//!
//! When `kptr_restrict` hides kernel addresses from the reader, every
//! address reads as zero; the table then says so instead of naming every
//! kernel address after whichever symbol happened to sort last.

use std::path::Path;

use super::error::SymbolsError;

/// The `module` of kernel frames outside loadable modules, as perf names it.
pub const KERNEL_MODULE: &str = "[kernel.kallsyms]";

/// A kernel symbol found by [`Kallsyms::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSymbol<'a> {
    pub name: &'a str,
    pub start: u64,
    /// The loadable module holding it (`ext4`), or `None` for the core kernel.
    pub module: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    addr: u64,
    name: (u32, u32),
    module: Option<(u32, u32)>,
}

/// Kernel text symbols sorted by address.
#[derive(Debug, Default)]
pub struct Kallsyms {
    strings: String,
    entries: Vec<Entry>,
    hidden: bool,
}

impl Kallsyms {
    /// Reads and parses a kallsyms file (normally `/proc/kallsyms`).
    pub fn load(path: &Path) -> Result<Kallsyms, SymbolsError> {
        use std::io::Read;
        // /proc files report size 0, so a plain read_to_string asks the kernel
        // for small pieces (tens of thousands of reads for kallsyms); large
        // reads let the seq_file fill megabytes per call.
        let mut file = std::fs::File::open(path).map_err(|e| SymbolsError::open(path, e))?;
        let mut bytes = Vec::with_capacity(16 << 20);
        file.read_to_end(&mut bytes)
            .map_err(|e| SymbolsError::open(path, e))?;
        Ok(Kallsyms::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Parses kallsyms text: `ADDRESS TYPE NAME [MODULE]` per line. Only
    /// code symbols (types t/T/w/W) are kept; malformed lines are skipped.
    pub fn parse(text: &str) -> Kallsyms {
        let mut table = Kallsyms::default();
        let mut any = false;
        let mut all_zero = true;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            any = true;
            all_zero &= addr == 0;
            if !matches!(kind, "t" | "T" | "w" | "W") {
                continue;
            }
            let module = fields
                .next()
                .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'))
                .map(|m| table.intern(m));
            let name = table.intern(name);
            table.entries.push(Entry { addr, name, module });
        }
        table.hidden = any && all_zero;
        if table.hidden {
            table.entries.clear();
        }
        // Stable sort keeps the first-listed name among aliases at one address.
        table.entries.sort_by_key(|e| e.addr);
        table.entries.dedup_by_key(|e| e.addr);
        table
    }

    /// True when every address read as zero: the reader may not see kernel
    /// addresses (`kernel.kptr_restrict`, or not root).
    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// Number of distinct code symbol addresses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The code symbol at or before `addr` (kallsyms has no sizes: each
    /// symbol ends where the next begins). `None` below the first symbol,
    /// past the last one, or when symbols are hidden.
    pub fn lookup(&self, addr: u64) -> Option<KernelSymbol<'_>> {
        let idx = self.entries.partition_point(|e| e.addr <= addr);
        // Past the last symbol there is no next one to bound it: unknown.
        if idx == 0 || idx == self.entries.len() {
            return None;
        }
        let e = &self.entries[idx - 1];
        Some(KernelSymbol {
            name: self.string(e.name),
            start: e.addr,
            module: e.module.map(|m| self.string(m)),
        })
    }

    fn intern(&mut self, s: &str) -> (u32, u32) {
        let start = self.strings.len() as u32;
        self.strings.push_str(s);
        (start, s.len() as u32)
    }

    fn string(&self, (start, len): (u32, u32)) -> &str {
        &self.strings[start as usize..(start + len) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_names_code_symbols_and_modules() {
        let table = Kallsyms::parse(
            "ffffffff81000000 T _stext\n\
             ffffffff81001000 T do_work\n\
             ffffffff81001000 t do_work_alias\n\
             ffffffff81002000 D some_data\n\
             ffffffff81003000 t helper\n\
             ffffffffc0001000 t ext4_read\t[ext4]\n\
             ffffffffc0002000 t ext4_end\t[ext4]\n\
             garbage line\n",
        );
        assert!(!table.hidden());
        let at = |a| table.lookup(a).map(|s| (s.name, s.module));
        assert_eq!(at(0xffffffff81001234), Some(("do_work", None)));
        // Data symbols do not cut a function short.
        assert_eq!(at(0xffffffff81002800), Some(("do_work", None)));
        assert_eq!(at(0xffffffffc0001010), Some(("ext4_read", Some("ext4"))));
        assert_eq!(at(0xffffffff80000000), None);
        assert_eq!(at(0xffffffffc0002010), None);
    }

    #[test]
    fn all_zero_addresses_mean_hidden_not_wrong_names() {
        let table = Kallsyms::parse(
            "0000000000000000 T _stext\n0000000000000000 T do_work\n0000000000000000 t helper\n",
        );
        assert!(table.hidden());
        assert_eq!(table.lookup(0xffffffff81001234), None);
    }

    #[test]
    fn this_machines_kallsyms() {
        let path = Path::new("/proc/kallsyms");
        let Ok(table) = Kallsyms::load(path) else {
            eprintln!("skipping: /proc/kallsyms is not readable");
            return;
        };
        if table.hidden() {
            eprintln!("skipping: kernel addresses are hidden from this user (kptr_restrict)");
            return;
        }
        assert!(
            table.len() > 10_000,
            "only {} kernel code symbols",
            table.len()
        );
        // Ground truth: the file itself. Every symbol's own address, and an
        // address just inside it, resolve to it (or an alias at that address).
        let text = std::fs::read_to_string(path).expect("read");
        let mut by_addr: std::collections::HashMap<u64, Vec<&str>> = Default::default();
        let mut code = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let Some(addr) = f.first().and_then(|a| u64::from_str_radix(a, 16).ok()) else {
                continue;
            };
            if f.len() >= 3 && matches!(f[1], "t" | "T" | "w" | "W") {
                by_addr.entry(addr).or_default().push(f[2]);
                code.push((addr, line));
            }
        }
        let mut starts: Vec<u64> = by_addr.keys().copied().collect();
        starts.sort_unstable();
        let mut checked = 0;
        for &(addr, line) in code.iter().step_by(97) {
            let Some(sym) = table.lookup(addr + 1) else {
                continue; // the very last symbol has no end
            };
            let next_start = starts.get(starts.partition_point(|&a| a <= addr)).copied();
            if next_start == Some(addr + 1) {
                continue; // a one-byte symbol: addr + 1 is already the next one
            }
            assert_eq!(sym.start, addr, "{line}");
            assert!(
                by_addr[&addr].contains(&sym.name),
                "{line}: got {}",
                sym.name
            );
            checked += 1;
        }
        assert!(checked > 100, "only {checked} symbols checked");
        eprintln!(
            "{} kernel code symbols, {checked} checked against the file",
            table.len()
        );
    }
}
