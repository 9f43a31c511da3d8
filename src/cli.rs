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
}

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
