//! The profile model and its file format.
//!
//! - [`model`]: the in-memory symbolic profile every output reads;
//! - [`ProfileBuilder`]: interns frames and stacks while building one;
//! - [`raw`]: what the recorder writes before symbolization (address frames, modules);
//! - [`format`](mod@format): the streamed file ([`ProfileWriter`], [`read_profile`]).

pub mod builder;
pub mod format;
pub mod idle;
pub mod model;
pub mod raw;

pub use builder::ProfileBuilder;
pub use format::{
    decode_profile, read_profile, write_profile, FileInfo, FormatProblem, Header, ProfileError,
    ProfileWriter, ReadOutcome, WriteSummary,
};
pub use model::*;
pub use raw::{
    unresolved_frame, AddressResolver, ModuleId, ModuleInfo, RawFrame, RawFrameId, StackNodeId,
    KERNEL_MODULE,
};
