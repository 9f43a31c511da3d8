//! A sorted table of code symbols answering "which function holds this address?".
//!
//! ELF symbol tables are messy: several names (aliases) at one address,
//! symbols of size 0 from hand-written assembly, and small symbols nested
//! inside larger ones. The builder settles all of that once, so a lookup is
//! a binary search plus, rarely, a step out to the enclosing symbol.

use std::cmp::Reverse;

/// How widely a symbol is visible; later variants are preferred as names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binding {
    Local,
    Weak,
    Global,
}

/// A symbol found by [`SymbolTable::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolInfo<'a> {
    /// The raw (mangled) symbol name.
    pub name: &'a str,
    /// Start address (SVMA).
    pub start: u64,
    /// Size in bytes: the symbol's own size, or for symbols of size 0 the
    /// distance to the next symbol (or the end of its section).
    pub size: u64,
}

/// One symbol as read from a file, before aliases are settled.
#[derive(Debug, Clone)]
struct RawSymbol {
    start: u64,
    size: u64,
    name: (u32, u32),
    binding: Binding,
    /// STT_FUNC / STT_GNU_IFUNC, as opposed to an untyped label.
    typed_function: bool,
    /// End of the symbol's section: a size-0 symbol never extends past it.
    limit: u64,
}

/// Collects symbols from one or more files, then builds a [`SymbolTable`].
#[derive(Debug, Default)]
pub struct SymbolTableBuilder {
    names: String,
    raw: Vec<RawSymbol>,
}

impl SymbolTableBuilder {
    pub fn new() -> SymbolTableBuilder {
        SymbolTableBuilder::default()
    }

    /// Adds a code symbol. `section_end` bounds symbols of size 0.
    pub fn add(
        &mut self,
        name: &str,
        start: u64,
        size: u64,
        binding: Binding,
        typed_function: bool,
        section_end: Option<u64>,
    ) {
        if name.is_empty() || u32::try_from(self.names.len() + name.len()).is_err() {
            return;
        }
        let offset = self.names.len() as u32;
        self.names.push_str(name);
        self.raw.push(RawSymbol {
            start,
            size,
            name: (offset, name.len() as u32),
            binding,
            typed_function,
            limit: section_end.unwrap_or(u64::MAX),
        });
    }

    /// Settles aliases (one name per address), computes the ends of
    /// size-0 symbols and the nesting of symbols inside larger ones.
    pub fn build(mut self) -> SymbolTable {
        let names = std::mem::take(&mut self.names);
        let name_of = |s: &RawSymbol| &names[s.name.0 as usize..(s.name.0 + s.name.1) as usize];
        // Best alias first within each address, deterministically: a typed
        // function over a label, a sized symbol over a size-0 one, an
        // exported (global or weak) name over a local one, fewer leading
        // underscores (glibc's `getpid` is a weak alias of `__getpid`), a
        // global over a weak one (`_exit` over `_Exit`), then by name, so
        // the choice never depends on the order symbols were read in.
        self.raw.sort_by(|a, b| {
            a.start.cmp(&b.start).then_with(|| {
                let key = |s: &RawSymbol| {
                    let name = name_of(s);
                    (
                        Reverse(s.typed_function),
                        Reverse(s.size > 0),
                        Reverse(s.binding != Binding::Local),
                        name.bytes().take_while(|&c| c == b'_').count(),
                        Reverse(s.binding),
                    )
                };
                key(a).cmp(&key(b)).then_with(|| name_of(a).cmp(name_of(b)))
            })
        });
        self.raw.dedup_by_key(|s| s.start);

        let mut entries: Vec<Entry> = Vec::with_capacity(self.raw.len());
        for (i, s) in self.raw.iter().enumerate() {
            let end = if s.size > 0 {
                s.start.saturating_add(s.size)
            } else {
                let next = self.raw.get(i + 1).map_or(u64::MAX, |n| n.start);
                let end = next.min(s.limit);
                // The last symbol of a file without section bounds covers only itself.
                if end == u64::MAX {
                    s.start.saturating_add(1)
                } else {
                    end
                }
            };
            entries.push(Entry {
                start: s.start,
                end,
                name: s.name,
                parent: NO_PARENT,
            });
        }

        // Nesting: a stack of the symbols still "open" at each start.
        let mut open: Vec<u32> = Vec::new();
        for i in 0..entries.len() {
            let start = entries[i].start;
            while let Some(&top) = open.last() {
                if entries[top as usize].end <= start {
                    open.pop();
                } else {
                    break;
                }
            }
            if let Some(&top) = open.last() {
                entries[i].parent = top;
                let parent_end = entries[top as usize].end;
                entries[i].end = entries[i].end.min(parent_end);
            }
            if entries[i].end > start {
                open.push(i as u32);
            }
        }

        SymbolTable { names, entries }
    }
}

const NO_PARENT: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Entry {
    start: u64,
    end: u64,
    name: (u32, u32),
    /// The symbol this one lies inside, if any.
    parent: u32,
}

/// Code symbols sorted by address, one name per address.
#[derive(Debug, Default)]
pub struct SymbolTable {
    names: String,
    entries: Vec<Entry>,
}

impl SymbolTable {
    /// The symbol whose range contains `addr`, if any.
    pub fn lookup(&self, addr: u64) -> Option<SymbolInfo<'_>> {
        let idx = self.entries.partition_point(|e| e.start <= addr);
        let mut i = idx.checked_sub(1)?;
        loop {
            let e = &self.entries[i];
            if addr < e.end {
                return Some(self.info(e));
            }
            if e.parent == NO_PARENT {
                return None;
            }
            i = e.parent as usize;
        }
    }

    /// Number of distinct symbol addresses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All symbols in address order.
    pub fn iter(&self) -> impl Iterator<Item = SymbolInfo<'_>> + '_ {
        self.entries.iter().map(|e| self.info(e))
    }

    fn info<'a>(&'a self, e: &Entry) -> SymbolInfo<'a> {
        SymbolInfo {
            name: &self.names[e.name.0 as usize..(e.name.0 + e.name.1) as usize],
            start: e.start,
            size: e.end - e.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(syms: &[(&str, u64, u64, Binding)]) -> SymbolTable {
        let mut b = SymbolTableBuilder::new();
        for &(name, start, size, binding) in syms {
            b.add(name, start, size, binding, true, Some(0x1000));
        }
        b.build()
    }

    #[test]
    fn sized_symbols_leave_gaps_unnamed() {
        let t = table(&[
            ("a", 0x100, 0x10, Binding::Global),
            ("b", 0x200, 0x10, Binding::Global),
        ]);
        assert_eq!(t.lookup(0x100).map(|s| s.name), Some("a"));
        assert_eq!(t.lookup(0x10f).map(|s| s.name), Some("a"));
        assert_eq!(t.lookup(0x110), None);
        assert_eq!(t.lookup(0xff), None);
        assert_eq!(t.lookup(0x20f).map(|s| s.name), Some("b"));
    }

    #[test]
    fn zero_size_symbols_end_at_next_symbol_or_section_end() {
        let t = table(&[
            ("a", 0x100, 0, Binding::Global),
            ("b", 0x180, 0, Binding::Global),
        ]);
        let a = t.lookup(0x17f).map(|s| (s.name, s.size));
        assert_eq!(a, Some(("a", 0x80)));
        let b = t.lookup(0xfff).map(|s| (s.name, s.size));
        assert_eq!(b, Some(("b", 0x1000 - 0x180)));
        assert_eq!(t.lookup(0x1000), None);
    }

    #[test]
    fn aliases_prefer_exported_then_fewer_underscores_then_global_in_any_order() {
        let check = |syms: &[(&str, u64, u64, Binding)], want: &str| {
            let mut reversed = syms.to_vec();
            reversed.reverse();
            for order in [syms, &reversed[..]] {
                let t = table(order);
                assert_eq!(t.len(), 1);
                assert_eq!(t.lookup(0x110).map(|s| s.name), Some(want));
            }
        };
        check(
            &[
                ("__getpid", 0x100, 0x20, Binding::Global),
                ("getpid", 0x100, 0x20, Binding::Weak),
                ("getpid_local", 0x100, 0x20, Binding::Local),
            ],
            "getpid",
        );
        check(
            &[
                ("_Exit", 0x100, 0x20, Binding::Weak),
                ("_exit", 0x100, 0x20, Binding::Global),
                ("exit_local", 0x100, 0x20, Binding::Local),
            ],
            "_exit",
        );
    }

    #[test]
    fn nested_symbol_falls_back_to_enclosing_one() {
        let t = table(&[
            ("outer", 0x100, 0x100, Binding::Global),
            ("inner", 0x140, 0x10, Binding::Global),
            ("label", 0x180, 0, Binding::Local),
        ]);
        assert_eq!(t.lookup(0x145).map(|s| s.name), Some("inner"));
        assert_eq!(t.lookup(0x150).map(|s| s.name), Some("outer"));
        // A size-0 label inside `outer` ends where `outer` ends.
        let label = t.lookup(0x1ff).map(|s| (s.name, s.start + s.size));
        assert_eq!(label, Some(("label", 0x200)));
        assert_eq!(t.lookup(0x200), None);
    }
}
