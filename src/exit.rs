//! Errors that carry the exit code pyperf should end with.

/// A failure with its exit code: 2 for usage errors, 127/126 for commands that
/// cannot run, 1 otherwise.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

/// A usage error (bad flag value, unknown event, ...): exit code 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    ExitError {
        code: 2,
        message: message.into(),
    }
    .into()
}

/// A failure with an explicit exit code.
pub fn with_code(code: i32, message: impl Into<String>) -> anyhow::Error {
    ExitError {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code for any error: its own if it has one, else 1.
pub fn code_of(error: &anyhow::Error) -> i32 {
    error.downcast_ref::<ExitError>().map_or(1, |e| e.code)
}
