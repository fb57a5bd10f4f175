//! The status report (the control socket's `status`, and `handle.status()`), built by the
//! driver thread from what the core exposes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::core::{Phase, Supervisor, Worker};

/// What a report says about the master besides the core's state.
#[derive(Debug, Clone, Default)]
pub struct About {
    /// master-process's own version (its `package.json`).
    pub version: String,
    /// The settings in force (`Config::in_force`).
    pub settings: Value,
    /// The control socket's path, when there is one.
    pub control: Option<PathBuf>,
    /// Where `/metrics` listens (the port chosen for port 0), when it does.
    pub metrics: Option<String>,
    /// When this image of the master started (an upgrade starts a new one), in ms since
    /// the Unix epoch.
    pub image_started_ms: u64,
    /// The version of the Node running this image (`22.11.0`).
    pub node: String,
}

/// What the master could not hand on because its reader did not keep up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Log lines dropped while stderr was not being read.
    pub log_lines: u64,
    /// Notifications (`READY=1`, `WATCHDOG=1`, ...) the service manager did not read.
    pub notifications: u64,
}

/// A worker's state in a report.
pub fn state(worker: &Worker) -> &'static str {
    match worker.phase {
        Phase::Starting => "starting",
        Phase::Ready => "serving",
        Phase::Retiring(_) => "retiring",
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The report at `now`.
pub fn report(
    core: &Supervisor,
    about: &About,
    dropped: Dropped,
    refused: Option<&(u32, String)>,
    now: Instant,
) -> Value {
    let mut workers: Vec<&Worker> = core.workers().collect();
    workers.sort_by_key(|w| (w.slot, w.id));
    let workers: Vec<Value> = workers
        .into_iter()
        .map(|w| {
            let reading = w.last_reading;
            json!({
                "id": w.id,
                "pid": w.pid,
                "index": w.slot,
                "generation": w.generation,
                "state": state(w),
                "uptimeMs": ms(w.uptime(now)),
                "rssBytes": reading.map(|r| r.rss_bytes),
                "cpuPercent": reading.map(|r| (r.cpu_percent * 10.0).round() / 10.0),
            })
        })
        .collect();
    let control = about.control.as_ref().map(|p| p.display().to_string());
    let mut settings = about.settings.clone();
    if let Some(object) = settings.as_object_mut() {
        let named = control.clone().map_or(json!("off"), Value::String);
        object.insert("controlSocket".into(), named);
    }
    json!({
        "pid": std::process::id(),
        "version": about.version,
        "node": about.node,
        "uptimeMs": ms(core.uptime(now)),
        "generation": core.reload_index(),
        "reloading": core.reloading().is_some(),
        "scalingTo": core.scaling_to(),
        "paused": core.is_paused(),
        "stopping": core.is_stopping(),
        "shutdownDelayLeftMs": core.shutdown_delay_left(now).map(ms),
        "slots": core.slot_count(),
        "controlSocket": control,
        "metrics": about.metrics,
        "settings": settings,
        "workers": workers,
        "dropped": {
            "logLines": dropped.log_lines,
            "notifications": dropped.notifications,
        },
        "upgrade": {
            "count": core.upgrades(),
            "attempts": core.upgrade_attempts(),
            "upgrading": core.is_upgrading(),
            "resuming": core.is_resuming(),
            "imageStartedAt": about.image_started_ms,
            "oldWorkers": core.adopted().map(|a| a.pid).collect::<Vec<_>>(),
            "refused": refused.map(|(attempt, reason)| json!({ "attempt": attempt, "reason": reason })),
        },
    })
}

/// What a new image takes over from this one (see `core::Resumed`).
pub fn handover(core: &Supervisor) -> Value {
    let old = core.adopted().map(|a| a.pid);
    let workers: Vec<u32> = core.workers().filter_map(|w| w.pid).chain(old).collect();
    json!({
        "generation": core.reload_index(),
        "slots": core.slot_count(),
        "paused": core.is_paused(),
        "upgrades": core.upgrades() + 1,
        "workers": workers,
    })
}
