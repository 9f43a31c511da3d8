//! Counting session: open counters on a target, read, scale, derive, print.

pub mod counters;
pub mod format;
pub mod metrics;
pub mod session;
pub mod summary;
