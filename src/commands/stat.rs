//! `pyperf stat`: parse the request, run it (repeatedly), print the report.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::Signal;

use crate::atomic_file::AtomicFile;
use crate::cli::StatArgs;
use crate::event::{self, EventGroup, EventSpec};
use crate::exit;
use crate::kernel::CounterReading;
use crate::stat::counters::CountOptions;
use crate::stat::format::{self, json::IntervalCounts, Format};
use crate::stat::session::{RunOutcome, Session, Snapshot, StatTarget};
use crate::stat::summary::{self, delta, Mean, StatReport};
use crate::target::signals::SignalWatcher;
use crate::target::ExitStatus;

/// Where the report goes: stderr (like perf) or a file that appears whole.
enum Sink {
    Stderr,
    File(AtomicFile),
}

impl Sink {
    fn write(&mut self, text: &str) -> anyhow::Result<()> {
        match self {
            Sink::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(text.as_bytes())?;
                err.flush()?;
            }
            Sink::File(file) => file.write_all(text.as_bytes())?,
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        if let Sink::File(file) = self {
            let path = file.path().display().to_string();
            file.commit()
                .with_context(|| format!("cannot write {path}"))?;
        }
        Ok(())
    }
}

fn parse_events(args: &StatArgs) -> anyhow::Result<Vec<EventGroup>> {
    if args.events.is_empty() {
        return Ok(event::default_stat_events());
    }
    let mut groups = Vec::new();
    for text in &args.events {
        groups.extend(event::parse_event_list(text).map_err(|e| exit::usage(e.to_string()))?);
    }
    Ok(groups)
}

fn parse_target(args: &StatArgs) -> anyhow::Result<StatTarget> {
    let target = match (&args.pid, &args.tid) {
        (Some(pids), _) => StatTarget::Pids(pids.clone()),
        (None, Some(tids)) => StatTarget::Tids(tids.clone()),
        (None, None) if args.command.is_empty() => {
            return Err(exit::usage(
                "no command given: use `pyperf stat [-e EVENTS] -- COMMAND [ARGS]` or `-p PID`",
            ))
        }
        (None, None) => StatTarget::Command(args.command.clone()),
    };
    if !matches!(target, StatTarget::Command(_)) && !args.command.is_empty() {
        return Err(exit::usage("give either a command or -p/-t, not both"));
    }
    if args.repeat > 1 && !matches!(target, StatTarget::Command(_)) {
        return Err(exit::usage(
            "-r repeats a command; it cannot be used with -p/-t",
        ));
    }
    Ok(target)
}

fn target_label(target: &StatTarget) -> String {
    let ids = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    match target {
        StatTarget::Command(argv) => {
            let words: Vec<String> = argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            format!("'{}'", words.join(" "))
        }
        StatTarget::Pids(pids) => format!("process id '{}'", ids(pids)),
        StatTarget::Tids(tids) => format!("thread id '{}'", ids(tids)),
    }
}

/// Turns cumulative `-I` snapshots into per-interval output.
struct IntervalPrinter<'a> {
    specs: &'a [(EventSpec, bool)],
    format: &'a Format,
    previous: Option<Snapshot>,
    printed_header: bool,
    json: Vec<IntervalCounts>,
}

impl IntervalPrinter<'_> {
    fn on_snapshot(&mut self, snapshot: &Snapshot, sink: &mut Sink) -> anyhow::Result<()> {
        let (before, since) = match &self.previous {
            Some(prev) => (prev.readings.clone(), prev.since_start),
            None => (vec![None; snapshot.readings.len()], Duration::ZERO),
        };
        let deltas: Vec<Option<CounterReading>> = snapshot
            .readings
            .iter()
            .zip(before.iter().chain(std::iter::repeat(&None)))
            .map(|(now, prev)| now.map(|n| prev.map_or(n, |p| delta(&n, &p))))
            .collect();
        let events = summary::summarize_events(self.specs, &[deltas]);
        let interval_ns = (snapshot.since_start - since).as_nanos() as f64;
        let time_s = snapshot.since_start.as_secs_f64();
        match self.format {
            Format::Table { big_num } => {
                if !self.printed_header {
                    sink.write(&format::table::interval_header())?;
                    self.printed_header = true;
                }
                sink.write(&format::table::render_interval(
                    time_s,
                    &events,
                    interval_ns,
                    *big_num,
                ))?;
            }
            Format::Csv { separator } => sink.write(&format::csv::render_interval(
                time_s,
                &events,
                interval_ns,
                separator,
            ))?,
            Format::Json => self.json.push(IntervalCounts {
                time_s,
                interval_ns,
                events,
            }),
        }
        self.previous = Some(snapshot.clone());
        Ok(())
    }
}

/// Runs `pyperf stat`; returns the exit code pyperf should end with.
pub fn run(args: &StatArgs) -> anyhow::Result<i32> {
    let groups = parse_events(args)?;
    let target = parse_target(args)?;
    let format = match (&args.separator, args.json) {
        (Some(sep), _) => Format::Csv {
            separator: sep.clone(),
        },
        (None, true) => Format::Json,
        (None, false) => Format::Table {
            big_num: !args.no_big_num,
        },
    };
    let mut sink = match &args.output {
        Some(path) => Sink::File(
            AtomicFile::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        ),
        None => Sink::Stderr,
    };
    let signals = SignalWatcher::install()?;
    let session = Session {
        groups: &groups,
        target: &target,
        options: CountOptions {
            inherit: !args.no_inherit,
        },
        interval: args.interval.map(Duration::from_millis),
        env: &[],
    };
    let plain_specs: Vec<(EventSpec, bool)> = groups
        .iter()
        .flat_map(|g| g.events.iter().map(|e| (e.clone(), false)))
        .collect();
    let mut printer = IntervalPrinter {
        specs: &plain_specs,
        format: &format,
        previous: None,
        printed_header: false,
        json: Vec::new(),
    };
    let mut outcomes: Vec<RunOutcome> = Vec::new();
    let mut print_error = None;
    for _ in 0..args.repeat {
        printer.previous = None;
        let outcome = session
            .run(&signals, &mut |snapshot| {
                if let Err(e) = printer.on_snapshot(snapshot, &mut sink) {
                    print_error.get_or_insert(e);
                }
            })
            .map_err(|e| exit::with_code(e.exit_code(), e.to_string()))?;
        let stop = outcome.interrupted_by == Some(Signal::SIGINT)
            || matches!(outcome.exit, Some(ExitStatus::Signaled(Signal::SIGINT)));
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    if let Some(e) = print_error {
        return Err(e);
    }
    let report = build_report(&target, &plain_specs, &outcomes);
    report_fallbacks(&report);
    let text = match (&format, args.interval.is_some()) {
        (Format::Json, _) => format::json::render(&report, &printer.json),
        // With -I the intervals were the output, as with perf.
        (_, true) => String::new(),
        (_, false) => format::render(&report, &format),
    };
    sink.write(&text)?;
    sink.finish()?;
    let last_exit = outcomes.last().and_then(|o| o.exit);
    if let Some(ExitStatus::Signaled(sig)) = last_exit {
        eprintln!("pyperf: the command was killed by {sig}");
    }
    Ok(last_exit.map_or(0, ExitStatus::exit_code))
}

fn build_report(
    target: &StatTarget,
    specs: &[(EventSpec, bool)],
    outcomes: &[RunOutcome],
) -> StatReport {
    let readings: Vec<Vec<Option<CounterReading>>> =
        outcomes.iter().map(|o| o.readings.clone()).collect();
    let specs: Vec<(EventSpec, bool)> = specs
        .iter()
        .enumerate()
        .map(|(i, (spec, _))| {
            (
                spec.clone(),
                outcomes
                    .iter()
                    .any(|o| o.user_only.get(i).copied().unwrap_or(false)),
            )
        })
        .collect();
    let elapsed: Vec<f64> = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).collect();
    let sum = |pick: fn(&(Duration, Duration)) -> Duration| -> Option<f64> {
        outcomes
            .iter()
            .map(|o| o.user_sys.as_ref().map(pick))
            .sum::<Option<Duration>>()
            .map(|d| d.as_secs_f64() / outcomes.len().max(1) as f64)
    };
    StatReport {
        target_label: target_label(target),
        command: match target {
            StatTarget::Command(argv) => Some(
                argv.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            ),
            _ => None,
        },
        runs: outcomes.len(),
        events: summary::summarize_events(&specs, &readings),
        elapsed: Mean::of(&elapsed),
        user_s: sum(|u| u.0),
        sys_s: sum(|u| u.1),
        exit: outcomes.last().and_then(|o| o.exit),
    }
}

/// Says once which events were cut down to user space because of permissions.
fn report_fallbacks(report: &StatReport) {
    let names: Vec<&str> = report
        .events
        .iter()
        .filter(|e| e.user_only_fallback)
        .map(|e| e.spec.name.as_str())
        .collect();
    if !names.is_empty() {
        eprintln!(
            "pyperf: kernel-level counting is not permitted here; counted user space only (as :u) for: {}. {}",
            names.join(", "),
            crate::stat::counters::permission_hint()
        );
    }
}
