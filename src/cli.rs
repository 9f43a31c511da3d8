//! clap definitions of every subcommand and flag.
