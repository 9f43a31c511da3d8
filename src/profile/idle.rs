//! Which samples caught a thread waiting in the kernel rather than running.
//!
//! A sample is idle when its kernel stack shows the thread going to sleep
//! from a system call (nanosleep, futex, poll, read on an empty pipe, ...):
//! the scheduler reached from a syscall, not from the preemption paths taken
//! when a running thread's time slice ends.

use super::model::{FrameKind, Profile};

/// Kernel functions that mean "this thread blocked and gave up the CPU".
const SLEEPING: [&str; 4] = [
    "schedule",
    "io_schedule",
    "schedule_timeout",
    "schedule_hrtimeout_range_clock",
];
/// Kernel paths that reach the scheduler from a running thread (preemption).
const PREEMPTION: [&str; 5] = [
    "irqentry_exit_to_user_mode",
    "exit_to_user_mode_loop",
    "preempt_schedule",
    "preempt_schedule_irq",
    "preempt_schedule_common",
];

/// Sets `idle` on every sample whose stack shows a blocked thread.
pub fn mark_idle_samples(profile: &mut Profile) {
    let idle_stacks: Vec<bool> = profile
        .stacks
        .iter()
        .map(|stack| {
            let kernel = || {
                stack
                    .iter()
                    .map(|&f| &profile.frames[f as usize])
                    .filter(|f| f.kind == FrameKind::Kernel)
            };
            let sleeps = kernel().any(|f| SLEEPING.contains(&f.function.as_str()));
            let from_syscall = kernel().any(|f| {
                f.function.starts_with("do_syscall_64") || f.function.starts_with("__x64_sys_")
            });
            let preempted = kernel().any(|f| PREEMPTION.contains(&f.function.as_str()));
            sleeps && from_syscall && !preempted
        })
        .collect();
    for sample in &mut profile.samples {
        if idle_stacks
            .get(sample.stack as usize)
            .copied()
            .unwrap_or(false)
        {
            sample.idle = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, ProfileBuilder};

    fn kernel(name: &str) -> Frame {
        Frame {
            kind: FrameKind::Kernel,
            function: name.into(),
            file: None,
            line: None,
            module: None,
            inlined: false,
        }
    }

    #[test]
    fn blocked_in_a_syscall_is_idle_and_preempted_is_not() {
        let mut b = ProfileBuilder::new();
        let user = b.intern_frame(&Frame {
            kind: FrameKind::Native,
            function: "main".into(),
            file: None,
            line: None,
            module: None,
            inlined: false,
        });
        let sleeping: Vec<u32> = [
            "entry_SYSCALL_64_after_hwframe",
            "do_syscall_64",
            "__x64_sys_clock_nanosleep",
            "do_nanosleep",
            "schedule",
            "__schedule",
        ]
        .iter()
        .map(|n| b.intern_frame(&kernel(n)))
        .collect();
        let preempted: Vec<u32> = [
            "asm_sysvec_apic_timer_interrupt",
            "irqentry_exit_to_user_mode",
            "schedule",
            "__schedule",
        ]
        .iter()
        .map(|n| b.intern_frame(&kernel(n)))
        .collect();
        let idle_stack = b.intern_stack(&[vec![user], sleeping].concat());
        let busy_stack = b.intern_stack(&[vec![user], preempted].concat());
        let plain = b.intern_stack(&[user]);
        let thread = b.add_thread(crate::profile::ThreadInfo {
            pid: 1,
            tid: 1,
            name: "t".into(),
        });
        b.add_event(crate::profile::EventInfo {
            name: "context-switches".into(),
            period: Some(1),
            frequency: None,
            unit: "events".into(),
        });
        for (i, stack) in [idle_stack, busy_stack, plain].into_iter().enumerate() {
            b.add_sample(crate::profile::Sample {
                stack,
                thread,
                time_ns: i as u64,
                event: 0,
                weight: 1,
                idle: false,
            });
        }
        let mut profile = b.finish();
        mark_idle_samples(&mut profile);
        let idle: Vec<bool> = profile.samples.iter().map(|s| s.idle).collect();
        assert_eq!(idle, [true, false, false]);
    }
}
