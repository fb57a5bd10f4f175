//! The log's own writer thread. stderr is often a pipe (journald, docker, `| tee`); a
//! blocking write to one whose reader stopped would freeze the thread that logs, and the
//! driver logs, so supervision would stop with it. Lines go through a bounded queue to this
//! thread instead; when the queue is full they are dropped and counted, and the count is
//! written once stderr takes lines again.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Lines that may wait for stderr before new ones are dropped.
const QUEUE: usize = 1024;

struct Writer {
    tx: SyncSender<String>,
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
                    }
                });
            spawned.ok().map(|_| Writer {
                tx,
                queued: AtomicU64::new(0),
                written: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            })
        })
        .as_ref()
}

fn write_out(line: &str) {
    let mut stderr = std::io::stderr().lock();
    if let Some(w) = WRITER.get().and_then(Option::as_ref) {
        let dropped = w.dropped.swap(0, Ordering::SeqCst);
        if dropped > 0 {
            let note = format!(
                "master-process: {dropped} log line(s) dropped: stderr was not being read\n"
            );
            let _ = stderr.write_all(note.as_bytes());
        }
        let _ = stderr.write_all(line.as_bytes());
        w.written.fetch_add(1, Ordering::SeqCst);
    } else {
        let _ = stderr.write_all(line.as_bytes());
    }
}

/// Queue `line` (with its newline) for stderr; never blocks. Written at once, on this
/// thread, if the writer thread could not be started.
pub fn write_line(line: String) {
    let Some(w) = writer() else {
        return write_out(&line);
    };
    match w.tx.try_send(line) {
        Ok(()) => {
            w.queued.fetch_add(1, Ordering::SeqCst);
        }
        Err(TrySendError::Full(_)) => {
            w.dropped.fetch_add(1, Ordering::SeqCst);
        }
        Err(TrySendError::Disconnected(line)) => write_out(&line),
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
