'use strict';
// The primary's side of cluster's round-robin hand-off, which relies on Node internals:
// cluster sends each accepted connection to a worker as an internal NODE_CLUSTER message
// `{ act: 'newconn', key, seq }` with the connection's handle, and closes its copy only when
// the worker answers `{ ack: seq, accepted }`. If the worker dies (or is cut off) before it
// answers, the answer never comes: the client hangs for good and the primary keeps the
// descriptor. This watches each worker's hand-offs through its ChildProcess#send and, when
// the worker's channel closes with one unanswered, hands that connection to another worker
// the same way (cluster ignores an answer to a hand-off it did not send), or closes it if no
// worker takes it. A Node whose cluster speaks another protocol is simply not helped: no
// message matches, nothing changes.

const NEWCONN = 'newconn';
const CLUSTER = 'NODE_CLUSTER';
let rescueSeq = -1; // cluster numbers its own from 0 up: ours cannot collide

/** One of cluster's own hand-offs (ours, numbered below 0, are followed by `rescue`). */
function isHandoff(message, handle) {
  return message?.cmd === CLUSTER && message.act === NEWCONN && handle != null && message.seq >= 0;
}

/**
 * Watch `worker`'s hand-offs; `others()` lists the workers a rescued connection may go to.
 * Returns nothing; everything is undone when the worker's channel closes.
 */
function watchHandoffs(worker, others) {
  const child = worker.process;
  const pending = new Map(); // seq -> { message, handle }
  const send = child.send;
  child.send = function sendWatched(message, handle, ...rest) {
    if (isHandoff(message, handle)) pending.set(message.seq, { message, handle });
    return send.call(this, message, handle, ...rest);
  };
  child.on('internalMessage', (message) => {
    if (message?.cmd === CLUSTER && message.ack !== undefined) pending.delete(message.ack);
  });
  // The channel closes, or the process exits (which may come without a 'disconnect'):
  // whichever is first, no answer can come any more.
  const orphaned = () => {
    for (const { message, handle } of pending.values()) rescue(message.key, handle, others().filter((w) => w !== worker));
    pending.clear();
  };
  child.once('disconnect', orphaned);
  child.once('exit', orphaned);
}

/** Offer the connection to each candidate in turn; close it when none accepts it. */
function rescue(key, handle, candidates) {
  const next = candidates.find((w) => w.isConnected());
  if (next === undefined) {
    handle.close();
    return;
  }
  const seq = rescueSeq--;
  const onAnswer = (message) => {
    if (message?.cmd !== CLUSTER || message.ack !== seq) return;
    answered = true;
    next.process.off('internalMessage', onAnswer);
    next.process.off('disconnect', onGone);
    next.process.off('exit', onGone);
    if (message.accepted) handle.close(); // the worker has its own copy now
    else rescue(key, handle, candidates.filter((w) => w !== next));
  };
  let answered = false;
  const onGone = () => {
    if (answered) return;
    answered = true;
    next.process.off('internalMessage', onAnswer);
    rescue(key, handle, candidates.filter((w) => w !== next));
  };
  next.process.on('internalMessage', onAnswer);
  next.process.once('disconnect', onGone);
  next.process.once('exit', onGone);
  next.process.send({ cmd: CLUSTER, act: NEWCONN, key, seq }, handle);
}

module.exports = { watchHandoffs };
