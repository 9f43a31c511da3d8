//! Interactive SVG flame graphs drawn by inferno from the folded stacks
//! (search with Ctrl-F or the Search button, click a box to zoom).
//!
//! Colours tell code apart by kind: Python green (library code in
//! site-packages or the standard library aqua), native yellow, kernel orange,
//! markers and thread roots grey; shades vary by function name, so one
//! function keeps one shade across its lines and across graphs.
//!
//! Two independent ways to turn the picture around:
//! - `icicle`: the same graph drawn top-down, roots at the top (what most
//!   people call an icicle graph; inferno's `--inverted`);
//! - `reverse_stacks`: every stack reversed before merging, so the bottom row
//!   holds the functions that were running and above them whoever called them
//!   (a "reverse" or bottom-up flame graph; inferno's `--reverse`).
//!
//! Both together give the common "reverse icicle" view of hot leaves.

use std::path::Path;

use inferno::flamegraph::color::{Color, MultiPalette, Palette, PaletteMap};
use inferno::flamegraph::{self as inferno_fg, Direction};

use super::collapse::{fold, CollapseOptions, WeightMode};
use super::label::{folded_safe, frame_label, profile_title};
use super::select::View;
use super::OutputError;
use crate::profile::{Frame, FrameKind, Profile};

/// Options of the flame graph.
#[derive(Debug, Clone, Copy)]
pub struct FlamegraphOptions<'a> {
    /// Event, filters, per-thread roots and what boxes measure.
    pub collapse: CollapseOptions<'a>,
    /// Title; by default the command and the event.
    pub title: Option<&'a str>,
    /// Draw top-down (icicle graph).
    pub icicle: bool,
    /// Merge stacks leaf first (bottom-up view).
    pub reverse_stacks: bool,
    /// Image width in pixels; `None` scales with the browser window.
    pub width: Option<usize>,
    /// Omit boxes narrower than this percentage of the total.
    pub min_width_percent: f64,
}

impl Default for FlamegraphOptions<'_> {
    fn default() -> Self {
        FlamegraphOptions {
            collapse: CollapseOptions::default(),
            title: None,
            icicle: false,
            reverse_stacks: false,
            width: None,
            min_width_percent: 0.1,
        }
    }
}

/// Renders the flame graph SVG in memory.
pub fn render_flamegraph(
    profile: &Profile,
    opts: &FlamegraphOptions<'_>,
) -> Result<Vec<u8>, OutputError> {
    let view = View::one_event(profile, &opts.collapse.selection)?;
    let folded = fold(&view, &opts.collapse);
    if folded.is_empty() {
        return Err(OutputError::NoSamples {
            event: view.event_name().to_string(),
        });
    }
    let lines: Vec<String> = folded
        .iter()
        .map(|f| format!("{} {}", f.line, f.count))
        .collect();
    let mut palette = palette_for(&view, opts);
    let mut o = inferno_fg::Options::default();
    o.title = match opts.title {
        Some(t) => t.to_string(),
        None => profile_title(profile, view.event_name()),
    };
    o.subtitle = Some(
        "Python: green (libraries: aqua) · native: yellow · kernel: orange · click to zoom, Ctrl-F to search"
            .into(),
    );
    o.count_name = match opts.collapse.weights {
        WeightMode::Samples => "samples".into(),
        WeightMode::Weight => view
            .event
            .and_then(|e| profile.events.get(usize::from(e)))
            .map_or_else(|| "events".into(), |e| e.unit.clone()),
    };
    o.direction = if opts.icicle {
        Direction::Inverted
    } else {
        Direction::Straight
    };
    o.reverse_stack_order = opts.reverse_stacks;
    o.no_sort = !opts.reverse_stacks; // lines are already sorted
    o.image_width = opts.width;
    o.min_width = opts.min_width_percent;
    o.colors = Palette::Multi(MultiPalette::Java);
    o.hash = true;
    o.palette_map = Some(&mut palette);
    let mut svg = Vec::new();
    inferno_fg::from_lines(&mut o, lines.iter().map(String::as_str), &mut svg)
        .map_err(|e| OutputError::Render(e.to_string()))?;
    Ok(svg)
}

/// Renders the flame graph and writes it to `path` whole or not at all.
pub fn write_flamegraph(
    path: &Path,
    profile: &Profile,
    opts: &FlamegraphOptions<'_>,
) -> Result<(), OutputError> {
    let svg = render_flamegraph(profile, opts)?;
    super::write_file(path, &svg)
}

/// A colour for every label that can appear, chosen by frame kind.
fn palette_for(view: &View<'_>, opts: &FlamegraphOptions<'_>) -> PaletteMap {
    let mut map = PaletteMap::default();
    for id in 0..view.frame_count() as u32 {
        let frame = view.frame(id);
        let label = folded_safe(&frame_label(frame, opts.collapse.labels));
        map.insert(label, shade(hue_of(frame), &frame.function));
    }
    if opts.collapse.per_thread {
        for t in 0..view.profile.threads.len() as u32 {
            let label = folded_safe(&view.thread_label(t));
            let colour = shade(Hue::Grey, &label);
            map.insert(label, colour);
        }
    }
    map
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hue {
    Green,
    Aqua,
    Yellow,
    Orange,
    Grey,
}

fn hue_of(frame: &Frame) -> Hue {
    match frame.kind {
        FrameKind::Python if frame.file.as_deref().is_some_and(is_library_file) => Hue::Aqua,
        FrameKind::Python => Hue::Green,
        FrameKind::Native => Hue::Yellow,
        FrameKind::Kernel => Hue::Orange,
        FrameKind::Marker => Hue::Grey,
    }
}

/// Installed packages and the standard library (`.../lib/python3.12/...`).
fn is_library_file(file: &str) -> bool {
    file.starts_with("<frozen")
        || file.split('/').any(|part| {
            part == "site-packages"
                || part == "dist-packages"
                || part.strip_prefix("python").is_some_and(|v| {
                    v.contains('.') && v.chars().all(|c| c.is_ascii_digit() || c == '.')
                })
        })
}

/// A shade of `hue` picked by a stable hash of `name`.
fn shade(hue: Hue, name: &str) -> Color {
    // FNV-1a: stable across runs and machines.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV barely stirs its high bits for a last-character change: mix them.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let v = (h >> 11) as f64 / (1u64 << 53) as f64;
    let c = |base: f64, span: f64| (base + span * v).round().min(255.0) as u8;
    let (r, g, b) = match hue {
        Hue::Green => (c(50.0, 60.0), c(190.0, 55.0), c(50.0, 60.0)),
        Hue::Aqua => (c(50.0, 60.0), c(165.0, 55.0), c(165.0, 55.0)),
        Hue::Yellow => (c(175.0, 55.0), c(175.0, 55.0), c(50.0, 20.0)),
        Hue::Orange => (c(190.0, 65.0), c(90.0, 65.0), 0),
        Hue::Grey => (c(160.0, 40.0), c(160.0, 40.0), c(160.0, 40.0)),
    };
    Color { r, g, b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_files_are_told_from_user_code() {
        assert!(is_library_file("/usr/lib/python3.12/json/decoder.py"));
        assert!(is_library_file(
            "/venv/lib/python3.11/site-packages/numpy/core.py"
        ));
        assert!(is_library_file("<frozen importlib._bootstrap>"));
        assert!(!is_library_file("/home/me/python/app.py"));
        assert!(!is_library_file("/home/me/app.py"));
    }

    #[test]
    fn shades_are_stable_and_stay_in_their_hue() {
        assert_eq!(shade(Hue::Green, "f"), shade(Hue::Green, "f"));
        for name in ["a", "bb", "ccc", "dddd"] {
            let g = shade(Hue::Green, name);
            assert!(g.g > g.r && g.g > g.b);
            let o = shade(Hue::Orange, name);
            assert!(o.r > o.g && o.b == 0);
        }
    }
}
