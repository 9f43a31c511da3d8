//! The only place that calls `perf_event_open`, `mmap` and `ioctl`.

pub mod cpus;
pub mod mapped_file;
pub mod probe;
pub mod ptrace;
pub mod records;
pub mod ring;
pub mod sys;

pub use sys::{new_attr, open_event, CounterReading, OpenError, PerfFd, COUNTER_READ_FORMAT};
