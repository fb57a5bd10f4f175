//! `/livez` and `/readyz`: the answer, from the driver's heartbeat and the last snapshot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::snapshot::Snapshot;

/// How long the driver may spend on one event before `/livez` calls it stuck. Handling an
/// event takes microseconds; waiting for the next one is not being stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(10);

/// The driver thread's heartbeat: since when it has been busy with one input, if it is.
#[derive(Debug)]
pub struct Pulse {
    epoch: Instant,
    /// Milliseconds since `epoch`, plus one, at which the current input began; 0: idle.
    busy_since: AtomicU64,
    /// The driver thread has returned (the master is exiting).
    ended: AtomicBool,
}

impl Pulse {
    pub fn new(epoch: Instant) -> Self {
        Pulse {
            epoch,
            busy_since: AtomicU64::new(0),
            ended: AtomicBool::new(false),
        }
    }

    /// The driver took an input at `now`.
    pub fn busy(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        self.busy_since.store(ms + 1, Ordering::SeqCst);
    }

    /// The driver is done with it and waits for the next one.
    pub fn idle(&self) {
        self.busy_since.store(0, Ordering::SeqCst);
    }

    /// The driver thread returned.
    pub fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// `Ok` while the driver turns, else why not.
    pub fn check(&self, now: Instant) -> Result<(), String> {
        if self.ended.load(Ordering::SeqCst) {
            return Err("the driver thread has ended".into());
        }
        let since = self.busy_since.load(Ordering::SeqCst);
        if since == 0 {
            return Ok(());
        }
        let began = self.epoch + Duration::from_millis(since - 1);
        let busy = now.saturating_duration_since(began);
        if busy < STUCK_AFTER {
            return Ok(());
        }
        Err(format!(
            "the driver thread has been handling one event for {} s",
            busy.as_secs()
        ))
    }
}

/// `Ok` while at least one worker takes connections and the master is not stopping.
pub fn readiness(snapshot: Option<&Snapshot>) -> Result<(), String> {
    let Some(s) = snapshot else {
        return Err("the master has not started".into());
    };
    if s.delaying {
        return Err(
            "the master is stopping: its workers serve until the shutdown delay is over".into(),
        );
    }
    if s.stopping {
        return Err("the master is stopping".into());
    }
    if s.ready == 0 {
        return Err("no worker is ready".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_or_briefly_busy_is_alive_and_long_busy_is_stuck() {
        let t0 = Instant::now();
        let pulse = Pulse::new(t0);
        assert_eq!(pulse.check(t0 + Duration::from_secs(3600)), Ok(()));
        pulse.busy(t0 + Duration::from_secs(1));
        assert_eq!(pulse.check(t0 + Duration::from_secs(10)), Ok(()));
        let stuck = pulse.check(t0 + Duration::from_secs(12)).unwrap_err();
        assert!(stuck.contains("for 11 s"), "{stuck}");
        pulse.idle();
        assert_eq!(pulse.check(t0 + Duration::from_secs(12)), Ok(()));
        pulse.end();
        assert!(pulse.check(t0).unwrap_err().contains("ended"));
    }
}
