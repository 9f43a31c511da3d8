//! Cross-checks pyperf's event parser against perf itself.
//!
//! `perf stat -vv -e LIST true` prints every `perf_event_attr` it tries to open (fields
//! that are zero are left out). Each event is separated from the next by a sentinel
//! raw event, so retries perf makes after EINVAL stay attributed to the right event.
//! Where perf accepts a name, pyperf must encode it identically; where perf refuses
//! one, pyperf must refuse it too. Tests skip with a message when perf is absent.
//!
//! Deliberate extensions, not checked here: pyperf accepts names in any letter case
//! (perf 6.1's lexer does not), `r0x...` raw events and `pmu/.../:mods`. See also
//! [`perf61_lexer_gap`].

use std::collections::BTreeSet;
use std::process::Command;

use pyperf::event::{
    cache_event_spellings, default_stat_events, format_list, list_entries, parse_event_list,
    Category, EventSpec,
};

/// A raw event nobody else uses: marks the boundary between two checked events.
const SENTINEL: &str = "rfeedbeef";
const SENTINEL_CONFIG: u64 = 0xfeed_beef;
const PERF_TYPE_RAW: u32 = 4;

/// Names per perf invocation: keeps the fd count low where events really open.
const BATCH: usize = 150;

/// The attr fields both sides decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Attr {
    type_: u32,
    config: u64,
    config1: u64,
    config2: u64,
    exclude_user: bool,
    exclude_kernel: bool,
    exclude_hv: bool,
    precise_ip: u8,
}

impl Attr {
    fn is_sentinel(&self) -> bool {
        self.type_ == PERF_TYPE_RAW && self.config == SENTINEL_CONFIG
    }
}

fn from_spec(s: &EventSpec) -> Attr {
    Attr {
        type_: s.type_,
        config: s.config,
        config1: s.config1,
        config2: s.config2,
        exclude_user: s.modifiers.exclude_user,
        exclude_kernel: s.modifiers.exclude_kernel,
        exclude_hv: s.modifiers.exclude_hv,
        precise_ip: s.modifiers.precise,
    }
}

/// True when perf runs; otherwise prints why the test is skipped.
fn have_perf(test: &str) -> bool {
    match Command::new("perf").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("skipping {test}: perf is not installed");
            false
        }
    }
}

/// Root matters: unprivileged perf may add exclude_kernel on its own.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn run_perf_stat(events: &str) -> String {
    let out = Command::new("perf")
        .args(["stat", "-vv", "-e", events, "true"])
        .output()
        .expect("run perf");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Cache spellings perf's own tables define but perf 6.1's lexer cannot reach: the
/// `branches` cache alias before a suffix, and `branch-misses-<op>` (lexed as the
/// hardware event `branch-misses` followed by junk). pyperf accepts them; if the
/// installed perf accepts them too, they are compared like any other name.
fn perf61_lexer_gap(name: &str) -> bool {
    name.starts_with("branches-") || name.starts_with("branch-misses-")
}

fn perf_refuses(text: &str) -> bool {
    text.contains("event syntax error") || text.contains("Run 'perf list'")
}

fn number(v: &str) -> u64 {
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).expect("hex"),
        None => v.parse().expect("decimal"),
    }
}

/// Every attr block perf printed, in order.
fn parse_attr_blocks(text: &str) -> Vec<Attr> {
    let mut blocks = Vec::new();
    let mut current: Option<Attr> = None;
    for line in text.lines() {
        if line.starts_with("perf_event_attr:") {
            current = Some(Attr::default());
            continue;
        }
        let Some(attr) = current.as_mut() else {
            continue;
        };
        if line.starts_with("----") {
            blocks.extend(current.take());
            continue;
        }
        let t = line.trim();
        // "{ bp_addr, config1 }   0x3" names the union by both members.
        let (key, value) = match t.rsplit_once(char::is_whitespace) {
            Some((k, v)) => (k.trim(), v),
            None => continue,
        };
        match key {
            "type" => attr.type_ = number(value) as u32,
            "config" => attr.config = number(value),
            k if k.contains("config1") => attr.config1 = number(value),
            k if k.contains("config2") => attr.config2 = number(value),
            "exclude_user" => attr.exclude_user = number(value) != 0,
            "exclude_kernel" => attr.exclude_kernel = number(value) != 0,
            "exclude_hv" => attr.exclude_hv = number(value) != 0,
            "precise_ip" => attr.precise_ip = number(value) as u8,
            _ => {}
        }
    }
    blocks
}

/// perf's attrs for each item (an event or a group), or the items perf refused.
/// An item's first block is what perf asked for; later blocks are its retries.
fn perf_encodings(items: &[String]) -> Result<Vec<Vec<Attr>>, Vec<String>> {
    let list: Vec<&str> = items
        .iter()
        .flat_map(|i| [SENTINEL, i.as_str()])
        .chain([SENTINEL])
        .collect();
    let text = run_perf_stat(&list.join(","));
    if perf_refuses(&text) {
        // Find the culprits one by one.
        return Err(items
            .iter()
            .filter(|i| perf_refuses(&run_perf_stat(i)))
            .cloned()
            .collect());
    }
    let blocks = parse_attr_blocks(&text);
    let mut per_item: Vec<Vec<Attr>> = Vec::new();
    let mut current: Option<Vec<Attr>> = None;
    for b in blocks {
        if b.is_sentinel() {
            // Retries of the sentinel repeat it; only a non-empty run closes an item.
            if let Some(c) = current.take() {
                if !c.is_empty() {
                    per_item.push(c);
                }
            }
            current = Some(Vec::new());
        } else if let Some(c) = current.as_mut() {
            c.push(b);
        }
    }
    assert_eq!(
        per_item.len(),
        items.len(),
        "could not attribute perf's attrs to the events; perf output:\n{text}"
    );
    Ok(per_item)
}

/// Compares pyperf with perf for every item; returns the mismatches as text and
/// counts the items actually compared in `compared`.
fn compare(items: &[String], check_excludes: bool, compared: &mut usize) -> Vec<String> {
    let mut problems = Vec::new();
    for chunk in items.chunks(BATCH) {
        let perf = match perf_encodings(chunk) {
            Ok(p) => p,
            Err(refused) => {
                let gaps = refused.iter().filter(|r| perf61_lexer_gap(r)).count();
                if gaps > 0 {
                    eprintln!(
                        "{gaps} names perf 6.1's lexer cannot parse (known gap), not compared"
                    );
                }
                for r in refused.iter().filter(|r| !perf61_lexer_gap(r)) {
                    problems.push(format!("perf refuses '{r}' but pyperf accepts it"));
                }
                let rest: Vec<String> = chunk
                    .iter()
                    .filter(|i| !refused.contains(i))
                    .cloned()
                    .collect();
                problems.extend(compare(&rest, check_excludes, compared));
                continue;
            }
        };
        for (item, perf_blocks) in chunk.iter().zip(perf) {
            *compared += 1;
            let ours: Vec<Attr> = match parse_event_list(item) {
                Ok(groups) => groups
                    .iter()
                    .flat_map(|g| g.events.iter().map(from_spec))
                    .collect(),
                Err(e) => {
                    problems.push(format!("perf accepts '{item}' but pyperf says: {e}"));
                    continue;
                }
            };
            // One event: perf's first block (the rest are retries). Several (a group
            // of software events, which open at once): one block each.
            let theirs: Vec<Attr> = if ours.len() == 1 {
                perf_blocks.into_iter().take(1).collect()
            } else {
                perf_blocks
            };
            let strip = |a: &Attr| {
                let mut a = a.clone();
                if !check_excludes {
                    (a.exclude_user, a.exclude_kernel, a.exclude_hv) = (false, false, false);
                }
                a
            };
            let ours: Vec<Attr> = ours.iter().map(strip).collect();
            let theirs: Vec<Attr> = theirs.iter().map(strip).collect();
            if ours != theirs {
                problems.push(format!("'{item}': pyperf {ours:?} != perf {theirs:?}"));
            }
        }
    }
    problems
}

fn assert_agrees(items: &[String]) {
    let root = is_root();
    if !root {
        eprintln!("not root: comparing type/config/precise only, not exclude_* bits");
    }
    let mut compared = 0;
    let problems = compare(items, root, &mut compared);
    assert!(
        problems.is_empty(),
        "{} of {} disagree with perf:\n{}",
        problems.len(),
        items.len(),
        problems.join("\n")
    );
    eprintln!("{compared} event descriptions encode exactly as perf does");
    assert!(compared * 10 >= items.len() * 9, "too few names compared");
}

#[test]
fn every_listed_name_and_alias_encodes_like_perf() {
    if !have_perf("every_listed_name_and_alias_encodes_like_perf") {
        return;
    }
    let names: Vec<String> = list_entries()
        .iter()
        .flat_map(|e| e.all_names().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert!(names.len() >= 60, "{names:?}");
    assert_agrees(&names);
}

#[test]
fn every_cache_spelling_encodes_like_perf() {
    if !have_perf("every_cache_spelling_encodes_like_perf") {
        return;
    }
    let names = cache_event_spellings();
    assert!(names.len() > 1500);
    assert_agrees(&names);
}

/// PMU syntax checked only for PMUs this machine has.
fn pmu_items() -> Vec<String> {
    let root = std::path::Path::new("/sys/bus/event_source/devices");
    let mut items = Vec::new();
    if root.join("msr/events/tsc").is_file() {
        items.extend(
            [
                "msr/tsc/",
                "msr/TSC/",
                "tsc",
                "msr/tsc/u",
                "msr/tsc/kh",
                "msr/event=0x1/",
                "msr/config=5/",
                "msr/event=0x1,config1=3,config2=7/",
                "msr/event=0xffffffffffffffff/",
                "msr/tsc,config1=9/",
                "msr/event=7,name=seven/",
            ]
            .map(String::from),
        );
    } else {
        eprintln!("no msr PMU: msr syntax not cross-checked");
    }
    if root.join("uprobe/format/retprobe").is_file() {
        items.extend(
            [
                "uprobe/retprobe/",
                "uprobe/retprobe=1/",
                "uprobe/ref_ctr_offset=5/",
                "uprobe/ref_ctr_offset=0xffffffff,retprobe=1/",
            ]
            .map(String::from),
        );
    }
    items
}

#[test]
fn modifiers_raw_groups_and_pmu_syntax_encode_like_perf() {
    if !have_perf("modifiers_raw_groups_and_pmu_syntax_encode_like_perf") {
        return;
    }
    let mut items: Vec<String> = [
        "cycles:u",
        "cycles:k",
        "cycles:h",
        "cycles:uk",
        "cycles:ku",
        "cycles:kh",
        "cycles:ukh",
        "cycles:p",
        "cycles:pp",
        "cycles:ppp",
        "cs:upp",
        "cs:",
        "instructions:pku",
        "L1-dcache-load-misses:k",
        "dTLB-load-misses:u",
        "r1234:u",
        "r0",
        "r1",
        "r1234",
        "rABCD",
        "rabcd",
        "r01c2",
        "r0123456789abcdef",
        "rffffffffffffffff",
        "{cs,faults}:u",
        "{cs:u,faults}:k",
        "{cs:p,faults}:p",
        "{task-clock,cpu-clock,page-faults}",
        "{cs:k,faults:u,migrations}:h",
    ]
    .map(String::from)
    .to_vec();
    items.extend(pmu_items());
    assert_agrees(&items);
}

#[test]
fn what_perf_refuses_pyperf_refuses() {
    if !have_perf("what_perf_refuses_pyperf_refuses") {
        return;
    }
    let mut bad = vec![
        "iTLB-stores",
        "iTLB-prefetch-misses",
        "branch-stores",
        "bpu-write",
        "L1-icache-store-misses",
        "l1i-write",
        "cycles:pppp",
        "cycles:x",
        "cs:uu",
        "{}",
        "cs,,faults",
        ",cs",
        "cs,",
        "cs}",
        "{cs,{faults}}",
        "r",
        "R1234",
        "cycels",
        "L1-dcache-lod",
        "nosuchpmu/event=1/",
    ];
    if std::path::Path::new("/sys/bus/event_source/devices/msr/type").is_file() {
        bad.extend([
            "msr/event=0x1ffffffffffffffff/",
            "msr/foo=1/",
            "msr/event=1",
        ]);
    }
    if std::path::Path::new("/sys/bus/event_source/devices/uprobe/format/retprobe").is_file() {
        bad.push("uprobe/retprobe=2/");
    }
    let mut problems = Vec::new();
    for b in bad {
        let perf_no = perf_refuses(&run_perf_stat(b));
        let ours = parse_event_list(b);
        if !perf_no {
            problems.push(format!("premise: perf accepts '{b}'"));
        }
        match ours {
            Ok(g) => problems.push(format!("pyperf accepts '{b}' as {g:?}")),
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.is_empty() && !msg.contains('\n'), "{b}: {msg:?}");
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The "  name   [Category]" lines of a listing.
fn listing_lines(text: &str, label: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.ends_with(&format!("[{label}]")))
        .map(str::to_string)
        .collect()
}

#[test]
fn listing_lines_match_perf_list() {
    if !have_perf("listing_lines_match_perf_list") {
        return;
    }
    let out = Command::new("perf")
        .args(["list", "hw", "sw", "cache", "pmu"])
        .output()
        .expect("perf list");
    let perf = String::from_utf8_lossy(&out.stdout).to_string();
    // perf only lists what opens; give our listing the same answer for what perf shows.
    let perf_names: BTreeSet<String> = perf
        .lines()
        .filter_map(|l| l.split(" [").next())
        .map(|n| n.trim().to_string())
        .collect();
    let entries = list_entries();
    let ours = format_list(&entries, &|s: &EventSpec| {
        entries
            .iter()
            .find(|e| e.spec == *s)
            .is_some_and(|e| perf_names.contains(&e.display_name()))
    });
    for label in [
        "Hardware event",
        "Software event",
        "Hardware cache event",
        "Kernel PMU event",
    ] {
        let theirs = listing_lines(&perf, label);
        let mine = listing_lines(&ours, label);
        let missing: Vec<_> = theirs.difference(&mine).collect();
        assert!(
            missing.is_empty(),
            "perf lists these {label} lines, pyperf does not:\n{missing:#?}"
        );
    }
    // Every software event this kernel supports appears in perf; ours must not invent any.
    let sw: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.category == Category::Software)
        .map(|e| e.display_name())
        .collect();
    let perf_sw: BTreeSet<String> = listing_lines(&perf, "Software event")
        .iter()
        .filter_map(|l| l.split(" [").next())
        .map(|n| n.trim().to_string())
        .collect();
    assert_eq!(sw, perf_sw);
}

#[test]
fn default_events_match_perf_stat() {
    if !have_perf("default_events_match_perf_stat") {
        return;
    }
    let text = run_perf_stat_default();
    let names = stat_event_names(&text);
    let ours: Vec<String> = default_stat_events()
        .iter()
        .map(|g| g.events[0].name.clone())
        .collect();
    assert_eq!(ours, names, "perf stat output:\n{text}");
    let blocks = parse_attr_blocks(&text);
    let ours: Vec<Attr> = default_stat_events()
        .iter()
        .map(|g| from_spec(&g.events[0]))
        .collect();
    // One attempt per event here; a retried event would repeat, so dedupe consecutive.
    let mut theirs = blocks;
    theirs.dedup();
    assert_eq!(ours, theirs);
}

fn run_perf_stat_default() -> String {
    let out = Command::new("perf")
        .args(["stat", "-vv", "true"])
        .output()
        .expect("perf stat");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Event names in perf stat's table: "  123  msec task-clock  # ...", "<not supported>  cycles".
fn stat_event_names(text: &str) -> Vec<String> {
    let Some(start) = text.find("Performance counter stats for") else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for line in text[start..].lines().skip(1) {
        let line = line.trim();
        if line.contains("seconds time elapsed") {
            break;
        }
        let rest = line
            .strip_prefix("<not supported>")
            .or_else(|| line.strip_prefix("<not counted>"))
            .map(str::trim)
            .or_else(|| {
                let mut it = line.splitn(2, char::is_whitespace);
                let value = it.next()?;
                value.chars().next()?.is_ascii_digit().then(|| it.next())?
            });
        let Some(rest) = rest else { continue };
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("msec").unwrap_or(rest);
        if let Some(name) = rest.split_whitespace().next() {
            names.push(name.to_string());
        }
    }
    names
}
