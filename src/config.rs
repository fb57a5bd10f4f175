//! Environment variables and `init()` options (or the command line's flags, which become
//! options) -> a validated `Config`, with errors that name the variable, option or flag, the
//! value and the accepted forms. Empty strings mean unset; options win over the environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::compile_cache::CacheSetting;
use crate::core::{Limits, NewVersion, Policy, ReadyOn, Swap, MAX_WORKERS};
use crate::duration::parse_duration;

mod metrics;
pub use metrics::{LogFormat, MetricsAddr};

const MB: u64 = 1024 * 1024;
const HOUR: Duration = Duration::from_secs(3600);

/// A setting with a bad value: names it (as the user wrote it), the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}={value:?}: expected {accepted}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub accepted: String,
}

/// What the machine allows this process, read by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// CPUs this process may use (affinity and cgroup quota applied).
    pub cpus: u32,
    /// cgroup v2 `memory.max` in bytes, when one is set.
    pub memory_limit: Option<u64>,
    pub pointer_width: u32,
}

/// Who starts the master: it decides how a bad option is named, and whether
/// `WEB_CONCURRENCY` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `init(options)` in the app: options are named `option workers`.
    Init,
    /// The `master-process` command: options came from flags, named `--workers`, and
    /// `WEB_CONCURRENCY` is read when `WORKERS` and `--workers` are not given.
    Cli,
}

/// Where the control socket listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlSocket {
    /// `<pid>.sock` in the per-user directory (`$XDG_RUNTIME_DIR/master-process/`, else
    /// `master-process-<uid>` in the temp directory).
    Default,
    /// This path.
    Path(PathBuf),
    /// No control socket.
    Off,
}

/// The validated settings of one master.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub policy: Policy,
    /// `PORT`, when given as an option (workers then get it in their environment).
    pub port_option: Option<String>,
    /// `PORT` in force (option or environment), as given.
    pub port: Option<String>,
    /// `PORT` when it is a unix socket path.
    pub socket_path: Option<PathBuf>,
    /// Where the control socket listens.
    pub control: ControlSocket,
    /// Environment variables that workers get on top of the master's.
    pub worker_env: Vec<(String, String)>,
    /// Lines worth logging at start (e.g. a default derived from a cgroup limit).
    pub notes: Vec<String>,
    /// `MASTER_PROCESS_COMPILE_CACHE`: the workers' module compile cache.
    pub compile_cache: CacheSetting,
    /// `MASTER_PROCESS_METRICS`: where `/metrics`, `/livez` and `/readyz` listen, if anywhere.
    pub metrics: Option<MetricsAddr>,
    /// `MASTER_PROCESS_LOG_FORMAT`: text (4.x) or JSON lines.
    pub log_format: LogFormat,
}

/// One setting: its option name, its environment names (first is canonical), a short flag
/// if it has one, and a line of help (the accepted forms and the default).
pub struct Setting {
    /// The `init()` option name (camelCase).
    pub option: &'static str,
    /// Its environment variables, the canonical one first.
    pub env: &'static [&'static str],
    /// Its one-letter flag on the command line, if it has one.
    pub short: Option<char>,
    /// The accepted forms and the default, in one line.
    pub help: &'static str,
}

impl Setting {
    /// Its command-line flag: the option name in kebab case (`--max-kill-timeout`).
    pub fn flag(&self) -> String {
        flag_of(self.option)
    }
}

/// `maxKillTimeout` -> `--max-kill-timeout`.
fn flag_of(option: &str) -> String {
    let mut flag = String::from("--");
    for c in option.chars() {
        if c.is_ascii_uppercase() {
            flag.push('-');
        }
        flag.push(c.to_ascii_lowercase());
    }
    flag
}

/// Every setting, in the order the help lists them.
pub fn settings() -> &'static [Setting] {
    SETTINGS
}

/// The environment variable read for the worker count by the command line only, after
/// `WORKERS` (the Heroku/Render convention).
pub const WEB_CONCURRENCY: &str = "WEB_CONCURRENCY";

const SETTINGS: &[Setting] = &[
    Setting {
        option: "workers",
        env: &["WORKERS"],
        short: Some('w'),
        help: "1-1024, AUTO or MAX (the CPUs this process may use); default 1",
    },
    Setting {
        option: "maxKillTimeout",
        env: &["MAX_KILL_TIMEOUT"],
        short: None,
        help: "duration, 0 to 1 hour: how long a retiring worker has before SIGKILL; default 5s",
    },
    Setting {
        option: "workerThrottle",
        env: &["WORKER_THROTTLE"],
        short: None,
        help: "duration, 0 to 1 hour: a worker that crashed sooner waits the rest; default 1s",
    },
    Setting {
        option: "port",
        env: &["PORT"],
        short: Some('p'),
        help: "port or unix socket path (starting with /) for the workers' PORT",
    },
    Setting {
        option: "maxMemoryAllowedMb",
        env: &["MAX_MEMORY_ALLOWED_MB"],
        short: None,
        help: "whole MB, 1 to 1000000: RSS limit per worker; default 1200 (450 on 32-bit)",
    },
    Setting {
        option: "memMonitorFailures",
        env: &["MEM_MONITOR_FAILURES"],
        short: None,
        help: "samples in a row over the memory limit before a replacement; default 10",
    },
    Setting {
        option: "maxCpuAllowed",
        env: &["MAX_CPU_ALLOWED"],
        short: None,
        help: "percent of one core, 1 to 1000000; default 95",
    },
    Setting {
        option: "cpuMonitorFailures",
        env: &["CPU_MONITOR_FAILURES", "CPU_MONITOR_FAILURE"],
        short: None,
        help: "samples in a row over the CPU limit before a replacement; default 10",
    },
    Setting {
        option: "monitorInterval",
        env: &["MASTER_PROCESS_MONITOR_INTERVAL"],
        short: None,
        help: "duration, 10 ms to 1 hour, between samples; default 2s",
    },
    Setting {
        option: "monitorWarmup",
        env: &["MASTER_PROCESS_MONITOR_WARMUP"],
        short: None,
        help: "duration, 0 to 1 hour: a worker is not sampled before this age; default 30s",
    },
    Setting {
        option: "drain",
        env: &["MASTER_PROCESS_DRAIN"],
        short: None,
        help: "on or off: preload the drain module into workers; default on",
    },
    Setting {
        option: "ready",
        env: &["MASTER_PROCESS_READY"],
        short: None,
        help: "listening (first listen) or message (the worker sends 'ready'); default listening",
    },
    Setting {
        option: "readyTimeout",
        env: &["MASTER_PROCESS_READY_TIMEOUT"],
        short: None,
        help: "duration, 10 ms to 1 hour: a new worker not ready by then fails; default 30s",
    },
    Setting {
        option: "heartbeatTimeout",
        env: &["MASTER_PROCESS_HEARTBEAT_TIMEOUT"],
        short: None,
        help: "duration, 100 ms to 1 hour, or 0/off: a worker whose event loop does not answer for this long is replaced; default 30s",
    },
    Setting {
        option: "reloadBatch",
        env: &["MASTER_PROCESS_RELOAD_BATCH"],
        short: None,
        help: "ALL or 1-1024: slots a reload replaces at once; default ALL",
    },
    Setting {
        option: "reloadSwap",
        env: &["MASTER_PROCESS_RELOAD_SWAP"],
        short: None,
        help: "slot or batch: retire an old worker once its own replacement, or its whole batch, is ready; default slot",
    },
    Setting {
        option: "newVersion",
        env: &["MASTER_PROCESS_NEW_VERSION"],
        short: None,
        help: "upgrade or exit: when master-process on disk changed version, upgrade in place (same pid and sockets) or stop and exit 1 as 4.x did; default upgrade",
    },
    Setting {
        option: "maxCrashes",
        env: &["MASTER_PROCESS_MAX_CRASHES"],
        short: None,
        help: "0 (never) to 1000000 fast crashes in a row in a slot before exit 70; default 10",
    },
    Setting {
        option: "maxThrottle",
        env: &["MASTER_PROCESS_MAX_THROTTLE"],
        short: None,
        help: "duration, 0 to 1 hour: the cap of the crash back-off; default 30s",
    },
    Setting {
        option: "controlSocket",
        env: &["MASTER_PROCESS_CONTROL_SOCKET"],
        short: None,
        help: "path of the control socket, or off; default <pid>.sock in a directory only this user can enter",
    },
    Setting {
        option: "compileCache",
        env: &["MASTER_PROCESS_COMPILE_CACHE"],
        short: None,
        help: "on, off or an absolute folder: the workers' module compile cache (Node 22.1+); default on",
    },
    Setting {
        option: "metrics",
        env: &["MASTER_PROCESS_METRICS"],
        short: None,
        help: "off, a port, host:port or a unix socket path: serve /metrics, /livez and /readyz; default off",
    },
    Setting {
        option: "shutdownDelay",
        env: &["MASTER_PROCESS_SHUTDOWN_DELAY"],
        short: None,
        help: "duration, 0 to 1 hour: on a stop, /readyz says 503 while workers keep serving this long; default 0",
    },
    Setting {
        option: "logFormat",
        env: &["MASTER_PROCESS_LOG_FORMAT"],
        short: None,
        help: "text or json (one JSON object per line); default text",
    },
];

/// The raw value of a setting and the name to blame if it is bad.
struct Raw {
    name: String,
    value: String,
}

struct Sources<'a> {
    env: &'a HashMap<String, String>,
    options: &'a HashMap<String, String>,
    caller: Caller,
}

impl Sources<'_> {
    fn get(&self, option: &str) -> Option<Raw> {
        let setting = SETTINGS.iter().find(|s| s.option == option)?;
        if let Some(value) = self.options.get(option).filter(|v| !v.is_empty()) {
            return Some(Raw {
                name: option_name(self.caller, option),
                value: value.clone(),
            });
        }
        let cli_only: &[&str] = match (self.caller, option) {
            (Caller::Cli, "workers") => &[WEB_CONCURRENCY],
            _ => &[],
        };
        setting.env.iter().chain(cli_only).find_map(|name| {
            let value = self.env.get(*name).filter(|v| !v.is_empty())?;
            Some(Raw {
                name: name.to_string(),
                value: value.clone(),
            })
        })
    }
}

/// How an option is named in an error: as `init()`'s option or as the flag it came from.
fn option_name(caller: Caller, option: &str) -> String {
    match caller {
        Caller::Init => format!("option {option}"),
        Caller::Cli => flag_of(option),
    }
}

impl Config {
    /// Validate every setting for `init()`; the first bad one is the error.
    pub fn load(
        env: &HashMap<String, String>,
        options: &HashMap<String, String>,
        host: &HostFacts,
    ) -> Result<Config, ConfigError> {
        Config::load_for(Caller::Init, env, options, host)
    }

    /// Validate every setting for `caller`; the first bad one is the error.
    pub fn load_for(
        caller: Caller,
        env: &HashMap<String, String>,
        options: &HashMap<String, String>,
        host: &HostFacts,
    ) -> Result<Config, ConfigError> {
        reject_unknown_options(caller, options)?;
        let src = Sources {
            env,
            options,
            caller,
        };
        let mut notes = Vec::new();
        let workers = match src.get("workers") {
            Some(raw) => parse_workers(&raw, host.cpus)?,
            None => 1,
        };
        let port = src.get("port").map(|raw| raw.value);
        let socket_path = port
            .as_ref()
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from);
        let default_mb = default_memory_mb(workers, host, &mut notes);
        let policy = Policy {
            workers,
            kill_timeout: duration(
                &src,
                "maxKillTimeout",
                Duration::from_secs(5),
                Duration::ZERO,
            )?,
            throttle: duration(
                &src,
                "workerThrottle",
                Duration::from_secs(1),
                Duration::ZERO,
            )?,
            max_throttle: duration(&src, "maxThrottle", Duration::from_secs(30), Duration::ZERO)?,
            max_crashes: count(&src, "maxCrashes", 10, 0)?,
            reload_batch: reload_batch(&src)?,
            swap: swap(&src)?,
            new_version: new_version(&src)?,
            ready_on: ready_on(&src)?,
            ready_timeout: duration(
                &src,
                "readyTimeout",
                Duration::from_secs(30),
                Duration::from_millis(10),
            )?,
            heartbeat_timeout: heartbeat_timeout(&src)?,
            shutdown_delay: duration(&src, "shutdownDelay", Duration::ZERO, Duration::ZERO)?,
            drain: switch(&src, "drain", true)?,
            // Known once the compile cache plan is (it needs Node's version): see binding.rs.
            persist_compile_cache: false,
            unix_socket: socket_path.is_some(),
            limits: Limits {
                max_memory_bytes: count(&src, "maxMemoryAllowedMb", default_mb, 1)? as u64 * MB,
                mem_failures: count(&src, "memMonitorFailures", 10, 1)?,
                max_cpu_percent: count(&src, "maxCpuAllowed", 95, 1)? as f64,
                cpu_failures: count(&src, "cpuMonitorFailures", 10, 1)?,
                interval: duration(
                    &src,
                    "monitorInterval",
                    Duration::from_secs(2),
                    Duration::from_millis(10),
                )?,
                warmup: duration(
                    &src,
                    "monitorWarmup",
                    Duration::from_secs(30),
                    Duration::ZERO,
                )?,
            },
        };
        let port_option = options.get("port").filter(|v| !v.is_empty()).cloned();
        let control = control_socket(&src)?;
        Ok(Config {
            policy,
            port_option,
            port,
            socket_path,
            worker_env: worker_env(env),
            control,
            notes,
            compile_cache: compile_cache(&src)?,
            metrics: metrics_addr(&src)?,
            log_format: log_format(&src)?,
        })
    }
}

impl Config {
    /// The settings in force, by option name, in forms `init()` accepts back: durations in
    /// ms, counts as numbers. `controlSocket` is what was asked for (`default`, `off` or the
    /// path); the status report names the path in use.
    pub fn in_force(&self) -> serde_json::Value {
        let p = &self.policy;
        let ms = |d: Duration| d.as_millis() as u64;
        let reload_batch = match p.reload_batch {
            0 => serde_json::json!("ALL"),
            n => serde_json::json!(n),
        };
        let control = match &self.control {
            ControlSocket::Default => "default".to_string(),
            ControlSocket::Off => "off".to_string(),
            ControlSocket::Path(path) => path.display().to_string(),
        };
        serde_json::json!({
            "workers": p.workers,
            "maxKillTimeout": ms(p.kill_timeout),
            "workerThrottle": ms(p.throttle),
            "port": self.port,
            "maxMemoryAllowedMb": p.limits.max_memory_bytes / MB,
            "memMonitorFailures": p.limits.mem_failures,
            "maxCpuAllowed": p.limits.max_cpu_percent as u64,
            "cpuMonitorFailures": p.limits.cpu_failures,
            "monitorInterval": ms(p.limits.interval),
            "monitorWarmup": ms(p.limits.warmup),
            "drain": p.drain,
            "ready": match p.ready_on {
                ReadyOn::Listening => "listening",
                ReadyOn::Message => "message",
            },
            "readyTimeout": ms(p.ready_timeout),
            "heartbeatTimeout": p.heartbeat_timeout.map_or(serde_json::json!("off"), |d| serde_json::json!(ms(d))),
            "reloadBatch": reload_batch,
            "reloadSwap": match p.swap {
                Swap::Slot => "slot",
                Swap::Batch => "batch",
            },
            "newVersion": match p.new_version {
                NewVersion::Upgrade => "upgrade",
                NewVersion::Exit => "exit",
            },
            "maxCrashes": p.max_crashes,
            "maxThrottle": ms(p.max_throttle),
            "controlSocket": control,
            "metrics": self.metrics.as_ref().map_or("off".to_string(), |m| m.to_string()),
            "shutdownDelay": ms(p.shutdown_delay),
            "logFormat": match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            "compileCache": match &self.compile_cache {
                CacheSetting::On => "on".to_string(),
                CacheSetting::Off => "off".to_string(),
                CacheSetting::Folder(path) => path.display().to_string(),
            },
        })
    }
}

fn reject_unknown_options(
    caller: Caller,
    options: &HashMap<String, String>,
) -> Result<(), ConfigError> {
    let mut unknown: Vec<&String> = options
        .keys()
        .filter(|k| !SETTINGS.iter().any(|s| s.option == k.as_str()))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(key) => {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.option).collect();
            Err(ConfigError {
                name: option_name(caller, key),
                value: options[*key].clone(),
                accepted: format!("one of the options {}", names.join(", ")),
            })
        }
    }
}

fn bad(raw: &Raw, accepted: impl Into<String>) -> ConfigError {
    ConfigError {
        name: raw.name.clone(),
        value: raw.value.clone(),
        accepted: accepted.into(),
    }
}

fn parse_workers(raw: &Raw, cpus: u32) -> Result<u32, ConfigError> {
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("auto") || value.eq_ignore_ascii_case("max") {
        return Ok(cpus.clamp(1, MAX_WORKERS));
    }
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(bad(
            raw,
            format!("a whole number from 1 to {MAX_WORKERS}, AUTO or MAX"),
        )),
    }
}

fn duration(
    src: &Sources,
    option: &str,
    default: Duration,
    min: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = src.get(option) else {
        return Ok(default);
    };
    match parse_duration(&raw.value) {
        Some(d) if d >= min && d <= HOUR => Ok(d),
        _ => Err(bad(
            &raw,
            format!(
                "a duration from {} ms to 1 hour, such as 500, 500ms, 5s, 2 minutes",
                min.as_millis()
            ),
        )),
    }
}

fn count(src: &Sources, option: &str, default: u32, min: u32) -> Result<u32, ConfigError> {
    const MAX: u32 = 1_000_000;
    let Some(raw) = src.get(option) else {
        return Ok(default);
    };
    match raw.value.trim().parse::<u32>() {
        Ok(n) if (min..=MAX).contains(&n) => Ok(n),
        _ => Err(bad(&raw, format!("a whole number from {min} to {MAX}"))),
    }
}

fn reload_batch(src: &Sources) -> Result<u32, ConfigError> {
    let Some(raw) = src.get("reloadBatch") else {
        return Ok(0);
    };
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("all") {
        return Ok(0);
    }
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(bad(
            &raw,
            format!("ALL or a whole number of workers from 1 to {MAX_WORKERS}"),
        )),
    }
}

fn ready_on(src: &Sources) -> Result<ReadyOn, ConfigError> {
    let Some(raw) = src.get("ready") else {
        return Ok(ReadyOn::Listening);
    };
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "listening" => Ok(ReadyOn::Listening),
        "message" => Ok(ReadyOn::Message),
        _ => Err(bad(
            &raw,
            "listening (the first listen) or message (process.send('ready'))",
        )),
    }
}

fn heartbeat_timeout(src: &Sources) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = src.get("heartbeatTimeout") else {
        return Ok(Some(Duration::from_secs(30)));
    };
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("off") || value == "0" {
        return Ok(None);
    }
    match parse_duration(value) {
        Some(d) if d >= Duration::from_millis(100) && d <= HOUR => Ok(Some(d)),
        _ => Err(bad(
            &raw,
            "a duration from 100 ms to 1 hour, such as 30s or 2 minutes, or 0/off to turn it off",
        )),
    }
}

fn new_version(src: &Sources) -> Result<NewVersion, ConfigError> {
    let Some(raw) = src.get("newVersion") else {
        return Ok(NewVersion::Upgrade);
    };
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "upgrade" => Ok(NewVersion::Upgrade),
        "exit" => Ok(NewVersion::Exit),
        _ => Err(bad(
            &raw,
            "upgrade (in place, same pid) or exit (stop and exit 1, as 4.x did)",
        )),
    }
}

fn swap(src: &Sources) -> Result<Swap, ConfigError> {
    let Some(raw) = src.get("reloadSwap") else {
        return Ok(Swap::Slot);
    };
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "slot" => Ok(Swap::Slot),
        "batch" => Ok(Swap::Batch),
        _ => Err(bad(
            &raw,
            "slot (each old worker goes once its own replacement is ready) or batch (once the whole batch is ready)",
        )),
    }
}

fn switch(src: &Sources, option: &str, default: bool) -> Result<bool, ConfigError> {
    let Some(raw) = src.get(option) else {
        return Ok(default);
    };
    on_off(&raw.value).ok_or_else(|| bad(&raw, "on or off (also true/false, yes/no, 1/0)"))
}

fn on_off(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// The longest path a unix socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

fn control_socket(src: &Sources) -> Result<ControlSocket, ConfigError> {
    let Some(raw) = src.get("controlSocket") else {
        return Ok(ControlSocket::Default);
    };
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(ControlSocket::Off);
    }
    if value.starts_with('/') && value.len() <= MAX_SOCKET_PATH && !value.ends_with('/') {
        return Ok(ControlSocket::Path(PathBuf::from(value)));
    }
    Err(bad(
        &raw,
        format!("an absolute path of a socket file (at most {MAX_SOCKET_PATH} bytes), or off"),
    ))
}

fn metrics_addr(src: &Sources) -> Result<Option<MetricsAddr>, ConfigError> {
    let Some(raw) = src.get("metrics") else {
        return Ok(None);
    };
    metrics::parse_metrics(&raw.value, MAX_SOCKET_PATH)
        .map_err(|()| bad(&raw, metrics::METRICS_ACCEPTED))
}

fn log_format(src: &Sources) -> Result<LogFormat, ConfigError> {
    let Some(raw) = src.get("logFormat") else {
        return Ok(LogFormat::Text);
    };
    metrics::parse_log_format(&raw.value).ok_or_else(|| {
        bad(
            &raw,
            "text (the 4.x lines) or json (one JSON object per line)",
        )
    })
}

/// A control socket path in the environment names this master's socket: a master started
/// from a worker must not take it for its own, so workers get it unset (`off` they keep).
fn worker_env(env: &HashMap<String, String>) -> Vec<(String, String)> {
    const NAME: &str = "MASTER_PROCESS_CONTROL_SOCKET";
    match env.get(NAME).map(|v| v.trim()) {
        Some(value) if !value.is_empty() && !value.eq_ignore_ascii_case("off") => {
            vec![(NAME.to_string(), String::new())]
        }
        _ => Vec::new(),
    }
}

/// `on`, `off` (as a switch reads them) or an absolute path to a folder.
fn compile_cache(src: &Sources) -> Result<CacheSetting, ConfigError> {
    let Some(raw) = src.get("compileCache") else {
        return Ok(CacheSetting::On);
    };
    match on_off(&raw.value) {
        Some(true) => return Ok(CacheSetting::On),
        Some(false) => return Ok(CacheSetting::Off),
        None => {}
    }
    let path = PathBuf::from(&raw.value);
    if path.is_absolute() && !raw.value.contains('\0') {
        return Ok(CacheSetting::Folder(path));
    }
    Err(bad(
        &raw,
        "on, off (also true/false, yes/no, 1/0) or an absolute path to a folder",
    ))
}

/// 1200 MB on 64-bit, 450 MB on 32-bit, or a fair share of a smaller cgroup limit.
fn default_memory_mb(workers: u32, host: &HostFacts, notes: &mut Vec<String>) -> u32 {
    let base: u32 = if host.pointer_width < 64 { 450 } else { 1200 };
    let Some(limit) = host.memory_limit else {
        return base;
    };
    let share = (limit / MB / u64::from(workers.max(1))) as u32;
    if share >= base {
        return base;
    }
    let share = share.max(1);
    notes.push(format!(
        "cgroup memory limit is {} MB for {workers} worker(s): MAX_MEMORY_ALLOWED_MB defaults to {share} MB per worker",
        limit / MB
    ));
    share
}

#[cfg(test)]
mod tests;
