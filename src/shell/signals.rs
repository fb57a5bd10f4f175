//! The master's signals, counted in a signal handler and forwarded from their own thread.
//!
//! JS pins the signals first (`process.on(sig, listener)`, so libuv's handler replaces
//! Node's start-up one, which would re-raise forever if chained to), then this registers
//! with signal-hook, which chains to libuv's handler, so user listeners still fire.
//! If JS later loses its last listener, libuv resets the handler; `rearm` puts ours back.
//!
//! Each delivery is counted in the handler itself. A signal that arrives between the JS
//! pin and this registration reaches only libuv: JS counts what it sees during `init()`
//! and `catch_up` replays the difference, so no signal sent while `init()` runs is lost.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR2};
use signal_hook::SigId;

use super::log::with_master_log;
use super::Input;
use crate::core::{Event, Signal};

/// How many signals are handled.
const COUNT: usize = 6;

/// The handled signals, by name and number.
pub const HANDLED: [(&str, i32); COUNT] = [
    ("SIGHUP", SIGHUP),
    ("SIGTERM", SIGTERM),
    ("SIGINT", SIGINT),
    ("SIGUSR2", SIGUSR2),
    ("SIGTTIN", SIGTTIN),
    ("SIGTTOU", SIGTTOU),
];

/// Deliveries per handled signal (same order as `HANDLED`), written by the handler.
#[derive(Default)]
struct Counts([AtomicU32; COUNT]);

/// The signal thread and the handlers it installed.
pub struct SignalThread {
    ids: Vec<SigId>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    wake: UnixStream,
    tx: Sender<Input>,
    replayed: Mutex<[u32; COUNT]>,
    thread: Option<JoinHandle<()>>,
    saved: HashMap<i32, libc::sigaction>,
}

impl SignalThread {
    /// Register the signals and forward each delivery to the driver as an event.
    pub fn spawn(tx: Sender<Input>) -> std::io::Result<SignalThread> {
        let (mut rx, wake) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, stop, tx) = (counts.clone(), stop.clone(), tx.clone());
            std::thread::Builder::new()
                .name("master-process-signals".into())
                .spawn(move || with_master_log(|| forward(&mut rx, &counts, &stop, &tx)))?
        };
        let mut this = SignalThread {
            ids: Vec::new(),
            counts,
            stop,
            wake,
            tx,
            replayed: Mutex::new([0; COUNT]),
            thread: Some(thread),
            saved: HashMap::new(),
        };
        for (index, (_, number)) in HANDLED.iter().enumerate() {
            let id = register(*number, index, this.counts.clone(), this.wake.as_raw_fd())?;
            this.ids.push(id);
            if let Some(action) = block_all_while_handling(*number) {
                this.saved.insert(*number, action);
            }
        }
        Ok(this)
    }

    /// Put our handler for `number` back if something replaced it. True if it did.
    pub fn rearm(&self, number: i32) -> bool {
        let (Some(saved), Some(now)) = (self.saved.get(&number), current(number)) else {
            return false;
        };
        if now.sa_sigaction == saved.sa_sigaction {
            return false;
        }
        // SAFETY: restores a sigaction read back from the kernel right after registration.
        unsafe { libc::sigaction(number, saved, std::ptr::null_mut()) == 0 }
    }

    /// JS has seen `seen` deliveries of `number` in all; replay those our handler missed
    /// (they came before it was registered). Returns how many were replayed now.
    pub fn catch_up(&self, number: i32, seen: u32) -> u32 {
        let (Some(index), Some(signal)) = (index_of(number), to_core(number)) else {
            return 0;
        };
        let Ok(mut replayed) = self.replayed.lock() else {
            return 0;
        };
        let caught = self.counts.0[index].load(Ordering::SeqCst);
        let missed = seen.saturating_sub(caught.saturating_add(replayed[index]));
        replayed[index] += missed;
        for _ in 0..missed {
            let _ = self.tx.send(Event::Signal(signal).into());
        }
        missed
    }
}

impl Drop for SignalThread {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        self.stop.store(true, Ordering::SeqCst);
        wake(self.wake.as_raw_fd());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Count each delivery of `number` and wake the forwarding thread.
fn register(number: i32, index: usize, counts: Arc<Counts>, fd: RawFd) -> std::io::Result<SigId> {
    let action = move || {
        counts.0[index].fetch_add(1, Ordering::SeqCst);
        wake(fd);
    };
    // SAFETY: the action only does an atomic add and a write(2), both async-signal-safe; the
    // fd stays open until the action is unregistered (`Drop` unregisters first).
    unsafe { signal_hook::low_level::register(number, action) }
}

fn wake(fd: RawFd) {
    // SAFETY: a one-byte write(2) from a buffer we own; a full pipe just means a wake-up is
    // already pending.
    unsafe {
        libc::write(fd, [1u8].as_ptr().cast(), 1);
    }
}

/// The forwarding thread: one event per counted delivery, in the order of `HANDLED`.
fn forward(rx: &mut UnixStream, counts: &Counts, stop: &AtomicBool, tx: &Sender<Input>) {
    let mut sent = [0u32; COUNT];
    let mut buf = [0u8; 64];
    loop {
        match rx.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => return,
            Ok(_) if stop.load(Ordering::SeqCst) => return,
            Ok(_) => {}
        }
        for (index, (_, number)) in HANDLED.iter().enumerate() {
            let Some(signal) = to_core(*number) else {
                continue;
            };
            let total = counts.0[index].load(Ordering::SeqCst);
            while sent[index] != total {
                sent[index] = sent[index].wrapping_add(1);
                if tx.send(Event::Signal(signal).into()).is_err() {
                    return;
                }
            }
        }
    }
}

/// The signal number for a name such as `SIGHUP`.
pub fn number(name: &str) -> Option<i32> {
    HANDLED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
}

fn index_of(number: i32) -> Option<usize> {
    HANDLED.iter().position(|(_, n)| *n == number)
}

fn to_core(number: i32) -> Option<Signal> {
    match number {
        SIGHUP => Some(Signal::Hup),
        SIGTERM => Some(Signal::Term),
        SIGINT => Some(Signal::Int),
        SIGUSR2 => Some(Signal::Usr2),
        SIGTTIN => Some(Signal::Ttin),
        SIGTTOU => Some(Signal::Ttou),
        _ => None,
    }
}

/// Mask every signal while the handler of `number` runs, and return the action now set.
///
/// signal-hook installs its handler with an empty mask and then calls libuv's, which takes
/// libuv's signal lock by a blocking read on a pipe. A second, different signal arriving on
/// the same thread inside that window ran libuv's handler again, which then waited forever
/// for the lock its own thread held: every thread that took a signal afterwards hung with
/// it, the event loop included. libuv masks all signals for its own handler for exactly this
/// reason; ours chains to it, so it must do the same.
fn block_all_while_handling(number: i32) -> Option<libc::sigaction> {
    let mut action = current(number)?;
    // SAFETY: sigfillset writes the mask of a sigaction we own; sigaction then installs the
    // same handler and flags with that mask.
    let set = unsafe {
        libc::sigfillset(&mut action.sa_mask);
        libc::sigaction(number, &action, std::ptr::null_mut())
    };
    (set == 0).then_some(action)
}

fn current(number: i32) -> Option<libc::sigaction> {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(number, std::ptr::null(), &mut old) == 0).then_some(old)
    }
}
