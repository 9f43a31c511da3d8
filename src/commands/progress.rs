//! Progress of long post-processing (reading and symbolizing a profile,
//! converting it) on the terminal: an indicatif spinner on stderr with what
//! is being done and for how long, only when stderr is a terminal, so logs
//! and pipes stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::profile::{AddressResolver, Frame, ModuleInfo};
use crate::symbols::Symbolizer;

/// A spinner that clears itself when finished or dropped.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Starts a spinner showing `message` (hidden unless stderr is a terminal).
    pub fn start(message: String) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(message);
        Progress { bar }
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// True when nothing is drawn (stderr is not a terminal).
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// A resolver that symbolizes with `symbolizer` and counts on the spinner.
    pub fn resolver<'a>(&'a self, symbolizer: &'a mut Symbolizer) -> CountingResolver<'a> {
        CountingResolver {
            symbolizer,
            progress: self,
            resolved: 0,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Symbolizes address frames while counting them on a [`Progress`].
pub struct CountingResolver<'a> {
    symbolizer: &'a mut Symbolizer,
    progress: &'a Progress,
    resolved: u64,
}

impl AddressResolver for CountingResolver<'_> {
    fn resolve(&mut self, module: &ModuleInfo, address: u64) -> Vec<Frame> {
        self.resolved += 1;
        if self.resolved % 512 == 1 && !self.progress.is_hidden() {
            self.progress
                .set_message(format!("symbolizing addresses: {}", self.resolved));
        }
        self.symbolizer.resolve(module, address)
    }
}
