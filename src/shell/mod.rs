//! The imperative shell around the core: driver thread, signals, sampler, socket file,
//! log, and the package version watch.

pub mod activation;
pub mod compile_cache;
pub mod describe;
pub mod driver;
pub mod handles;
pub mod host;
pub mod log;
pub mod notify;
pub mod package;
pub mod sampler;
pub mod service;
pub mod signals;
pub mod socket;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::core::{Event, Supervisor, WorkerId};
use crate::error::Error;
use driver::{Driver, Outbox};
use signals::SignalThread;

/// A running master: the driver thread, the signal thread, and the way in for events.
pub struct Shell {
    tx: Sender<Event>,
    signals: SignalThread,
    handles: Arc<handles::ProcessHandles>,
    pongs: Arc<AtomicU64>,
    _driver: JoinHandle<()>,
}

/// What the shell needs besides the core's policy.
pub struct Setup {
    pub supervisor: Supervisor,
    pub outbox: Box<dyn Outbox>,
    pub socket: Option<std::path::PathBuf>,
    pub package: package::PackageWatch,
    pub style: log::Style,
    pub notes: Vec<String>,
    pub notify: notify::NotifyEnv,
    pub compile_cache: compile_cache::CompileCache,
}

impl Shell {
    /// Install the signal handlers, start the driver and send it `Event::Start`.
    pub fn start(setup: Setup) -> Result<Shell, Error> {
        let (tx, rx) = channel();
        let signals = SignalThread::spawn(tx.clone()).map_err(Error::Signals)?;
        let handles = Arc::new(handles::ProcessHandles::default());
        let pongs = Arc::new(AtomicU64::new(0));
        let driver = Driver {
            core: setup.supervisor,
            outbox: setup.outbox,
            sampler: sampler::Sampler::new(),
            socket: setup.socket,
            package: setup.package,
            style: setup.style,
            notes: setup.notes,
            handles: handles.clone(),
            notify: setup.notify,
            pongs: pongs.clone(),
            compile_cache: setup.compile_cache,
        };
        let thread = std::thread::Builder::new()
            .name("master-process-driver".into())
            .spawn(move || driver.run(rx))
            .map_err(Error::Thread)?;
        let _ = tx.send(Event::Start);
        Ok(Shell {
            tx,
            signals,
            handles,
            pongs,
            _driver: thread,
        })
    }

    /// Node's event loop answered a watchdog ping.
    pub fn pong(&self) {
        self.pongs.fetch_add(1, Ordering::SeqCst);
    }

    /// Pass an event to the driver (a closed driver means the master is exiting: ignored).
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// A worker was just forked (call on Node's main thread): take a handle on its process.
    pub fn forked(&self, id: WorkerId, pid: u32) {
        self.handles.open(id, pid);
    }

    /// JS saw `seen` deliveries of signal `number` in all: replay any our handler missed.
    pub fn catch_up(&self, number: i32, seen: u32) -> u32 {
        self.signals.catch_up(number, seen)
    }

    /// Re-install our handler for a signal JS just re-pinned.
    pub fn rearm(&self, number: i32) -> bool {
        self.signals.rearm(number)
    }
}
