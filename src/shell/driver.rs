//! The driver thread: owns the core, reads the clock, waits for events or the next
//! deadline, runs the commands that Rust can run and hands the rest to JavaScript.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::Signal as NixSignal;
use tracing_subscriber::layer::SubscriberExt;

use super::compile_cache::CompileCache;
use super::handles::ProcessHandles;
use super::log::{DebugLayer, Style};
use super::notify::NotifyEnv;
use super::package::PackageWatch;
use super::sampler::Sampler;
use super::service::ServiceLink;
use super::socket;
use crate::core::{
    Command, Event, Level, NodeCommand, Supervisor, Trace, WorkerId, WorkerSignal, WorkerTag,
};

/// What the shell adds to the environment of a worker it forks now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerEnv {
    /// `NODE_COMPILE_CACHE`: the compile cache folder, ready for this fork.
    pub compile_cache: Option<PathBuf>,
}

/// Where commands only Node can run go (fork, drain, settle, send, notify, exit).
pub trait Outbox: Send {
    /// A command for Node. The driver hands a `Fork` to `fork` instead; one passed here
    /// forks with nothing added to the environment.
    fn send(&self, command: NodeCommand);
    /// `NodeCommand::Fork`, with what the shell adds to the worker's environment.
    fn fork(&self, command: NodeCommand, env: WorkerEnv);
    /// Ask Node's event loop to answer (`Master.pong()`), for the service watchdog.
    fn ping(&self);
}

/// Everything the driver thread owns.
pub struct Driver {
    pub core: Supervisor,
    pub outbox: Box<dyn Outbox>,
    pub sampler: Sampler,
    pub socket: Option<PathBuf>,
    pub package: PackageWatch,
    pub style: Style,
    pub notes: Vec<String>,
    pub handles: Arc<ProcessHandles>,
    /// What the service manager asked for (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
    pub notify: NotifyEnv,
    /// How many pings Node's event loop has answered.
    pub pongs: Arc<AtomicU64>,
    /// The workers' compile cache folder, made ready before each fork.
    pub compile_cache: CompileCache,
}

impl Driver {
    /// Run until the core exits or every sender is gone.
    pub fn run(self, rx: Receiver<Event>) {
        let subscriber = tracing_subscriber::registry().with(DebugLayer::new(self.style));
        tracing::subscriber::with_default(subscriber, || {
            for note in &self.notes {
                tracing::debug!("{note}");
            }
            let service = ServiceLink::new(&self.notify, self.pongs.clone(), Instant::now());
            let mut running = Running {
                driver: self,
                service,
            };
            while let Some(event) = running.next_event(&rx) {
                running.feed(event);
                if running.driver.core.has_exited() {
                    break;
                }
            }
        });
    }
}

/// The driver at work, with what it opened at start.
struct Running {
    driver: Driver,
    service: Option<ServiceLink>,
}

impl Running {
    fn next_event(&mut self, rx: &Receiver<Event>) -> Option<Event> {
        let watchdog = self.service.as_ref().and_then(|s| s.deadline());
        let Some(deadline) = self
            .driver
            .core
            .poll_timeout()
            .into_iter()
            .chain(watchdog)
            .min()
        else {
            return rx.recv().ok();
        };
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(service) = self.service.as_mut() {
                    service.tick(Instant::now(), self.driver.outbox.as_ref());
                }
                Some(Event::Tick)
            }
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Hand one event to the core, and any event a command answers with right away.
    fn feed(&mut self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            if let Event::Exited { id, .. } | Event::Probed { id, exited: true } = &event {
                self.driver.handles.forget(*id);
            }
            for command in self.driver.core.handle(Instant::now(), event) {
                queue.extend(self.run_command(command));
            }
        }
        if let Some(service) = self.service.as_mut() {
            service.refresh_status(&self.driver.core);
        }
    }

    fn run_command(&mut self, command: Command) -> Option<Event> {
        match command {
            Command::Node(node) => return self.run_node(node),
            Command::Signal { id, pid, signal } => {
                signal_worker(&self.driver.handles, id, pid, signal)
            }
            Command::Probe { id, pid } => {
                let exited = self.driver.handles.has_exited(id, pid);
                return Some(Event::Probed { id, exited });
            }
            Command::Sample { targets } => {
                let handles = &self.driver.handles;
                let has_exited = |id, pid| handles.has_exited(id, pid);
                return self
                    .driver
                    .sampler
                    .sample(&targets, has_exited)
                    .map(Event::Samples);
            }
            Command::ChmodSocket => self.chmod_socket(),
            Command::RemoveSocket => self.remove_socket(),
            Command::Service(state) => {
                if let Some(service) = self.service.as_mut() {
                    service.tell(state, &self.driver.core);
                }
            }
            Command::Trace { worker, trace } => write_trace(worker, &trace),
        }
        None
    }

    /// Hand a command to Node; a fork first checks that master-process did not change.
    fn run_node(&mut self, command: NodeCommand) -> Option<Event> {
        if let NodeCommand::Fork { id, .. } = command {
            if let Some(version) = self.driver.package.changed() {
                return Some(Event::PackageChanged { id, version });
            }
        }
        if let Some(service) = self.service.as_mut() {
            service.observe(&command);
        }
        if let NodeCommand::Fork { .. } = command {
            let env = WorkerEnv {
                compile_cache: self.driver.compile_cache.before_fork(),
            };
            self.driver.outbox.fork(command, env);
        } else {
            self.driver.outbox.send(command);
        }
        None
    }

    fn chmod_socket(&self) {
        let Some(path) = self.driver.socket.as_deref() else {
            return;
        };
        match socket::chmod(path) {
            Ok(true) => tracing::debug!("chmod 664 {}", path.display()),
            Ok(false) => tracing::debug!("{} is not a socket: not changed", path.display()),
            Err(e) => tracing::error!("could not chmod 664 {}: {e}", path.display()),
        }
    }

    fn remove_socket(&self) {
        let Some(path) = self.driver.socket.as_deref() else {
            return;
        };
        match socket::remove(path) {
            Ok(true) => tracing::debug!("removed {}", path.display()),
            Ok(false) => tracing::debug!("{} is gone or in use: left alone", path.display()),
            Err(e) => tracing::error!("could not remove {}: {e}", path.display()),
        }
    }
}

fn signal_worker(handles: &ProcessHandles, id: WorkerId, pid: u32, signal: WorkerSignal) {
    let sig = match signal {
        WorkerSignal::Term => NixSignal::SIGTERM,
        WorkerSignal::Kill => NixSignal::SIGKILL,
        WorkerSignal::Usr2 => NixSignal::SIGUSR2,
    };
    match handles.signal(id, pid, sig) {
        Ok(()) => tracing::debug!("sent {sig} to pid {pid}"),
        Err(nix::errno::Errno::ESRCH) => tracing::debug!("pid {pid} already gone ({sig} not sent)"),
        Err(e) => tracing::error!("could not send {sig} to pid {pid}: {e}"),
    }
}

fn write_trace(worker: Option<WorkerTag>, trace: &Trace) {
    let span = worker.map(|w| match w.pid {
        Some(pid) => tracing::info_span!("worker", pid, index = w.slot),
        None => tracing::info_span!("worker", index = w.slot),
    });
    let _entered = span.as_ref().map(|s| s.enter());
    match trace.level() {
        Level::Debug => tracing::debug!("{trace}"),
        Level::Error => tracing::error!("{trace}"),
    }
}

#[cfg(test)]
mod tests;
