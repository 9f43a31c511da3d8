//! pyperf: a Linux `perf_event_open` profiler for Python programs.
//!
//! Data flows one way (see DESIGN.md):
//! target -> kernel events -> records -> stacks -> profile -> outputs.
//! Each module below owns one stage; `unsafe` lives only in `kernel`
//! and the memory readers of `python`.

pub mod cli;
pub mod event;
pub mod kernel;
pub mod profile;
pub mod python;
pub mod stat;
pub mod target;
