'use strict';
// Keeps the master's listening sockets open while it runs. Cluster's primary listens for its
// workers through one handle per address (a RoundRobinHandle, or a SharedHandle under
// SCHED_NONE), and closes that handle, with the connections it had accepted and not yet
// handed over, when its last worker leaves it: a worker that exits, crashes, is disconnected
// (the heartbeat cutting off a frozen worker) or closes its own server. With one worker, every
// such moment refused connections until the next worker listened again, and a unix socket
// file was unlinked. Here, while `keeping`, the last worker's leaving hands the handle to a
// placeholder worker instead: the socket stays open, what it accepts waits in the handle's
// queue (the placeholder is never handed a connection), and the next worker to listen on
// that address joins the same handle, takes the placeholder's place and is handed what
// waited. Cluster also insists that no handle outlives its last worker, so while the
// placeholder holds one it is listed in cluster.workers, under id 0 (cluster counts from 1).
// `release()` (at a stop) lets the placeholder go, which closes the handles it held, and lets
// the last worker's leaving close the others.
//
// Those handle classes are internal to Node: their prototype is reached once, as cluster
// constructs the first handle, through a setter for `key` (the first field every handle
// constructor assigns) put on Object.prototype only for the synchronous moment of one
// `queryServer` message, then removed. Their shape is checked before anything is patched; a
// Node whose cluster differs keeps its own behaviour, and `missing` says so.

const cluster = /** @type {import('node:cluster').Cluster} */ (/** @type {unknown} */ (require('node:cluster')));

const CLUSTER = 'NODE_CLUSTER';
const QUERY = 'queryServer';
const { EventEmitter } = require('node:events');

/** The placeholder's id: cluster numbers its workers from 1. */
const PLACEHOLDER_ID = 0;

/** What each handle class keeps its workers in, and what else a patchable one must have. */
const SHAPES = [
  { name: 'RoundRobinHandle', workers: 'all', methods: ['add', 'remove', 'distribute', 'handoff'] },
  { name: 'SharedHandle', workers: 'workers', methods: ['add', 'remove'] },
];

function fits(prototype, shape) {
  return shape.methods.every((m) => typeof prototype[m] === 'function');
}

/** Which shape the prototype has: a RoundRobinHandle's methods include a SharedHandle's. */
function shapeOf(prototype) {
  return SHAPES.find((shape) => fits(prototype, shape)) ?? null;
}

/** The handle class cluster uses for TCP and unix sockets under its scheduling policy. */
function expectedShape() {
  return cluster.schedulingPolicy === cluster.SCHED_RR ? SHAPES[0] : SHAPES[1];
}

/**
 * A cluster worker with no process behind it: a channel that is never connected, so
 * cluster sends it nothing (and it answers nothing).
 */
function placeholderWorker() {
  const process = Object.assign(new EventEmitter(), {
    connected: false,
    pid: undefined,
    exitCode: null,
    signalCode: null,
    send: () => false,
    kill: () => false,
    disconnect: () => {},
  });
  // cluster.Worker is exported (cluster's own Worker class) but not in @types/node.
  const { Worker } = /** @type {{ Worker: new (options: object) => import('node:cluster').Worker }} */ (/** @type {unknown} */ (cluster));
  return new Worker({ id: PLACEHOLDER_ID, process, state: 'online' });
}

/**
 * Cluster hands a queued connection to a free worker by taking it off the queue and sending
 * it, but its send does nothing to a worker whose channel has just closed (it is still
 * listed as free until cluster's 'disconnect' handler runs, a tick later): the connection
 * was then neither handed nor closed, and its client hung for good. Guarded: such a worker
 * is taken off the free list and the connection stays queued for the next free worker (or
 * the next worker to listen).
 */
function guardHandoff(prototype) {
  const handoff = prototype.handoff;
  prototype.handoff = function handoffReachable(worker) {
    if (worker.process?.connected !== false) return handoff.call(this, worker);
    this.free?.delete(worker.id);
    const [next] = this.free ?? [];
    if (next === undefined) return undefined;
    const [id, other] = next;
    this.free.delete(id);
    return this.handoff(other);
  };
}

function keepListeners() {
  let keeping = true;
  /** The handles the placeholder holds. */
  const held = new Set();
  const patched = new Set();
  /** Every handle cluster made, for an upgrade to find its listening sockets. */
  const known = new Set();
  const placeholder = placeholderWorker();
  let trapped = false;

  function hold(handle, workers) {
    workers.set(PLACEHOLDER_ID, placeholder);
    held.add(handle);
    cluster.workers[PLACEHOLDER_ID] = placeholder;
  }

  function unhold(handle, workers) {
    workers.delete(PLACEHOLDER_ID);
    held.delete(handle);
    if (held.size === 0) delete cluster.workers[PLACEHOLDER_ID];
  }

  function patch(prototype, shape) {
    const remove = prototype.remove;
    prototype.remove = function keepLast(worker) {
      const workers = this[shape.workers];
      // Cluster's maps are its own SafeMaps (not instances of Map): checked by what is used.
      const usable = typeof workers?.has === 'function' && typeof workers.set === 'function';
      if (!keeping || !usable || worker === placeholder || workers.size !== 1 || !workers.has(worker.id)) {
        return remove.call(this, worker);
      }
      workers.delete(worker.id);
      this.free?.delete(worker.id);
      hold(this, workers);
      return false; // cluster keeps the handle for the next worker that listens here
    };
    if (shape.methods.includes('handoff')) guardHandoff(prototype);
    const add = prototype.add;
    prototype.add = function addKept(worker, send) {
      known.add(this);
      if (held.has(this)) unhold(this, this[shape.workers]);
      return add.call(this, worker, send);
    };
    patched.add(shape.name);
  }

  /** Put the trap on Object.prototype: the first handle constructed shows its prototype. */
  function trap() {
    if (trapped || Object.getOwnPropertyDescriptor(Object.prototype, 'key')) return;
    trapped = true;
    Object.defineProperty(Object.prototype, 'key', {
      configurable: true,
      set(value) {
        Object.defineProperty(this, 'key', { value, writable: true, enumerable: true, configurable: true });
        const prototype = Object.getPrototypeOf(this);
        const shape = prototype && shapeOf(prototype);
        if (shape && !patched.has(shape.name)) patch(prototype, shape);
      },
    });
    queueMicrotask(untrap); // even if cluster's own listener throws
  }

  function untrap() {
    if (!trapped) return;
    trapped = false;
    delete (/** @type {any} */ (Object.prototype)).key;
  }

  const isQuery = (message) => message?.cmd === CLUSTER && message.act === QUERY;

  return {
    /**
     * Watch `worker`'s messages: around cluster's handling of its first `queryServer`, the trap
     * is set (before cluster's listener, which was added at the fork) and removed (after it).
     */
    watch(worker) {
      if (patched.has(expectedShape().name)) return;
      worker.process.prependListener('internalMessage', (message) => {
        if (isQuery(message) && !patched.has(expectedShape().name)) trap();
      });
      worker.process.on('internalMessage', (message) => {
        if (isQuery(message)) untrap();
      });
    },

    /**
     * The stop began: the placeholder leaves as a disconnected worker does, so cluster closes
     * (and forgets) the handles it held; the last worker's leaving closes the rest.
     */
    release() {
      keeping = false;
      if (held.size === 0) return;
      held.clear();
      placeholder.disconnect();
    },

    /**
     * The listening sockets cluster holds for its workers, for an upgrade: each one's
     * descriptor, `stop()` to stop accepting on it (closing cluster's copy), and `waiting()`:
     * whether connections it accepted still wait to be handed to a worker.
     */
    sockets() {
      return [...known].filter((h) => Number.isInteger(h.handle?.fd) && h.handle.fd >= 0).map((h) => ({
        fd: h.handle.fd,
        stop: () => h.handle.close(),
        waiting: () => h.handles !== undefined && h.handles._idleNext !== h.handles,
      }));
    },

    /** Whether the sockets are kept; else why not (this Node's cluster is not as expected). */
    missing() {
      const shape = expectedShape();
      return patched.has(shape.name) ? null : `cluster's ${shape.name} (to keep a listening socket open between workers)`;
    },
  };
}

module.exports = { keepListeners };
