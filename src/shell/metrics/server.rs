//! The HTTP side, on `tiny_http`: one thread answers each request from the board alone, so
//! a scrape never waits on the driver or on a worker, and a slow client waits on nobody
//! (tiny_http reads each connection on a pool thread of its own).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tiny_http::{Header, Method, Request, Response, Server};

use super::expose::{render, Format};
use super::health;
use super::Board;
use crate::config::MetricsAddr;

/// Why the metrics server could not listen.
#[derive(Debug, thiserror::Error)]
#[error("MASTER_PROCESS_METRICS={addr}: cannot listen: {reason}")]
pub struct MetricsError {
    pub addr: String,
    pub reason: String,
}

/// The metrics server, listening; its thread answers until the process ends.
pub struct MetricsServer {
    server: Arc<Server>,
    /// The socket file to remove at exit, for a unix socket.
    socket: Option<PathBuf>,
    /// Where it listens, as the status report names it (the port chosen for port 0).
    pub listening: String,
}

impl MetricsServer {
    /// Stop answering and remove the socket file, if any. Whether a file was removed.
    pub fn close(&self) -> bool {
        self.server.unblock();
        self.socket
            .as_deref()
            .is_some_and(|p| std::fs::remove_file(p).is_ok())
    }
}

/// Listen on `addr` and answer from `board` on a thread named `master-process-metrics`.
pub fn start(addr: &MetricsAddr, board: Arc<Board>) -> Result<MetricsServer, MetricsError> {
    let fail = |reason: String| MetricsError {
        addr: addr.to_string(),
        reason,
    };
    let (server, socket) = match addr {
        MetricsAddr::Tcp(ip) => (Server::http(ip).map_err(|e| fail(e.to_string()))?, None),
        MetricsAddr::Unix(path) => {
            crate::shell::socket::prepare(path).map_err(|e| fail(e.to_string()))?;
            let server = Server::http_unix(path).map_err(|e| fail(e.to_string()))?;
            (server, Some(path.clone()))
        }
    };
    let listening = match server.server_addr().to_ip() {
        Some(ip) => ip.to_string(),
        None => addr.to_string(),
    };
    let server = Arc::new(server);
    let serving = server.clone();
    std::thread::Builder::new()
        .name("master-process-metrics".into())
        .spawn(move || {
            for request in serving.incoming_requests() {
                answer(request, &board);
            }
        })
        .map_err(|e| fail(format!("no thread: {e}")))?;
    Ok(MetricsServer {
        server,
        socket,
        listening,
    })
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn answer(request: Request, board: &Board) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let get = matches!(request.method(), Method::Get | Method::Head);
    let accept = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Accept"))
        .map(|h| h.value.as_str().to_string());
    let now = Instant::now();
    let (status, content_type, body) = match (get, path.as_str()) {
        (false, _) => (405, "text/plain; charset=utf-8", "only GET\n".to_string()),
        (true, "/metrics") => match board.latest() {
            Some(snapshot) => {
                let format = Format::from_accept(accept.as_deref());
                let dropped = crate::shell::log_writer::dropped();
                let text = render(&snapshot, &board.build, dropped, now, format);
                (200, format.content_type(), text)
            }
            None => (503, "text/plain; charset=utf-8", "not started\n".into()),
        },
        (true, "/livez") => health_answer(board.pulse.check(now)),
        (true, "/readyz") => health_answer(health::readiness(board.latest().as_deref())),
        (true, _) => (
            404,
            "text/plain; charset=utf-8",
            "not found: /metrics, /livez or /readyz\n".into(),
        ),
    };
    let mut response = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("Content-Type", content_type) {
        response = response.with_header(h);
    }
    if status == 405 {
        if let Some(h) = header("Allow", "GET, HEAD") {
            response = response.with_header(h);
        }
    }
    let _ = request.respond(response);
}

fn health_answer(result: Result<(), String>) -> (u16, &'static str, String) {
    match result {
        Ok(()) => (200, "text/plain; charset=utf-8", "ok\n".into()),
        Err(reason) => (503, "text/plain; charset=utf-8", format!("{reason}\n")),
    }
}
