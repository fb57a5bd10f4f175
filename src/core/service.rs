//! What the service manager is told: ready once every slot of the first generation is,
//! reloading and ready again around each reload, stopping when a stop begins.

use super::command::{Command, ServiceState};
use super::Supervisor;

impl Supervisor {
    /// The first time every slot has a ready worker serving it, tell the service manager.
    /// Checked after every event (`Supervisor::handle`).
    pub(super) fn check_first_ready(&mut self) {
        if !self.life.is_running() || self.life.is_announced() {
            return;
        }
        let all_ready = self.slots.iter().all(|slot| {
            slot.serving
                .and_then(|id| self.workers.get(&id))
                .is_some_and(|w| w.is_ready())
        });
        if all_ready {
            self.life.set_announced();
            self.out.push(Command::Service(ServiceState::Ready));
            self.persist_compile_cache();
            self.upgrade_resumed();
        }
    }

    /// Tell the service manager `state`; before the first ready only a stop is news.
    pub(super) fn tell_service(&mut self, state: ServiceState) {
        let stopping = state == ServiceState::Stopping;
        if stopping || self.life.is_announced() {
            self.out.push(Command::Service(state));
        }
    }
}
