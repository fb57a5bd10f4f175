'use strict';
// The primary's side of cluster's round-robin hand-off, which relies on Node internals:
// cluster sends each accepted connection to a worker as an internal NODE_CLUSTER message
// `{ act: 'newconn', key, seq }` with the connection's handle, and closes its copy only when
// the worker answers `{ ack: seq, accepted }`. If the worker's channel closes before it
// answers (it crashed, was killed, or was cut off), the answer never comes: the client would
// hang for good and the primary keep the descriptor. This watches each worker's hand-offs
// through its ChildProcess#send and, once the channel has closed (so no answer can still be
// on its way), holds each unanswered connection under a ticket and tells the core, which
// decides where it goes (`handoff`) and when the primary's copy closes (`release`).
// Hand-offs of ours are numbered below 0 (cluster's count up from 0) and cluster ignores
// answers to them. A Node whose cluster speaks another protocol is simply not helped: no
// message matches, nothing changes.

const CLUSTER = 'NODE_CLUSTER';
const NEWCONN = 'newconn';

const seqOf = (ticket) => -1 - ticket;
const ticketOf = (seq) => -1 - seq;

/** One of cluster's own hand-offs (ours are numbered below 0). */
function isClusters(message, handle) {
  return message?.cmd === CLUSTER && message.act === NEWCONN && handle != null && message.seq >= 0;
}

/**
 * The connections the primary holds for the core. `master` is the addon's Master,
 * `workerOf(id)` the cluster worker of a core id (or undefined).
 */
function holdConnections(master, workerOf) {
  /** ticket -> { key, handle } */
  const held = new Map();
  let nextTicket = 0;
  /** Each watched worker's hand-offs not answered yet. */
  const unanswered = new Set();

  /** Watch `worker` (core id `id`): its unanswered hand-offs go to the core once its channel closes. */
  function watch(worker, id) {
    const child = worker.process;
    const pending = new Map(); // cluster's seq -> { key, handle }
    unanswered.add(pending);
    const send = child.send;
    child.send = function sendWatched(message, handle, ...rest) {
      if (isClusters(message, handle)) pending.set(message.seq, { key: message.key, handle });
      return send.call(this, message, handle, ...rest);
    };
    child.on('internalMessage', (message) => {
      if (message?.cmd !== CLUSTER || typeof message.ack !== 'number') return;
      if (message.ack >= 0) pending.delete(message.ack);
      else if (held.has(ticketOf(message.ack))) master.handoffAnswered(ticketOf(message.ack), id, message.accepted === true);
    });
    // The channel closed: 'disconnect', or, when the worker died while a handle it was sent
    // awaited its acknowledgement (Node then emits no 'disconnect'), 'close', which comes
    // once the process has exited and its channel is closed.
    let closed = false;
    const onClosed = () => {
      if (closed) return;
      closed = true;
      master.disconnected(id);
      unanswered.delete(pending);
      for (const connection of pending.values()) {
        const ticket = nextTicket++;
        held.set(ticket, connection);
        master.orphaned(ticket);
      }
      pending.clear();
    };
    child.once('disconnect', onClosed);
    child.once('close', onClosed);
  }

  /** The core's `handoff`: offer connection `ticket` to worker `id`. */
  function handoff({ ticket, id }) {
    const connection = held.get(ticket);
    const worker = workerOf(id);
    if (connection === undefined) return;
    if (!worker?.isConnected()) {
      master.disconnected(id); // the core places it elsewhere
      return;
    }
    worker.process.send({ cmd: CLUSTER, act: NEWCONN, key: connection.key, seq: seqOf(ticket) }, connection.handle);
  }

  /** The core's `release`: close the primary's copy of connection `ticket`. */
  function release({ ticket }) {
    held.get(ticket)?.handle.close();
    held.delete(ticket);
  }

  /** Whether a connection sent to a worker still awaits its answer (an upgrade waits). */
  const inFlight = () => [...unanswered].some((pending) => pending.size > 0);

  return { watch, handoff, release, inFlight };
}

module.exports = { holdConnections };
