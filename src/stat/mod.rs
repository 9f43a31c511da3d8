//! Counting session: open counters on a target, read, scale, derive, print.
