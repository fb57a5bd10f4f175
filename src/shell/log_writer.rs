//! Writing the log without ever blocking the thread that logs. stderr is often a pipe
//! (journald, docker, `| tee`); a blocking write to one whose reader stopped would freeze the
//! thread that logs, and the driver logs, so supervision would stop with it.
//!
//! A line is written at once, on the calling thread, when nothing is waiting and stderr
//! has room (`poll`), so lines keep their place among the master's other output. Otherwise
//! it goes through a bounded queue to a writer thread of its own; when the queue is full,
//! lines are dropped and counted, and the count is written once stderr takes lines again.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines that may wait for stderr before new ones are dropped.
const QUEUE: usize = 1024;

struct Writer {
    tx: SyncSender<String>,
    /// Held by whoever writes to stderr, so a line written at once cannot pass queued ones.
    writing: Mutex<()>,
    queued: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
}

static WRITER: OnceLock<Option<Writer>> = OnceLock::new();

fn writer() -> Option<&'static Writer> {
    WRITER
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<String>(QUEUE);
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
            })
        })
        .as_ref()
}

fn write_out(line: &str) {
    let Some(w) = WRITER.get().and_then(Option::as_ref) else {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return;
    };
    let _writing = w.writing.lock();
    write_counted(w, line);
}

/// Write `line`, after the count of lines dropped since the last write, if any.
fn write_counted(w: &Writer, line: &str) {
    let mut stderr = std::io::stderr().lock();
    let dropped = w.dropped.swap(0, Ordering::SeqCst);
    if dropped > 0 {
        let note =
            format!("master-process: {dropped} log line(s) dropped: stderr was not being read\n");
        let _ = stderr.write_all(note.as_bytes());
    }
    let _ = stderr.write_all(line.as_bytes());
}

/// Write `line` now if no line waits, nobody is writing and stderr has room; false if not.
fn write_now(w: &Writer, line: &str) -> bool {
    let Ok(_writing) = w.writing.try_lock() else {
        return false;
    };
    if w.written.load(Ordering::SeqCst) < w.queued.load(Ordering::SeqCst) || !has_room() {
        return false;
    }
    write_counted(w, line);
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

/// Every line dropped since the master started (`/metrics`); the notice's count resets.
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Lines dropped so far, in all.
pub fn dropped_total() -> u64 {
    DROPPED_TOTAL.load(Ordering::SeqCst)
}

/// Queue `line` (with its newline) for stderr; never blocks. Written at once, on this
/// thread, if the writer thread could not be started.
pub fn write_line(line: String) {
    let Some(w) = writer() else {
        return write_out(&line);
    };
    if write_now(w, &line) {
        return;
    }
    // Counted before it is sent, so a line written at once never sees the queue empty
    // while this one is on its way into it.
    w.queued.fetch_add(1, Ordering::SeqCst);
    match w.tx.try_send(line) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            w.queued.fetch_sub(1, Ordering::SeqCst);
            w.dropped.fetch_add(1, Ordering::SeqCst);
            DROPPED_TOTAL.fetch_add(1, Ordering::SeqCst);
        }
        Err(TrySendError::Disconnected(line)) => {
            w.queued.fetch_sub(1, Ordering::SeqCst);
            write_out(&line);
        }
    }
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
