//! Everything that can be wrong with an event description. Each message is one line,
//! names the offending text, and says what to write instead.

/// Why an event list or event name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("empty event list: name at least one event (run 'pyperf list' to see them)")]
    EmptyList,

    #[error("empty event at column {column} of '{input}': remove the stray ',' or ':'")]
    EmptyEvent { input: String, column: usize },

    #[error("unknown event '{name}'{} (run 'pyperf list' to see all events)", did_you_mean(.suggestions))]
    UnknownEvent {
        name: String,
        suggestions: Vec<String>,
    },

    #[error("unexpected '}}' at column {column} of '{input}': no group is open")]
    StrayCloseBrace { input: String, column: usize },

    #[error("unclosed '{{' at column {column} of '{input}': end the group with '}}'")]
    UnclosedGroup { input: String, column: usize },

    #[error("nested '{{' at column {column} of '{input}': groups cannot contain groups")]
    NestedGroup { input: String, column: usize },

    #[error("unexpected '{{' at column {column} of '{input}': a group starts a new event, put a ',' before it")]
    MisplacedOpenBrace { input: String, column: usize },

    #[error("empty group at column {column} of '{input}': a group needs at least one event")]
    EmptyGroup { input: String, column: usize },

    #[error("unexpected text after '}}' at column {column} of '{input}': a group may only be followed by ':modifiers' and ','")]
    BadGroupSuffix { input: String, column: usize },

    #[error("bad raw event '{text}': {why} (write 'r' and hex digits, e.g. r01c2)")]
    BadRaw { text: String, why: String },

    #[error("unknown modifier '{modifier}' in '{event}': pyperf accepts u (user), k (kernel), h (hypervisor) and p, pp, ppp (precise)")]
    UnknownModifier { event: String, modifier: char },

    #[error("modifier '{modifier}' repeated in '{event}': give each modifier once")]
    RepeatedModifier { event: String, modifier: char },

    #[error("'{event}' looks like a tracepoint (subsystem:event), which pyperf does not support; after ':' only the modifiers u, k, h, p may follow")]
    Tracepoint { event: String },

    #[error("too many 'p' modifiers in '{event}': the most precise level is ppp")]
    TooPrecise { event: String },

    #[error("'{event}' is not a cache event perf counts: {cache} supports {valid} only")]
    InvalidCacheOp {
        event: String,
        cache: String,
        valid: String,
    },

    #[error("unknown PMU '{pmu}' in '{event}' (nothing at {dir}); available PMUs: {}", .available.join(", "))]
    UnknownPmu {
        pmu: String,
        event: String,
        dir: String,
        available: Vec<String>,
    },

    #[error("missing closing '/' in '{event}': PMU events are written pmu/term=value,.../")]
    UnclosedPmu { event: String },

    #[error("malformed term '{term}' in '{event}': write name or name=value")]
    BadTerm { term: String, event: String },

    #[error("unknown term '{term}' for PMU '{pmu}' in '{event}'; valid terms: {}{}", .valid.join(", "), events_hint(.events))]
    UnknownTerm {
        pmu: String,
        term: String,
        event: String,
        valid: Vec<String>,
        events: Vec<String>,
    },

    #[error("term '{term}' in '{event}' is not supported by pyperf: use config, config1, config2, name or the PMU's format terms")]
    UnsupportedTerm { term: String, event: String },

    #[error("bad value '{value}' for term '{term}' in '{event}': write a decimal or 0x-prefixed hex number below 2^64")]
    BadTermValue {
        term: String,
        value: String,
        event: String,
    },

    #[error("value {value:#x} of term '{term}' in '{event}' does not fit its {bits}-bit field (maximum {max:#x})")]
    ValueTooWide {
        term: String,
        event: String,
        value: u64,
        bits: u32,
        max: u64,
    },

    #[error("event '{event}' needs a value for '{term}': add {term}=N inside the slashes")]
    MissingTermValue { term: String, event: String },

    #[error("cannot read {path}: {reason}")]
    Sysfs { path: String, reason: String },

    #[error("malformed PMU description in {path}: '{content}' ({why})")]
    BadSysfs {
        path: String,
        content: String,
        why: String,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", suggestions.join(", "))
    }
}

/// Lists a PMU's named events after the valid terms, capped so the message stays one line.
fn events_hint(events: &[String]) -> String {
    const SHOWN: usize = 12;
    if events.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "; or one of its events: {}",
        events[..events.len().min(SHOWN)].join(", ")
    );
    if events.len() > SHOWN {
        s.push_str(&format!(", ... ({} more)", events.len() - SHOWN));
    }
    s
}
