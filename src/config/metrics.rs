//! `MASTER_PROCESS_METRICS` (where `/metrics`, `/livez` and `/readyz` listen) and
//! `MASTER_PROCESS_LOG_FORMAT` (how the master's log lines look).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Where the metrics server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsAddr {
    /// A TCP address: a bare port listens on every interface (`0.0.0.0`), as probes from
    /// outside a container need; port 0 takes any free port (the status report names it).
    Tcp(SocketAddr),
    /// A unix socket file, created at start and removed at exit.
    Unix(PathBuf),
}

impl std::fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsAddr::Tcp(addr) => write!(f, "{addr}"),
            MetricsAddr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What `MASTER_PROCESS_METRICS` accepts, for the error.
pub const METRICS_ACCEPTED: &str = "off, a port (0-65535), host:port with an IP address \
     (127.0.0.1:9100, [::1]:9100) or an absolute path of a unix socket file";

/// `off`, a port, `host:port` or a socket path; `None` for off. `Err(())` names nothing:
/// the caller knows the variable.
pub fn parse_metrics(value: &str, max_path: usize) -> Result<Option<MetricsAddr>, ()> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if value.starts_with('/') {
        let fits = value.len() <= max_path && !value.ends_with('/') && !value.contains('\0');
        return fits
            .then(|| Some(MetricsAddr::Unix(PathBuf::from(value))))
            .ok_or(());
    }
    if let Ok(port) = value.parse::<u16>() {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        return Ok(Some(MetricsAddr::Tcp(SocketAddr::new(any, port))));
    }
    value
        .parse::<SocketAddr>()
        .map(|addr| Some(MetricsAddr::Tcp(addr)))
        .map_err(|_| ())
}

/// How the master writes its log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `master-process: ...` lines, as 4.x (and `DEBUG`'s style).
    #[default]
    Text,
    /// One JSON object per line: `time`, `level`, `message`, and `pid`/`index` of the worker
    /// a line is about.
    Json,
}

/// `text` or `json`.
pub fn parse_log_format(value: &str) -> Option<LogFormat> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}
