//! A generation's compiled modules reach the compile cache as soon as it serves.
//!
//! Node writes its module compile cache when a process exits normally, and a retiring
//! worker writes it before it is signalled (`lib/worker/drain.js`). With only that, what a
//! generation compiled reaches the cache when it retires, after the next generation has
//! started: on a fresh cache (a new container, a Node upgrade, a new folder) the first
//! reload would start without it. So once every slot of a generation serves (the first
//! ready, each reload that succeeds), one of its workers, the first slot's when it is
//! ready, writes its cache: once per generation, because its siblings compiled the same
//! files. Writing is synchronous in that worker: about 14 ms for a cache of 160 modules
//! written from scratch, well under a millisecond when the files are already there.

use super::command::NodeCommand;
use super::Supervisor;

impl Supervisor {
    /// Ask one serving worker to write its compile cache, when the policy says workers have
    /// one: the first slot's, or the next ready one when that slot's worker is restarting
    /// (a crash while the reload went on).
    pub(super) fn persist_compile_cache(&mut self) {
        if !self.policy.persist_compile_cache {
            return;
        }
        let mut serving = self.slots.iter().filter_map(|slot| slot.serving);
        let ready = serving.find(|id| {
            self.workers
                .get(id)
                .is_some_and(|w| w.is_ready() && !w.is_retiring())
        });
        if let Some(id) = ready {
            self.node(NodeCommand::PersistCompileCache { id });
        }
    }
}
