//! `pyperf record`: sample a command or running processes into a profile file.

use std::path::Path;

use crate::cli::{RecordArgs, SamplingArgs};
use crate::event::{self, EventSpec};
use crate::exit;
use crate::record::options::{
    CallGraph, Rate, RecordOptions, DEFAULT_STACK_BYTES, MAX_STACK_BYTES,
};
use crate::record::sampler::SamplerError;
use crate::record::session::{self, RecordOutcome, RecordTarget};
use crate::target::signals::SignalWatcher;
use crate::target::ExitStatus;

/// Parses `--call-graph MODE`.
pub fn parse_call_graph(text: &str) -> Result<CallGraph, String> {
    let (mode, size) = text
        .split_once(',')
        .map_or((text, None), |(m, s)| (m, Some(s)));
    match (mode, size) {
        ("dwarf", None) => Ok(CallGraph::Dwarf {
            stack_bytes: DEFAULT_STACK_BYTES,
        }),
        ("dwarf", Some(size)) => {
            let bytes: u32 = size
                .parse()
                .map_err(|_| format!("'{size}' is not a stack size in bytes"))?;
            if bytes == 0 || bytes > MAX_STACK_BYTES {
                return Err(format!(
                    "stack size {bytes} is out of range: use 8 to {MAX_STACK_BYTES} bytes"
                ));
            }
            // The kernel wants a multiple of 8.
            Ok(CallGraph::Dwarf {
                stack_bytes: bytes.div_ceil(8) * 8,
            })
        }
        ("fp", None) => Ok(CallGraph::FramePointer),
        ("stop", None) => Ok(CallGraph::Stopped),
        ("none", None) => Ok(CallGraph::None),
        _ => Err(format!(
            "unknown call graph mode '{text}': use dwarf[,STACK_BYTES], fp or none"
        )),
    }
}

fn parse_events(args: &SamplingArgs) -> anyhow::Result<(Vec<EventSpec>, bool)> {
    if args.events.is_empty() {
        let cycles = event::parse_event_list("cycles").map_err(|e| exit::usage(e.to_string()))?;
        return Ok((cycles.into_iter().flat_map(|g| g.events).collect(), false));
    }
    let mut specs = Vec::new();
    for text in &args.events {
        let groups = event::parse_event_list(text).map_err(|e| exit::usage(e.to_string()))?;
        specs.extend(groups.into_iter().flat_map(|g| g.events));
    }
    Ok((specs, true))
}

fn options(args: &SamplingArgs, events: Vec<EventSpec>) -> anyhow::Result<RecordOptions> {
    let call_graph = match (&args.call_graph, args.call_graph_default) {
        (Some(text), _) => parse_call_graph(text).map_err(exit::usage)?,
        (None, true) => CallGraph::Stopped,
        (None, false) => CallGraph::None,
    };
    let rate = match (args.count, args.freq) {
        (Some(period), _) => Rate::Period(period),
        (None, Some(hz)) => Rate::Frequency(hz),
        (None, None) => Rate::Frequency(999),
    };
    if let Rate::Frequency(hz) = rate {
        let max = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_sample_rate")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(max) = max.filter(|&max| hz > max) {
            return Err(exit::usage(format!("-F {hz} is above the kernel's limit of {max} samples per second (kernel.perf_event_max_sample_rate): use a lower -F")));
        }
    }
    let mmap_pages = args.mmap_pages.unwrap_or(match call_graph {
        CallGraph::Dwarf { .. } => 512,
        _ => 64,
    });
    if !mmap_pages.is_power_of_two() {
        return Err(exit::usage(format!(
            "-m {mmap_pages}: the ring buffer size must be a power of two (e.g. 64, 128, 256)"
        )));
    }
    Ok(RecordOptions {
        events,
        rate,
        call_graph,
        mmap_pages,
        inherit: !args.no_inherit,
        kernel_frames: !args.user_only,
        python: !args.no_python,
        native: !args.no_native,
        perf_map: args.perf_map,
    })
}

fn target(args: &SamplingArgs) -> anyhow::Result<RecordTarget> {
    match (&args.pid, args.command.is_empty()) {
        (Some(_), false) => Err(exit::usage("give either a command or -p PID, not both")),
        (Some(pids), true) => Ok(RecordTarget::Pids(pids.clone())),
        (None, true) => Err(exit::usage(
            "no command given: use `pyperf record [-g] -- COMMAND [ARGS]` or `-p PID`",
        )),
        (None, false) => Ok(RecordTarget::Command(args.command.clone())),
    }
}

/// Events that a ptrace stop of the sampled thread itself makes happen.
fn stop_triggers(event: &EventSpec) -> bool {
    use perf_event_open_sys::bindings as b;
    event.type_ == b::PERF_TYPE_SOFTWARE
        && [
            b::PERF_COUNT_SW_CONTEXT_SWITCHES,
            b::PERF_COUNT_SW_CPU_MIGRATIONS,
        ]
        .iter()
        .any(|&id| event.config == u64::from(id))
}

/// The advice for an event that cannot be sampled here.
fn unsupported_advice(event: &str) -> String {
    format!(
        "event '{event}' cannot be sampled on this machine (no hardware PMU or no sampling interrupt for it, as on most VMs); \
         sample time instead with `-e cpu-clock`, or count the event with `pyperf stat -e {event}`"
    )
}

/// Runs `pyperf record`; returns the exit code pyperf should end with.
pub fn run(args: &RecordArgs) -> anyhow::Result<i32> {
    // With --format, record a profile beside the output, then convert it.
    let plan = args
        .format
        .map(|format| super::convert::RecordingPlan::new(format, &args.output));
    let profile_path = plan.as_ref().map_or(args.output.as_path(), |p| &p.profile);
    let signals = SignalWatcher::install()?;
    let outcome = record_to(&args.sampling, profile_path, &signals)?;
    print_summary(&outcome, &profile_path.display().to_string());
    if let Some(ExitStatus::Signaled(sig)) = outcome.exit {
        eprintln!("pyperf: the command was killed by {sig}");
    }
    if let Some(plan) = plan {
        plan.convert()?;
    }
    Ok(outcome.exit.map_or(0, ExitStatus::exit_code))
}

/// Records the target of `args` into `output` (the default hardware event
/// falling back to cpu-clock, visibly), as `record` and `top` do.
pub(crate) fn record_to(
    args: &SamplingArgs,
    output: &Path,
    signals: &SignalWatcher,
) -> anyhow::Result<RecordOutcome> {
    let (events, explicit) = parse_events(args)?;
    let mut options = options(args, events)?;
    if options.call_graph == CallGraph::Stopped {
        if let Some(event) = options.events.iter().find(|e| stop_triggers(e)) {
            // Stopping a thread is itself a context switch: sampling those
            // with stops would feed on itself.
            eprintln!(
                "pyperf: '{}' counts what stopping a thread causes; recording it with --call-graph dwarf (no Python frames) instead",
                event.name
            );
            options.call_graph = CallGraph::Dwarf {
                stack_bytes: DEFAULT_STACK_BYTES,
            };
            options.mmap_pages = options.mmap_pages.max(512);
        }
    }
    let target = target(args)?;
    let env: Vec<(String, String)> = if options.perf_map {
        vec![("PYTHONPERFSUPPORT".into(), "1".into())]
    } else {
        Vec::new()
    };
    if !explicit && !options.events.iter().all(crate::kernel::probe::can_sample) {
        // Like perf: the default hardware event falls back to cpu-clock, visibly,
        // and before anything is started.
        let names: Vec<&str> = options.events.iter().map(|e| e.name.as_str()).collect();
        eprintln!("pyperf: '{}' cannot be sampled on this machine (no hardware PMU); sampling cpu-clock instead", names.join(","));
        options.events = event::parse_event_list("cpu-clock")
            .map_err(|e| exit::usage(e.to_string()))?
            .into_iter()
            .flat_map(|g| g.events)
            .collect();
    }
    session::record(&options, &target, output, &env, signals).map_err(|e| match &e {
        session::RecordError::Sampler(SamplerError::Unsupported { event, .. }) => {
            exit::with_code(1, unsupported_advice(event))
        }
        _ => exit::with_code(e.exit_code(), e.to_string()),
    })
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// The one-paragraph summary perf users expect after a recording.
fn print_summary(outcome: &RecordOutcome, path: &str) {
    let meta = &outcome.meta;
    let samples = outcome.written.samples;
    let per_sample = outcome
        .written
        .bytes_per_sample()
        .map_or(String::new(), |b| format!(", {b:.1} bytes/sample"));
    let plural = |n: u64, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    eprintln!(
        "pyperf: {} ({} lost, {} truncated) from {} in {} written to {path} ({}{per_sample}).",
        plural(samples, "sample"),
        meta.lost_samples,
        plural(meta.truncated_stacks, "stack"),
        plural(outcome.threads as u64, "thread"),
        plural(meta.processes.len() as u64, "process").replace("processs", "processes"),
        human_bytes(outcome.written.file_bytes),
    );
    if meta.merged_samples > 0 {
        let consistent = meta.merged_samples - meta.inconsistent_merges;
        eprintln!(
            "pyperf: {} of {} samples with Python frames ({:.2}%) were merged consistently (the stop saw the sampled instant, and every eval-loop frame had its Python frames).",
            consistent,
            meta.merged_samples,
            100.0 * consistent as f64 / meta.merged_samples as f64
        );
    }
    if outcome.counts.unpaired > 0 {
        eprintln!(
            "pyperf: {} written without stacks: their thread ended before it could be stopped and read",
            plural(outcome.counts.unpaired, "sample")
        );
    }
    if outcome.counts.unwind_failed > 0 {
        eprintln!(
            "pyperf: {} could not be unwound past the first frame (code without unwind information or frame pointers)",
            plural(outcome.counts.unwind_failed, "sample")
        );
    }
    if meta.lost_samples > 0 {
        eprintln!("pyperf: the kernel dropped {} samples because pyperf fell behind; use a larger ring (-m) or a lower rate (-F)", meta.lost_samples);
    }
    if outcome.user_only {
        eprintln!(
            "pyperf: kernel frames were not permitted ({}); stacks are user space only",
            crate::stat::counters::permission_hint()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_graph_modes() {
        assert_eq!(
            parse_call_graph("dwarf"),
            Ok(CallGraph::Dwarf { stack_bytes: 8192 })
        );
        assert_eq!(
            parse_call_graph("dwarf,16384"),
            Ok(CallGraph::Dwarf { stack_bytes: 16384 })
        );
        assert_eq!(
            parse_call_graph("dwarf,100"),
            Ok(CallGraph::Dwarf { stack_bytes: 104 })
        );
        assert_eq!(parse_call_graph("fp"), Ok(CallGraph::FramePointer));
        assert_eq!(parse_call_graph("stop"), Ok(CallGraph::Stopped));
        assert!(parse_call_graph("dwarf,0").is_err());
        assert!(parse_call_graph("dwarf,70000").is_err());
        assert!(parse_call_graph("lbr").is_err());
        assert!(parse_call_graph("fp,12").is_err());
    }
}
