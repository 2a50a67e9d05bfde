//! Errors of the console that are not an HTTP answer: the users file, the session
//! key, the listener. Each message says what is wrong and what to do.

use crate::inspect::InspectError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("users file {path}: {message}")]
    Users { path: String, message: String },
    #[error("session key file {path}: {message}")]
    SessionKey { path: String, message: String },
    #[error("{0}")]
    Refused(String),
    // The causes are in the messages, not also `#[source]`: the binary prints the
    // whole chain, which would say them twice.
    #[error("cannot listen on {listen}: {cause}; choose a free port (or port 0) with --listen or [console] listen")]
    Listen {
        listen: String,
        cause: std::io::Error,
    },
    #[error("registered cells: {0}")]
    Cells(InspectError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

impl ConsoleError {
    pub(crate) fn users(path: &std::path::Path, message: impl Into<String>) -> ConsoleError {
        ConsoleError::Users {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random number generator");
    b
}
