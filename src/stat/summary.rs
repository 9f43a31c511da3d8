//! Turning raw readings of one or more runs into the figures that get printed.

use std::time::Duration;

use crate::event::EventSpec;
use crate::kernel::CounterReading;
use crate::target::ExitStatus;

/// One event's figure for the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Count {
    /// The kernel could not open the event on this machine.
    NotSupported,
    /// The event opened but never ran (e.g. the command did not start).
    NotCounted,
    Counted {
        /// Count scaled by enabled/running time, averaged over runs.
        value: f64,
        /// Share of the enabled time the counter was on the PMU (100 unless multiplexed).
        running_pct: f64,
        /// Nanoseconds the counter ran (summed over runs).
        runtime_ns: u64,
        /// Relative standard error of the mean over runs, in percent (`-r` only).
        stddev_pct: Option<f64>,
    },
}

impl Count {
    pub fn value(&self) -> Option<f64> {
        match self {
            Count::Counted { value, .. } => Some(*value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventResult {
    pub spec: EventSpec,
    pub count: Count,
    /// Kernel counting was refused and the event counts user space only.
    pub user_only_fallback: bool,
}

/// A mean with its relative standard error (for `-r`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mean {
    pub mean: f64,
    /// Standard error of the mean, same unit as `mean`; `None` for a single run.
    pub stddev: Option<f64>,
}

impl Mean {
    pub fn of(values: &[f64]) -> Mean {
        let n = values.len();
        if n == 0 {
            return Mean {
                mean: 0.0,
                stddev: None,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let stddev = (n > 1).then(|| {
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (variance / n as f64).sqrt()
        });
        Mean { mean, stddev }
    }

    /// The error as a percentage of the mean, as perf prints `( +- x% )`.
    pub fn relative_pct(&self) -> Option<f64> {
        let sd = self.stddev?;
        Some(if self.mean == 0.0 {
            0.0
        } else {
            100.0 * sd / self.mean
        })
    }
}

/// Everything a formatter prints for a finished measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct StatReport {
    /// What was measured: the command line, or `process 123` for attach.
    pub target_label: String,
    pub command: Option<Vec<String>>,
    pub runs: usize,
    pub events: Vec<EventResult>,
    /// Wall time in seconds.
    pub elapsed: Mean,
    pub user_s: Option<f64>,
    pub sys_s: Option<f64>,
    pub exit: Option<ExitStatus>,
}

/// The scaled value of one reading, or `None` when the counter never ran.
pub fn scaled(reading: &CounterReading) -> Option<f64> {
    if reading.time_running == 0 {
        return None;
    }
    let value = reading.value as f64;
    Some(if reading.time_running < reading.time_enabled {
        value * reading.time_enabled as f64 / reading.time_running as f64
    } else {
        value
    })
}

/// Difference of two cumulative readings (for `-I` intervals).
pub fn delta(now: &CounterReading, before: &CounterReading) -> CounterReading {
    CounterReading {
        value: now.value.saturating_sub(before.value),
        time_enabled: now.time_enabled.saturating_sub(before.time_enabled),
        time_running: now.time_running.saturating_sub(before.time_running),
    }
}

/// Folds the readings of every run (outer: runs, inner: events) into one count per event.
pub fn summarize_events(
    specs: &[(EventSpec, bool)],
    runs: &[Vec<Option<CounterReading>>],
) -> Vec<EventResult> {
    specs
        .iter()
        .enumerate()
        .map(|(index, (spec, fallback))| {
            let readings: Vec<Option<&CounterReading>> = runs
                .iter()
                .map(|run| run.get(index).and_then(Option::as_ref))
                .collect();
            let count = if readings.iter().all(Option::is_none) {
                Count::NotSupported
            } else {
                let counted: Vec<&CounterReading> = readings
                    .iter()
                    .flatten()
                    .filter(|r| r.time_running > 0)
                    .copied()
                    .collect();
                let values: Vec<f64> = counted.iter().filter_map(|r| scaled(r)).collect();
                if values.is_empty() {
                    Count::NotCounted
                } else {
                    let enabled: u64 = counted.iter().map(|r| r.time_enabled).sum();
                    let running: u64 = counted.iter().map(|r| r.time_running).sum();
                    let mean = Mean::of(&values);
                    Count::Counted {
                        value: mean.mean,
                        running_pct: if enabled == 0 {
                            100.0
                        } else {
                            100.0 * running as f64 / enabled as f64
                        },
                        runtime_ns: running,
                        stddev_pct: mean.relative_pct(),
                    }
                }
            };
            EventResult {
                spec: spec.clone(),
                count,
                user_only_fallback: *fallback,
            }
        })
        .collect()
}

pub fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_follows_enabled_over_running() {
        let r = CounterReading {
            value: 100,
            time_enabled: 1000,
            time_running: 250,
        };
        assert_eq!(scaled(&r), Some(400.0));
        let full = CounterReading {
            value: 7,
            time_enabled: 10,
            time_running: 10,
        };
        assert_eq!(scaled(&full), Some(7.0));
        let never = CounterReading {
            value: 0,
            time_enabled: 10,
            time_running: 0,
        };
        assert_eq!(scaled(&never), None);
    }

    #[test]
    fn mean_and_standard_error() {
        let m = Mean::of(&[10.0, 12.0, 14.0]);
        assert_eq!(m.mean, 12.0);
        // sample variance 4, standard error sqrt(4/3)
        assert!((m.stddev.unwrap() - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.relative_pct().unwrap() - 100.0 * (4.0f64 / 3.0).sqrt() / 12.0).abs() < 1e-9);
        assert_eq!(Mean::of(&[5.0]).stddev, None);
    }
}
