//! The service manager's datagrams, sent from a thread of their own. A receiver that stopped
//! reading (a stale or foreign `NOTIFY_SOCKET`) makes each send wait for its timeout; on
//! the driver thread that wait would hold up every decision, and `status` behind it. The
//! driver only queues: state messages in order, past a bound dropped and counted; the
//! `STATUS=` line latest-wins, as only the newest one means anything.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::log::with_master_log;
use super::notify::Notifier;

/// State messages (`READY=1`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`) that may wait for
/// the receiver before new ones are dropped.
pub const MESSAGES: usize = 32;

#[derive(Debug, PartialEq, Eq)]
enum Item {
    Message(String),
    Status(String),
}

#[derive(Default)]
struct Pending {
    items: VecDeque<Item>,
    /// An item taken by the thread and not yet sent.
    sending: bool,
    closed: bool,
}

impl Pending {
    /// Queue a state message unless `MESSAGES` already wait (false: dropped). One that
    /// carries a `STATUS=` line replaces a status still waiting.
    fn push_message(&mut self, text: String) -> bool {
        let waiting = self.items.iter().filter(|i| matches!(i, Item::Message(_)));
        if waiting.count() >= MESSAGES {
            return false;
        }
        if text.starts_with("STATUS=") || text.contains("\nSTATUS=") {
            self.drop_status();
        }
        self.items.push_back(Item::Message(text));
        true
    }

    /// Queue a status line in place of the one still waiting, if any.
    fn push_status(&mut self, status: &str) {
        self.drop_status();
        self.items
            .push_back(Item::Status(format!("STATUS={status}")));
    }

    fn drop_status(&mut self) {
        self.items.retain(|i| !matches!(i, Item::Status(_)));
    }
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    dropped: AtomicU64,
    /// Of `dropped`, how many a log line has told of.
    told: AtomicU64,
    failed: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver's end: queue a datagram, never wait for it.
pub struct NotifyQueue {
    shared: Arc<Shared>,
}

impl NotifyQueue {
    /// Start the sending thread for `notifier`; an error if the thread cannot be spawned.
    pub fn start(notifier: Notifier) -> std::io::Result<NotifyQueue> {
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("master-process-notify".into())
            .spawn(move || with_master_log(|| send_all(&theirs, &notifier)))?;
        Ok(NotifyQueue { shared })
    }

    /// Queue a state message; dropped and counted when `MESSAGES` already wait.
    pub fn message(&self, text: String) {
        if !self.shared.lock().push_message(text) {
            self.shared.dropped.fetch_add(1, Ordering::SeqCst);
        }
        self.shared.wake.notify_all();
    }

    /// Queue `STATUS=<status>`, in place of a status line still waiting.
    pub fn status(&self, status: &str) {
        self.shared.lock().push_status(status);
        self.shared.wake.notify_all();
    }

    /// State messages dropped because the receiver did not keep up.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Datagrams the receiver did not take within the send timeout.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Wait until everything queued is sent, for at most `timeout`; true if it was.
    pub fn flush(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut pending = self.shared.lock();
        while !pending.items.is_empty() || pending.sending {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            pending = match self.shared.wake.wait_timeout(pending, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

impl Drop for NotifyQueue {
    /// The master is done: what still waits is dropped (`flush` first to send it).
    fn drop(&mut self) {
        let mut pending = self.shared.lock();
        pending.items.clear();
        pending.closed = true;
        drop(pending);
        self.shared.wake.notify_all();
    }
}

/// The thread: send each item in turn until the driver's end is dropped.
fn send_all(shared: &Shared, notifier: &Notifier) {
    loop {
        let item = {
            let mut pending = shared.lock();
            pending.sending = false;
            shared.wake.notify_all();
            loop {
                if let Some(item) = pending.items.pop_front() {
                    pending.sending = true;
                    break item;
                }
                if pending.closed {
                    return;
                }
                pending = shared.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
            }
        };
        let (Item::Message(text) | Item::Status(text)) = &item;
        match notifier.send(text) {
            Ok(()) => tell_dropped(shared),
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::SeqCst);
                let first = text.lines().next().unwrap_or_default();
                tracing::error!("could not notify the service manager ({first}): {e}");
            }
        }
    }
}

/// Once the receiver reads again, one line on what was dropped meanwhile.
fn tell_dropped(shared: &Shared) {
    let dropped = shared.dropped.load(Ordering::SeqCst);
    let told = shared.told.swap(dropped, Ordering::SeqCst);
    if dropped > told {
        let n = dropped - told;
        tracing::error!("{n} notification(s) dropped: NOTIFY_SOCKET was not being read");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::path::PathBuf;

    fn receiver(name: &str) -> (PathBuf, UnixDatagram) {
        let dir = std::env::temp_dir().join(format!("mp-nq-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        (path, socket)
    }

    fn texts(socket: &UnixDatagram) -> Vec<String> {
        socket.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn a_status_replaces_the_one_waiting_and_a_message_with_a_status_replaces_it_too() {
        let mut pending = Pending::default();
        pending.push_status("a");
        assert!(pending.push_message("RELOADING=1".into()));
        pending.push_status("b");
        assert_eq!(
            pending.items,
            [
                Item::Message("RELOADING=1".into()),
                Item::Status("STATUS=b".into())
            ]
        );
        assert!(pending.push_message("READY=1\nSTATUS=c".into()));
        assert_eq!(
            pending.items,
            [
                Item::Message("RELOADING=1".into()),
                Item::Message("READY=1\nSTATUS=c".into())
            ]
        );
    }

    #[test]
    fn past_the_bound_state_messages_are_refused_while_a_status_still_fits() {
        let mut pending = Pending::default();
        for _ in 0..MESSAGES {
            assert!(pending.push_message("WATCHDOG=1".into()));
        }
        assert!(!pending.push_message("STOPPING=1".into()));
        pending.push_status("stopping");
        assert_eq!(pending.items.len(), MESSAGES + 1);
    }

    #[test]
    fn everything_queued_reaches_a_receiver_that_reads() {
        let (path, socket) = receiver("order");
        let queue = NotifyQueue::start(Notifier::new(path.to_str().unwrap()).unwrap()).unwrap();
        queue.message("READY=1\nSTATUS=1/1".into());
        queue.message("WATCHDOG=1".into());
        queue.status("b");
        assert!(queue.flush(Duration::from_secs(5)));
        assert_eq!(
            texts(&socket),
            ["READY=1\nSTATUS=1/1", "WATCHDOG=1", "STATUS=b"]
        );
        assert_eq!((queue.dropped(), queue.failed()), (0, 0));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_receiver_that_never_reads_never_holds_the_caller_and_drops_are_counted() {
        let (path, _socket) = receiver("stall");
        let queue = NotifyQueue::start(Notifier::new(path.to_str().unwrap()).unwrap()).unwrap();
        // Far more than the receiver's queue and ours together: a caller that waited for
        // the sends would find room every time and drop nothing.
        for _ in 0..(MESSAGES * 4) {
            queue.message("WATCHDOG=1".into());
            queue.status("still here");
        }
        assert!(queue.dropped() > 0, "what did not fit was counted");
        assert!(!queue.flush(Duration::from_millis(10)));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
