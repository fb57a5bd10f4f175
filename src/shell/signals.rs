//! The master's signals, caught with signal-hook on their own thread.
//!
//! JS pins the signals first (`process.on(sig, noop)`, so libuv's handler replaces Node's
//! start-up one), then this registers and chains to libuv's, so user listeners still fire.
//! If JS later loses its last listener, libuv resets the handler; `rearm` puts ours back.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
use signal_hook::iterator::{Handle, Signals};

use crate::core::{Event, Signal};

/// The handled signals, by name and number.
pub const HANDLED: [(&str, i32); 4] = [
    ("SIGHUP", SIGHUP),
    ("SIGTERM", SIGTERM),
    ("SIGINT", SIGINT),
    ("SIGUSR2", SIGUSR2),
];

/// The signal thread and the handlers it installed.
pub struct SignalThread {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    saved: HashMap<i32, libc::sigaction>,
}

impl SignalThread {
    /// Register the signals and forward each delivery to the driver as an event.
    pub fn spawn(tx: Sender<Event>) -> std::io::Result<SignalThread> {
        let mut signals = Signals::new(HANDLED.iter().map(|(_, n)| *n))?;
        let saved = HANDLED
            .iter()
            .filter_map(|(_, n)| Some((*n, current(*n)?)))
            .collect();
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("master-process-signals".into())
            .spawn(move || {
                for number in signals.forever() {
                    let Some(signal) = to_core(number) else {
                        continue;
                    };
                    if tx.send(Event::Signal(signal)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(SignalThread {
            handle,
            thread: Some(thread),
            saved,
        })
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
}

impl Drop for SignalThread {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
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

fn to_core(number: i32) -> Option<Signal> {
    match number {
        SIGHUP => Some(Signal::Hup),
        SIGTERM => Some(Signal::Term),
        SIGINT => Some(Signal::Int),
        SIGUSR2 => Some(Signal::Usr2),
        _ => None,
    }
}

fn current(number: i32) -> Option<libc::sigaction> {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(number, std::ptr::null(), &mut old) == 0).then_some(old)
    }
}
