//! pyperf: a Linux `perf_event_open` profiler for Python programs.
//!
//! Data flows one way (see DESIGN.md):
//! target -> kernel events -> records -> stacks -> profile -> outputs.
//! Each module below owns one stage; `unsafe` lives only in `kernel`
//! and the memory readers of `python`.

pub mod atomic_file;
pub mod cli;
pub mod commands;
pub mod event;
pub mod exit;
pub mod kernel;
pub mod output;
pub mod profile;
pub mod python;
pub mod record;
pub mod stat;
pub mod symbols;
pub mod target;
pub mod unwind;
