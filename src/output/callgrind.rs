//! Callgrind profiles (the format of `valgrind --tool=callgrind`, spec at
//! <https://valgrind.org/docs/manual/cl-format.html>), for KCacheGrind,
//! QCacheGrind and `callgrind_annotate`.
//!
//! One function block per function (lines merged, as `report` groups them):
//! `ob=` its object (the binary or library of native code,
//! `[kernel.kallsyms]`, or `[python]` for Python code), `fl=` its source
//! file (`.py` file, native source from debug info, else the binary), `fn=`
//! its name. Self cost sits on the line that was executing; each call edge
//! (`cfn=`, `calls=`) sits on the caller's line and carries the callee's
//! inclusive cost when called from there, counted once per sample under
//! recursion. Two events: the sample weight (ns for clock events, event
//! counts otherwise) and the number of samples. `calls=` holds sample counts,
//! since a sampler cannot count calls.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write;

use super::aggregate::{edge_tallies, first_lines, group_frames, group_tallies, GroupBy};
use super::convert::ConvertOptions;
use super::label::{frame_file, frame_object};
use super::select::{Tally, View};
use super::OutputError;
use crate::profile::Profile;

/// Writes the callgrind profile.
pub fn write_callgrind(
    profile: &Profile,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let view = View::one_event(profile, &opts.selection)?;
    let (per_stack, total) = view.nonempty_stack_tallies()?;
    let groups = group_frames(&view, GroupBy::Function);
    let first = first_lines(&view, &groups);
    let tallies = group_tallies(&view, &groups, &per_stack);
    let line_of = |frame: u32| view.frame(frame).line.unwrap_or(0);

    // Self cost per function and line.
    let mut self_cost: Vec<BTreeMap<u32, Tally>> = vec![BTreeMap::new(); groups.example.len()];
    for (stack, tally) in per_stack.iter().enumerate() {
        if let (true, Some(&leaf)) = (tally.samples > 0, view.stack(stack as u32).last()) {
            let g = groups.of_frame[leaf as usize] as usize;
            self_cost[g].entry(line_of(leaf)).or_default().add(*tally);
        }
    }
    // Calls per (caller function, caller line, callee function).
    let edges = edge_tallies(&view, &per_stack, |caller, callee| {
        (
            groups.of_frame[caller as usize],
            line_of(caller),
            groups.of_frame[callee as usize],
        )
    });
    let mut calls_of: Vec<Vec<(u32, u32, Tally)>> = vec![Vec::new(); groups.example.len()];
    for (&(caller, line, callee), edge) in &edges {
        calls_of[caller as usize].push((line, callee, edge.total));
    }

    let event = view.event_info();
    let event_id = event.map_or_else(|| "weight".to_string(), |e| event_identifier(&e.name));
    let unit = event.map_or("", |e| e.unit.as_str());
    let mut text = String::new();
    let _ = writeln!(text, "# callgrind format");
    let _ = writeln!(text, "version: 1");
    let _ = writeln!(text, "creator: pyperf {}", env!("CARGO_PKG_VERSION"));
    if let Some(p) = profile.meta.processes.first() {
        let _ = writeln!(text, "pid: {}", p.pid);
    }
    if !profile.meta.command.is_empty() {
        let _ = writeln!(text, "cmd: {}", one_line(&profile.meta.command.join(" ")));
    }
    let _ = writeln!(text, "part: 1");
    let _ = writeln!(text, "positions: line");
    let _ = writeln!(
        text,
        "event: {event_id} : {} ({unit})",
        one_line(view.event_name())
    );
    let _ = writeln!(text, "event: Samples : samples");
    let _ = writeln!(text, "events: {event_id} Samples");
    let _ = writeln!(text, "summary: {} {}", total.weight, total.samples);

    let mut names = Names::default();
    for g in 0..groups.example.len() {
        if tallies[g].total.samples == 0 {
            continue;
        }
        let frame = view.frame(groups.example[g]);
        let _ = writeln!(text);
        let _ = writeln!(text, "ob={}", names.ob(frame_object(frame)));
        let _ = writeln!(text, "fl={}", names.fl(frame_file(frame).unwrap_or("???")));
        let _ = writeln!(text, "fn={}", names.fun(&frame.function));
        for (line, t) in &self_cost[g] {
            let _ = writeln!(text, "{line} {} {}", t.weight, t.samples);
        }
        let calls = &mut calls_of[g];
        calls.sort_unstable_by_key(|&(line, callee, _)| (line, callee));
        for &(line, callee, t) in calls.iter() {
            let c = view.frame(groups.example[callee as usize]);
            let _ = writeln!(text, "cob={}", names.ob(frame_object(c)));
            let _ = writeln!(text, "cfi={}", names.fl(frame_file(c).unwrap_or("???")));
            let _ = writeln!(text, "cfn={}", names.fun(&c.function));
            let target = first[callee as usize].unwrap_or(0);
            let _ = writeln!(text, "calls={} {target}", t.samples);
            let _ = writeln!(text, "{line} {} {}", t.weight, t.samples);
        }
        if text.len() > 1 << 20 {
            out.write_all(text.as_bytes())
                .map_err(OutputError::Output)?;
            text.clear();
        }
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "totals: {} {}", total.weight, total.samples);
    out.write_all(text.as_bytes())
        .map_err(OutputError::Output)?;
    out.flush().map_err(OutputError::Output)
}

/// An event name as a callgrind event identifier (letters, digits, `_`).
fn event_identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id.insert(0, 'e');
    }
    id
}

/// Callgrind is line-based: a name must not break its line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Callgrind's name compression: `(id) name` the first time, `(id)` after,
/// one id space per kind (objects, files, functions).
#[derive(Default)]
struct Names {
    objects: HashMap<String, usize>,
    files: HashMap<String, usize>,
    functions: HashMap<String, usize>,
}

impl Names {
    fn ob(&mut self, name: &str) -> String {
        Self::compress(&mut self.objects, name)
    }

    fn fl(&mut self, name: &str) -> String {
        Self::compress(&mut self.files, name)
    }

    fn fun(&mut self, name: &str) -> String {
        Self::compress(&mut self.functions, name)
    }

    fn compress(ids: &mut HashMap<String, usize>, name: &str) -> String {
        if let Some(id) = ids.get(name) {
            return format!("({id})");
        }
        let id = ids.len() + 1;
        ids.insert(name.to_string(), id);
        format!("({id}) {}", one_line(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compressed_per_kind() {
        let mut n = Names::default();
        assert_eq!(n.fun("main"), "(1) main");
        assert_eq!(n.fun("work"), "(2) work");
        assert_eq!(n.fun("main"), "(1)");
        assert_eq!(n.fl("main"), "(1) main");
        assert_eq!(n.ob("a\nb"), "(1) a b");
    }

    #[test]
    fn event_identifiers_are_plain_words() {
        assert_eq!(event_identifier("cpu-clock"), "cpu_clock");
        assert_eq!(
            event_identifier("L1-dcache-load-misses:u"),
            "L1_dcache_load_misses_u"
        );
        assert_eq!(event_identifier("r01c2"), "r01c2");
        assert_eq!(event_identifier("{cycles}"), "e_cycles_");
    }
}
