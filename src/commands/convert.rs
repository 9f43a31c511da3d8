//! `convert` (a profile into another viewer's format), `record --format`
//! (record, then convert), and `diff` (two profiles compared).

use std::path::{Path, PathBuf};

use super::progress::Progress;
use super::views::{load, not_interpreter, output_error, selection};
use crate::cli::{ConvertArgs, DiffArgs, DEFAULT_PROFILE};
use crate::exit;
use crate::output::{self, ConvertOptions, DiffOptions, Format, Selection};
use crate::profile::Profile;

/// Converts with a spinner, then says where the file is and how to open it.
fn write(
    profile: &Profile,
    format: Format,
    selection: Selection<'_>,
    path: &Path,
) -> anyhow::Result<()> {
    let progress = Progress::start(format!("writing {} ({format})", path.display()));
    output::write_converted(path, profile, format, &ConvertOptions { selection })
        .map_err(output_error)?;
    drop(progress);
    eprintln!(
        "pyperf: wrote {} ({format}); {}",
        path.display(),
        format.how_to_open(path)
    );
    Ok(())
}

/// Runs `pyperf convert`.
pub fn convert(args: &ConvertArgs) -> anyhow::Result<i32> {
    let format = args.format;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format.default_file_name()));
    let profile = load(&args.view.input)?;
    write(&profile, format, selection(&args.view.filter), &path)?;
    Ok(0)
}

/// Where `record --format` records and what it then writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPlan {
    pub format: Format,
    /// The converted file (`-o`, or the format's default name).
    pub output: PathBuf,
    /// The profile recorded first: the output's name plus `.pyperf`. It
    /// keeps the streamed file's guarantees (a killed run leaves a readable
    /// prefix) and is removed once converted.
    pub profile: PathBuf,
}

impl RecordingPlan {
    /// The plan for `--format format -o output` (`output` left at the
    /// profile default means the format's default name).
    pub fn new(format: Format, output: &Path) -> RecordingPlan {
        let output = if output == Path::new(DEFAULT_PROFILE) {
            PathBuf::from(format.default_file_name())
        } else {
            output.to_path_buf()
        };
        let mut profile = output.clone().into_os_string();
        profile.push(".pyperf");
        RecordingPlan {
            format,
            output,
            profile: PathBuf::from(profile),
        }
    }

    /// Converts the recorded profile and removes it; on failure it is kept
    /// and the error says so.
    pub fn convert(&self) -> anyhow::Result<()> {
        let keep = |e: anyhow::Error| {
            exit::with_code(
                1,
                format!(
                    "{e:#}\npyperf: the recording is kept in {}; convert it with `pyperf convert {} --format {} -o FILE`",
                    self.profile.display(),
                    self.profile.display(),
                    self.format
                ),
            )
        };
        let profile = load(&self.profile).map_err(keep)?;
        // As the views show a profile by default: the first event, without
        // idle samples and CPython's own frames.
        let selection = Selection {
            event: None,
            hide_idle: true,
            keep_frame: Some(&not_interpreter),
        };
        write(&profile, self.format, selection, &self.output).map_err(keep)?;
        if let Err(e) = std::fs::remove_file(&self.profile) {
            eprintln!(
                "pyperf: cannot remove the intermediate profile {}: {e}",
                self.profile.display()
            );
        }
        Ok(())
    }
}

/// Runs `pyperf diff`.
pub fn diff(args: &DiffArgs) -> anyhow::Result<i32> {
    let before = load(&args.before)?;
    let after = load(&args.after)?;
    let opts = DiffOptions {
        selection: selection(&args.filter),
        title: args.title.as_deref(),
        limit: args.limit,
    };
    let table = output::render_diff_table(&before, &after, &opts).map_err(output_error)?;
    output::write_diff_flamegraph(&args.output, &before, &after, &opts).map_err(output_error)?;
    super::views::write_stdout(table.as_bytes())?;
    eprintln!(
        "pyperf: wrote {} (differential flame graph: open it in a browser)",
        args.output.display()
    );
    Ok(0)
}
