//! The only place that calls `perf_event_open`, `mmap` and `ioctl`.

pub mod mapped_file;
