//! Errors that cross into JavaScript, each with a stable `ERR_*` code, mapped in one place.

use crate::config::ConfigError;
use crate::core::MAX_WORKERS;
use crate::shell::control::ControlError;
use crate::shell::socket::SocketError;

/// Everything `init()` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("MASTER_PROCESS_CONTROL_SOCKET: {0}")]
    Control(#[from] ControlError),
    #[error("handle.scale(workers): invalid workers={0}: expected a whole number from 1 to {MAX_WORKERS}")]
    InvalidScale(String),
    #[error("master-process is not running in this process")]
    NotRunning,
    #[error("master-process is already running in this process")]
    AlreadyStarted,
    #[error("master-process could not install its signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("master-process could not start its driver thread: {0}")]
    Thread(std::io::Error),
    #[error(
        "unknown signal {0:?}: accepted are SIGHUP, SIGTERM, SIGINT, SIGUSR2, SIGTTIN and SIGTTOU"
    )]
    UnknownSignal(String),
}

impl Error {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "ERR_INVALID_CONFIG",
            Error::Socket(_) => "ERR_SOCKET_PATH",
            Error::Control(_) => "ERR_CONTROL_SOCKET",
            Error::InvalidScale(_) => "ERR_INVALID_ARG_VALUE",
            Error::NotRunning => "ERR_NOT_RUNNING",
            Error::AlreadyStarted => "ERR_ALREADY_STARTED",
            Error::Signals(_) => "ERR_SIGNALS",
            Error::Thread(_) => "ERR_THREAD",
            Error::UnknownSignal(_) => "ERR_UNKNOWN_SIGNAL",
        }
    }
}

impl From<Error> for napi::Error<String> {
    fn from(error: Error) -> Self {
        napi::Error::new(error.code().to_string(), error.to_string())
    }
}
