//! Errors that cross into JavaScript, each with a stable `ERR_*` code, mapped in one place.

use crate::config::ConfigError;
use crate::core::MAX_WORKERS;
use crate::shell::control::trust::ConnectError;
use crate::shell::control::{AskError, ControlError};
use crate::shell::socket::SocketError;

/// Everything `init()` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Metrics(#[from] crate::shell::metrics::MetricsError),
    #[error("MASTER_PROCESS_CONTROL_SOCKET: {0}")]
    Control(#[from] ControlError),
    #[error("handle.scale(workers): invalid workers={0}: expected a whole number from 1 to {MAX_WORKERS}")]
    InvalidScale(String),
    #[error("master-process is not running in this process")]
    NotRunning,
    #[error("handle.status(): {0}")]
    StatusTimeout(AskError),
    /// A control socket the command line does not believe (see `control::trust`).
    #[error("{0}")]
    ControlRefused(ConnectError),
    /// A control socket nothing answers on.
    #[error("{0}")]
    ControlUnreachable(ConnectError),
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
    /// The upgrade could not keep a socket or replace the image.
    #[error("master-process upgrade: {0}")]
    Exec(String),
}

impl Error {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "ERR_INVALID_CONFIG",
            Error::Socket(_) => "ERR_SOCKET_PATH",
            Error::Control(_) => "ERR_CONTROL_SOCKET",
            Error::Metrics(_) => "ERR_METRICS",
            Error::InvalidScale(_) => "ERR_INVALID_ARG_VALUE",
            Error::NotRunning => "ERR_NOT_RUNNING",
            Error::StatusTimeout(_) => "ERR_STATUS_TIMEOUT",
            Error::ControlRefused(_) => "ERR_CONTROL_REFUSED",
            Error::ControlUnreachable(_) => "ERR_CONTROL_UNREACHABLE",
            Error::AlreadyStarted => "ERR_ALREADY_STARTED",
            Error::Signals(_) => "ERR_SIGNALS",
            Error::Thread(_) => "ERR_THREAD",
            Error::UnknownSignal(_) => "ERR_UNKNOWN_SIGNAL",
            Error::Exec(_) => "ERR_UPGRADE",
        }
    }
}

impl From<AskError> for Error {
    fn from(error: AskError) -> Self {
        match error {
            AskError::Exiting => Error::NotRunning,
            AskError::NoAnswer(_) => Error::StatusTimeout(error),
        }
    }
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Refused(_) => Error::ControlRefused(error),
            ConnectError::Unreachable { .. } => Error::ControlUnreachable(error),
        }
    }
}

impl From<Error> for napi::Error<String> {
    fn from(error: Error) -> Self {
        napi::Error::new(error.code().to_string(), error.to_string())
    }
}
