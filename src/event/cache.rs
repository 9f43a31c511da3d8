//! Hardware cache events (`PERF_TYPE_HW_CACHE`): the cache x operation x result matrix.
//!
//! Names, aliases and the table of valid (cache, operation) pairs follow perf's
//! `evsel__hw_cache`, `evsel__hw_cache_op`, `evsel__hw_cache_result` and
//! `evsel__hw_cache_stat` (tools/perf/util/evsel.c). The kernel encoding is
//! `config = cache | op << 8 | result << 16` (include/uapi/linux/perf_event.h).

use perf_event_open_sys::bindings as sys;

/// Cache names; index = `PERF_COUNT_HW_CACHE_*` id; the first spelling is canonical.
const CACHES: [&[&str]; sys::PERF_COUNT_HW_CACHE_MAX as usize] = [
    &["L1-dcache", "l1-d", "l1d", "L1-data"],
    &["L1-icache", "l1-i", "l1i", "L1-instruction"],
    &["LLC", "L2"],
    &["dTLB", "d-tlb", "Data-TLB"],
    &["iTLB", "i-tlb", "Instruction-TLB"],
    &["branch", "branches", "bpu", "btb", "bpc"],
    &["node"],
];

/// Operation names; index = `PERF_COUNT_HW_CACHE_OP_*` id.
/// perf names access counts with the plural (second) spelling: "L1-dcache-loads".
const OPS: [&[&str]; sys::PERF_COUNT_HW_CACHE_OP_MAX as usize] = [
    &["load", "loads", "read"],
    &["store", "stores", "write"],
    &[
        "prefetch",
        "prefetches",
        "speculative-read",
        "speculative-load",
    ],
];

/// Result names; index = `PERF_COUNT_HW_CACHE_RESULT_*` id.
const RESULTS: [&[&str]; sys::PERF_COUNT_HW_CACHE_RESULT_MAX as usize] =
    [&["refs", "Reference", "ops", "access"], &["misses", "miss"]];

const fn op_bit(op: u32) -> u8 {
    1 << op
}
const READ: u8 = op_bit(sys::PERF_COUNT_HW_CACHE_OP_READ);
const WRITE: u8 = op_bit(sys::PERF_COUNT_HW_CACHE_OP_WRITE);
const PREFETCH: u8 = op_bit(sys::PERF_COUNT_HW_CACHE_OP_PREFETCH);

/// Which operations perf considers meaningful for each cache (`evsel__hw_cache_stat`):
/// perf refuses e.g. `iTLB-stores`, and `perf list` shows only these pairs.
const VALID_OPS: [u8; sys::PERF_COUNT_HW_CACHE_MAX as usize] = [
    READ | WRITE | PREFETCH, // L1D
    READ | PREFETCH,         // L1I
    READ | WRITE | PREFETCH, // LL
    READ | WRITE | PREFETCH, // DTLB
    READ,                    // ITLB
    READ,                    // BPU
    READ | WRITE | PREFETCH, // NODE
];

/// One point of the matrix, as kernel ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheEvent {
    pub cache: u32,
    pub op: u32,
    pub result: u32,
}

/// Why a name that looks like a cache event is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheParseError {
    /// Does not start with a cache name: not a cache event at all.
    NotCache,
    /// Starts with a cache name but the rest is not `-op`, `-result`, `-op-result`.
    BadSuffix,
    /// A valid spelling of a pair perf refuses (e.g. `iTLB-stores`); holds the cache id.
    InvalidOp { cache: u32 },
}

impl CacheEvent {
    /// `perf_event_attr.config` for this event.
    pub fn config(self) -> u64 {
        u64::from(self.cache) | u64::from(self.op) << 8 | u64::from(self.result) << 16
    }

    /// The name perf prints: `L1-dcache-loads` for accesses, `L1-dcache-load-misses` for misses
    /// (`__evsel__hw_cache_type_op_res_name`). Ids outside the uapi ranges print as `?`.
    pub fn canonical_name(self) -> String {
        let spelling = |table: &[&[&'static str]], id: u32, which: usize| {
            table
                .get(id as usize)
                .and_then(|names| names.get(which))
                .copied()
                .unwrap_or("?")
        };
        let cache = spelling(&CACHES, self.cache, 0);
        if self.result == sys::PERF_COUNT_HW_CACHE_RESULT_ACCESS {
            format!("{cache}-{}", spelling(&OPS, self.op, 1))
        } else {
            format!(
                "{cache}-{}-{}",
                spelling(&OPS, self.op, 0),
                spelling(&RESULTS, self.result, 0)
            )
        }
    }

    /// Every (cache, op, result) perf lists, in kernel id order.
    pub fn all_valid() -> impl Iterator<Item = CacheEvent> {
        (0..sys::PERF_COUNT_HW_CACHE_MAX).flat_map(|cache| {
            (0..sys::PERF_COUNT_HW_CACHE_OP_MAX)
                .filter(move |&op| is_valid_op(cache, op))
                .flat_map(move |op| {
                    (0..sys::PERF_COUNT_HW_CACHE_RESULT_MAX).map(move |result| CacheEvent {
                        cache,
                        op,
                        result,
                    })
                })
        })
    }
}

/// perf's `evsel__is_cache_op_valid`.
pub fn is_valid_op(cache: u32, op: u32) -> bool {
    VALID_OPS
        .get(cache as usize)
        .is_some_and(|mask| op < 8 && mask & (1 << op) != 0)
}

/// The canonical name of cache `cache` ("L1-dcache").
pub fn cache_name(cache: u32) -> &'static str {
    CACHES.get(cache as usize).map_or("?", |n| n[0])
}

/// The operations perf accepts for cache `cache`, e.g. "load, prefetch".
pub fn valid_op_names(cache: u32) -> String {
    (0..sys::PERF_COUNT_HW_CACHE_OP_MAX)
        .filter(|&op| is_valid_op(cache, op))
        .filter_map(|op| OPS.get(op as usize).map(|names| names[0]))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every spelling of a cache event perf's grammar accepts for a valid pair:
/// `cache`, `cache-op`, `cache-result`, `cache-op-result`, `cache-result-op`, over all
/// aliases (about two thousand names). Used to cross-check the parser against perf.
pub fn all_spellings() -> Vec<String> {
    let mut out = Vec::new();
    for (cache, cache_names) in (0u32..).zip(CACHES.iter()) {
        let ops: Vec<&str> = (0u32..)
            .zip(OPS.iter())
            .filter(|(op, _)| is_valid_op(cache, *op))
            .flat_map(|(_, names)| names.iter().copied())
            .collect();
        let results: Vec<&str> = RESULTS.iter().flat_map(|n| n.iter().copied()).collect();
        for c in cache_names.iter() {
            out.push(c.to_string());
            for op in &ops {
                out.push(format!("{c}-{op}"));
                for r in &results {
                    out.push(format!("{c}-{op}-{r}"));
                    out.push(format!("{c}-{r}-{op}"));
                }
            }
            for r in &results {
                out.push(format!("{c}-{r}"));
            }
        }
    }
    out
}

/// Strips a leading `-` + alias (from `table`) off `rest`; alias spellings may contain `-`
/// themselves ("speculative-read"), so try each spelling rather than splitting on `-`.
/// Returns every way to do it (at most a few), as (id, remainder).
fn strip_word<'a>(table: &[&[&str]], rest: &'a str) -> Vec<(u32, &'a str)> {
    let Some(rest) = rest.strip_prefix('-') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, names) in table.iter().enumerate() {
        for name in names.iter() {
            let Some(head) = rest.get(..name.len()) else {
                continue;
            };
            let tail = &rest[name.len()..];
            if head.eq_ignore_ascii_case(name) && (tail.is_empty() || tail.starts_with('-')) {
                if let Ok(id) = u32::try_from(id) {
                    out.push((id, tail));
                }
            }
        }
    }
    out
}

/// Parses `<cache>[-<op|result>[-<op|result>]]`, case-insensitively, as perf does:
/// the operation defaults to load and the result to access; op and result may come
/// in either order, each at most once.
pub fn parse(name: &str) -> Result<CacheEvent, CacheParseError> {
    // The longest cache spelling that is followed by end or '-' ("L1-dcache" over "l1-d").
    let mut best: Option<(u32, &str)> = None;
    for (id, names) in CACHES.iter().enumerate() {
        for n in names.iter() {
            let Some(head) = name.get(..n.len()) else {
                continue;
            };
            let tail = &name[n.len()..];
            let longer = match best {
                Some((_, t)) => tail.len() < t.len(),
                None => true,
            };
            if longer && head.eq_ignore_ascii_case(n) && (tail.is_empty() || tail.starts_with('-'))
            {
                best = u32::try_from(id).ok().map(|id| (id, tail));
            }
        }
    }
    let (cache, rest) = best.ok_or(CacheParseError::NotCache)?;
    let (op, result) = parse_suffix(rest).ok_or(CacheParseError::BadSuffix)?;
    let op_id = op.unwrap_or(sys::PERF_COUNT_HW_CACHE_OP_READ);
    if op.is_some() && !is_valid_op(cache, op_id) {
        return Err(CacheParseError::InvalidOp { cache });
    }
    Ok(CacheEvent {
        cache,
        op: op_id,
        result: result.unwrap_or(sys::PERF_COUNT_HW_CACHE_RESULT_ACCESS),
    })
}

/// Parses the part after the cache name: "", "-op", "-result", "-op-result", "-result-op".
fn parse_suffix(rest: &str) -> Option<(Option<u32>, Option<u32>)> {
    if rest.is_empty() {
        return Some((None, None));
    }
    for (op, tail) in strip_word(&OPS, rest) {
        if tail.is_empty() {
            return Some((Some(op), None));
        }
        if let Some((result, _)) = strip_word(&RESULTS, tail)
            .into_iter()
            .find(|(_, t)| t.is_empty())
        {
            return Some((Some(op), Some(result)));
        }
    }
    for (result, tail) in strip_word(&RESULTS, rest) {
        if tail.is_empty() {
            return Some((None, Some(result)));
        }
        if let Some((op, _)) = strip_word(&OPS, tail)
            .into_iter()
            .find(|(_, t)| t.is_empty())
        {
            return Some((Some(op), Some(result)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use sys::{
        PERF_COUNT_HW_CACHE_BPU as BPU, PERF_COUNT_HW_CACHE_DTLB as DTLB,
        PERF_COUNT_HW_CACHE_ITLB as ITLB, PERF_COUNT_HW_CACHE_L1D as L1D,
        PERF_COUNT_HW_CACHE_L1I as L1I, PERF_COUNT_HW_CACHE_LL as LL,
        PERF_COUNT_HW_CACHE_NODE as NODE, PERF_COUNT_HW_CACHE_OP_PREFETCH as OP_PREFETCH,
        PERF_COUNT_HW_CACHE_OP_READ as OP_READ, PERF_COUNT_HW_CACHE_OP_WRITE as OP_WRITE,
        PERF_COUNT_HW_CACHE_RESULT_ACCESS as ACCESS, PERF_COUNT_HW_CACHE_RESULT_MISS as MISS,
    };

    fn cfg(cache: u32, op: u32, result: u32) -> u64 {
        (cache as u64) | ((op as u64) << 8) | ((result as u64) << 16)
    }

    #[test]
    fn canonical_names_and_configs_match_perf_list_hwcache() {
        // The 32 lines `perf list hwcache` can print, written out by hand from perf's tables.
        let expected: &[(&str, u64)] = &[
            ("L1-dcache-loads", cfg(L1D, OP_READ, ACCESS)),
            ("L1-dcache-load-misses", cfg(L1D, OP_READ, MISS)),
            ("L1-dcache-stores", cfg(L1D, OP_WRITE, ACCESS)),
            ("L1-dcache-store-misses", cfg(L1D, OP_WRITE, MISS)),
            ("L1-dcache-prefetches", cfg(L1D, OP_PREFETCH, ACCESS)),
            ("L1-dcache-prefetch-misses", cfg(L1D, OP_PREFETCH, MISS)),
            ("L1-icache-loads", cfg(L1I, OP_READ, ACCESS)),
            ("L1-icache-load-misses", cfg(L1I, OP_READ, MISS)),
            ("L1-icache-prefetches", cfg(L1I, OP_PREFETCH, ACCESS)),
            ("L1-icache-prefetch-misses", cfg(L1I, OP_PREFETCH, MISS)),
            ("LLC-loads", cfg(LL, OP_READ, ACCESS)),
            ("LLC-load-misses", cfg(LL, OP_READ, MISS)),
            ("LLC-stores", cfg(LL, OP_WRITE, ACCESS)),
            ("LLC-store-misses", cfg(LL, OP_WRITE, MISS)),
            ("LLC-prefetches", cfg(LL, OP_PREFETCH, ACCESS)),
            ("LLC-prefetch-misses", cfg(LL, OP_PREFETCH, MISS)),
            ("dTLB-loads", cfg(DTLB, OP_READ, ACCESS)),
            ("dTLB-load-misses", cfg(DTLB, OP_READ, MISS)),
            ("dTLB-stores", cfg(DTLB, OP_WRITE, ACCESS)),
            ("dTLB-store-misses", cfg(DTLB, OP_WRITE, MISS)),
            ("dTLB-prefetches", cfg(DTLB, OP_PREFETCH, ACCESS)),
            ("dTLB-prefetch-misses", cfg(DTLB, OP_PREFETCH, MISS)),
            ("iTLB-loads", cfg(ITLB, OP_READ, ACCESS)),
            ("iTLB-load-misses", cfg(ITLB, OP_READ, MISS)),
            ("branch-loads", cfg(BPU, OP_READ, ACCESS)),
            ("branch-load-misses", cfg(BPU, OP_READ, MISS)),
            ("node-loads", cfg(NODE, OP_READ, ACCESS)),
            ("node-load-misses", cfg(NODE, OP_READ, MISS)),
            ("node-stores", cfg(NODE, OP_WRITE, ACCESS)),
            ("node-store-misses", cfg(NODE, OP_WRITE, MISS)),
            ("node-prefetches", cfg(NODE, OP_PREFETCH, ACCESS)),
            ("node-prefetch-misses", cfg(NODE, OP_PREFETCH, MISS)),
        ];
        let ours: Vec<(String, u64)> = CacheEvent::all_valid()
            .map(|e| (e.canonical_name(), e.config()))
            .collect();
        let want: Vec<(String, u64)> = expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(ours, want);
        for (name, config) in expected {
            assert_eq!(parse(name).map(CacheEvent::config), Ok(*config), "{name}");
        }
    }

    #[test]
    fn aliases_defaults_order_and_case() {
        let c = |s| parse(s).map(CacheEvent::config);
        assert_eq!(c("L1-dcache"), Ok(cfg(L1D, OP_READ, ACCESS)));
        assert_eq!(c("l1d-misses"), Ok(cfg(L1D, OP_READ, MISS)));
        assert_eq!(c("L1-data-miss-store"), Ok(cfg(L1D, OP_WRITE, MISS)));
        assert_eq!(c("l1-d-write-Reference"), Ok(cfg(L1D, OP_WRITE, ACCESS)));
        assert_eq!(
            c("L2-speculative-read-miss"),
            Ok(cfg(LL, OP_PREFETCH, MISS))
        );
        assert_eq!(c("llc-load-misses"), Ok(cfg(LL, OP_READ, MISS)));
        assert_eq!(c("Data-TLB-stores"), Ok(cfg(DTLB, OP_WRITE, ACCESS)));
        assert_eq!(c("i-tlb-read-ops"), Ok(cfg(ITLB, OP_READ, ACCESS)));
        assert_eq!(c("btb-miss"), Ok(cfg(BPU, OP_READ, MISS)));
        assert_eq!(c("bpc"), Ok(cfg(BPU, OP_READ, ACCESS)));
        assert_eq!(
            c("L1-INSTRUCTION-PREFETCHES"),
            Ok(cfg(L1I, OP_PREFETCH, ACCESS))
        );
        assert_eq!(
            c("node-speculative-load-access"),
            Ok(cfg(NODE, OP_PREFETCH, ACCESS))
        );
    }

    #[test]
    fn rejects_what_perf_rejects() {
        assert_eq!(c_err("cycles"), CacheParseError::NotCache);
        assert_eq!(c_err("L1-dcachex"), CacheParseError::NotCache);
        assert_eq!(c_err("L1-dcache-lod"), CacheParseError::BadSuffix);
        assert_eq!(c_err("L1-dcache-load-store"), CacheParseError::BadSuffix);
        assert_eq!(c_err("L1-dcache-load-misses-x"), CacheParseError::BadSuffix);
        assert_eq!(c_err("L1-dcache-"), CacheParseError::BadSuffix);
        assert_eq!(
            c_err("iTLB-stores"),
            CacheParseError::InvalidOp { cache: ITLB }
        );
        assert_eq!(valid_op_names(ITLB), "load");
        assert_eq!(valid_op_names(L1I), "load, prefetch");
        assert_eq!(cache_name(L1I), "L1-icache");
        assert!(matches!(
            c_err("branch-prefetch-misses"),
            CacheParseError::InvalidOp { .. }
        ));
        assert!(matches!(
            c_err("L1-icache-write"),
            CacheParseError::InvalidOp { .. }
        ));
    }

    fn c_err(s: &str) -> CacheParseError {
        parse(s).expect_err(s)
    }
}
