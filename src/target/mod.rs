//! Launch a command behind an exec gate, attach to a pid, forward signals, map exit status.
