//! The driver thread: owns the core, reads the clock, waits for events or the next
//! deadline, runs the commands that Rust can run and hands the rest to JavaScript.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nix::sys::signal::Signal as NixSignal;
use serde_json::{json, Value};

use super::compile_cache::CompileCache;
use super::control::{error_answer, BoundControl, Later, Replier, Request};
use super::handles::ProcessHandles;
use super::log::{master_log, Style};
use super::notify::NotifyEnv;
use super::package::PackageWatch;
use super::sampler::Sampler;
use super::service::ServiceLink;
use super::socket;
use super::status::{self, About};
use super::Input;
use crate::core::{
    Command, Event, Level, NodeCommand, Notice, ScaleTo, Supervisor, Trace, WorkerId, WorkerSignal,
    WorkerTag,
};

/// How long the master waits at exit for its log lines to reach stderr.
const LOG_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

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
    pub warnings: Vec<String>,
    pub handles: Arc<ProcessHandles>,
    /// The control socket, removed just before the master exits.
    pub control: Arc<Mutex<Option<BoundControl>>>,
    pub about: About,
    pub waiting: Waiting,
    /// What the service manager asked for (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
    pub notify: NotifyEnv,
    /// How many pings Node's event loop has answered.
    pub pongs: Arc<AtomicU64>,
    /// The link to the service manager, opened by `run` (leave it `None`).
    pub service: Option<ServiceLink>,
    /// The workers' compile cache folder, made ready before each fork.
    pub compile_cache: CompileCache,
    /// The metrics server's end in the driver, when `MASTER_PROCESS_METRICS` is set.
    pub metrics: Option<super::metrics::Link>,
}

/// Requests whose answer is an outcome still to come.
#[derive(Default)]
pub struct Waiting {
    /// Answered by the outcome of this generation's reload (or a later one's).
    reloads: Vec<(u32, Replier)>,
    /// Answered when no scale is in progress or waiting any more.
    scales: Vec<Replier>,
    /// The latest upgrade refused, and why (the status report says it).
    pub refused: Option<(u32, String)>,
}

impl Driver {
    /// Run until the core exits or every sender is gone.
    pub fn run(mut self, rx: Receiver<Input>) {
        let log = master_log(self.style);
        tracing::dispatcher::with_default(&log, || {
            for note in std::mem::take(&mut self.notes) {
                tracing::debug!("{note}");
            }
            for warning in std::mem::take(&mut self.warnings) {
                tracing::error!("{warning}");
            }
            self.service = ServiceLink::new(&self.notify, self.pongs.clone(), Instant::now());
            while let Some(input) = self.next_input(&rx) {
                self.metrics.iter().for_each(|m| m.turn_began());
                match input {
                    Input::Event(event) => self.feed(event),
                    Input::Ask(request, reply) => self.answer(request, reply),
                }
                self.metrics.iter().for_each(|m| m.turn_ended(&self.core));
                if self.core.has_exited() {
                    break;
                }
            }
            self.metrics.iter().for_each(|m| m.end());
        });
    }

    fn next_input(&mut self, rx: &Receiver<Input>) -> Option<Input> {
        // On every turn, not only when the channel is idle: under a backlog of events the
        // wait below never times out, and a watchdog fed only then would starve.
        self.feed_watchdog();
        let watchdog = self.service.as_ref().and_then(|s| s.deadline());
        let Some(deadline) = self.core.poll_timeout().into_iter().chain(watchdog).min() else {
            return rx.recv().ok();
        };
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => {
                self.feed_watchdog();
                Some(Event::Tick.into())
            }
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    fn dropped(&self) -> status::Dropped {
        status::Dropped {
            log_lines: super::log_writer::dropped(),
            notifications: self.service.as_ref().map_or(0, ServiceLink::dropped),
        }
    }

    fn feed_watchdog(&mut self) {
        if let Some(service) = self.service.as_mut() {
            service.tick(Instant::now(), self.outbox.as_ref());
        }
    }

    /// Carry out a control request: answer now, or once the outcome it waits for is known.
    fn answer(&mut self, request: Request, reply: Replier) {
        self.metrics.iter_mut().for_each(|m| m.count(&request));
        let answer = match request {
            Request::Status => {
                let refused = self.waiting.refused.as_ref();
                let report = status::report(
                    &self.core,
                    &self.about,
                    self.dropped(),
                    refused,
                    Instant::now(),
                );
                json!({ "ok": true, "status": report })
            }
            Request::Reload => {
                self.feed(Event::ReloadRequested);
                match self.core.awaited_reload() {
                    Some(generation) => {
                        let slots = self.core.slot_count();
                        reply.later(Later::reload(generation, self.core.policy(), slots));
                        return self.waiting.reloads.push((generation, reply));
                    }
                    None => error_answer("cannot reload: the master is stopping"),
                }
            }
            Request::Stop => {
                self.feed(Event::ControlStop);
                json!({ "ok": true, "stopping": true })
            }
            Request::Pause | Request::Resume => {
                let pause = request == Request::Pause;
                self.feed(if pause {
                    Event::PauseRequested
                } else {
                    Event::ResumeRequested
                });
                json!({ "ok": true, "paused": self.core.is_paused() })
            }
            Request::Upgrade => {
                self.feed(Event::UpgradeRequested);
                let attempt = self.core.upgrade_attempts();
                match &self.waiting.refused {
                    Some((refused, reason)) if *refused == attempt => {
                        error_answer(format!("upgrade refused, nothing changed: {reason}"))
                    }
                    _ => json!({
                        "ok": true,
                        "upgrade": { "attempt": attempt, "upgrades": self.core.upgrades() },
                    }),
                }
            }
            Request::Handover => json!({ "ok": true, "handover": status::handover(&self.core) }),
            Request::Scale(count) => {
                if let Err(refused) = self.core.scale_target(ScaleTo::Count(count)) {
                    error_answer(refused)
                } else {
                    self.feed(Event::Scale(ScaleTo::Count(count)));
                    if self.core.is_scaling() {
                        let slots = self.core.slot_count();
                        reply.later(Later::scale(count, self.core.policy(), slots));
                        return self.waiting.scales.push(reply);
                    }
                    json!({ "ok": true, "workers": self.core.slot_count() })
                }
            }
        };
        let _ = reply.send(answer);
    }

    /// Answer the requests that `notice` settles.
    fn settle(&mut self, notice: &Notice) {
        let waiting = &mut self.waiting;
        match notice {
            Notice::ReloadDone { generation } => {
                let answer = json!({
                    "ok": true,
                    "reload": { "generation": generation, "outcome": "done" },
                });
                answer_reloads(&mut waiting.reloads, *generation, &answer);
            }
            Notice::ReloadFailed { generation, reason } => {
                let answer = json!({
                    "ok": false,
                    "error": format!("reload {generation} failed and was rolled back: {reason}"),
                    "reload": {
                        "generation": generation,
                        "outcome": "rolled back",
                        "reason": reason.to_string(),
                    },
                });
                answer_reloads(&mut waiting.reloads, *generation, &answer);
            }
            Notice::UpgradeRefused { attempt, reason } => {
                waiting.refused = Some((*attempt, reason.to_string()));
            }
            Notice::Scaled { workers } if !self.core.is_scaling() => {
                let answer = json!({ "ok": true, "workers": workers });
                for reply in waiting.scales.drain(..) {
                    let _ = reply.send(answer.clone());
                }
            }
            Notice::Stopping { reason, .. } => {
                let answer = error_answer(format!("the master is stopping ({reason})"));
                let scales = waiting.scales.drain(..);
                let reloads = waiting.reloads.drain(..).map(|(_, reply)| reply);
                for reply in scales.chain(reloads) {
                    let _ = reply.send(answer.clone());
                }
            }
            _ => {}
        }
    }

    /// Hand one event to the core, and any event a command answers with right away.
    fn feed(&mut self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            if let Event::Exited { id, .. } | Event::Probed { id, exited: true } = &event {
                self.handles.forget(*id);
            }
            for command in self.core.handle(Instant::now(), event) {
                queue.extend(self.run_command(command));
            }
        }
        if let Some(service) = self.service.as_mut() {
            service.refresh_status(&self.core);
        }
    }

    fn run_command(&mut self, command: Command) -> Option<Event> {
        match command {
            Command::Node(node) => return self.run_node(node),
            Command::Signal { id, pid, signal } => signal_worker(&self.handles, id, pid, signal),
            Command::Release { id } => self.handles.forget(id),
            Command::Probe { id, pid } => {
                let exited = self.handles.has_exited(id, pid);
                return Some(Event::Probed { id, exited });
            }
            Command::Sample { targets } => {
                let handles = &self.handles;
                let has_exited = |id, pid| handles.has_exited(id, pid);
                return self
                    .sampler
                    .sample(&targets, has_exited)
                    .map(Event::Samples);
            }
            Command::ChmodSocket => self.chmod_socket(),
            Command::RemoveSocket => self.remove_socket(),
            Command::Service(state) => {
                if let Some(service) = self.service.as_mut() {
                    service.tell(state, &self.core);
                }
            }
            Command::Trace { worker, trace } => write_trace(worker, &trace),
        }
        None
    }

    /// Hand a command to Node; a fork first checks that master-process did not change, and
    /// the control socket goes before the exit.
    fn run_node(&mut self, command: NodeCommand) -> Option<Event> {
        match &command {
            NodeCommand::Fork { id, .. } => {
                let changed = self.package.changed();
                if let Some(version) = changed.filter(|v| !self.core.forks_despite(v)) {
                    return Some(Event::PackageChanged { id: *id, version });
                }
            }
            NodeCommand::Notify(notice) => self.settle(notice),
            // The image is about to be replaced: what it said must be out first (`RELOADING=1`).
            NodeCommand::Exec => {
                super::log_writer::flush(LOG_FLUSH_TIMEOUT);
                if let Some(service) = self.service.as_ref() {
                    service.flush(LOG_FLUSH_TIMEOUT);
                }
            }
            NodeCommand::Exit { .. } => {
                self.close_control();
                self.metrics.iter().for_each(|m| m.close());
                // The last lines (why it exits) before Node ends the process; bounded, as
                // stderr may not be read at all.
                super::log_writer::flush(LOG_FLUSH_TIMEOUT);
                if let Some(service) = self.service.as_ref() {
                    service.flush(LOG_FLUSH_TIMEOUT);
                }
            }
            _ => {}
        }
        if let Some(service) = self.service.as_mut() {
            service.observe(&command);
        }
        if let NodeCommand::Fork { .. } = command {
            let env = WorkerEnv {
                compile_cache: self.compile_cache.before_fork(),
            };
            self.outbox.fork(command, env);
        } else {
            self.outbox.send(command);
        }
        None
    }

    fn close_control(&self) {
        if super::close_control(&self.control) {
            tracing::debug!("control socket removed");
        }
    }

    fn chmod_socket(&self) {
        let Some(path) = self.socket.as_deref() else {
            return;
        };
        match socket::chmod(path) {
            Ok(true) => tracing::debug!("chmod 664 {}", path.display()),
            Ok(false) => tracing::debug!("{} is not a socket: not changed", path.display()),
            Err(e) => tracing::error!("could not chmod 664 {}: {e}", path.display()),
        }
    }

    fn remove_socket(&self) {
        let Some(path) = self.socket.as_deref() else {
            return;
        };
        match socket::remove(path) {
            Ok(true) => tracing::debug!("removed {}", path.display()),
            Ok(false) => tracing::debug!("{} is gone or in use: left alone", path.display()),
            Err(e) => tracing::error!("could not remove {}: {e}", path.display()),
        }
    }
}

/// Answer the reload requests that the outcome of `generation` settles.
fn answer_reloads(reloads: &mut Vec<(u32, Replier)>, generation: u32, answer: &Value) {
    reloads.retain(|(awaited, reply)| {
        if *awaited > generation {
            return true;
        }
        let _ = reply.send(answer.clone());
        false
    });
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
