//! Connections the primary holds and no worker took: cluster handed one to a worker whose
//! channel closed before it answered (it crashed, was killed, or was cut off), or one of
//! ours was. Each goes to exactly one worker that takes connections (ready, reachable, not
//! cut off by the heartbeat, never one that refused it before), the one with the fewest such
//! connections on their way to it; while none does, it waits for the next worker to become
//! ready. An answer counts only from the worker it was last sent to, so a late answer can
//! never deliver it twice. A stop closes what waits.

use std::collections::{BTreeMap, BTreeSet};

use super::command::NodeCommand;
use super::event::{Ticket, WorkerId};
use super::trace::Trace;
use super::Supervisor;

/// One connection to place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Handoff {
    /// The worker it was last sent to and has not answered; `None` while it waits.
    to: Option<WorkerId>,
    /// The workers that refused it (they are shutting down their server).
    refused: BTreeSet<WorkerId>,
}

/// Every connection being placed, by ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Handoffs(BTreeMap<Ticket, Handoff>);

impl Handoffs {
    /// The tickets on their way to `to` (`None`: those that wait).
    fn bound_for(&self, to: Option<WorkerId>) -> Vec<Ticket> {
        self.0
            .iter()
            .filter(|(_, h)| h.to == to)
            .map(|(&t, _)| t)
            .collect()
    }
}

impl Supervisor {
    /// How many connections wait for a worker that takes them.
    pub fn waiting_connections(&self) -> usize {
        self.handoffs.bound_for(None).len()
    }

    /// A new connection to place; a ticket already known is being placed already.
    pub(super) fn on_orphaned(&mut self, ticket: Ticket) {
        if self.handoffs.0.contains_key(&ticket) {
            return;
        }
        self.handoffs.0.insert(ticket, Handoff::default());
        self.place_again(ticket);
    }

    /// Place `ticket`, or close it when the master stops.
    fn place_again(&mut self, ticket: Ticket) {
        if self.life.is_stopping() {
            self.handoffs.0.remove(&ticket);
            return self.node(NodeCommand::CloseConnection { ticket });
        }
        if let Some(handoff) = self.handoffs.0.get_mut(&ticket) {
            handoff.to = None;
        }
        self.place(ticket);
    }

    pub(super) fn on_handoff_answered(&mut self, ticket: Ticket, id: WorkerId, accepted: bool) {
        let Some(handoff) = self.handoffs.0.get_mut(&ticket) else {
            return;
        };
        if handoff.to != Some(id) {
            return; // not the worker it is on its way to: a late answer of an earlier one
        }
        if accepted {
            self.handoffs.0.remove(&ticket);
            return self.node(NodeCommand::CloseConnection { ticket });
        }
        handoff.refused.insert(id);
        self.place_again(ticket);
    }

    /// A worker became ready: what waited goes out again.
    pub(super) fn place_waiting(&mut self) {
        for ticket in self.handoffs.bound_for(None) {
            self.place(ticket);
        }
    }

    /// The stop began: no worker will take what waits.
    pub(super) fn close_waiting_connections(&mut self) {
        for ticket in self.handoffs.bound_for(None) {
            self.handoffs.0.remove(&ticket);
            self.node(NodeCommand::CloseConnection { ticket });
        }
    }

    /// Send `ticket` to the best worker that takes it, or leave it waiting.
    fn place(&mut self, ticket: Ticket) {
        let Some(refused) = self.handoffs.0.get(&ticket).map(|h| h.refused.clone()) else {
            return;
        };
        let target = self
            .workers
            .values()
            .filter(|w| w.takes_connections() && !refused.contains(&w.id))
            .min_by_key(|w| {
                let on_way = self.handoffs.0.values().filter(|h| h.to == Some(w.id));
                (on_way.count(), std::cmp::Reverse(w.id))
            })
            .map(|w| w.id);
        let Some(to) = target else {
            return self.trace(None, Trace::HandoffWaits { ticket });
        };
        if let Some(handoff) = self.handoffs.0.get_mut(&ticket) {
            handoff.to = Some(to);
        }
        self.trace(self.tag(to), Trace::HandingOff { ticket, to });
        self.node(NodeCommand::HandOff { ticket, to });
    }

    /// The connections on their way to `id`, whose channel closed: placed again.
    pub(super) fn place_again_sent_to(&mut self, id: WorkerId) {
        for ticket in self.handoffs.bound_for(Some(id)) {
            self.place_again(ticket);
        }
    }
}
