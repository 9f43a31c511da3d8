//! One module per subcommand: each turns parsed arguments into work and an exit code.

pub mod dump;
pub mod list;
pub mod record;
pub mod stat;
pub mod views;
