//! The `-e` parser: `cycles,{instructions,branches}:u,msr/tsc/,r01c2:k`.
//!
//! Two steps: [`split_list`] cuts the text into plain events and `{...}` groups
//! (commas inside `pmu/.../` never split), then [`resolve_event`] turns each event
//! text into its kernel encoding.

use std::path::Path;

use super::cache::{self, CacheParseError};
use super::pmu::{self, Pmu};
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
    let bytes = input.as_bytes();
    let err_at = |pos: usize| (input.to_string(), column(input, pos));
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        if bytes.get(pos) == Some(&b'{') {
            let open = pos;
            pos += 1;
            let mut members = Vec::new();
            loop {
                match bytes.get(pos) {
                    Some(b'}') if members.is_empty() => {
                        let (input, column) = err_at(open);
                        return Err(EventError::EmptyGroup { input, column });
                    }
                    Some(b'{') => {
                        let (input, column) = err_at(pos);
                        return Err(EventError::NestedGroup { input, column });
                    }
                    _ => {}
                }
                let (text, end) = event_text(input, pos)?;
                if text.trim().is_empty() {
                    let (input, column) = err_at(if end < bytes.len() { end } else { open });
                    return Err(if end >= bytes.len() {
                        EventError::UnclosedGroup { input, column }
                    } else {
                        EventError::EmptyEvent { input, column }
                    });
                }
                members.push(text.trim());
                pos = end;
                match bytes.get(pos) {
                    Some(b',') => pos += 1,
                    Some(b'}') => {
                        pos += 1;
                        break;
                    }
                    Some(b'{') => {
                        let (input, column) = err_at(pos);
                        return Err(EventError::NestedGroup { input, column });
                    }
                    _ => {
                        let (input, column) = err_at(open);
                        return Err(EventError::UnclosedGroup { input, column });
                    }
                }
            }
            // Optional ":modifiers" up to the next ','.
            let mut mods = "";
            if bytes.get(pos) == Some(&b':') {
                let start = pos + 1;
                let end = input[start..]
                    .find([',', '{', '}'])
                    .map_or(input.len(), |i| start + i);
                mods = input[start..end].trim();
                pos = end;
            }
            items.push(Item::Group {
                members,
                modifiers: mods,
            });
            match bytes.get(pos) {
                None | Some(b',') => {}
                Some(b'}') => {
                    let (input, column) = err_at(pos);
                    return Err(EventError::StrayCloseBrace { input, column });
                }
                Some(_) => {
                    let (input, column) = err_at(pos);
                    return Err(EventError::BadGroupSuffix { input, column });
                }
            }
        } else {
            let (text, end) = event_text(input, pos)?;
            if text.trim().is_empty() {
                let (input, column) = err_at(pos);
                return Err(match bytes.get(end) {
                    Some(b'}') => EventError::StrayCloseBrace { input, column },
                    _ => EventError::EmptyEvent { input, column },
                });
            }
            items.push(Item::Event(text.trim()));
            pos = end;
            match bytes.get(pos) {
                None | Some(b',') => {}
                Some(b'}') => {
                    let (input, column) = err_at(pos);
                    return Err(EventError::StrayCloseBrace { input, column });
                }
                Some(_) => {
                    let (input, column) = err_at(pos);
                    return Err(EventError::MisplacedOpenBrace { input, column });
                }
            }
        }
        // Here bytes[pos] is ',' or the end.
        if pos >= bytes.len() {
            return Ok(items);
        }
        pos += 1;
        if pos >= bytes.len() {
            let (input, column) = err_at(pos - 1);
            return Err(EventError::EmptyEvent { input, column });
        }
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
    let mut m = modifiers::apply(Modifiers::default(), mods, text)?;
    if let Some(g) = group_mods {
        m = modifiers::apply(m, g, text)?;
    }
    let display = if mods.is_empty() {
        text.trim_end_matches(':').to_string()
    } else {
        text.to_string()
    };
    let spec = |kind, type_, config, name: Option<String>| EventSpec {
        name: name.unwrap_or_else(|| display.clone()),
        kind,
        type_,
        config,
        config1: 0,
        config2: 0,
        modifiers: m,
    };

    if body.is_empty() {
        return Err(EventError::EmptyEvent {
            input: text.to_string(),
            column: 1,
        });
    }
    if let Some((pmu_name, terms)) = split_pmu(body) {
        let pmu = Pmu::open(root, pmu_name, text)?;
        let enc = pmu.encode(terms, text)?;
        let mut s = spec(
            EventKind::Pmu(pmu.name.clone()),
            enc.type_,
            enc.config,
            enc.name,
        );
        s.config1 = enc.config1;
        s.config2 = enc.config2;
        return Ok(vec![s]);
    }
    if let Some(sym) = names::lookup(body) {
        let kind = if sym.type_ == sys::PERF_TYPE_HARDWARE {
            EventKind::Hardware
        } else {
            EventKind::Software
        };
        return Ok(vec![spec(kind, sym.type_, sym.config, None)]);
    }
    if let Some(raw) = parse_raw(body) {
        let config = raw.map_err(|why| EventError::BadRaw {
            text: body.to_string(),
            why,
        })?;
        return Ok(vec![spec(EventKind::Raw, sys::PERF_TYPE_RAW, config, None)]);
    }
    match cache::parse(body) {
        Ok(ev) => {
            return Ok(vec![spec(
                EventKind::HwCache,
                sys::PERF_TYPE_HW_CACHE,
                ev.config(),
                None,
            )])
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
    if !pmus.is_empty() {
        let mut specs = Vec::new();
        for p in pmus {
            let enc = p.encode(body, text)?;
            let mut s = spec(
                EventKind::Pmu(p.name.clone()),
                enc.type_,
                enc.config,
                enc.name,
            );
            s.config1 = enc.config1;
            s.config2 = enc.config2;
            specs.push(s);
        }
        return Ok(specs);
    }
    Err(EventError::UnknownEvent {
        name: body.to_string(),
        suggestions: suggest::closest(body, root),
    })
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
