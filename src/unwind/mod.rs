//! Native unwinding of sampled registers + stack memory (framehop), and the
//! module registry that feeds it.

pub mod process;
pub mod sections;
pub mod stack;

pub use process::{
    cpython_trampoline_rule, ProcessUnwinder, StackRule, Unwound, CPYTHON_TRAMPOLINE, MAX_FRAMES,
};
pub use stack::{CopiedStack, LiveStack, StackMemory};
