//! The profile file: versioned, streamed, compact (see [`layout`] for the bytes).

mod error;
pub mod layout;
mod reader;
mod varint;
mod writer;

pub use error::{FormatProblem, ProfileError};
pub use layout::FORMAT_VERSION;
pub use reader::{decode_profile, read_profile, FileInfo, ReadOutcome};
pub use writer::{write_profile, Header, ProfileWriter, WriteSummary};
