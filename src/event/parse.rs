//! The `-e` parser: `cycles,{instructions,branches}:u,msr/tsc/,r01c2:k`.
//!
//! Two steps: [`split_list`] cuts the text into plain events and `{...}` groups
//! (commas inside `pmu/.../` never split), then [`resolve_event`] turns each event
//! text into its kernel encoding.

use std::path::Path;

use super::cache::{self, CacheParseError};
use super::pmu::{self, Pmu, PmuEncoding};
use super::{modifiers, names, suggest, EventError, EventGroup, EventKind, EventSpec, Modifiers};
use perf_event_open_sys::bindings as sys;

/// One item of the list, as text slices of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item<'a> {
    Event(&'a str),
    Group {
        members: Vec<&'a str>,
        /// Text after `}:`, possibly empty.
        modifiers: &'a str,
    },
}

/// 1-based column of byte offset `pos`, counted in characters.
fn column(input: &str, pos: usize) -> usize {
    input.get(..pos).map_or(pos, |s| s.chars().count()) + 1
}

/// Parses a whole `-e` argument; `root` is the sysfs PMU directory.
pub fn parse_event_list_in(input: &str, root: &Path) -> Result<Vec<EventGroup>, EventError> {
    let mut groups = Vec::new();
    for item in split_list(input)? {
        match item {
            Item::Event(text) => {
                // A bare sysfs event name may exist on several PMUs: one event each.
                for spec in resolve_event(text, None, root)? {
                    groups.push(EventGroup {
                        events: vec![spec],
                        explicit: false,
                    });
                }
            }
            Item::Group { members, modifiers } => {
                let mut events = Vec::new();
                for text in members {
                    events.extend(resolve_event(text, Some(modifiers), root)?);
                }
                groups.push(EventGroup {
                    events,
                    explicit: true,
                });
            }
        }
    }
    Ok(groups)
}

/// Cuts the list into events and groups. Only ASCII delimiters are looked at, so
/// slicing at them never splits a UTF-8 character.
fn split_list(input: &str) -> Result<Vec<Item<'_>>, EventError> {
    if input.trim().is_empty() {
        return Err(EventError::EmptyList);
    }
    let mut scan = Scanner { input, pos: 0 };
    let mut items = Vec::new();
    loop {
        let item = if scan.peek() == Some(b'{') {
            scan.group()?
        } else {
            scan.plain_event()?
        };
        items.push(item);
        // After an item: the end, or ',' and another item.
        match scan.peek() {
            None => return Ok(items),
            Some(b',') if scan.pos + 1 < input.len() => scan.pos += 1,
            Some(b',') => return Err(scan.error_at(scan.pos, ErrorKind::EmptyEvent)),
            Some(b'}') => return Err(scan.error_at(scan.pos, ErrorKind::StrayCloseBrace)),
            Some(b'{') => return Err(scan.error_at(scan.pos, ErrorKind::MisplacedOpenBrace)),
            Some(_) => return Err(scan.error_at(scan.pos, ErrorKind::BadGroupSuffix)),
        }
    }
}

/// The positional errors of [`split_list`], before the input and column are attached.
enum ErrorKind {
    EmptyEvent,
    StrayCloseBrace,
    UnclosedGroup,
    NestedGroup,
    MisplacedOpenBrace,
    EmptyGroup,
    BadGroupSuffix,
}

/// A cursor over the `-e` text.
struct Scanner<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn error_at(&self, pos: usize, kind: ErrorKind) -> EventError {
        let (input, column) = (self.input.to_string(), column(self.input, pos));
        match kind {
            ErrorKind::EmptyEvent => EventError::EmptyEvent { input, column },
            ErrorKind::StrayCloseBrace => EventError::StrayCloseBrace { input, column },
            ErrorKind::UnclosedGroup => EventError::UnclosedGroup { input, column },
            ErrorKind::NestedGroup => EventError::NestedGroup { input, column },
            ErrorKind::MisplacedOpenBrace => EventError::MisplacedOpenBrace { input, column },
            ErrorKind::EmptyGroup => EventError::EmptyGroup { input, column },
            ErrorKind::BadGroupSuffix => EventError::BadGroupSuffix { input, column },
        }
    }

    /// One event outside a group; stops before the delimiter.
    fn plain_event(&mut self) -> Result<Item<'a>, EventError> {
        let start = self.pos;
        let (text, end) = event_text(self.input, start)?;
        self.pos = end;
        if text.trim().is_empty() {
            return Err(match self.peek() {
                Some(b'}') => self.error_at(end, ErrorKind::StrayCloseBrace),
                _ => self.error_at(start, ErrorKind::EmptyEvent),
            });
        }
        Ok(Item::Event(text.trim()))
    }

    /// `{a,b,...}` with optional `:modifiers`; `pos` is at the `{`.
    fn group(&mut self) -> Result<Item<'a>, EventError> {
        let open = self.pos;
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') if members.is_empty() => {
                    return Err(self.error_at(open, ErrorKind::EmptyGroup))
                }
                Some(b'{') => return Err(self.error_at(self.pos, ErrorKind::NestedGroup)),
                _ => {}
            }
            let (text, end) = event_text(self.input, self.pos)?;
            self.pos = end;
            if text.trim().is_empty() {
                return Err(match self.peek() {
                    None => self.error_at(open, ErrorKind::UnclosedGroup),
                    Some(_) => self.error_at(end, ErrorKind::EmptyEvent),
                });
            }
            members.push(text.trim());
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'{') => return Err(self.error_at(self.pos, ErrorKind::NestedGroup)),
                _ => return Err(self.error_at(open, ErrorKind::UnclosedGroup)),
            }
        }
        let mut modifiers = "";
        if self.peek() == Some(b':') {
            let start = self.pos + 1;
            let end = self.input[start..]
                .find([',', '{', '}'])
                .map_or(self.input.len(), |i| start + i);
            modifiers = self.input[start..end].trim();
            self.pos = end;
        }
        Ok(Item::Group { members, modifiers })
    }
}

/// The event text starting at `start`: up to a top-level `,`, `{` or `}`; inside
/// `pmu/.../` everything belongs to the event. Returns the text and where it stopped.
fn event_text(input: &str, start: usize) -> Result<(&str, usize), EventError> {
    let bytes = input.as_bytes();
    let mut pos = start;
    let mut in_terms = false;
    while let Some(&b) = bytes.get(pos) {
        if in_terms {
            in_terms = b != b'/';
        } else if matches!(b, b',' | b'{' | b'}') {
            break;
        } else if b == b'/' {
            in_terms = true;
        }
        pos += 1;
    }
    let text = &input[start..pos];
    if in_terms {
        return Err(EventError::UnclosedPmu {
            event: text.trim().to_string(),
        });
    }
    Ok((text, pos))
}

/// Resolves one event as written (`cycles:u`, `msr/tsc/`, `r01c2`, `tsc`), applying the
/// enclosing group's modifiers if any. Usually one spec; a bare sysfs event name gives
/// one per PMU that has it.
fn resolve_event(
    text: &str,
    group_mods: Option<&str>,
    root: &Path,
) -> Result<Vec<EventSpec>, EventError> {
    let (body, mods) = split_modifiers(text);
    if body.is_empty() {
        return Err(EventError::EmptyEvent {
            input: text.to_string(),
            column: 1,
        });
    }
    if looks_like_tracepoint(body, mods) {
        return Err(EventError::Tracepoint {
            event: text.to_string(),
        });
    }
    let mut m = modifiers::apply(Modifiers::default(), mods, text)?;
    if let Some(g) = group_mods {
        m = modifiers::apply(m, g, text)?;
    }
    // perf shows the event as written, with its own modifiers but not the group's.
    let display = if mods.is_empty() {
        text.trim_end_matches(':')
    } else {
        text
    };
    Ok(encode_body(body, mods, text, root)?
        .into_iter()
        .map(|e| EventSpec {
            name: e.name.unwrap_or_else(|| display.to_string()),
            kind: e.kind,
            type_: e.type_,
            config: e.config,
            config1: e.config1,
            config2: e.config2,
            modifiers: m,
        })
        .collect())
}

/// An event body's encoding, before modifiers and the display name are attached.
struct Encoded {
    kind: EventKind,
    type_: u32,
    config: u64,
    config1: u64,
    config2: u64,
    /// A name other than the text as written (`name=` term, or `pmu/ev/`).
    name: Option<String>,
}

impl Encoded {
    fn simple(kind: EventKind, type_: u32, config: u64) -> Vec<Encoded> {
        vec![Encoded {
            kind,
            type_,
            config,
            config1: 0,
            config2: 0,
            name: None,
        }]
    }

    fn pmu(pmu: &Pmu, enc: PmuEncoding) -> Encoded {
        Encoded {
            kind: EventKind::Pmu(pmu.name.clone()),
            type_: enc.type_,
            config: enc.config,
            config1: enc.config1,
            config2: enc.config2,
            name: enc.name,
        }
    }
}

/// Looks `body` up in perf's order: `pmu/terms/`, generic names, raw `rNNN`, cache
/// events, then sysfs event names on any PMU.
fn encode_body(
    body: &str,
    mods: &str,
    text: &str,
    root: &Path,
) -> Result<Vec<Encoded>, EventError> {
    if let Some((pmu_name, terms)) = split_pmu(body) {
        let pmu = Pmu::open(root, pmu_name, text)?;
        let enc = pmu.encode(terms, text)?;
        return Ok(vec![Encoded::pmu(&pmu, enc)]);
    }
    if let Some(sym) = names::lookup(body) {
        let kind = if sym.type_ == sys::PERF_TYPE_HARDWARE {
            EventKind::Hardware
        } else {
            EventKind::Software
        };
        return Ok(Encoded::simple(kind, sym.type_, sym.config));
    }
    if let Some(raw) = parse_raw(body) {
        let config = raw.map_err(|why| EventError::BadRaw {
            text: body.to_string(),
            why,
        })?;
        return Ok(Encoded::simple(EventKind::Raw, sys::PERF_TYPE_RAW, config));
    }
    match cache::parse(body) {
        Ok(ev) => {
            return Ok(Encoded::simple(
                EventKind::HwCache,
                sys::PERF_TYPE_HW_CACHE,
                ev.config(),
            ))
        }
        Err(CacheParseError::InvalidOp { cache }) => {
            return Err(EventError::InvalidCacheOp {
                event: body.to_string(),
                cache: cache::cache_name(cache).to_string(),
                valid: cache::valid_op_names(cache),
            });
        }
        Err(CacheParseError::NotCache | CacheParseError::BadSuffix) => {}
    }
    let pmus = pmu::pmus_with_event(root, body);
    if pmus.is_empty() {
        return Err(EventError::UnknownEvent {
            name: body.to_string(),
            suggestions: suggest::closest(body, root),
        });
    }
    let several = pmus.len() > 1;
    let mut out = Vec::new();
    for p in &pmus {
        let mut e = Encoded::pmu(p, p.encode(body, text)?);
        // The same name on several PMUs: tell the events apart by PMU.
        if several && e.name.is_none() {
            e.name = Some(format!("{}/{body}/{mods}", p.name));
        }
        out.push(e);
    }
    Ok(out)
}

/// Splits `event:mods` / `pmu/terms/mods` / `pmu/terms/:mods` into (event, mods).
fn split_modifiers(text: &str) -> (&str, &str) {
    if let Some(first) = text.find('/') {
        // The closing slash exists: split_list refused unclosed terms.
        if let Some(close) = text[first + 1..].find('/') {
            let end = first + 1 + close + 1;
            let rest = &text[end..];
            return (&text[..end], rest.strip_prefix(':').unwrap_or(rest));
        }
    }
    match text.split_once(':') {
        Some((body, mods)) => (body.trim(), mods.trim()),
        None => (text.trim(), ""),
    }
}

/// `sched:sched_switch`: a word after ':' that cannot be modifiers (perf's modifier
/// letters are ukhpPGHSDIWeb) on a name that is no other kind of event.
fn looks_like_tracepoint(body: &str, mods: &str) -> bool {
    !body.contains('/')
        && names::lookup(body).is_none()
        && parse_raw(body).is_none()
        && cache::parse(body).is_err()
        && mods.len() >= 3
        && mods.chars().any(|c| !"ukhpPGHSDIWeb".contains(c))
        && mods
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '-'))
}

/// `pmu/terms/` -> (pmu, terms).
fn split_pmu(body: &str) -> Option<(&str, &str)> {
    let (pmu, rest) = body.split_once('/')?;
    let terms = rest.strip_suffix('/')?;
    Some((pmu.trim(), terms))
}

/// `rNNNN` (hex, optional 0x) -> Some(Ok(config)); text that only looks raw -> Some(Err(why));
/// anything else -> None. "Looks raw": `r` alone, `r` + a digit, or `r` + only hex digits.
fn parse_raw(name: &str) -> Option<Result<u64, String>> {
    let rest = name.strip_prefix('r')?;
    let digits = rest.strip_prefix("0x").unwrap_or(rest);
    let looks_raw = rest.is_empty()
        || rest.starts_with(|c: char| c.is_ascii_digit())
        || rest.chars().all(|c| c.is_ascii_hexdigit());
    if !looks_raw {
        return None;
    }
    if digits.is_empty() {
        return Some(Err("no hex digits after 'r'".into()));
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Some(Err(format!("'{bad}' is not a hex digit")));
    }
    Some(u64::from_str_radix(digits, 16).map_err(|_| "the value is wider than 64 bits".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_pmu_commas_and_groups() {
        let items =
            split_list("cycles,{instructions,branches}:u,cpu/event=0x3c,umask=1/k,cs").unwrap();
        assert_eq!(
            items,
            vec![
                Item::Event("cycles"),
                Item::Group {
                    members: vec!["instructions", "branches"],
                    modifiers: "u"
                },
                Item::Event("cpu/event=0x3c,umask=1/k"),
                Item::Event("cs"),
            ]
        );
        assert_eq!(
            split_list("{msr/event=1,config1=2/,cs}").unwrap(),
            vec![Item::Group {
                members: vec!["msr/event=1,config1=2/", "cs"],
                modifiers: ""
            }]
        );
    }

    #[test]
    fn split_errors_are_distinct() {
        let e = |s| split_list(s).unwrap_err();
        assert_eq!(e(""), EventError::EmptyList);
        assert_eq!(e("  "), EventError::EmptyList);
        assert!(matches!(
            e("cs,,faults"),
            EventError::EmptyEvent { column: 4, .. }
        ));
        assert!(matches!(e(",cs"), EventError::EmptyEvent { column: 1, .. }));
        assert!(matches!(e("cs,"), EventError::EmptyEvent { .. }));
        assert!(matches!(e("{}"), EventError::EmptyGroup { column: 1, .. }));
        assert!(matches!(
            e("{cs"),
            EventError::UnclosedGroup { column: 1, .. }
        ));
        assert!(matches!(e("{cs,"), EventError::UnclosedGroup { .. }));
        assert!(matches!(
            e("cs}"),
            EventError::StrayCloseBrace { column: 3, .. }
        ));
        assert!(matches!(e("}"), EventError::StrayCloseBrace { .. }));
        assert!(matches!(e("{cs}}"), EventError::StrayCloseBrace { .. }));
        assert!(matches!(
            e("{cs,{faults}}"),
            EventError::NestedGroup { column: 5, .. }
        ));
        assert!(matches!(
            e("cs{faults}"),
            EventError::MisplacedOpenBrace { .. }
        ));
        assert!(matches!(e("{cs}x"), EventError::BadGroupSuffix { .. }));
        assert!(matches!(e("{cs,}"), EventError::EmptyEvent { .. }));
        assert!(matches!(e("msr/event=1"), EventError::UnclosedPmu { .. }));
        assert!(matches!(
            e("{msr/event=1,cs}"),
            EventError::UnclosedPmu { .. }
        ));
    }

    #[test]
    fn raw_detection() {
        assert_eq!(parse_raw("r1234"), Some(Ok(0x1234)));
        assert_eq!(parse_raw("rABCD"), Some(Ok(0xabcd)));
        assert_eq!(parse_raw("r0x1a"), Some(Ok(0x1a)));
        assert_eq!(parse_raw("rffffffffffffffff"), Some(Ok(u64::MAX)));
        assert!(matches!(parse_raw("r"), Some(Err(_))));
        assert!(matches!(parse_raw("r12g4"), Some(Err(_))));
        assert!(matches!(parse_raw("r0x"), Some(Err(_))));
        assert!(matches!(parse_raw("r1ffffffffffffffff"), Some(Err(_))));
        assert_eq!(parse_raw("ref-cycles"), None);
        assert_eq!(parse_raw("rcycles"), None);
        assert_eq!(parse_raw("cycles"), None);
    }

    #[test]
    fn modifier_split() {
        assert_eq!(split_modifiers("cycles:u"), ("cycles", "u"));
        assert_eq!(split_modifiers("cycles"), ("cycles", ""));
        assert_eq!(split_modifiers("cycles:"), ("cycles", ""));
        assert_eq!(split_modifiers("msr/tsc/u"), ("msr/tsc/", "u"));
        assert_eq!(split_modifiers("msr/tsc/:uk"), ("msr/tsc/", "uk"));
        assert_eq!(split_modifiers("msr/a=1,b=2/"), ("msr/a=1,b=2/", ""));
    }
}
