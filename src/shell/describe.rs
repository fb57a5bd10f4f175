//! Words for the core's values: log lines, reasons in events and stderr, and the JSON of
//! the messages the master sends to workers (as 4.x wrote them).

use std::fmt;

use crate::core::compile_cache::{CacheOff, NodeVersion, Refusal, FIRST_NODE_WITH_CACHE};
use crate::core::{
    ExitStatus, FailReason, PauseCause, ReplaceReason, ScaleRefused, Signal, StopReason, Trace,
    UpgradeRefusal, WorkerNote, EXIT_CRASH_LOOP, MAX_WORKERS,
};

struct Pid(Option<u32>);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pid) => write!(f, "{pid}"),
            None => f.write_str("unknown"),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.signal) {
            (_, Some(signal)) => write!(f, "signal {signal}"),
            (Some(code), None) => write!(f, "code {code}"),
            (None, None) => f.write_str("no code"),
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::ExitedBeforeReady { slot, pid, status } => write!(
                f,
                "worker {slot} (pid {}) exited with {status} before it was ready",
                Pid(*pid)
            ),
            FailReason::NotReadyInTime { slot, timeout_ms } => {
                write!(f, "worker {slot} was not ready within {timeout_ms} ms")
            }
            FailReason::PackageChanged { version } => write!(
                f,
                "master-process on disk changed to version {version}: upgrading in place instead"
            ),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Signal(signal) => f.write_str(signal_name(*signal)),
            StopReason::Requested => f.write_str("stop() was called"),
            StopReason::ControlSocket => f.write_str("stop was asked on the control socket"),
            StopReason::LauncherExited { pid } => write!(f, "its launcher (pid {pid}) exited"),
            StopReason::PackageChanged { version } => {
                write!(f, "master-process on disk changed to version {version}")
            }
            StopReason::UpgradeFailed => {
                f.write_str("the upgrade could not replace the image after handing over its sockets")
            }
            StopReason::CrashLoop { slot, streak } => write!(
                f,
                "worker {slot} crashed {streak} times in a row soon after start; giving up (exit {EXIT_CRASH_LOOP})"
            ),
        }
    }
}

impl fmt::Display for UpgradeRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeRefusal::NotRunning => f.write_str("the master is starting or stopping"),
            UpgradeRefusal::UnderWay => f.write_str("an upgrade is under way"),
            UpgradeRefusal::LastNotOver => f.write_str(
                "the last upgrade is not over (its workers are starting or the old ones draining)",
            ),
            UpgradeRefusal::Busy => f.write_str("a reload or scale is under way"),
            UpgradeRefusal::AppFailed(reason) => {
                write!(
                    f,
                    "the app on disk did not serve ({reason}); the old workers serve on"
                )
            }
            UpgradeRefusal::ImageFailed(error) => write!(f, "the new image cannot start: {error}"),
            UpgradeRefusal::Stopping => f.write_str("the master is stopping"),
            UpgradeRefusal::UnixSocketPort => f.write_str(
                "PORT is a unix socket path the master binds, and its file would not survive \
                 the exec (a socket passed by systemd socket activation does)",
            ),
        }
    }
}

impl fmt::Display for ReplaceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplaceReason::Memory => "used too much memory",
            ReplaceReason::Cpu => "used too much cpu",
            ReplaceReason::Unsampled => "could not be sampled",
            ReplaceReason::Unresponsive => "stopped responding",
        })
    }
}

impl fmt::Display for ScaleRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleRefused::OutOfRange { requested } => write!(
                f,
                "cannot scale to {requested} workers: expected a whole number from 1 to {MAX_WORKERS}"
            ),
            ScaleRefused::AtMaximum => {
                write!(f, "cannot add a worker: already at the maximum of {MAX_WORKERS}")
            }
            ScaleRefused::AtMinimum => {
                f.write_str("cannot remove a worker: already at the minimum of 1")
            }
            ScaleRefused::NotRunning => f.write_str("cannot scale: the master is not running"),
        }
    }
}

/// The name of a signal the master handles, such as `SIGHUP`.
pub fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Hup => "SIGHUP",
        Signal::Term => "SIGTERM",
        Signal::Int => "SIGINT",
        Signal::Usr2 => "SIGUSR2",
        Signal::Ttin => "SIGTTIN",
        Signal::Ttou => "SIGTTOU",
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Trace::*;
        match self {
            Starting { workers } => write!(f, "starting {workers} worker(s)"),
            Forking { slot, generation } => {
                write!(f, "forking worker {slot} of generation {generation}")
            }
            HasPid { slot, pid } => write!(f, "worker {slot} has pid {pid}"),
            Listening { slot } => write!(f, "worker {slot} is listening"),
            Ready { slot } => write!(f, "worker {slot} is ready"),
            Exited { slot, status } => write!(f, "worker {slot} exited with {status}"),
            Unknown { what, id } => write!(f, "ignoring {what} of unknown worker #{id}"),
            Monitoring { paused, cause } => {
                let state = if *paused { "paused" } else { "resumed" };
                let cause = match cause {
                    PauseCause::Usr2 => "SIGUSR2",
                    PauseCause::Worker => "a worker asked",
                    PauseCause::Request => "asked on the control socket",
                };
                write!(f, "monitoring {state} ({cause})")
            }
            SampledAfterExit => f.write_str("sampled after it exited"),
            OverLimits(o) => {
                const MB: f64 = 1024.0 * 1024.0;
                write!(
                    f,
                    "worker {} over its limits: rss {:.1} MB (limit {:.0}), cpu {:.1}% (limit {:.0}%), {} memory / {} cpu samples in a row",
                    o.slot,
                    o.rss_bytes as f64 / MB,
                    o.max_memory_bytes as f64 / MB,
                    o.cpu_percent,
                    o.max_cpu_percent,
                    o.memory_streak,
                    o.cpu_streak
                )
            }
            Replacing { slot, reason } => write!(f, "replacing worker {slot}: it {reason}"),
            Unresponsive { slot, silent } => write!(
                f,
                "worker {slot} has not answered for {} ms: cutting it off from new connections",
                silent.as_millis()
            ),
            ReloadIgnored => f.write_str("reload ignored: not running"),
            UpgradeBegins { attempt } => write!(
                f,
                "upgrade {attempt} begins: reloading the app on disk, then checking the new image"
            ),
            UpgradeRefused { attempt, reason } => {
                write!(f, "upgrade {attempt} refused, nothing changed: {reason}")
            }
            UpgradeReplacing => f.write_str(
                "upgrade: the new image can start; replacing this one (same pid, same sockets)",
            ),
            UpgradeFailed { error } => write!(f, "upgrade: replacing the image failed: {error}"),
            Upgraded { upgrades } => write!(
                f,
                "upgraded in place (upgrade {upgrades} of this master): every worker of the new image serves"
            ),
            AdoptedExited { pid } => write!(f, "worker {pid} of the replaced image has exited"),
            ReloadQueued => f.write_str("a reload or scale is in progress: a reload will follow"),
            ReloadStarts { generation } => write!(f, "reload {generation} starts"),
            ReloadDone { generation } => write!(f, "reload {generation} done"),
            RestartIn { slot, delay } => {
                write!(f, "restarting worker {slot} in {} ms", delay.as_millis())
            }
            ScaleStarts { from, to } => write!(f, "scaling from {from} to {to} worker(s)"),
            ScaleQueued { to } => write!(f, "scale to {to} worker(s) waits for the one in progress"),
            ScaleDone { from, workers } => {
                write!(f, "scaled from {from} to {workers} worker(s)")
            }
            ScaleNotReady {
                starting,
                timeout_ms,
            } => write!(
                f,
                "{starting} new worker(s) not ready after {timeout_ms} ms: the scale ends, \
                 they keep starting (a reload replaces them)"
            ),
            ScaleRefused { reason } => write!(f, "{reason}"),
            SlotRemoved { slot } => write!(f, "slot {slot} is empty and removed"),
            Retiring { slot } => write!(f, "retiring worker {slot}"),
            Drained => f.write_str("drained: settling"),
            Settled => f.write_str("settled: terminating"),
            DrainLate => f.write_str("drain did not finish in time"),
            KillTimeout { stage } => write!(f, "kill timeout passed while {stage:?}: SIGKILL"),
            AlreadyStopping { reason } => write!(f, "already stopping; {reason} ignored"),
            Stopping { reason } => write!(f, "stopping ({reason}): retiring every worker"),
            StopDelayed { reason, delay } => write!(
                f,
                "stopping ({reason}) after the shutdown delay of {}: workers serve until then, /readyz says 503",
                crate::shell::log::humanize(delay.as_millis())
            ),
            DelayCutShort { reason } => write!(f, "{reason} during the shutdown delay: stopping now"),
            Exiting { code } => write!(f, "all workers gone: exiting with code {code}"),
            HandingOff { ticket, to } => write!(
                f,
                "handing connection #{ticket}, which no worker took, to worker #{to}"
            ),
            HandoffWaits { ticket } => write!(
                f,
                "connection #{ticket}, which no worker took, waits for a worker to be ready"
            ),
            DisconnectedWhileDraining => {
                f.write_str("its channel closed while draining: terminating")
            }
            PackageChanged { version } => write!(
                f,
                "master-process on disk changed to version {version}; stopping so the service manager restarts it"
            ),
            ReloadFailed { generation, reason } => {
                write!(f, "reload {generation} failed and was rolled back: {reason}")
            }
            ReplacementFailed { reason } => write!(f, "replacement failed: {reason}"),
            CrashLoop { slot, streak } => write!(
                f,
                "{}",
                StopReason::CrashLoop {
                    slot: *slot,
                    streak: *streak
                }
            ),
            NeverStarted { slot } => write!(f, "worker {slot} never started; forgotten"),
            StuckAfterKill { slot, pid, grace } => write!(
                f,
                "worker {slot} (pid {}) still exists {} ms after SIGKILL; no longer waiting for it",
                Pid(*pid),
                grace.as_millis()
            ),
            StartedAfterGivenUp { id, pid } => write!(
                f,
                "worker #{id} (pid {pid}) started after it was given up: killing it"
            ),
        }
    }
}

/// The JSON string 4.x sent for `note` (`process.on('message')` in the worker gets it).
pub fn note_json(note: &WorkerNote) -> String {
    match note {
        WorkerNote::MemHigh { percent } => format!(r#"{{"msg":"mem_high","mem_perc":{percent}}}"#),
        WorkerNote::ReplacedFaulty {
            reason,
            old_pid,
            new_pid,
        } => serde_json::json!({
            "msg": "replace_faulty_worker",
            "reason": reason.to_string(),
            "old_pid": old_pid,
            "new_pid": new_pid,
        })
        .to_string(),
    }
}

impl fmt::Display for NodeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Completes "<path> ...".
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAFolder => f.write_str("is not a folder"),
            Refusal::Symlink => f.write_str("is a symlink"),
            Refusal::OwnedBy(uid) => write!(f, "is owned by uid {uid}"),
            Refusal::OpenToOthers(mode) => {
                write!(f, "can be written by other users (mode {mode:o})")
            }
        }
    }
}

/// Completes "compile cache: ...".
impl fmt::Display for CacheOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheOff::Setting => f.write_str("off (MASTER_PROCESS_COMPILE_CACHE)"),
            CacheOff::Unsupported(node) => write!(
                f,
                "Node {node} has none (Node {FIRST_NODE_WITH_CACHE} and later have it)"
            ),
            CacheOff::UserFolder(folder) => {
                write!(
                    f,
                    "workers inherit the master's NODE_COMPILE_CACHE={folder}"
                )
            }
            CacheOff::UserDisabled => f.write_str("NODE_DISABLE_COMPILE_CACHE is set"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_the_json_4x_sent() {
        assert_eq!(
            note_json(&WorkerNote::MemHigh { percent: 85.0 }),
            r#"{"msg":"mem_high","mem_perc":85}"#
        );
        assert_eq!(
            note_json(&WorkerNote::MemHigh { percent: 85.4375 }),
            r#"{"msg":"mem_high","mem_perc":85.4375}"#
        );
        let replaced = WorkerNote::ReplacedFaulty {
            reason: ReplaceReason::Memory,
            old_pid: Some(10),
            new_pid: None,
        };
        let value: serde_json::Value = serde_json::from_str(&note_json(&replaced)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"msg": "replace_faulty_worker", "reason": "used too much memory",
                "old_pid": 10, "new_pid": null})
        );
    }

    #[test]
    fn reasons_read_as_before() {
        let exited = FailReason::ExitedBeforeReady {
            slot: 1,
            pid: Some(1004),
            status: ExitStatus {
                code: Some(1),
                signal: None,
            },
        };
        assert_eq!(
            exited.to_string(),
            "worker 1 (pid 1004) exited with code 1 before it was ready"
        );
        let late = FailReason::NotReadyInTime {
            slot: 0,
            timeout_ms: 500,
        };
        assert_eq!(late.to_string(), "worker 0 was not ready within 500 ms");
        assert_eq!(StopReason::Signal(Signal::Int).to_string(), "SIGINT");
        assert_eq!(
            Trace::CrashLoop { slot: 0, streak: 3 }.to_string(),
            "worker 0 crashed 3 times in a row soon after start; giving up (exit 70)"
        );
    }
}
