//! clap definitions of every subcommand and flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pyperf",
    version,
    about = "perf_event_open profiler for Python: counters, sampling, mixed Python/native stacks",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count hardware and software events for a whole run, like `perf stat`.
    Stat(StatArgs),
    /// List the events pyperf knows, marking those that open on this machine.
    List(ListArgs),
    /// Sample a command (or a running process) with call stacks into a profile file.
    Record(RecordArgs),
    /// Top functions, hot lines or the call tree of a profile.
    Report(ReportArgs),
    /// An interactive SVG flame graph of a profile, to open in a browser.
    Flamegraph(FlamegraphArgs),
    /// Folded stacks (`root;caller;leaf count`), for any FlameGraph tool.
    Collapse(CollapseArgs),
    /// Every sample as text, like `perf script`.
    Script(ScriptArgs),
    /// Write a profile for another viewer: speedscope, pstats (snakeviz,
    /// gprof2dot), callgrind (KCacheGrind), firefox, pprof, chrome (Perfetto).
    Convert(ConvertArgs),
    /// Compare two profiles: a differential flame graph and the functions
    /// whose share changed most.
    Diff(DiffArgs),
    /// A live, refreshing view of the hottest functions of a command or
    /// running process (Python and native frames), like `py-spy top`.
    Top(TopArgs),
    /// Print the current mixed Python/native stack of every thread of a running process.
    Dump(DumpArgs),
}

/// The profile file every command uses unless told otherwise.
pub const DEFAULT_PROFILE: &str = "pyperf.data";

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pyperf stat -- python3 app.py\n  pyperf stat -e cycles,instructions,cache-misses -r 5 -- python3 app.py\n  pyperf stat -e task-clock,page-faults --json -p 1234"
)]
pub struct StatArgs {
    /// Events to count, comma-separated (repeatable): names from `pyperf list`,
    /// cache events, rNNNN, pmu/term=v/, with :u :k :h modifiers and {groups}.
    #[arg(short = 'e', long = "event", value_name = "EVENTS")]
    pub events: Vec<String>,

    /// Count the running processes with these ids (all their threads) until they exit or Ctrl-C.
    #[arg(short = 'p', long = "pid", value_name = "PID,...", value_delimiter = ',', value_parser = clap::value_parser!(i32).range(1..), conflicts_with = "tid")]
    pub pid: Option<Vec<i32>>,

    /// Count exactly these threads.
    #[arg(short = 't', long = "tid", value_name = "TID,...", value_delimiter = ',', value_parser = clap::value_parser!(i32).range(1..))]
    pub tid: Option<Vec<i32>>,

    /// Run the command N times; print means and relative standard deviations.
    #[arg(short = 'r', long = "repeat", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub repeat: u32,

    /// Print counts every MS milliseconds.
    #[arg(short = 'I', long = "interval-print", value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    pub interval: Option<u64>,

    /// Print perf-compatible separated values with this separator.
    #[arg(
        short = 'x',
        long = "field-separator",
        value_name = "SEP",
        conflicts_with = "json"
    )]
    pub separator: Option<String>,

    /// Print one JSON document (schema in README.md).
    #[arg(long)]
    pub json: bool,

    /// Write the counts to FILE instead of stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Count only the command's first task: not its threads or child processes.
    #[arg(short = 'i', long = "no-inherit")]
    pub no_inherit: bool,

    /// Print counts without thousands separators.
    #[arg(long = "no-big-num")]
    pub no_big_num: bool,

    /// The command to run (after `--`).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only list events whose name contains this text.
    pub filter: Option<String>,
}

/// What to sample and how: shared by `record` and `top`.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Events to sample, comma-separated (default: cycles where a PMU exists, else cpu-clock).
    #[arg(short = 'e', long = "event", value_name = "EVENTS")]
    pub events: Vec<String>,

    /// Samples per second per thread.
    #[arg(short = 'F', long = "freq", value_name = "HZ", conflicts_with = "count", value_parser = clap::value_parser!(u64).range(1..))]
    pub freq: Option<u64>,

    /// Sample every N events instead of a frequency.
    #[arg(short = 'c', long = "count", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Record call stacks, native and Python merged (same as --call-graph stop).
    #[arg(short = 'g')]
    pub call_graph_default: bool,

    /// How to capture call stacks: stop (stop the sampled thread, unwind its
    /// live stack with DWARF CFI and read its Python frames: exact, never cut
    /// short), dwarf[,STACK_BYTES] (copy the user stack with each sample, as
    /// perf does), fp (frame pointers), or none.
    #[arg(long = "call-graph", value_name = "MODE")]
    pub call_graph: Option<String>,

    /// Python frames only, no native ones (like py-spy without --native).
    #[arg(long = "no-native")]
    pub no_native: bool,

    /// Do not read Python frames from the interpreter.
    #[arg(long = "no-python", conflicts_with = "no_native")]
    pub no_python: bool,

    /// Also run CPython 3.12+ with perf trampolines (PYTHONPERFSUPPORT=1), so
    /// Python functions are named in /tmp/perf-PID.map; pyperf removes the map
    /// files afterwards. Off by default: it slows call-heavy code by 24-35%,
    /// and interpreter state already gives Python frames (with lines).
    #[arg(long = "perf-map")]
    pub perf_map: bool,

    /// Sample the running processes with these ids until they exit or Ctrl-C.
    #[arg(short = 'p', long = "pid", value_name = "PID,...", value_delimiter = ',', value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: Option<Vec<i32>>,

    /// Ring buffer size per CPU, in pages (a power of two).
    #[arg(short = 'm', long = "mmap-pages", value_name = "PAGES")]
    pub mmap_pages: Option<usize>,

    /// Sample only the command's first task: not its threads or child processes.
    #[arg(short = 'i', long = "no-inherit")]
    pub no_inherit: bool,

    /// Leave kernel frames out of the stacks.
    #[arg(long = "user-only")]
    pub user_only: bool,

    /// The command to run (after `--`).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pyperf record -g -- python3 app.py\n  pyperf record -F 499 -e cpu-clock --call-graph dwarf,16384 -o prof.pyperf -- ./a.out\n  pyperf record -g -p 1234"
)]
pub struct RecordArgs {
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// The profile file to write (an existing one is kept as FILE.old).
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = DEFAULT_PROFILE)]
    pub output: PathBuf,

    /// Write a file for another viewer instead of a profile (recorded to
    /// FILE.pyperf first, then converted); -o names the converted file.
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
}

/// A file format other tools open.
pub use crate::output::convert::Format as OutputFormat;

/// Which samples and frames a view shows: shared by the views and `diff`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Show this recorded event (default: the first one).
    #[arg(long = "event", value_name = "EVENT")]
    pub event: Option<String>,

    /// Include samples taken while a thread waited in the kernel.
    #[arg(long)]
    pub idle: bool,

    /// Show CPython's own frames (libpython), which are hidden by default
    /// between the Python frames they run.
    #[arg(long = "show-libpython")]
    pub show_libpython: bool,
}

/// Options every view of a profile shares.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The profile file.
    #[arg(value_name = "PROFILE", default_value = DEFAULT_PROFILE)]
    pub input: PathBuf,

    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub view: ViewArgs,

    /// Order rows by self share, total share, or sample count.
    #[arg(long, value_enum, default_value_t = SortKey::SelfShare)]
    pub sort: SortKey,

    /// Show at most N rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Show the call tree from the roots, like pyinstrument.
    #[arg(long, conflicts_with = "lines")]
    pub tree: bool,

    /// One row per source line instead of per function (find the hot line).
    #[arg(long)]
    pub lines: bool,

    /// Leave tree nodes below this percentage out.
    #[arg(long = "min-percent", value_name = "PCT", default_value_t = 0.5)]
    pub min_percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    #[value(name = "self")]
    SelfShare,
    #[value(name = "total")]
    TotalShare,
    Samples,
}

#[derive(Debug, Args)]
pub struct FlamegraphArgs {
    #[command(flatten)]
    pub view: ViewArgs,

    /// Where to write the SVG.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "flamegraph.svg"
    )]
    pub output: PathBuf,

    /// Reverse (icicle) graph: stacks merged from the leaf, hottest functions on top.
    #[arg(long)]
    pub reverse: bool,

    /// Draw top-down (roots at the top) without reversing the stacks.
    #[arg(long)]
    pub icicle: bool,

    /// One tower per thread.
    #[arg(long = "per-thread")]
    pub per_thread: bool,

    /// Title of the graph (default: the command and the event).
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct CollapseArgs {
    #[command(flatten)]
    pub view: ViewArgs,

    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Start every stack with its thread.
    #[arg(long = "per-thread")]
    pub per_thread: bool,

    /// Count sample weights (periods: ns for clocks) instead of samples.
    #[arg(long)]
    pub weights: bool,
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The profile file.
    #[arg(value_name = "PROFILE", default_value = DEFAULT_PROFILE)]
    pub input: PathBuf,

    /// Only this event (default: all).
    #[arg(long = "event", value_name = "EVENT")]
    pub event: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  pyperf convert prof.pyperf --format speedscope -o prof.json\n  pyperf convert prof.pyperf -f pstats -o prof.pstats && snakeviz prof.pstats\n  pyperf convert prof.pyperf -f callgrind -o callgrind.out.app && kcachegrind callgrind.out.app"
)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub view: ViewArgs,

    /// The format to write.
    #[arg(short = 'f', long = "format", value_enum, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Where to write it (default: pyperf.speedscope.json, pyperf.prof,
    /// callgrind.out.pyperf, pyperf.firefox.json, pyperf.pb.gz or
    /// pyperf.trace.json).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pyperf diff before.pyperf after.pyperf -o diff.svg")]
pub struct DiffArgs {
    /// The profile to compare against.
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,

    /// The profile to compare.
    #[arg(value_name = "AFTER")]
    pub after: PathBuf,

    /// Where to write the differential flame graph (SVG).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "diff.svg"
    )]
    pub output: PathBuf,

    #[command(flatten)]
    pub filter: FilterArgs,

    /// Rows of the table of changed functions.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Title of the graph (default: both commands).
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Keys: q or Ctrl-C quits, l switches between functions and lines.\nThe command's own output is shown when top ends.\n\nExamples:\n  pyperf top -- python3 app.py\n  pyperf top -p 1234\n  pyperf top -F 199 -o app.pyperf -- python3 app.py"
)]
pub struct TopArgs {
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Seconds between refreshes.
    #[arg(
        short = 'd',
        long = "delay",
        value_name = "SECONDS",
        default_value_t = 1.0
    )]
    pub delay: f64,

    /// One row per source line instead of per function (key l switches).
    #[arg(long)]
    pub lines: bool,

    /// Include samples taken while a thread waited in the kernel.
    #[arg(long)]
    pub idle: bool,

    /// Show CPython's own frames (libpython), hidden by default.
    #[arg(long = "show-libpython")]
    pub show_libpython: bool,

    /// Keep the recording as this profile file (default: a temporary file,
    /// removed at the end).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pyperf dump --pid 1234")]
pub struct DumpArgs {
    /// The process to look at (it is stopped for a moment).
    #[arg(short = 'p', long = "pid", value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: i32,

    /// Python frames only.
    #[arg(long = "no-native")]
    pub no_native: bool,

    /// Show CPython's own frames (libpython) too.
    #[arg(long = "show-libpython")]
    pub show_libpython: bool,

    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}
