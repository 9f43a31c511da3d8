//! Symbolizing address frames on a second thread while the recording runs,
//! so that the end of a recording does not wait for DWARF to be parsed.
//!
//! JIT code is the exception: its names come from files the program may
//! still be writing (or holding in a buffer), so those addresses are named
//! only once the recording is over.

use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use crate::profile::{AddressResolver, Frame, ModuleInfo, RawFrameId};
use crate::symbols::jit::jit_module_pid;
use crate::symbols::{Symbolizer, SymbolizerOptions};

type Job = (RawFrameId, ModuleInfo, u64);

/// What the symbolizing thread produced.
pub struct Symbols {
    /// Symbolic frames per address frame (caller first); unknown ones left out.
    pub frames: Vec<(RawFrameId, Vec<Frame>)>,
    pub warnings: Vec<String>,
}

/// A symbolizer running beside the recording.
pub struct BackgroundSymbolizer {
    jobs: Option<Sender<Job>>,
    worker: Option<JoinHandle<Symbols>>,
}

impl BackgroundSymbolizer {
    pub fn start() -> BackgroundSymbolizer {
        let (jobs, queue) = channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("pyperf-symbols".into())
            .spawn(move || {
                let mut symbolizer = Symbolizer::new(SymbolizerOptions::default());
                let mut frames = Vec::new();
                let mut later = Vec::new();
                for (raw, module, address) in queue {
                    if jit_module_pid(&module.path).is_some() {
                        later.push((raw, module, address));
                        continue;
                    }
                    let resolved = symbolizer.resolve(&module, address);
                    if !resolved.is_empty() {
                        frames.push((raw, resolved));
                    }
                }
                // The recording is over: JIT maps and dumps are complete now.
                for (raw, module, address) in later {
                    let resolved = symbolizer.resolve(&module, address);
                    if !resolved.is_empty() {
                        frames.push((raw, resolved));
                    }
                }
                Symbols {
                    frames,
                    warnings: symbolizer.take_warnings(),
                }
            })
            .ok();
        BackgroundSymbolizer {
            jobs: worker.as_ref().map(|_| jobs),
            worker,
        }
    }

    /// Queues one address frame.
    pub fn submit(&self, raw: RawFrameId, module: &ModuleInfo, address: u64) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send((raw, module.clone(), address));
        }
    }

    /// Waits for every queued frame to be symbolized.
    pub fn finish(mut self) -> Symbols {
        drop(self.jobs.take());
        self.worker
            .take()
            .and_then(|w| w.join().ok())
            .unwrap_or(Symbols {
                frames: Vec::new(),
                warnings: vec![
                    "symbolization failed; names will be resolved when the profile is read".into(),
                ],
            })
    }
}
