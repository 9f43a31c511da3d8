//! Outputs: every view is computed from a [`Profile`](crate::profile::Profile)
//! alone, one module per format.
//!
//! - [`collapse`]: folded stacks (`a;b;c 12`);
//! - [`flamegraph`]: interactive SVG flame graph (inferno);
//! - [`report`]: top functions, hot lines, call tree, as text;
//! - [`script`]: perf-script-like text, one block per sample;
//! - files other tools open, behind [`convert`]: [`speedscope`], [`pstats`]
//!   (snakeviz, gprof2dot), [`callgrind`] (KCacheGrind), [`firefox`]
//!   (Firefox Profiler), [`pprof`], [`chrome`] (Perfetto);
//! - [`diff`]: differential flame graph and share changes of two profiles;
//! - [`top`]: the live table of `pyperf top`.
//!
//! Shared pieces: [`label`] (how frames are written, one convention for all
//! outputs) and [`Selection`] (event, idle samples, hidden frames).

mod aggregate;
pub mod callgrind;
pub mod chrome;
pub mod collapse;
pub mod convert;
pub mod diff;
pub mod firefox;
pub mod flamegraph;
pub mod label;
pub mod pprof;
pub mod pstats;
pub mod report;
pub mod script;
mod select;
pub mod speedscope;
pub mod top;

use std::io;
use std::path::PathBuf;

pub use collapse::{folded_lines, write_folded, CollapseOptions, WeightMode};
pub use convert::{write_converted, write_format, ConvertOptions, Format};
pub use diff::{render_diff_table, write_diff_flamegraph, DiffOptions};
pub use flamegraph::{render_flamegraph, write_flamegraph, FlamegraphOptions};
pub use label::LabelOptions;
pub use report::{render_report, ReportOptions, ReportView, SortBy};
pub use script::{write_script, ScriptOptions};
pub use select::{Selection, NO_FRAMES};
pub use top::{render_top_rows, top_table, TopOptions, TopTable};

/// Failure to produce an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("no event named {name:?} in this profile; recorded events: {available}")]
    UnknownEvent { name: String, available: String },
    #[error(
        "no samples of {event} to show (the profile is empty, or the filters removed every sample)"
    )]
    NoSamples { event: String },
    #[error("cannot write {path}: {source}")]
    WriteFile { path: PathBuf, source: io::Error },
    #[error("cannot write output: {0}")]
    Output(io::Error),
    #[error("flame graph rendering failed: {0}")]
    Render(String),
    #[error("cannot build the {format} file: {detail}")]
    Convert {
        format: &'static str,
        detail: String,
    },
}

/// Writes `bytes` to `path` whole or not at all.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), OutputError> {
    let err = |source| OutputError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = crate::atomic_file::AtomicFile::create(path).map_err(err)?;
    std::io::Write::write_all(&mut file, bytes).map_err(err)?;
    file.commit().map_err(err)
}
