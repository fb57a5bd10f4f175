//! The imperative shell around the core: driver thread, signals, control socket, sampler,
//! socket file, log, and the package version watch.

pub mod activation;
pub mod adopted;
pub mod compile_cache;
pub mod control;
pub mod describe;
pub mod driver;
pub mod handles;
pub mod host;
pub mod launcher;
pub mod listen_probe;
pub mod log;
pub mod log_writer;
pub mod metrics;
pub mod notify;
pub mod notify_queue;
pub mod package;
pub mod sampler;
pub mod service;
pub mod signals;
pub mod socket;
pub mod status;

use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::core::{Event, Supervisor, WorkerId};
use crate::error::Error;
use control::{AskError, BoundControl, Replier, Request};
use driver::{Driver, Outbox};
use signals::SignalThread;

/// What reaches the driver thread: an event for the core, or a request to answer (on the
/// sender given with it, as one JSON value).
pub enum Input {
    /// For the core.
    Event(Event),
    /// A control request and where its answer goes.
    Ask(Request, Replier),
}

impl From<Event> for Input {
    fn from(event: Event) -> Self {
        Input::Event(event)
    }
}

/// The control socket, bound and not yet served.
pub struct Control {
    /// The socket file, to remove at exit.
    pub bound: BoundControl,
    /// The listening socket, for the accept thread.
    pub listener: UnixListener,
}

/// A running master: the driver thread, the signal thread, and the way in for events.
pub struct Shell {
    tx: Sender<Input>,
    control: Arc<Mutex<Option<BoundControl>>>,
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
    /// The control socket, if there is one.
    pub control: Option<Control>,
    /// Errors to log once the log is set up (the master goes on).
    pub warnings: Vec<String>,
    /// What a status report says about the master besides the core's state.
    pub about: status::About,
    pub compile_cache: compile_cache::CompileCache,
    /// `MASTER_PROCESS_METRICS`, and the versions `master_process_build_info` names.
    pub metrics: Option<(crate::config::MetricsAddr, metrics::Build)>,
}

impl Shell {
    /// Watch the workers of the image this one replaced (`(id, pid)` from
    /// `Supervisor::resume`): a handle for each, so the core can signal them, and a reaper
    /// that tells the core when each has ended.
    pub fn adopt(&self, adopted: Vec<(WorkerId, u32)>) {
        for &(id, pid) in &adopted {
            self.handles.open(id, pid);
        }
        for (id, pid) in adopted {
            adopted::reap(id, pid, self.tx.clone());
        }
    }

    /// Install the signal handlers, start the driver and send it `Event::Start`.
    pub fn start(mut setup: Setup) -> Result<Shell, Error> {
        log::master_log(setup.style);
        let link = match setup.metrics.take() {
            Some((addr, build)) => {
                let board = Arc::new(metrics::Board::new(build, std::time::Instant::now()));
                let server = match metrics::start(&addr, board.clone()) {
                    Ok(server) => server,
                    Err(e) => {
                        if let Some(control) = &setup.control {
                            control.bound.remove();
                        }
                        return Err(e.into());
                    }
                };
                setup.about.metrics = Some(server.listening.clone());
                Some(metrics::Link::new(board, server))
            }
            None => None,
        };
        let (tx, rx) = channel();
        let signals = match SignalThread::spawn(tx.clone()) {
            Ok(signals) => signals,
            Err(e) => {
                if let Some(control) = &setup.control {
                    control.bound.remove();
                }
                return Err(Error::Signals(e));
            }
        };
        let handles = Arc::new(handles::ProcessHandles::default());
        let pongs = Arc::new(AtomicU64::new(0));
        let control = Arc::new(Mutex::new(None));
        if let Some(Control { bound, listener }) = setup.control {
            if let Ok(mut slot) = control.lock() {
                *slot = Some(bound);
            }
            if let Err(e) = control::serve(listener, tx.clone(), control::Limits::default()) {
                close_control(&control);
                return Err(Error::Thread(e));
            }
        }
        let driver = Driver {
            core: setup.supervisor,
            outbox: setup.outbox,
            sampler: sampler::Sampler::new(),
            socket: setup.socket,
            package: setup.package,
            style: setup.style,
            notes: setup.notes,
            warnings: setup.warnings,
            handles: handles.clone(),
            notify: setup.notify,
            pongs: pongs.clone(),
            control: control.clone(),
            about: setup.about,
            waiting: Default::default(),
            service: None,
            compile_cache: setup.compile_cache,
            metrics: link,
        };
        let thread = std::thread::Builder::new()
            .name("master-process-driver".into())
            .spawn(move || driver.run(rx));
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                close_control(&control);
                return Err(Error::Thread(e));
            }
        };
        let _ = tx.send(Event::Start.into());
        if let Some(watched) = launcher::watched() {
            launcher::watch(watched, tx.clone());
        }
        Ok(Shell {
            tx,
            control,
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
        let _ = self.tx.send(event.into());
    }

    /// Ask the driver what a control socket client would, and wait for the answer, at
    /// most `control::ANSWER_TIMEOUT` (this runs on Node's thread).
    pub fn ask(&self, request: Request) -> Result<serde_json::Value, AskError> {
        control::ask(&self.tx, request, control::ANSWER_TIMEOUT)
    }

    /// Remove the control socket file now (the process is exiting). Whether it did.
    pub fn close_control(&self) -> bool {
        close_control(&self.control)
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

/// Remove the control socket file, once. Whether it did.
pub fn close_control(control: &Mutex<Option<BoundControl>>) -> bool {
    let bound = control.lock().ok().and_then(|mut slot| slot.take());
    bound.is_some_and(|b| b.remove())
}
