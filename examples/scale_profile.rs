//! Benchmark helper: writes a profile with N samples whose stacks, threads and
//! weights are drawn from a real recording, so post-processing can be timed on
//! a realistic 200,000-sample profile without recording for minutes.
//!
//! usage: cargo run --release --example scale_profile -- IN.pyperf OUT.pyperf N

use std::path::PathBuf;
use std::process::ExitCode;

use pyperf::profile::{read_profile, write_profile, Sample};
use pyperf::symbols::{Symbolizer, SymbolizerOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, count] = args.as_slice() else {
        eprintln!("usage: scale_profile IN.pyperf OUT.pyperf N");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("N must be a number of samples");
        return ExitCode::from(2);
    };
    let mut symbolizer = Symbolizer::new(SymbolizerOptions::default());
    let mut profile = match read_profile(&PathBuf::from(input), Some(&mut symbolizer)) {
        Ok(outcome) => outcome.profile,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let original = std::mem::take(&mut profile.samples);
    if original.is_empty() {
        eprintln!("{input} has no samples to draw from");
        return ExitCode::FAILURE;
    }
    // Replay the real samples cyclically, with times that keep increasing.
    let span = original.last().map_or(0, |s| s.time_ns) - original[0].time_ns + 1_000_000;
    profile.samples = (0..count)
        .map(|i| {
            let s = original[i % original.len()];
            let round = (i / original.len()) as u64;
            Sample {
                time_ns: s.time_ns + round * span,
                ..s
            }
        })
        .collect();
    match write_profile(&PathBuf::from(output), &profile) {
        Ok(summary) => {
            println!("{} samples, {} bytes", summary.samples, summary.file_bytes);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
