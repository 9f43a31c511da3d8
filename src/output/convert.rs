//! Converting a profile into the files other tools open: one entry point
//! ([`write_converted`]) over the per-format modules, each written whole or
//! not at all.

use std::io::Write;
use std::path::Path;

use super::select::Selection;
use super::{callgrind, chrome, firefox, pprof, pstats, speedscope, OutputError};
use crate::atomic_file::AtomicFile;
use crate::profile::Profile;

/// A file format other tools read (also the values `--format` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// speedscope's JSON: one sampled profile per thread.
    Speedscope,
    /// Python's pstats (marshal) file: snakeviz, gprof2dot, pyprof2calltree.
    Pstats,
    /// Callgrind profile: KCacheGrind, QCacheGrind, callgrind_annotate.
    Callgrind,
    /// Firefox Profiler processed profile (JSON).
    Firefox,
    /// pprof protobuf, gzipped: `go tool pprof`, Pyroscope, Grafana.
    Pprof,
    /// Chrome trace-event JSON: Perfetto, chrome://tracing.
    Chrome,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Speedscope => "speedscope",
            Format::Pstats => "pstats",
            Format::Callgrind => "callgrind",
            Format::Firefox => "firefox",
            Format::Pprof => "pprof",
            Format::Chrome => "chrome",
        }
    }

    /// The output file name used when none is given.
    pub fn default_file_name(self) -> &'static str {
        match self {
            Format::Speedscope => "pyperf.speedscope.json",
            Format::Pstats => "pyperf.prof",
            // KCacheGrind recognises callgrind.out.* in its file dialog.
            Format::Callgrind => "callgrind.out.pyperf",
            Format::Firefox => "pyperf.firefox.json",
            Format::Pprof => "pyperf.pb.gz",
            Format::Chrome => "pyperf.trace.json",
        }
    }

    /// How to open a file of this format, for the message after writing it.
    pub fn how_to_open(self, path: &Path) -> String {
        let p = path.display();
        match self {
            Format::Speedscope => {
                format!("open it at https://www.speedscope.app or run `speedscope {p}`")
            }
            Format::Pstats => {
                format!("run `snakeviz {p}`, or `gprof2dot -f pstats {p} | dot -Tsvg -o graph.svg`")
            }
            Format::Callgrind => format!("run `kcachegrind {p}` or `callgrind_annotate {p}`"),
            Format::Firefox => {
                "load it at https://profiler.firefox.com (Load a profile from file)".into()
            }
            Format::Pprof => format!("run `go tool pprof -http=: {p}`"),
            Format::Chrome => "open it at https://ui.perfetto.dev (Open trace file)".into(),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Options every conversion shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConvertOptions<'a> {
    /// Event, idle samples and hidden frames. pprof holds every event as
    /// its own sample type unless one is named; the others show one event
    /// (the named one, or the first).
    pub selection: Selection<'a>,
}

/// Writes `profile` in `format` to `out`.
pub fn write_format(
    profile: &Profile,
    format: Format,
    opts: &ConvertOptions<'_>,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    match format {
        Format::Speedscope => speedscope::write_speedscope(profile, opts, out),
        Format::Pstats => pstats::write_pstats(profile, opts, out),
        Format::Callgrind => callgrind::write_callgrind(profile, opts, out),
        Format::Firefox => firefox::write_firefox(profile, opts, out),
        Format::Pprof => pprof::write_pprof(profile, opts, out),
        Format::Chrome => chrome::write_chrome_trace(profile, opts, out),
    }
}

/// Writes `profile` in `format` to `path`, whole or not at all.
pub fn write_converted(
    path: &Path,
    profile: &Profile,
    format: Format,
    opts: &ConvertOptions<'_>,
) -> Result<(), OutputError> {
    let err = |source| OutputError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = AtomicFile::create(path).map_err(err)?;
    write_format(profile, format, opts, &mut file).map_err(|e| match e {
        OutputError::Output(source) => err(source),
        other => other,
    })?;
    file.commit().map_err(err)
}
