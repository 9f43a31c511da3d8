//! One module per subcommand: each turns parsed arguments into work and an exit code.

pub mod convert;
pub mod dump;
pub mod list;
pub mod progress;
pub mod record;
pub mod stat;
pub mod top;
pub mod views;
