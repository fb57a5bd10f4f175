//! Serving the control socket: an accept thread checks each peer's uid and gives the
//! connection a thread of its own, which reads one request line at a time, hands it to the
//! driver thread and writes its answer.
//!
//! Nothing waits without a bound. A connection that sends no request for `Limits::idle` is
//! told so and closed, and the same bound applies to writing an answer to a client that does
//! not read. The driver has `Limits::answer` to answer, or to say that the answer is an
//! outcome still to come (a reload, a scale) and how long that may take; past either bound
//! the client gets an error answer. When every place is taken, the connection idle the
//! longest is closed for the newcomer; only when each one has a request in flight (or waits
//! for the master's exit after `stop`) is the newcomer answered "busy".

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::trust::peer_credentials;
use super::{error_answer, euid, parse_request, Request, RequestError, MAX_LINE};
use crate::core::Policy;
use crate::shell::log::with_master_log;
use crate::shell::Input;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection may go without sending a request (or take to read an answer).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the driver thread has to answer a request (or to say the answer comes later).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the accept thread waits after a failed accept (such as no descriptor left).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long after `SIGKILL` the master asks the kernel whether a worker is gone.
const EXIT_PROBE: Duration = Duration::from_secs(1);
/// Added to an outcome's bound, for the forks and messages between its deadlines.
const OUTCOME_MARGIN: Duration = Duration::from_secs(5);

/// The bounds a control socket serves within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// See `IDLE_TIMEOUT`.
    pub idle: Duration,
    /// See `ANSWER_TIMEOUT`.
    pub answer: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: MAX_CONNECTIONS,
            idle: IDLE_TIMEOUT,
            answer: ANSWER_TIMEOUT,
        }
    }
}

/// What the driver thread sends back for a request.
#[derive(Debug)]
pub enum Answer {
    /// The answer.
    Now(Value),
    /// The answer is an outcome still to come.
    Later(Later),
}

/// An answer still to come: within `within`, else `late` is the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Later {
    pub within: Duration,
    pub late: Value,
}

impl Later {
    /// The outcome of reload `generation`, asked for now with `slots` slots.
    pub fn reload(generation: u32, policy: &Policy, slots: u32) -> Later {
        let within = outcome_bound(policy, slots);
        Later {
            within,
            late: json!({
                "ok": false,
                "error": format!(
                    "reload {generation}: no outcome within {}s (it may still be going on: see status)",
                    within.as_secs()
                ),
                "reload": { "generation": generation, "outcome": "unknown" },
            }),
        }
    }

    /// The end of a scale to `count` slots, asked for now with `slots` slots.
    pub fn scale(count: u32, policy: &Policy, slots: u32) -> Later {
        let within = outcome_bound(policy, slots.max(count));
        Later {
            within,
            late: error_answer(format!(
                "scale to {count}: not over within {}s (it may still be going on: see status)",
                within.as_secs()
            )),
        }
    }
}

/// How long the outcome of a reload or a scale asked for now may take: one reload of
/// `slots` slots takes at most the ready timeout per batch, after the previous generation's
/// retirement (the kill timeout and the exit probe); three of them leave room for a reload or
/// a scale in progress, and one waiting, before the one asked for.
pub fn outcome_bound(policy: &Policy, slots: u32) -> Duration {
    let slots = slots.max(1);
    let batches = slots.div_ceil(policy.batch_size(slots).max(1));
    let one = policy
        .ready_timeout
        .saturating_mul(batches)
        .saturating_add(policy.kill_timeout)
        .saturating_add(EXIT_PROBE);
    one.saturating_mul(3).saturating_add(OUTCOME_MARGIN)
}

/// Where the answer to one request goes.
#[derive(Debug)]
pub struct Replier(Sender<Answer>);

impl Replier {
    /// A replier and the receiving end its answer arrives on.
    pub fn channel() -> (Replier, Receiver<Answer>) {
        let (tx, rx) = channel();
        (Replier(tx), rx)
    }

    /// Send the answer. Whether anyone still waits for it.
    pub fn send(&self, answer: Value) -> bool {
        self.0.send(Answer::Now(answer)).is_ok()
    }

    /// Say that the answer is an outcome still to come. Whether anyone waits for it.
    pub fn later(&self, later: Later) -> bool {
        self.0.send(Answer::Later(later)).is_ok()
    }
}

/// Why a request got no answer from the driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("the master is exiting")]
    Exiting,
    #[error(
        "the master did not answer within {}s (its driver thread is busy or stuck)",
        .0.as_secs_f64()
    )]
    NoAnswer(Duration),
}

/// Hand `request` to the driver and wait for its answer: `bound` for the driver to answer,
/// then, for an outcome still to come, the time the driver gives it.
pub fn ask(tx: &Sender<Input>, request: Request, bound: Duration) -> Result<Value, AskError> {
    let (replier, answer) = Replier::channel();
    tx.send(Input::Ask(request, replier))
        .map_err(|_| AskError::Exiting)?;
    match answer.recv_timeout(bound) {
        Ok(Answer::Now(value)) => Ok(value),
        Ok(Answer::Later(later)) => match answer.recv_timeout(later.within) {
            Ok(Answer::Now(value)) => Ok(value),
            Ok(Answer::Later(_)) | Err(RecvTimeoutError::Timeout) => Ok(later.late),
            Err(RecvTimeoutError::Disconnected) => Err(AskError::Exiting),
        },
        Err(RecvTimeoutError::Timeout) => Err(AskError::NoAnswer(bound)),
        Err(RecvTimeoutError::Disconnected) => Err(AskError::Exiting),
    }
}

/// Accept connections on `listener` on a thread of its own; requests go to `tx`.
pub fn serve(listener: UnixListener, tx: Sender<Input>, limits: Limits) -> io::Result<()> {
    let places = Arc::new(Places::new(limits.connections));
    std::thread::Builder::new()
        .name("master-process-control".into())
        .spawn(move || {
            with_master_log(|| accept_all(&listener, &tx, &places, limits));
        })?;
    Ok(())
}

fn accept_all(listener: &UnixListener, tx: &Sender<Input>, places: &Arc<Places>, limits: Limits) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => admit(stream, tx, places, limits),
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::debug!("control socket: accept failed: {e}");
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

/// The connections being served, and since when each has been idle (`None`: a request in
/// flight, or waiting for the master's exit).
struct Places {
    open: Mutex<Vec<Place>>,
    next: AtomicU64,
    limit: usize,
}

struct Place {
    id: u64,
    stream: UnixStream,
    idle_since: Option<Instant>,
}

impl Places {
    fn new(limit: usize) -> Places {
        Places {
            open: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Place>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for `stream`: a free one, else that of the connection idle the longest,
    /// which is closed. `None` when every connection has a request in flight.
    fn enter(&self, stream: &UnixStream) -> Option<u64> {
        let held = stream.try_clone().ok()?;
        let mut open = self.lock();
        if open.len() >= self.limit {
            let (_, oldest) = open
                .iter()
                .enumerate()
                .filter_map(|(at, place)| place.idle_since.map(|since| (since, at)))
                .min()?;
            let evicted = open.swap_remove(oldest);
            let message = error_answer(format!(
                "closed: idle while {} connections were open, to make room for a new one",
                self.limit
            ));
            send_now(&evicted.stream, &message);
            let _ = evicted.stream.shutdown(Shutdown::Both);
            tracing::debug!("control socket: closed the connection idle the longest");
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.push(Place {
            id,
            stream: held,
            idle_since: Some(Instant::now()),
        });
        Some(id)
    }

    /// Mark connection `id` busy (or, with `Some`, idle since then). Whether it still has
    /// its place (it may have been closed for a newcomer).
    fn mark(&self, id: u64, idle_since: Option<Instant>) -> bool {
        let mut open = self.lock();
        let place = open.iter_mut().find(|place| place.id == id);
        place.map(|place| place.idle_since = idle_since).is_some()
    }

    fn leave(&self, id: u64) {
        self.lock().retain(|place| place.id != id);
    }
}

/// Check the peer and give the connection a place and a thread, or answer why not and close.
fn admit(stream: UnixStream, tx: &Sender<Input>, places: &Arc<Places>, limits: Limits) {
    let me = euid();
    match peer_credentials(&stream) {
        Ok(peer) if peer.uid == me => {}
        Ok(peer) => {
            tracing::debug!("control socket: refused a peer of uid {}", peer.uid);
            let answer = error_answer(format!(
                "permission denied: uid {} is not the master's user (uid {me})",
                peer.uid
            ));
            return send_now(&stream, &answer);
        }
        Err(e) => {
            tracing::debug!("control socket: peer credentials unreadable: {e}");
            return send_now(&stream, &error_answer("peer credentials unreadable"));
        }
    }
    let Some(id) = places.enter(&stream) else {
        let answer = error_answer(format!(
            "busy: {} connections are open, each waiting for an answer",
            limits.connections
        ));
        return send_now(&stream, &answer);
    };
    let (tx, held) = (tx.clone(), places.clone());
    let spawned = std::thread::Builder::new()
        .name("master-process-control-conn".into())
        .spawn(move || {
            with_master_log(|| converse(stream, id, &tx, &held, limits));
            held.leave(id);
        });
    if let Err(e) = spawned {
        // The closure never ran: give its place back, or failed spawns would use up every
        // place for good and the socket would answer "busy" from then on.
        places.leave(id);
        tracing::error!("control socket: no thread for a connection: {e}");
    }
}

/// Serve one connection: a request per line, an answer per line, until the peer hangs up,
/// stays idle too long or loses its place to a newcomer.
fn converse(stream: UnixStream, id: u64, tx: &Sender<Input>, places: &Places, limits: Limits) {
    let _ = stream.set_write_timeout(Some(limits.idle));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(Timed {
        stream,
        until: None,
    });
    // Once `stop` is answered, the connection stays open until the master has exited.
    let mut awaiting_exit = false;
    let mut idle_until = Some(Instant::now() + limits.idle);
    loop {
        reader.get_mut().until = idle_until.filter(|_| !awaiting_exit);
        let line = match next_line(&mut reader) {
            Next::Line(line) => line,
            Next::End => return,
            Next::Idle => {
                let message = format!("closed: no request for {}s", limits.idle.as_secs_f64());
                write_answer(&mut writer, &error_answer(message));
                return;
            }
            Next::TooLong => {
                write_answer(&mut writer, &error_answer(RequestError::TooLong));
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if !places.mark(id, None) {
            return; // closed for a newcomer: the request is not carried out
        }
        let answer = match parse_request(&line) {
            Ok(request) => {
                let answer = ask(tx, request, limits.answer).unwrap_or_else(error_answer);
                awaiting_exit |= request == Request::Stop && answer["ok"] == true;
                answer
            }
            Err(e) => error_answer(e),
        };
        if !write_answer(&mut writer, &answer) {
            return;
        }
        if !awaiting_exit {
            let now = Instant::now();
            places.mark(id, Some(now));
            idle_until = Some(now + limits.idle);
        }
    }
}

/// A stream whose reads fail once `until` has passed.
struct Timed {
    stream: UnixStream,
    until: Option<Instant>,
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = match self.until {
            None => None,
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ErrorKind::TimedOut.into());
                }
                Some(left)
            }
        };
        self.stream.set_read_timeout(timeout)?;
        self.stream.read(buf)
    }
}

/// What reading the next request line gave.
enum Next {
    /// A line, without its end. Invalid UTF-8 is replaced, so it fails as JSON.
    Line(String),
    /// The peer hung up (or the connection was closed for a newcomer).
    End,
    /// No whole line before the idle deadline.
    Idle,
    /// A line over `MAX_LINE`.
    TooLong,
}

fn next_line(reader: &mut impl BufRead) -> Next {
    let mut bytes = Vec::new();
    let limit = MAX_LINE as u64 + 1;
    match reader.take(limit).read_until(b'\n', &mut bytes) {
        Ok(0) => return Next::End,
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Next::Idle
        }
        Err(_) => return Next::End,
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() as u64 >= limit {
        return Next::TooLong;
    }
    Next::Line(String::from_utf8_lossy(&bytes).into_owned())
}

/// Write one answer line (within the stream's write timeout). Whether it was delivered.
fn write_answer(stream: &mut UnixStream, answer: &Value) -> bool {
    let mut line = answer.to_string();
    line.push('\n');
    match stream.write_all(line.as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!("control socket: answer not delivered: {e}");
            false
        }
    }
}

/// Write one answer line if the socket has room for it now, never waiting: for the accept
/// thread, which must not wait on one client.
fn send_now(stream: &UnixStream, answer: &Value) {
    use nix::sys::socket::{send, MsgFlags};
    let mut line = answer.to_string();
    line.push('\n');
    // No SIGPIPE to fear: Node ignores it in the whole process.
    if let Err(e) = send(stream.as_raw_fd(), line.as_bytes(), MsgFlags::MSG_DONTWAIT) {
        tracing::debug!("control socket: answer not delivered: {e}");
    }
}
