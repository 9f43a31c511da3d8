//! Sampling session: drain rings, track processes (maps, threads, exec), build stacks.

pub mod options;
pub mod processes;
pub mod pystate;
pub mod recorder;
pub mod sampler;
pub mod session;
pub mod snapshot;
pub mod stopped;
pub mod symbolize;
pub mod traced;
