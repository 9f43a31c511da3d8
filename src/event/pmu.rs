//! Dynamic PMUs described in sysfs: `pmu/term=value,.../` and `pmu/eventname/`.
//!
//! A PMU directory `<root>/<pmu>/` holds `type` (the `perf_event_attr.type` number),
//! `format/<term>` (where a term's bits go, e.g. `config:0-7,21`) and `events/<name>`
//! (named events as terms, e.g. `event=0x3c` or `event=0x00,umask=0x03`).
//! The root is a parameter so tests can build a PMU tree in a temporary directory.

use std::path::{Path, PathBuf};

use super::EventError;

/// Where the kernel lists PMUs.
pub const SYSFS_PMU_ROOT: &str = "/sys/bus/event_source/devices";

/// Terms every PMU accepts whatever its format directory says.
const BUILTIN_TERMS: &[&str] = &["config", "config1", "config2", "name"];

/// Terms perf accepts that pyperf does not implement; refused with a clear message.
const PERF_ONLY_TERMS: &[&str] = &[
    "period",
    "freq",
    "branch_type",
    "time",
    "call-graph",
    "stack-size",
    "max-stack",
    "nr",
    "inherit",
    "no-inherit",
    "overwrite",
    "no-overwrite",
    "percore",
    "aux-output",
    "aux-sample-size",
    "metric-id",
    "driver-config",
];

/// Which `perf_event_attr` word a format term writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigWord {
    Config,
    Config1,
    Config2,
}

/// One `format/<term>` file: the term's bits inside one config word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatTerm {
    pub name: String,
    pub word: ConfigWord,
    /// Bits the value is spread over, lowest value bit into the lowest mask bit.
    pub mask: u64,
}

impl FormatTerm {
    /// Number of value bits the field holds.
    pub fn width(&self) -> u32 {
        self.mask.count_ones()
    }
}

/// The encoding a PMU event resolves to (privilege modifiers are added by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PmuEncoding {
    pub type_: u32,
    pub config: u64,
    pub config1: u64,
    pub config2: u64,
    /// Set by a `name=` term.
    pub name: Option<String>,
}

/// A PMU found in sysfs.
#[derive(Debug, Clone)]
pub struct Pmu {
    pub name: String,
    pub type_: u32,
    dir: PathBuf,
}

fn read_sysfs(path: &Path) -> Result<String, EventError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| EventError::Sysfs {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

fn bad_sysfs(path: &Path, content: &str, why: &str) -> EventError {
    EventError::BadSysfs {
        path: path.display().to_string(),
        content: content.to_string(),
        why: why.to_string(),
    }
}

/// PMU names under `root`, sorted; empty when the directory cannot be read.
pub fn pmu_names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| root.join(n).join("type").is_file())
        .collect();
    names.sort();
    names
}

/// A PMU name as a single path component: no separators, no `.`/`..`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Parses a number the way perf writes term values: decimal or `0x` hex.
pub fn parse_number(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    }
}

/// Parses a format description such as `config:0-7,21` or `config1:0-63`.
pub fn parse_format(name: &str, text: &str) -> Option<FormatTerm> {
    let (word, bits) = text.trim().split_once(':')?;
    let word = match word {
        "config" => ConfigWord::Config,
        "config1" => ConfigWord::Config1,
        "config2" => ConfigWord::Config2,
        _ => return None,
    };
    let mut mask = 0u64;
    for range in bits.split(',') {
        let (lo, hi) = match range.split_once('-') {
            Some((lo, hi)) => (
                lo.trim().parse::<u32>().ok()?,
                hi.trim().parse::<u32>().ok()?,
            ),
            None => {
                let bit = range.trim().parse::<u32>().ok()?;
                (bit, bit)
            }
        };
        if lo > hi || hi > 63 {
            return None;
        }
        for bit in lo..=hi {
            mask |= 1u64 << bit;
        }
    }
    (mask != 0).then(|| FormatTerm {
        name: name.to_string(),
        word,
        mask,
    })
}

/// True for a format naming a config word beyond config2 (`config3:0-63`), which
/// `EventSpec` does not carry.
fn writes_unsupported_word(text: &str) -> bool {
    text.split_once(':').is_some_and(|(word, _)| {
        word.strip_prefix("config")
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n > 2)
    })
}

/// Spreads `value` over the set bits of `mask`, lowest first (perf's `pmu_format_value`).
/// The caller has checked that `value` fits in `mask.count_ones()` bits.
pub fn scatter(value: u64, mask: u64) -> u64 {
    let mut out = 0u64;
    let mut vbit = 0u32;
    for bit in 0..64u32 {
        if mask & (1u64 << bit) != 0 {
            if vbit < 64 && value & (1u64 << vbit) != 0 {
                out |= 1u64 << bit;
            }
            vbit += 1;
        }
    }
    out
}

/// One `name`, `name=value` or `name=?` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    name: String,
    value: TermValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TermValue {
    /// Written without `=`: an event name, or a format term set to 1.
    Bare,
    Num(u64),
    /// `name=text`: only for the `name` term.
    Text(String),
    /// `?` in a sysfs event: the user must supply this term.
    Query,
}

/// Splits `a=1,b,c=0x3` into terms. `event` is the whole event text, for messages.
fn parse_terms(text: &str, event: &str) -> Result<Vec<Term>, EventError> {
    let mut terms = Vec::new();
    if text.trim().is_empty() {
        return Ok(terms);
    }
    for raw in text.split(',') {
        let raw = raw.trim();
        let bad_term = || EventError::BadTerm {
            term: raw.to_string(),
            event: event.to_string(),
        };
        let (name, value) = match raw.split_once('=') {
            None => (raw, TermValue::Bare),
            Some((name, value)) => {
                let (name, value) = (name.trim(), value.trim());
                let value = if value == "?" {
                    TermValue::Query
                } else if let Some(n) = parse_number(value) {
                    TermValue::Num(n)
                } else if name == "name" && !value.is_empty() {
                    TermValue::Text(value.trim_matches(|c| c == '\'' || c == '"').to_string())
                } else {
                    return Err(EventError::BadTermValue {
                        term: name.to_string(),
                        value: value.to_string(),
                        event: event.to_string(),
                    });
                };
                (name, value)
            }
        };
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !well_formed {
            return Err(bad_term());
        }
        terms.push(Term {
            name: name.to_string(),
            value,
        });
    }
    Ok(terms)
}

impl Pmu {
    /// Opens `<root>/<name>`; an unknown name lists the PMUs that exist.
    pub fn open(root: &Path, name: &str, event: &str) -> Result<Pmu, EventError> {
        let dir = root.join(name);
        let type_path = dir.join("type");
        if !is_plain_name(name) || !type_path.is_file() {
            return Err(EventError::UnknownPmu {
                pmu: name.to_string(),
                event: event.to_string(),
                dir: dir.display().to_string(),
                available: pmu_names(root),
            });
        }
        let text = read_sysfs(&type_path)?;
        let type_ = text
            .parse::<u32>()
            .map_err(|_| bad_sysfs(&type_path, &text, "expected a decimal type number"))?;
        Ok(Pmu {
            name: name.to_string(),
            type_,
            dir,
        })
    }

    /// The PMU's format terms, sorted by name; none when it has no `format/` directory.
    pub fn formats(&self) -> Result<Vec<FormatTerm>, EventError> {
        let mut out = Vec::new();
        for name in list_dir(&self.dir.join("format")) {
            let path = self.dir.join("format").join(&name);
            let text = read_sysfs(&path)?;
            if writes_unsupported_word(&text) {
                // e.g. `config3:` on newer kernels: unusable here, but the PMU's other
                // terms still work.
                continue;
            }
            let term = parse_format(&name, &text).ok_or_else(|| {
                bad_sysfs(
                    &path,
                    &text,
                    "expected configN:lo-hi[,bit...] with bits below 64",
                )
            })?;
            out.push(term);
        }
        Ok(out)
    }

    /// Names of the PMU's sysfs events, sorted; perf's helper files (`x.scale`,
    /// `x.unit`, ...) are left out.
    pub fn event_names(&self) -> Vec<String> {
        list_dir(&self.dir.join("events"))
            .into_iter()
            .filter(|n| !n.contains('.'))
            .collect()
    }

    /// The terms of the named sysfs event (matched ignoring case, as perf does).
    fn event_terms(&self, name: &str, event: &str) -> Result<Option<Vec<Term>>, EventError> {
        let Some(found) = self
            .event_names()
            .into_iter()
            .find(|n| n.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        let path = self.dir.join("events").join(found);
        let text = read_sysfs(&path)?;
        let terms = parse_terms(&text, event)
            .map_err(|_| bad_sysfs(&path, &text, "expected term=value[,term=value...]"))?;
        Ok(Some(terms))
    }

    /// True when the PMU has a sysfs event called `name` (ignoring case).
    pub fn has_event(&self, name: &str) -> bool {
        self.event_names()
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Resolves the text between the slashes of `pmu/.../` (`terms`) to an encoding.
    /// `event` is the whole event as written, for messages.
    pub fn encode(&self, terms: &str, event: &str) -> Result<PmuEncoding, EventError> {
        let formats = self.formats()?;
        let terms = self.expand_events(parse_terms(terms, event)?, event)?;
        let mut enc = PmuEncoding {
            type_: self.type_,
            ..PmuEncoding::default()
        };
        // Whole-word terms first, then format fields on top, as perf does.
        for term in &terms {
            let value = match term.value {
                TermValue::Num(n) => n,
                TermValue::Bare => 1,
                _ => continue,
            };
            match term.name.as_str() {
                "config" => enc.config = value,
                "config1" => enc.config1 = value,
                "config2" => enc.config2 = value,
                _ => {}
            }
        }
        for (i, term) in terms.iter().enumerate() {
            let bad_term = || EventError::BadTerm {
                term: term.name.clone(),
                event: event.to_string(),
            };
            if term.name == "name" {
                enc.name = Some(match &term.value {
                    TermValue::Text(t) => t.clone(),
                    TermValue::Num(n) => n.to_string(),
                    _ => return Err(bad_term()),
                });
                continue;
            }
            if BUILTIN_TERMS.contains(&term.name.as_str()) {
                if matches!(term.value, TermValue::Text(_)) {
                    return Err(bad_term());
                }
                continue;
            }
            let format = self.format_for(&formats, &term.name, event)?;
            let value = match term.value {
                TermValue::Num(n) => n,
                TermValue::Bare => 1,
                TermValue::Text(_) => return Err(bad_term()),
                TermValue::Query => {
                    // A `?` is satisfied by any numeric term of the same name.
                    let supplied = terms.iter().enumerate().any(|(j, t)| {
                        j != i && t.name == term.name && matches!(t.value, TermValue::Num(_))
                    });
                    if supplied {
                        continue;
                    }
                    return Err(EventError::MissingTermValue {
                        term: term.name.clone(),
                        event: event.to_string(),
                    });
                }
            };
            set_field(&mut enc, format, value, event)?;
        }
        Ok(enc)
    }

    /// Replaces each bare term naming a sysfs event by that event's terms, in place,
    /// so user terms after it (`cpu/eventname,umask=2/`) override what the event sets.
    fn expand_events(&self, terms: Vec<Term>, event: &str) -> Result<Vec<Term>, EventError> {
        let mut out = Vec::new();
        for term in terms {
            if term.value == TermValue::Bare {
                if let Some(event_terms) = self.event_terms(&term.name, event)? {
                    out.extend(event_terms);
                    continue;
                }
            }
            out.push(term);
        }
        Ok(out)
    }

    /// The format entry for `name`, or an error listing what is valid.
    fn format_for<'f>(
        &self,
        formats: &'f [FormatTerm],
        name: &str,
        event: &str,
    ) -> Result<&'f FormatTerm, EventError> {
        if let Some(f) = formats.iter().find(|f| f.name == name) {
            return Ok(f);
        }
        if PERF_ONLY_TERMS.contains(&name) {
            return Err(EventError::UnsupportedTerm {
                term: name.to_string(),
                event: event.to_string(),
            });
        }
        let mut valid: Vec<String> = formats.iter().map(|f| f.name.clone()).collect();
        valid.extend(BUILTIN_TERMS.iter().map(|s| s.to_string()));
        Err(EventError::UnknownTerm {
            pmu: self.name.clone(),
            term: name.to_string(),
            event: event.to_string(),
            valid,
            events: self.event_names(),
        })
    }
}

/// Writes `value` into the bits `format` names; the last term for a field wins.
fn set_field(
    enc: &mut PmuEncoding,
    format: &FormatTerm,
    value: u64,
    event: &str,
) -> Result<(), EventError> {
    let bits = format.width();
    if bits < 64 && value >> bits != 0 {
        return Err(EventError::ValueTooWide {
            term: format.name.clone(),
            event: event.to_string(),
            value,
            bits,
            max: (1u64 << bits) - 1,
        });
    }
    let word = match format.word {
        ConfigWord::Config => &mut enc.config,
        ConfigWord::Config1 => &mut enc.config1,
        ConfigWord::Config2 => &mut enc.config2,
    };
    *word = (*word & !format.mask) | scatter(value, format.mask);
    Ok(())
}

/// File names in `dir`, sorted; empty when it is missing or unreadable.
fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// PMUs under `root` that have a sysfs event called `name` (ignoring case), sorted.
pub fn pmus_with_event(root: &Path, name: &str) -> Vec<Pmu> {
    pmu_names(root)
        .iter()
        .filter_map(|p| Pmu::open(root, p, name).ok())
        .filter(|p| p.has_event(name))
        .collect()
}

#[cfg(test)]
pub(crate) mod test_tree {
    //! A fake sysfs PMU tree for tests.
    use std::fs;
    use std::path::Path;

    /// Writes `<root>/<pmu>/type`, `format/*` and `events/*`.
    pub fn add_pmu(
        root: &Path,
        pmu: &str,
        type_: u32,
        formats: &[(&str, &str)],
        events: &[(&str, &str)],
    ) {
        let dir = root.join(pmu);
        fs::create_dir_all(dir.join("format")).unwrap();
        fs::write(dir.join("type"), format!("{type_}\n")).unwrap();
        for (name, text) in formats {
            fs::write(dir.join("format").join(name), format!("{text}\n")).unwrap();
        }
        if !events.is_empty() {
            fs::create_dir_all(dir.join("events")).unwrap();
        }
        for (name, text) in events {
            fs::write(dir.join("events").join(name), format!("{text}\n")).unwrap();
        }
    }

    /// The real x86 `cpu` PMU's format (arch/x86/events/intel/core.c) and a few of its events.
    pub const X86_CPU_FORMAT: &[(&str, &str)] = &[
        ("event", "config:0-7"),
        ("umask", "config:8-15"),
        ("edge", "config:18"),
        ("pc", "config:19"),
        ("any", "config:21"),
        ("inv", "config:23"),
        ("cmask", "config:24-31"),
        ("ldlat", "config1:0-15"),
        ("frontend", "config1:0-23"),
        ("offcore_rsp", "config1:0-63"),
    ];
    pub const X86_CPU_EVENTS: &[(&str, &str)] = &[
        ("cpu-cycles", "event=0x3c"),
        ("instructions", "event=0xc0"),
        ("ref-cycles", "event=0x00,umask=0x03"),
        ("mem-loads", "event=0xcd,umask=0x1,ldlat=3"),
        ("mem-loads.scale", "1"),
        ("needs-param", "event=0x10,cmask=?"),
    ];

    /// A tree with the x86-like `cpu` PMU (type 4) and an `msr` PMU (type 9).
    pub fn fake_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        add_pmu(dir.path(), "cpu", 4, X86_CPU_FORMAT, X86_CPU_EVENTS);
        add_pmu(
            dir.path(),
            "msr",
            9,
            &[("event", "config:0-63")],
            &[("tsc", "event=0x00"), ("aperf", "event=0x01")],
        );
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::test_tree::*;
    use super::*;

    #[test]
    fn format_descriptions() {
        let f = |s| parse_format("t", s).map(|t| (t.word, t.mask));
        assert_eq!(f("config:0-7"), Some((ConfigWord::Config, 0xff)));
        assert_eq!(f("config:8-15"), Some((ConfigWord::Config, 0xff00)));
        assert_eq!(f("config:18"), Some((ConfigWord::Config, 1 << 18)));
        assert_eq!(
            f("config:0-7,21"),
            Some((ConfigWord::Config, 0xff | 1 << 21))
        );
        assert_eq!(f("config1:0-63"), Some((ConfigWord::Config1, u64::MAX)));
        assert_eq!(f("config2:32-35"), Some((ConfigWord::Config2, 0xf << 32)));
        for bad in [
            "config:64",
            "config:7-0",
            "config3:0",
            "config",
            "config:",
            "config:a-b",
            "",
        ] {
            assert_eq!(f(bad), None, "{bad}");
        }
    }

    #[test]
    fn scatter_spreads_value_bits_in_order() {
        assert_eq!(scatter(0x3c, 0xff), 0x3c);
        assert_eq!(scatter(0x3, 0xff00), 0x300);
        // config:0-7,21 with value 0x1ff: low 8 bits to 0-7, bit 8 to bit 21.
        assert_eq!(scatter(0x1ff, 0xff | 1 << 21), 0xff | 1 << 21);
        assert_eq!(scatter(0x100, 0xff | 1 << 21), 1 << 21);
        assert_eq!(scatter(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x3c"), Some(0x3c));
        assert_eq!(parse_number("60"), Some(60));
        assert_eq!(parse_number("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_number("0x1ffffffffffffffff"), None);
        assert_eq!(parse_number("18446744073709551616"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("+5"), None);
    }

    #[test]
    fn encodes_x86_cpu_terms() {
        let root = fake_root();
        let cpu = Pmu::open(root.path(), "cpu", "x").unwrap();
        assert_eq!(cpu.type_, 4);
        let enc = |t: &str| cpu.encode(t, t);
        // event 0x3c, umask 1, edge, inv, cmask 2: computed bit by bit from the format.
        let e = enc("event=0x3c,umask=0x1,edge,inv,cmask=2").unwrap();
        assert_eq!(e.config, 0x3c | 0x1 << 8 | 1 << 18 | 1 << 23 | 2 << 24);
        assert_eq!(e.type_, 4);
        assert_eq!(enc("any=1").unwrap().config, 1 << 21);
        assert_eq!(
            enc("offcore_rsp=0xffffffffffffffff").unwrap().config1,
            u64::MAX
        );
        assert_eq!(
            enc("config=0x1234,config1=5,config2=6").unwrap(),
            PmuEncoding {
                type_: 4,
                config: 0x1234,
                config1: 5,
                config2: 6,
                name: None
            }
        );
        // Format fields land on top of config=, whatever the order.
        assert_eq!(enc("umask=2,config=0x1").unwrap().config, 0x201);
        // Later terms for the same field win.
        assert_eq!(enc("event=1,event=2").unwrap().config, 2);
        assert_eq!(
            enc("event=1,name=myev").unwrap().name.as_deref(),
            Some("myev")
        );
    }

    #[test]
    fn named_sysfs_events_expand_in_place() {
        let root = fake_root();
        let cpu = Pmu::open(root.path(), "cpu", "x").unwrap();
        assert_eq!(cpu.encode("cpu-cycles", "x").unwrap().config, 0x3c);
        assert_eq!(cpu.encode("REF-CYCLES", "x").unwrap().config, 0x0300);
        assert_eq!(cpu.encode("mem-loads", "x").unwrap().config1, 3);
        assert_eq!(cpu.encode("mem-loads,ldlat=50", "x").unwrap().config1, 50);
        assert_eq!(
            cpu.encode("ref-cycles,umask=1", "x").unwrap().config,
            0x0100
        );
        assert_eq!(
            cpu.encode("needs-param,cmask=3", "x").unwrap().config,
            0x10 | 3 << 24
        );
        assert!(
            matches!(cpu.encode("needs-param", "x"), Err(EventError::MissingTermValue { term, .. }) if term == "cmask")
        );
        assert_eq!(
            cpu.event_names(),
            vec![
                "cpu-cycles",
                "instructions",
                "mem-loads",
                "needs-param",
                "ref-cycles"
            ]
        );
    }

    #[test]
    fn term_errors() {
        let root = fake_root();
        let cpu = Pmu::open(root.path(), "cpu", "x").unwrap();
        let err = |t: &str| cpu.encode(t, "x").unwrap_err();
        assert!(matches!(
            err("umask=0x100"),
            EventError::ValueTooWide {
                bits: 8,
                max: 0xff,
                value: 0x100,
                ..
            }
        ));
        assert!(matches!(
            err("edge=2"),
            EventError::ValueTooWide { bits: 1, .. }
        ));
        assert!(matches!(err("foo=1"), EventError::UnknownTerm { term, .. } if term == "foo"));
        assert!(matches!(
            err("period=1000"),
            EventError::UnsupportedTerm { .. }
        ));
        assert!(matches!(err("event=zz"), EventError::BadTermValue { .. }));
        assert!(matches!(
            err("event=0x1ffffffffffffffff"),
            EventError::BadTermValue { .. }
        ));
        assert!(matches!(
            err("event=1,,umask=1"),
            EventError::BadTerm { .. }
        ));
        assert!(matches!(err("=1"), EventError::BadTerm { .. }));
        assert!(matches!(err("a b=1"), EventError::BadTerm { .. }));
        let msg = err("foo=1").to_string();
        assert!(
            msg.contains("valid terms: any, cmask, edge, event,"),
            "{msg}"
        );
        assert!(msg.contains("cpu-cycles"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn unknown_pmu_lists_the_real_ones_and_refuses_paths() {
        let root = fake_root();
        for name in ["nope", "..", ".", "cpu/../msr", ""] {
            match Pmu::open(root.path(), name, "x") {
                Err(EventError::UnknownPmu { available, .. }) => {
                    assert_eq!(available, vec!["cpu", "msr"])
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_sysfs_is_an_error_not_a_panic() {
        let root = tempfile::tempdir().unwrap();
        add_pmu(
            root.path(),
            "bad",
            7,
            &[("event", "config:0-99")],
            &[("ev", "event==")],
        );
        add_pmu(root.path(), "badtype", 0, &[], &[]);
        add_pmu(
            root.path(),
            "spe",
            8,
            &[("ts_enable", "config:0"), ("filter", "config3:0-63")],
            &[],
        );
        let spe = Pmu::open(root.path(), "spe", "x").unwrap();
        assert_eq!(spe.encode("ts_enable", "x").unwrap().config, 1);
        assert!(matches!(
            spe.encode("filter=1", "x"),
            Err(EventError::UnknownTerm { .. })
        ));
        std::fs::write(root.path().join("badtype/type"), "x\n").unwrap();
        let bad = Pmu::open(root.path(), "bad", "x").unwrap();
        assert!(matches!(
            bad.encode("event=1", "x"),
            Err(EventError::BadSysfs { .. })
        ));
        assert!(matches!(
            Pmu::open(root.path(), "badtype", "x"),
            Err(EventError::BadSysfs { .. })
        ));
    }

    #[test]
    fn real_msr_pmu_when_present() {
        let root = Path::new(SYSFS_PMU_ROOT);
        let Ok(msr) = Pmu::open(root, "msr", "msr") else {
            eprintln!("skipping: no msr PMU under {SYSFS_PMU_ROOT}");
            return;
        };
        // Ground truth straight from the files, not from our parser.
        let type_: u32 = std::fs::read_to_string(root.join("msr/type"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(msr.type_, type_);
        assert_eq!(msr.encode("event=0x5", "x").unwrap().config, 5);
        assert!(msr.has_event("tsc"));
    }
}
