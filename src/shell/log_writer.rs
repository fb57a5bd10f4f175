//! Writing the log without ever blocking the thread that logs. stderr is often a pipe
//! (journald, docker, `| tee`); a blocking write to one whose reader stopped would freeze the
//! thread that logs, and the driver logs, so supervision would stop with it.
//!
//! A line is written at once, on the calling thread, when nothing is waiting and stderr
//! has room (`poll`), so lines keep their place among the master's other output. Otherwise
//! it goes through a bounded queue to a writer thread of its own; when the queue is full,
//! lines are dropped and counted, and the count is written once stderr takes lines again.
//!
//! stderr is shared with the workers, and one of them may set it non-blocking (the flag
//! belongs to the open file, not to a process): a write then fails with `EAGAIN` instead
//! of waiting. The writer thread waits for room (`poll`) and goes on where it stopped; a
//! line written at once that does not fit hands its rest to the writer thread.

use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines that may wait for stderr before new ones are dropped.
const QUEUE: usize = 1024;

/// The most a line written at once may hold: a write of up to `PIPE_BUF` bytes to a pipe
/// that `poll` says has room goes in whole.
const AT_ONCE: usize = 4096;

struct Writer {
    tx: SyncSender<Vec<u8>>,
    /// Held by whoever writes to stderr, so a line written at once cannot pass queued ones.
    writing: Mutex<()>,
    queued: AtomicU64,
    written: AtomicU64,
    /// Dropped since the last note about it was written.
    dropped: AtomicU64,
    /// Dropped since the master started.
    dropped_total: AtomicU64,
}

static WRITER: OnceLock<Option<Writer>> = OnceLock::new();

fn writer() -> Option<&'static Writer> {
    WRITER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
            let spawned = std::thread::Builder::new()
                .name("master-process-log".into())
                .spawn(move || {
                    for line in rx {
                        write_out(&line);
                        if let Some(w) = WRITER.get().and_then(Option::as_ref) {
                            w.written.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            spawned.ok().map(|_| Writer {
                tx,
                writing: Mutex::new(()),
                queued: AtomicU64::new(0),
                written: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                dropped_total: AtomicU64::new(0),
            })
        })
        .as_ref()
}

fn write_out(line: &[u8]) {
    let Some(w) = WRITER.get().and_then(Option::as_ref) else {
        let _ = write_waiting(line);
        return;
    };
    let _writing = w.writing.lock();
    let _ = write_waiting(drop_note(w).as_bytes());
    let _ = write_waiting(line);
}

/// The note on lines dropped since the last one, if any ("" if none).
fn drop_note(w: &Writer) -> String {
    match w.dropped.swap(0, Ordering::SeqCst) {
        0 => String::new(),
        n => format!("master-process: {n} log line(s) dropped: stderr was not being read\n"),
    }
}

/// Write all of `bytes` to stderr, waiting for room when it is non-blocking and full.
fn write_waiting(mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match write_some(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => wait_for_room(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `write(2)` to stderr.
fn write_some(bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: writes from a slice we hold to fd 2, which stays open for the process.
    let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

fn wait_for_room() {
    let mut fd = libc::pollfd {
        fd: 2,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd we own; a bounded wait, so a closed stderr cannot hang us.
    unsafe { libc::poll(&mut fd, 1, 100) };
}

/// Write `line` now if no line waits, nobody is writing and stderr has room; false if not.
/// What a full non-blocking stderr does not take goes to the writer thread, in its place.
fn write_now(w: &Writer, line: &str) -> bool {
    let Ok(_writing) = w.writing.try_lock() else {
        return false;
    };
    let pending = w.written.load(Ordering::SeqCst) < w.queued.load(Ordering::SeqCst);
    if pending || line.len() > AT_ONCE || !has_room() {
        return false;
    }
    let text = drop_note(w) + line;
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        match write_some(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => return true,
        }
    }
    if !rest.is_empty() {
        queue(w, rest.to_vec());
    }
    true
}

/// Whether a write to stderr would not block: a pipe that is not full, a file, a terminal.
fn has_room() -> bool {
    let mut fd = libc::pollfd {
        fd: 2,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd we own, a zero timeout.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready == 1 && fd.revents & libc::POLLOUT != 0
}

/// Queue `line` (with its newline) for stderr; never blocks. Written at once, on this
/// thread, if the writer thread could not be started.
pub fn write_line(line: String) {
    let Some(w) = writer() else {
        return write_out(line.as_bytes());
    };
    if !write_now(w, &line) {
        queue(w, line.into_bytes());
    }
}

/// Hand `line` to the writer thread, or drop and count it when the queue is full.
fn queue(w: &Writer, line: Vec<u8>) {
    // Counted before it is sent, so a line written at once never sees the queue empty
    // while this one is on its way into it.
    w.queued.fetch_add(1, Ordering::SeqCst);
    match w.tx.try_send(line) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            w.queued.fetch_sub(1, Ordering::SeqCst);
            w.dropped.fetch_add(1, Ordering::SeqCst);
            w.dropped_total.fetch_add(1, Ordering::SeqCst);
        }
        Err(TrySendError::Disconnected(line)) => {
            w.queued.fetch_sub(1, Ordering::SeqCst);
            let _ = write_waiting(&line);
        }
    }
}

/// Log lines dropped since the master started, because stderr was not being read.
pub fn dropped() -> u64 {
    WRITER
        .get()
        .and_then(Option::as_ref)
        .map_or(0, |w| w.dropped_total.load(Ordering::SeqCst))
}

/// Wait until every queued line is written, for at most `timeout`; true if they all were.
/// Called before the master exits, so its last lines are not lost.
pub fn flush(timeout: Duration) -> bool {
    let Some(w) = WRITER.get().and_then(Option::as_ref) else {
        return true;
    };
    let until = Instant::now() + timeout;
    while w.written.load(Ordering::SeqCst) < w.queued.load(Ordering::SeqCst) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}
