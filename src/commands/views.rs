//! `report`, `flamegraph`, `collapse`, `script`: views of a profile file,
//! and [`load`], which every view of a file starts with.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::progress::Progress;
use crate::atomic_file::AtomicFile;
use crate::cli::{CollapseArgs, FilterArgs, FlamegraphArgs, ReportArgs, ScriptArgs, SortKey};
use crate::exit;
use crate::output::{
    self, CollapseOptions, FlamegraphOptions, ReportOptions, ReportView, ScriptOptions, Selection,
    SortBy, WeightMode,
};
use crate::profile::{self, Frame, FrameKind, Profile};
use crate::symbols::{Symbolizer, SymbolizerOptions};

/// Reads a profile, saying so when the recording was cut short.
pub fn load(path: &Path) -> anyhow::Result<Profile> {
    if !path.exists() {
        return Err(exit::with_code(
            1,
            format!(
                "{}: no such profile; record one with `pyperf record -g -o {} -- COMMAND`",
                path.display(),
                path.display()
            ),
        ));
    }
    // Frames a killed recording never symbolized are resolved from the binaries on disk.
    let mut symbolizer = Symbolizer::new(SymbolizerOptions::default());
    let progress = Progress::start(format!("reading {}", path.display()));
    let mut resolver = progress.resolver(&mut symbolizer);
    let outcome = profile::read_profile(path, Some(&mut resolver))
        .map_err(|e| exit::with_code(1, e.to_string()))?;
    drop(progress);
    for warning in symbolizer.take_warnings() {
        eprintln!("pyperf: {warning}");
    }
    if !outcome.complete {
        eprintln!("pyperf: {} is incomplete (the recording was interrupted); showing the samples it holds", path.display());
    }
    let mut profile = outcome.profile;
    profile::idle::mark_idle_samples(&mut profile);
    Ok(profile)
}

/// Hides CPython's own native frames: the Python frames merged in their
/// place say what the interpreter was running.
pub(crate) fn not_interpreter(frame: &Frame) -> bool {
    frame.kind != FrameKind::Native
        || !frame
            .module
            .as_deref()
            .is_some_and(crate::python::is_interpreter_binary)
}

/// The selection the view flags ask for.
pub(crate) fn selection(filter: &FilterArgs) -> Selection<'_> {
    filtered(filter.event.as_deref(), filter.idle, filter.show_libpython)
}

/// A selection of one event (or the first), with idle samples and CPython's
/// own frames hidden unless asked for.
pub(crate) fn filtered(event: Option<&str>, idle: bool, show_libpython: bool) -> Selection<'_> {
    Selection {
        event,
        hide_idle: !idle,
        keep_frame: if show_libpython {
            None
        } else {
            Some(&not_interpreter)
        },
    }
}

/// An output failure as pyperf reports it (exit code 1).
pub(crate) fn output_error(e: output::OutputError) -> anyhow::Error {
    exit::with_code(1, e.to_string())
}

pub fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    let profile = load(&args.view.input)?;
    let opts = ReportOptions {
        selection: selection(&args.view.filter),
        view: if args.tree {
            ReportView::Tree
        } else if args.lines {
            ReportView::Lines
        } else {
            ReportView::Functions
        },
        sort: match args.sort {
            SortKey::SelfShare => SortBy::SelfShare,
            SortKey::TotalShare => SortBy::TotalShare,
            SortKey::Samples => SortBy::Samples,
        },
        limit: args.limit,
        min_percent: args.min_percent,
    };
    let text = output::render_report(&profile, &opts).map_err(output_error)?;
    write_stdout(text.as_bytes())?;
    Ok(0)
}

pub fn flamegraph(args: &FlamegraphArgs) -> anyhow::Result<i32> {
    let profile = load(&args.view.input)?;
    let opts = FlamegraphOptions {
        collapse: CollapseOptions {
            selection: selection(&args.view.filter),
            per_thread: args.per_thread,
            ..CollapseOptions::default()
        },
        title: args.title.as_deref(),
        icicle: args.icicle || args.reverse,
        reverse_stacks: args.reverse,
        ..FlamegraphOptions::default()
    };
    output::write_flamegraph(&args.output, &profile, &opts).map_err(output_error)?;
    eprintln!(
        "pyperf: wrote {} (open it in a browser: click to zoom, Ctrl-F to search)",
        args.output.display()
    );
    Ok(0)
}

pub fn collapse(args: &CollapseArgs) -> anyhow::Result<i32> {
    let profile = load(&args.view.input)?;
    let opts = CollapseOptions {
        selection: selection(&args.view.filter),
        per_thread: args.per_thread,
        weights: if args.weights {
            WeightMode::Weight
        } else {
            WeightMode::Samples
        },
        ..CollapseOptions::default()
    };
    match &args.output {
        Some(path) => {
            let mut file = AtomicFile::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            output::write_folded(&profile, &opts, &mut file).map_err(output_error)?;
            file.commit()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            output::write_folded(&profile, &opts, &mut out).map_err(output_error)?;
        }
    }
    Ok(0)
}

pub fn script(args: &ScriptArgs) -> anyhow::Result<i32> {
    let profile = load(&args.input)?;
    let opts = ScriptOptions {
        selection: Selection {
            event: args.event.as_deref(),
            hide_idle: false,
            keep_frame: None,
        },
        ..ScriptOptions::default()
    };
    let mut out = std::io::stdout().lock();
    output::write_script(&profile, &opts, &mut out).map_err(output_error)?;
    Ok(0)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
