//! The metrics server (`MASTER_PROCESS_METRICS`): `/metrics`, `/livez` and `/readyz` on a
//! thread of their own. The driver publishes a snapshot after each input and marks when it
//! is busy; a request reads those and never waits on the driver or on a worker.

pub mod expose;
pub mod health;
mod link;
mod server;
pub mod snapshot;

use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use expose::{Build, Format};
pub use health::Pulse;
pub use link::Link;
pub use server::{start, MetricsError, MetricsServer};
pub use snapshot::Snapshot;

/// What the driver shares with the metrics thread.
#[derive(Debug)]
pub struct Board {
    /// The latest snapshot (`None` until the first input was handled).
    latest: Mutex<Option<Arc<Snapshot>>>,
    pub pulse: Pulse,
    pub build: Build,
}

impl Board {
    pub fn new(build: Build, epoch: Instant) -> Self {
        Board {
            latest: Mutex::new(None),
            pulse: Pulse::new(epoch),
            build,
        }
    }

    /// Replace the snapshot (the lock is held for a pointer swap, never for a render).
    pub fn publish(&self, snapshot: Snapshot) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(Arc::new(snapshot));
        }
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }
}
