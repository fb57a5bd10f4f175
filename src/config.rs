//! Environment variables and `init()` options -> a validated `Config`, with errors that
//! name the variable, the value and the accepted forms. Empty strings mean unset; options
//! win over the environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::compile_cache::CacheSetting;
use crate::core::{Limits, Policy, ReadyOn, Swap};
use crate::duration::parse_duration;

const MB: u64 = 1024 * 1024;
const HOUR: Duration = Duration::from_secs(3600);
const MAX_WORKERS: u32 = 1024;

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

/// The validated settings of one master.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub policy: Policy,
    /// `PORT`, when given as an option (workers then get it in their environment).
    pub port_option: Option<String>,
    /// `PORT` when it is a unix socket path.
    pub socket_path: Option<PathBuf>,
    /// Lines worth logging at start (e.g. a default derived from a cgroup limit).
    pub notes: Vec<String>,
    /// `MASTER_PROCESS_COMPILE_CACHE`: the workers' module compile cache.
    pub compile_cache: CacheSetting,
}

/// One setting: its option name, its environment names (first is canonical).
struct Setting {
    option: &'static str,
    env: &'static [&'static str],
}

const SETTINGS: &[Setting] = &[
    Setting {
        option: "workers",
        env: &["WORKERS"],
    },
    Setting {
        option: "maxKillTimeout",
        env: &["MAX_KILL_TIMEOUT"],
    },
    Setting {
        option: "workerThrottle",
        env: &["WORKER_THROTTLE"],
    },
    Setting {
        option: "port",
        env: &["PORT"],
    },
    Setting {
        option: "maxMemoryAllowedMb",
        env: &["MAX_MEMORY_ALLOWED_MB"],
    },
    Setting {
        option: "memMonitorFailures",
        env: &["MEM_MONITOR_FAILURES"],
    },
    Setting {
        option: "maxCpuAllowed",
        env: &["MAX_CPU_ALLOWED"],
    },
    Setting {
        option: "cpuMonitorFailures",
        env: &["CPU_MONITOR_FAILURES", "CPU_MONITOR_FAILURE"],
    },
    Setting {
        option: "monitorInterval",
        env: &["MASTER_PROCESS_MONITOR_INTERVAL"],
    },
    Setting {
        option: "monitorWarmup",
        env: &["MASTER_PROCESS_MONITOR_WARMUP"],
    },
    Setting {
        option: "drain",
        env: &["MASTER_PROCESS_DRAIN"],
    },
    Setting {
        option: "ready",
        env: &["MASTER_PROCESS_READY"],
    },
    Setting {
        option: "readyTimeout",
        env: &["MASTER_PROCESS_READY_TIMEOUT"],
    },
    Setting {
        option: "reloadBatch",
        env: &["MASTER_PROCESS_RELOAD_BATCH"],
    },
    Setting {
        option: "reloadSwap",
        env: &["MASTER_PROCESS_RELOAD_SWAP"],
    },
    Setting {
        option: "maxCrashes",
        env: &["MASTER_PROCESS_MAX_CRASHES"],
    },
    Setting {
        option: "maxThrottle",
        env: &["MASTER_PROCESS_MAX_THROTTLE"],
    },
    Setting {
        option: "compileCache",
        env: &["MASTER_PROCESS_COMPILE_CACHE"],
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
}

impl Sources<'_> {
    fn get(&self, option: &str) -> Option<Raw> {
        let setting = SETTINGS.iter().find(|s| s.option == option)?;
        if let Some(value) = self.options.get(option).filter(|v| !v.is_empty()) {
            let name = format!("option {option}");
            return Some(Raw {
                name,
                value: value.clone(),
            });
        }
        setting.env.iter().find_map(|name| {
            let value = self.env.get(*name).filter(|v| !v.is_empty())?;
            Some(Raw {
                name: name.to_string(),
                value: value.clone(),
            })
        })
    }
}

impl Config {
    /// Validate every setting; the first bad one is the error.
    pub fn load(
        env: &HashMap<String, String>,
        options: &HashMap<String, String>,
        host: &HostFacts,
    ) -> Result<Config, ConfigError> {
        reject_unknown_options(options)?;
        let src = Sources { env, options };
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
            reload_batch: reload_batch(&src, workers)?,
            swap: swap(&src)?,
            ready_on: ready_on(&src)?,
            ready_timeout: duration(
                &src,
                "readyTimeout",
                Duration::from_secs(30),
                Duration::from_millis(10),
            )?,
            drain: switch(&src, "drain", true)?,
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
        Ok(Config {
            policy,
            port_option,
            socket_path,
            notes,
            compile_cache: compile_cache(&src)?,
        })
    }
}

fn reject_unknown_options(options: &HashMap<String, String>) -> Result<(), ConfigError> {
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
                name: format!("option {key}"),
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

fn reload_batch(src: &Sources, workers: u32) -> Result<u32, ConfigError> {
    let Some(raw) = src.get("reloadBatch") else {
        return Ok(0);
    };
    let value = raw.value.trim();
    if value.eq_ignore_ascii_case("all") {
        return Ok(0);
    }
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n.min(workers)),
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
