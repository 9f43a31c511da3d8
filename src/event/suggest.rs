//! "did you mean": the known event names closest to a misspelt one.

use std::path::Path;

use super::list::{list_entries_in, Category, ListEntry};

/// How many events a suggestion names at most.
const MAX_EVENTS: usize = 3;

/// Edit distance (with transpositions), ignoring ASCII case; a known name that starts
/// with a typed name of three or more characters counts as one edit ("instr").
fn distance(typed: &str, known: &str) -> usize {
    let (typed, known) = (typed.to_ascii_lowercase(), known.to_ascii_lowercase());
    let d = strsim::osa_distance(&typed, &known);
    if typed.len() >= 3 && known.starts_with(&typed) {
        d.min(1)
    } else {
        d
    }
}

/// The `ev` of a `pmu/ev/` entry.
fn bare_pmu_event(entry: &ListEntry) -> Option<&str> {
    (entry.category == Category::KernelPmu)
        .then(|| entry.name.trim_end_matches('/').rsplit('/').next())
        .flatten()
}

/// Strings an entry may be matched by: its names, and for `pmu/ev/` the bare `ev`.
fn keys(entry: &ListEntry) -> Vec<&str> {
    let mut keys: Vec<&str> = entry.all_names().collect();
    keys.extend(bare_pmu_event(entry));
    keys
}

/// The names closest to `name` among `entries`: for each close event, the spelling
/// that matched first and then its other names ("cycles, cpu-cycles").
pub fn closest_in(name: &str, entries: &[ListEntry]) -> Vec<String> {
    // Allow about one edit per four characters, and at least two.
    let limit = (name.chars().count() / 4).max(2);
    // `cpu/instructions/` duplicates the generic `instructions`: suggest only the latter.
    let generic = |ev: &str| {
        entries
            .iter()
            .any(|e| e.category != Category::KernelPmu && e.all_names().any(|n| n == ev))
    };
    let mut scored: Vec<(usize, usize, &str)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !bare_pmu_event(e).is_some_and(generic))
        .filter_map(|(i, e)| {
            keys(e)
                .into_iter()
                .map(|k| (distance(name, k), i, k))
                .min_by_key(|(d, _, _)| *d)
        })
        .filter(|(d, _, _)| *d <= limit)
        .collect();
    scored.sort();
    let Some(&(best, _, _)) = scored.first() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for &(d, i, matched) in scored.iter().take(MAX_EVENTS) {
        // Only ties with the best: a worse second guess is mostly noise.
        if d > best {
            break;
        }
        let entry = &entries[i];
        let matched = if entry.category == Category::KernelPmu {
            entry.name.as_str()
        } else {
            matched
        };
        for n in std::iter::once(matched).chain(entry.all_names().filter(|n| *n != matched)) {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

/// [`closest_in`] over every event known on the machine described by `root`.
pub fn closest(name: &str, root: &Path) -> Vec<String> {
    closest_in(name, &list_entries_in(root))
}

#[cfg(test)]
mod tests {
    use super::super::pmu::test_tree::fake_root;
    use super::*;

    fn near(name: &str) -> Vec<String> {
        let root = fake_root();
        closest(name, root.path())
    }

    #[test]
    fn typos_find_the_intended_event_and_its_aliases() {
        assert_eq!(near("cycels"), vec!["cycles", "cpu-cycles"]);
        assert_eq!(near("instrutions"), vec!["instructions"]);
        assert_eq!(near("Task-Clok"), vec!["task-clock"]);
        assert_eq!(near("L1-dcache-load-mises")[0], "L1-dcache-load-misses");
        assert_eq!(near("contxt-switches"), vec!["context-switches", "cs"]);
        assert_eq!(near("tsx"), vec!["msr/tsc/"]);
        assert_eq!(near("instr"), vec!["instructions"]);
        assert_eq!(near("cache"), vec!["cache-misses", "cache-references"]);
    }

    #[test]
    fn nonsense_gets_no_suggestion() {
        assert!(near("zzzzzzzzzz").is_empty());
        assert!(near("qwertyuiop-asdf").is_empty());
    }
}
