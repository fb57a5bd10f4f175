//! The `#[napi]` surface: converts between JS values and core types and forwards. No policy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use napi::Status;
use napi_derive::napi;

use crate::config::{self, Caller, Config};
use crate::core::compile_cache::{self, CachePlan, NodeVersion};
use crate::core::{Event, NodeCommand, Notice, ScaleTo, Supervisor, WorkerMessage, MAX_WORKERS};
use crate::error::Error;
use crate::shell::activation::{self, Address, Inherited, ACTIVATION_VARS};
use crate::shell::compile_cache::CompileCache;
use crate::shell::control::{self, Request};
use crate::shell::describe::note_json;
use crate::shell::driver::{Outbox, WorkerEnv};
use crate::shell::notify::{NotifyEnv, MANAGER_ONLY};
use crate::shell::status::About;
use crate::shell::{host, log::Style, package::PackageWatch, signals, socket, Setup, Shell};

pub mod upgrade;

type Result<T> = napi::Result<T, String>;
/// Strong on purpose: the master must stay alive while no worker is (before the first fork,
/// during a crash back-off); it ends with the core's `exit` command.
type CommandFn = ThreadsafeFunction<JsCommand, (), JsCommand, Status, false, false>;

/// A command for the JS glue, told apart by `kind`.
#[napi(discriminant = "kind", discriminant_case = "lowercase")]
pub enum JsCommand {
    /// `cluster.fork` worker `id` for `WORKER_INDEX` `index` of generation (`RELOAD_INDEX`)
    /// `generation`; `port` is `PORT` for its environment when given as an option; `env`
    /// holds more variables for its environment (its `NODE_COMPILE_CACHE` folder, ready for
    /// it, when it gets one).
    Fork {
        id: u32,
        index: u32,
        generation: u32,
        port: Option<String>,
        env: HashMap<String, String>,
    },
    /// Ask the worker's drain module to drain.
    Drain { id: u32 },
    /// One more IPC round trip before the worker is signalled.
    Settle { id: u32 },
    /// `worker.send` this JSON string.
    Send { id: u32, message: String },
    /// Emit an event on the master handle.
    Notify { notice: JsNotice },
    /// Answer with `Master.pong()` (the service watchdog checks that Node's loop runs).
    Ping,
    /// Ask worker `id`'s event loop to answer (it calls back `Master.alive(id)`).
    Heartbeat { id: u32 },
    /// Stop handing worker `id` new connections at once (`worker.disconnect()`).
    Isolate { id: u32 },
    /// Ask worker `id` to write what it compiled to its module compile cache now.
    Persist { id: u32 },
    /// Hand the connection held as `ticket` to worker `id` (its answer: `Master.handoffAnswered`).
    Handoff { ticket: u32, id: u32 },
    /// Close the primary's copy of the connection held as `ticket`.
    Release { ticket: u32 },
    /// The master stops: its listening sockets may close (see lib/master/listeners.js).
    Unlisten,
    /// Check that the image on disk can start; answer with `Master.upgradeChecked`.
    CheckUpgrade,
    /// Replace this image (see lib/master/upgrade.js); `Master.execFailed` if it cannot.
    Exec,
    /// `process.exit(code)`.
    Exit { code: i32 },
}

/// An event of the master handle, told apart by its name `event`; the rest is its payload.
#[napi(discriminant = "event", discriminant_case = "kebab-case")]
pub enum JsNotice {
    WorkerListening {
        id: u32,
        pid: u32,
        index: u32,
        generation: u32,
    },
    WorkerExit {
        id: u32,
        pid: Option<u32>,
        index: u32,
        code: Option<i32>,
        signal: Option<String>,
        expected: bool,
    },
    Reload {
        generation: u32,
    },
    ReloadFailed {
        generation: u32,
        reason: String,
    },
    Scale {
        workers: u32,
    },
    WorkerReplaced {
        index: u32,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
        reason: String,
    },
    Stopping {
        code: i32,
        reason: String,
    },
    UpgradeRefused {
        attempt: u32,
        reason: String,
    },
    Upgraded {
        upgrades: u32,
    },
}

/// One setting, for the command line's flags and help.
#[napi(object)]
pub struct JsSetting {
    /// The `init()` option name.
    pub option: String,
    /// Its environment variables, the canonical one first.
    pub env: Vec<String>,
    /// Its long flag (`--max-kill-timeout`).
    pub flag: String,
    /// Its short flag without the dash (`w`), if any.
    pub short: Option<String>,
    /// The accepted forms and the default.
    pub help: String,
}

/// Every setting, in the order the help lists them.
#[napi]
pub fn settings() -> Vec<JsSetting> {
    config::settings()
        .iter()
        .map(|s| JsSetting {
            option: s.option.to_string(),
            env: s.env.iter().map(|e| e.to_string()).collect(),
            flag: s.flag(),
            short: s.short.map(String::from),
            help: s.help.to_string(),
        })
        .collect()
}

/// The directories a client looks in for this user's masters' control sockets.
#[napi]
pub fn control_socket_dirs() -> Vec<String> {
    client_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect()
}

fn client_dirs() -> Vec<PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    control::search_dirs(xdg.as_deref(), &std::env::temp_dir(), control::euid())
}

/// A control socket found in a folder that passes the checks.
#[napi(object)]
pub struct JsControlSocket {
    pub path: String,
    /// The pid its name says (`<pid>.sock`).
    pub pid: u32,
}

/// What a client finds in the folders it searches (`control::trust::search`).
#[napi(object)]
pub struct JsControlSearch {
    /// Every folder searched, in order.
    pub dirs: Vec<String>,
    /// The sockets in the folders that pass the checks.
    pub sockets: Vec<JsControlSocket>,
    /// Why each folder that exists and does not pass was refused.
    pub refused: Vec<String>,
}

/// Search this user's folders for masters' control sockets.
#[napi]
pub fn control_search() -> JsControlSearch {
    let found = control::trust::search(client_dirs(), control::euid());
    JsControlSearch {
        dirs: found.dirs.iter().map(|d| d.display().to_string()).collect(),
        sockets: found
            .sockets
            .into_iter()
            .map(|(path, pid)| JsControlSocket {
                path: path.display().to_string(),
                pid,
            })
            .collect(),
        refused: found.refused.iter().map(ToString::to_string).collect(),
    }
}

/// Connect to the control socket at `path` once the socket file and the process listening
/// on it pass the checks (`pid`: the pid it must have, for a `<pid>.sock`); the connected
/// descriptor, for `new net.Socket({ fd })`, which owns it from then on. Throws
/// `ERR_CONTROL_REFUSED` (naming the path, its owner and mode, or the peer) or
/// `ERR_CONTROL_UNREACHABLE`.
#[napi]
pub fn control_connect(path: String, pid: Option<u32>) -> Result<i32> {
    use std::os::fd::IntoRawFd;
    let timeout = control::CONNECT_TIMEOUT;
    let (stream, _) =
        control::trust::connect_checked(Path::new(&path), pid, control::euid(), timeout)
            .map_err(Error::from)?;
    Ok(stream.into_raw_fd())
}

/// The most workers a master keeps.
#[napi]
pub fn max_workers() -> u32 {
    MAX_WORKERS
}

/// The master: validated settings, then (after `start`) the running Rust supervisor.
#[napi]
pub struct Master {
    config: Config,
    package: PathBuf,
    inherited: Vec<Inherited>,
    compile_cache: CachePlan,
    uid: u32,
    /// Node's version (`22.11.0`), for `master_process_build_info`.
    node_version: String,
    shell: Option<Shell>,
    control_path: Option<PathBuf>,
    /// What this image takes over from the one it replaced (an upgrade), if it did.
    resumed: Option<crate::core::Resumed>,
    /// When this image started, in ms since the Unix epoch.
    image_started_ms: u64,
}

/// A listening socket the service manager passed to the master (socket activation).
#[napi(object)]
pub struct JsInherited {
    /// Its descriptor in the master.
    pub fd: i32,
    /// Its name in `LISTEN_FDNAMES`.
    pub name: Option<String>,
    /// The IP address of a TCP socket.
    pub host: Option<String>,
    pub port: Option<u32>,
    /// The path of a unix socket.
    pub path: Option<String>,
}

#[napi]
impl Master {
    /// Validate the environment and `options` (camelCase settings as strings); `cli` when
    /// the options came from the command line's flags.
    /// Throws `ERR_INVALID_CONFIG` naming the setting, the value and the accepted forms.
    #[napi(constructor)]
    pub fn new(
        node: Env,
        options: HashMap<String, String>,
        package_json: String,
        cli: Option<bool>,
    ) -> Result<Self> {
        // vars() would panic (and abort Node) on a non-UTF-8 variable: skip those.
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let caller = if cli == Some(true) {
            Caller::Cli
        } else {
            Caller::Init
        };
        let mut config =
            Config::load_for(caller, &env, &options, &host::read_host()).map_err(Error::from)?;
        let mut inherited = activation::inherited(&env, std::process::id()).map_err(Error::from)?;
        let take_over = upgrade::take_over(&env).map_err(Error::from)?;
        let resumed = take_over.map(|t| {
            inherited.extend(t.sockets);
            t.resumed
        });
        leave_inherited_socket_alone(&mut config, &inherited);
        let version = node
            .get_node_version()
            .map_err(|e| napi::Error::new(e.status.as_ref().to_string(), e.reason.clone()))?;
        let facts = crate::shell::compile_cache::facts(
            &env,
            NodeVersion {
                major: version.major,
                minor: version.minor,
                patch: version.patch,
            },
        );
        let plan = compile_cache::plan(&config.compile_cache, &facts);
        if let CachePlan::Off(why) = &plan {
            config.notes.push(format!("compile cache: {why}"));
        }
        config.policy.persist_compile_cache = config.policy.drain && plan.workers_have_cache();
        Ok(Master {
            config,
            package: PathBuf::from(package_json),
            inherited,
            compile_cache: plan,
            uid: facts.uid,
            node_version: format!("{}.{}.{}", version.major, version.minor, version.patch),
            shell: None,
            control_path: None,
            resumed,
            image_started_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        })
    }

    /// How many workers the master starts with (`WORKERS`); a scale changes the count later.
    #[napi(getter)]
    pub fn workers(&self) -> u32 {
        self.config.policy.workers
    }

    /// Whether workers get the drain module preloaded.
    #[napi(getter)]
    pub fn drain(&self) -> bool {
        self.config.policy.drain
    }

    /// The unix socket path in `PORT`, if any.
    #[napi(getter)]
    pub fn socket_path(&self) -> Option<String> {
        self.config
            .socket_path
            .as_ref()
            .map(|p| p.display().to_string())
    }

    /// The control socket's path, once started with one.
    #[napi(getter)]
    pub fn control_socket(&self) -> Option<String> {
        self.control_path.as_ref().map(|p| p.display().to_string())
    }

    /// Clear the socket path, open the control socket, install signal handlers, start the
    /// supervisor. `onCommand` receives every command only Node can run.
    #[napi]
    pub fn start(&mut self, on_command: Function<JsCommand, ()>) -> Result<()> {
        if self.shell.is_some() {
            return Err(Error::AlreadyStarted.into());
        }
        if let Some(path) = &self.config.socket_path {
            socket::prepare(path).map_err(Error::from)?;
        }
        let opened = control::open(&self.config.control).map_err(Error::from)?;
        let (control, warnings) = (opened.control, opened.warning.into_iter().collect());
        let control_path = control.as_ref().map(|c| c.bound.path().to_path_buf());
        let tsfn: CommandFn = on_command
            .build_threadsafe_function()
            .weak::<false>()
            .build()
            .map_err(|e| napi::Error::new(e.status.as_ref().to_string(), e.reason.clone()))?;
        let env = std::env::var_os("DEBUG").map(|v| v.to_string_lossy().into_owned());
        let colors = std::env::var("DEBUG_COLORS").ok();
        let style = Style::from_env(env.as_deref(), colors.as_deref(), stderr_is_tty());
        let package = PackageWatch::new(Path::new(&self.package));
        let about = About {
            version: package.version().unwrap_or("unknown").to_string(),
            settings: self.config.in_force(),
            control: control_path.clone(),
            metrics: None,
            image_started_ms: self.image_started_ms,
            node: self.node_version.clone(),
        };
        let mut supervisor = Supervisor::new(self.config.policy.clone());
        let adopted = self
            .resumed
            .take()
            .map(|r| supervisor.resume(std::time::Instant::now(), r))
            .unwrap_or_default();
        let about_version = about.version.clone();
        let setup = Setup {
            supervisor,
            outbox: Box::new(JsOutbox {
                tsfn,
                port: self.config.port_option.clone(),
                env: self.config.worker_env.iter().cloned().collect(),
            }),
            socket: self.config.socket_path.clone(),
            package,
            style,
            notes: self.config.notes.clone(),
            notify: NotifyEnv::read(|k| std::env::var(k).ok(), std::process::id()),
            control,
            warnings,
            about,
            compile_cache: CompileCache::new(self.compile_cache.clone(), self.uid),
            metrics: self.config.metrics.clone().map(|addr| {
                let build = crate::shell::metrics::Build {
                    version: about_version,
                    node_version: self.node_version.clone(),
                };
                (addr, build)
            }),
        };
        let shell = Shell::start(setup)?;
        shell.adopt(adopted);
        self.shell = Some(shell);
        self.control_path = control_path;
        Ok(())
    }

    /// The status report as a JSON string (what the control socket's `status` answers).
    /// Throws `ERR_NOT_RUNNING` before `start` or once the master has exited, and
    /// `ERR_STATUS_TIMEOUT` when the driver thread does not answer within
    /// `control::ANSWER_TIMEOUT` (this blocks Node's thread, so it never waits longer).
    #[napi]
    pub fn status(&self) -> Result<String> {
        let shell = self.shell.as_ref().ok_or(Error::NotRunning)?;
        let answer = shell.ask(Request::Status).map_err(Error::from)?;
        match answer.get("status") {
            Some(status) => Ok(status.to_string()),
            None => Err(Error::NotRunning.into()),
        }
    }

    /// Scale to `workers` slots (the JS value as a string). Throws `ERR_INVALID_ARG_VALUE`
    /// unless it is a whole number from 1 to the maximum.
    #[napi]
    pub fn scale(&self, workers: String) -> Result<()> {
        let count = workers
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_WORKERS).contains(n))
            .ok_or(Error::InvalidScale(workers))?;
        self.send(Event::Scale(ScaleTo::Count(count)));
        Ok(())
    }

    /// Remove the control socket file now (the process is exiting). Whether it did.
    #[napi]
    pub fn close_control(&self) -> bool {
        self.shell.as_ref().is_some_and(|s| s.close_control())
    }

    /// `cluster.fork` returned a worker with this pid.
    #[napi]
    pub fn forked(&self, id: u32, pid: u32) {
        if let Some(shell) = &self.shell {
            shell.forked(id, pid);
        }
        self.send(Event::Forked { id, pid });
    }

    /// The worker listens; `address` is the path when it is a unix socket.
    #[napi]
    pub fn listening(&self, id: u32, address: Option<String>) {
        let socket = match (&self.config.socket_path, address) {
            (Some(path), Some(address)) => Path::new(&address) == path,
            _ => false,
        };
        self.send(Event::Listening { id, socket });
    }

    /// A worker message: a string (JSON or plain) or an object's `msg`. Others are ignored.
    #[napi]
    pub fn message(&self, id: u32, text: String) {
        if let Some(message) = parse_message(&text) {
            self.send(Event::Message { id, message });
        }
    }

    /// The worker's drain module reports it holds no listener and no connection.
    #[napi]
    pub fn drained(&self, id: u32) {
        self.send(Event::Drained { id });
    }

    /// The worker answered the settle round trip.
    #[napi]
    pub fn settled(&self, id: u32) {
        self.send(Event::Settled { id });
    }

    /// The worker exited (`code` or `signal`).
    #[napi]
    pub fn exited(&self, id: u32, code: Option<i32>, signal: Option<String>) {
        self.send(Event::Exited { id, code, signal });
    }

    /// Worker `id`'s IPC channel closed.
    #[napi]
    pub fn disconnected(&self, id: u32) {
        self.send(Event::Disconnected { id });
    }

    /// The primary holds a connection (`ticket`, new) that no worker took.
    #[napi]
    pub fn orphaned(&self, ticket: u32) {
        self.send(Event::Orphaned { ticket });
    }

    /// Worker `id` answered the hand-off of `ticket`.
    #[napi]
    pub fn handoff_answered(&self, ticket: u32, id: u32, accepted: bool) {
        self.send(Event::HandoffAnswered {
            ticket,
            id,
            accepted,
        });
    }

    /// Worker `id` answered a heartbeat (or said at start that it can).
    #[napi]
    pub fn alive(&self, id: u32) {
        self.send(Event::Alive { id });
    }

    /// Whether workers get the heartbeat module (`MASTER_PROCESS_HEARTBEAT_TIMEOUT` not off).
    #[napi(getter)]
    pub fn heartbeat(&self) -> bool {
        self.config.policy.heartbeat_timeout.is_some()
    }

    /// Node's event loop answers a `ping` command.
    #[napi]
    pub fn pong(&self) {
        if let Some(shell) = &self.shell {
            shell.pong();
        }
    }

    /// Environment variables the workers must not inherit: the service manager's, meant
    /// for the master alone (`NOTIFY_SOCKET`, `WATCHDOG_*`, `LISTEN_*`).
    #[napi(getter)]
    pub fn hidden_env(&self) -> Vec<String> {
        MANAGER_ONLY
            .iter()
            .chain(&ACTIVATION_VARS)
            .chain(&[upgrade::UPGRADE_VAR])
            .map(|s| s.to_string())
            .collect()
    }

    /// The listening sockets passed to the master (`LISTEN_FDS`), in descriptor order.
    #[napi(getter)]
    pub fn inherited(&self) -> Vec<JsInherited> {
        self.inherited.iter().map(to_js_inherited).collect()
    }

    /// Same as SIGHUP.
    #[napi]
    pub fn reload(&self) {
        self.send(Event::ReloadRequested);
    }

    /// Same as SIGTERM.
    #[napi]
    pub fn stop(&self) {
        self.send(Event::StopRequested);
    }

    /// Put the Rust handler for `signal` (e.g. `SIGHUP`) back after JS re-pinned it.
    #[napi]
    pub fn rearm(&self, signal: String) -> Result<bool> {
        let number = signals::number(&signal).ok_or(Error::UnknownSignal(signal))?;
        Ok(self.shell.as_ref().is_some_and(|s| s.rearm(number)))
    }

    /// JS's pinned listener has seen `seen` deliveries of `signal` (e.g. `SIGHUP`) in all:
    /// replay those that came before the Rust handler was in place. Returns how many.
    #[napi]
    pub fn catch_up(&self, signal: String, seen: u32) -> Result<u32> {
        let number = signals::number(&signal).ok_or(Error::UnknownSignal(signal))?;
        Ok(self.shell.as_ref().map_or(0, |s| s.catch_up(number, seen)))
    }

    fn send(&self, event: Event) {
        if let Some(shell) = &self.shell {
            shell.send(event);
        }
    }
}

/// A `PORT` path that is an inherited unix socket belongs to the service manager: the
/// master never removes or changes it.
fn leave_inherited_socket_alone(config: &mut Config, inherited: &[Inherited]) {
    let Some(path) = config.socket_path.as_ref() else {
        return;
    };
    let theirs = inherited
        .iter()
        .any(|s| matches!(&s.address, Address::Unix { path: p } if p == path));
    if theirs {
        config.notes.push(format!(
            "{} is an inherited socket: left to the service manager",
            path.display()
        ));
        config.socket_path = None;
        config.policy.unix_socket = false;
    }
}

fn to_js_inherited(socket: &Inherited) -> JsInherited {
    let (host, port, path) = match &socket.address {
        Address::Tcp { ip, port } => (Some(ip.to_string()), Some(u32::from(*port)), None),
        Address::Unix { path } => (None, None, Some(path.display().to_string())),
        Address::Other => (None, None, None),
    };
    JsInherited {
        fd: socket.fd,
        name: socket.name.clone(),
        host,
        port,
        path,
    }
}

fn stderr_is_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// `'ready'`, `'{"msg":"ready"}'` or the `msg` of an object all mean the same.
fn parse_message(text: &str) -> Option<WorkerMessage> {
    let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let name = match parsed
        .as_ref()
        .and_then(|v| v.get("msg"))
        .and_then(|m| m.as_str())
    {
        Some(msg) => msg,
        None => text,
    };
    match name {
        "ready" => Some(WorkerMessage::Ready),
        "pause_monitoring" => Some(WorkerMessage::PauseMonitoring),
        "resume_monitoring" => Some(WorkerMessage::ResumeMonitoring),
        _ => None,
    }
}

struct JsOutbox {
    tsfn: CommandFn,
    port: Option<String>,
    env: HashMap<String, String>,
}

impl Outbox for JsOutbox {
    fn send(&self, command: NodeCommand) {
        self.fork(command, WorkerEnv::default());
    }

    fn fork(&self, command: NodeCommand, env: WorkerEnv) {
        let js = self.convert(command, env);
        self.tsfn.call(js, ThreadsafeFunctionCallMode::NonBlocking);
    }

    fn ping(&self) {
        self.tsfn
            .call(JsCommand::Ping, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

impl JsOutbox {
    /// `env` is what the shell adds to a `Fork`'s worker (nothing for other commands).
    fn convert(&self, command: NodeCommand, env: WorkerEnv) -> JsCommand {
        match command {
            NodeCommand::Fork {
                id,
                slot,
                generation,
            } => {
                let mut extra = self.env.clone();
                if let Some(folder) = env.compile_cache {
                    extra.insert("NODE_COMPILE_CACHE".into(), folder.display().to_string());
                }
                JsCommand::Fork {
                    id,
                    index: slot,
                    generation,
                    port: self.port.clone(),
                    env: extra,
                }
            }
            NodeCommand::Drain { id } => JsCommand::Drain { id },
            NodeCommand::Settle { id } => JsCommand::Settle { id },
            NodeCommand::Send { id, note } => JsCommand::Send {
                id,
                message: note_json(&note),
            },
            NodeCommand::Notify(notice) => JsCommand::Notify {
                notice: notice.into(),
            },
            NodeCommand::Exit { code } => JsCommand::Exit { code },
            NodeCommand::Heartbeat { id } => JsCommand::Heartbeat { id },
            NodeCommand::Isolate { id } => JsCommand::Isolate { id },
            NodeCommand::PersistCompileCache { id } => JsCommand::Persist { id },
            NodeCommand::HandOff { ticket, to } => JsCommand::Handoff { ticket, id: to },
            NodeCommand::CloseConnection { ticket } => JsCommand::Release { ticket },
            NodeCommand::CloseListeners => JsCommand::Unlisten,
            NodeCommand::CheckUpgrade => JsCommand::CheckUpgrade,
            NodeCommand::Exec => JsCommand::Exec,
        }
    }
}

impl From<Notice> for JsNotice {
    fn from(notice: Notice) -> Self {
        match notice {
            Notice::WorkerListening {
                id,
                pid,
                slot,
                generation,
            } => JsNotice::WorkerListening {
                id,
                pid,
                index: slot,
                generation,
            },
            Notice::WorkerExit {
                id,
                pid,
                slot,
                status,
                expected,
            } => JsNotice::WorkerExit {
                id,
                pid,
                index: slot,
                code: status.code,
                signal: status.signal,
                expected,
            },
            Notice::ReloadDone { generation } => JsNotice::Reload { generation },
            Notice::ReloadFailed { generation, reason } => JsNotice::ReloadFailed {
                generation,
                reason: reason.to_string(),
            },
            Notice::Scaled { workers } => JsNotice::Scale { workers },
            Notice::WorkerReplaced {
                slot,
                old_pid,
                new_pid,
                reason,
            } => JsNotice::WorkerReplaced {
                index: slot,
                old_pid,
                new_pid,
                reason: reason.to_string(),
            },
            Notice::Stopping { code, reason } => JsNotice::Stopping {
                code,
                reason: reason.to_string(),
            },
            Notice::UpgradeRefused { attempt, reason } => JsNotice::UpgradeRefused {
                attempt,
                reason: reason.to_string(),
            },
            Notice::Upgraded { upgrades } => JsNotice::Upgraded { upgrades },
        }
    }
}
