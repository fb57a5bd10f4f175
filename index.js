'use strict';
// Public API and thin cluster glue. Every decision is made by the Rust core (src/core);
// this file pins signals, forwards cluster events, and runs the commands it is handed.

// @types/node declares cluster as a default export; require() returns the object itself.
const cluster = /** @type {import('node:cluster').Cluster} */ (/** @type {unknown} */ (require('node:cluster')));
const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { PROTOCOL: protocol } = require('./lib/protocol.js');
const { dispatch } = require('./lib/master/commands.js');
const { holdConnections } = require('./lib/master/handoff.js');
const { keepListeners } = require('./lib/master/listeners.js');
const { checkImage, replaceImage } = require('./lib/master/upgrade.js');

const SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'];
/** The worker side (drain, heartbeat, inherited sockets) in one file: see lib/worker/entry.js. */
const WORKER_PRELOAD = path.join(__dirname, 'lib', 'worker', 'preload.js');
const EX_CONFIG = 78;
const ID = Symbol('master-process worker id');
/** The command line's way in (bin/master-process.js): not part of the public API. */
const RUN_APP = Symbol.for('master-process.runApp');

let running = null;

function noop() {}

function codedError(code, message) {
  return Object.assign(new Error(message), { code });
}

/** Options as the strings the Rust config reads (numbers of ms, booleans as true/false). */
function toSettings(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw codedError('ERR_INVALID_ARG_TYPE', `master-process: init(options) takes an object, got ${typeof options}`);
  }
  /** @type {Record<string, string>} */
  const settings = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && value !== null) settings[key] = String(value);
  }
  return settings;
}

/**
 * Pin each handled signal with a JS listener before Rust registers its handler: the first
 * listener makes libuv replace Node's start-up handler (which re-raises the signal forever
 * if another handler chains to it), and Rust's handler then chains to libuv's, so every
 * listener of the app keeps firing. Until a whole turn of the event loop has passed after
 * start() (so libuv has dispatched every delivery it took before), the listeners count what they see, so `catchUp` can replay a signal that reached only
 * libuv because it came before Rust's handler was in place. Returns the way to undo it.
 */
function pinSignals(master) {
  const seen = Object.fromEntries(SIGNALS.map((signal) => [signal, 0]));
  let counting = true;
  const listeners = SIGNALS.map((signal) => {
    const listener = () => {
      if (counting) master.catchUp(signal, ++seen[signal]);
    };
    process.on(signal, listener);
    return /** @type {const} */ ([signal, listener]);
  });
  return {
    stopCounting: () => setImmediate(() => setImmediate(() => { counting = false; })),
    unpin: () => listeners.forEach(([signal, listener]) => process.removeListener(signal, listener)),
  };
}

/** A handled signal lost its last listener: libuv reset it, so pin again and rearm Rust. */
function watchSignals(master) {
  process.on('removeListener', (name) => {
    if (SIGNALS.includes(name) && process.listenerCount(name) === 0) {
      process.on(name, noop);
      master.rearm(name);
    }
  });
}

/**
 * The directory to fork in: $PWD when it names the current directory (so a `current`
 * symlink that a deploy moved is followed at the next fork), else the resolved cwd.
 */
function startDirectory() {
  const cwd = process.cwd();
  const pwd = process.env.PWD;
  try {
    const [a, b] = [fs.statSync(pwd), fs.statSync(cwd)];
    if (a.dev === b.dev && a.ino === b.ino) return pwd;
  } catch {
    // no usable $PWD
  }
  return cwd;
}

function loadMaster(options, cli) {
  const { Master } = /** @type {typeof import('./binding.js')} */ (require('./lib/master/native.js'));
  try {
    return new Master(toSettings(options), path.join(__dirname, 'package.json'), cli);
  } catch (error) {
    exitOnSetupError(error);
    throw error;
  }
}

function exitOnSetupError(error) {
  if (['ERR_INVALID_CONFIG', 'ERR_SOCKET_PATH', 'ERR_CONTROL_SOCKET'].includes(error.code)) {
    process.stderr.write(`master-process: ${error.message}\n`);
    process.exit(EX_CONFIG);
  }
}

class MasterHandle extends EventEmitter {
  #master;
  #workers;

  constructor(master, workers) {
    super();
    this.#master = master;
    this.#workers = workers;
  }

  /** Same as `kill -HUP`: fork a new generation and retire the old one. */
  reload() {
    this.#master.reload();
  }

  /**
   * Upgrade in place: reload the app on disk, check that the Node and master-process on disk
   * can start, then replace this process's image with them (same pid, same sockets). A
   * refusal comes as the `upgrade-refused` event; the new image's handle emits `upgraded`.
   */
  upgrade() {
    this.#master.upgrade();
  }

  /** Same as `kill -TERM`: stop every worker, then exit the master. */
  stop() {
    this.#master.stop();
  }

  /**
   * Change the number of slots to `workers` (1-1024): new slots fork, removed ones retire
   * with the drain. The `scale` event follows once it is over.
   */
  scale(workers) {
    this.#master.scale(String(workers));
  }

  /** The status report, the same object as the control socket's `status` answer. */
  status() {
    return JSON.parse(this.#master.status());
  }

  /** The master's pid. */
  get pid() {
    return process.pid;
  }

  /** The control socket's path, or null without one. */
  get controlSocket() {
    return this.#master.controlSocket;
  }

  /** The workers alive now, as `{ pid, index, generation }` (`reloadIndex`: the same as `generation`). */
  get workers() {
    return [...this.#workers.values()].map((w) => {
      const { index, generation } = w[ID];
      return { pid: w.process.pid, index, generation, reloadIndex: generation };
    });
  }
}

/**
 * What workers start with: the worker preload, told which of its parts to run (the inherited-
 * socket listen, the heartbeat answerer, the drain) in MASTER_PROCESS_WORKER_PRELOAD, and, with
 * socket activation, the inherited sockets as extra stdio descriptors, which the worker finds
 * in MASTER_PROCESS_INHERITED. Returns the variables each fork adds to a worker's environment
 * and how to put the cluster settings back.
 */
function setupWorkers(master) {
  const before = { execArgv: cluster.settings.execArgv, stdio: cluster.settings.stdio };
  const parts = [];
  /** @type {Record<string, string | undefined>} */
  const workerEnv = { MASTER_PROCESS_WORKER_PRELOAD: undefined, MASTER_PROCESS_INHERITED: undefined };
  /** @type {import('node:cluster').ClusterSettings} */
  const settings = {};
  const inherited = master.inherited;
  if (inherited.length > 0) {
    parts.push('inherited');
    const stdio = before.stdio ?? (cluster.settings.silent ? ['pipe', 'pipe', 'pipe', 'ipc'] : [0, 1, 2, 'ipc']);
    settings.stdio = [...stdio, ...inherited.map((s) => s.fd)];
    workerEnv.MASTER_PROCESS_INHERITED = JSON.stringify(
      inherited.map((s, i) => ({ fd: stdio.length + i, host: s.host, port: s.port, path: s.path })),
    );
  }
  if (master.heartbeat) parts.push('heartbeat');
  if (master.drain) parts.push('drain');
  if (parts.length > 0) {
    workerEnv.MASTER_PROCESS_WORKER_PRELOAD = parts.join(',');
    settings.execArgv = [...(before.execArgv ?? process.execArgv), '--require', WORKER_PRELOAD];
  }
  cluster.setupPrimary(settings);
  const restore = () => cluster.setupPrimary({ execArgv: before.execArgv ?? process.execArgv, stdio: before.stdio });
  return { workerEnv, restore };
}

function glue(master, startCwd, workerEnv, started) {
  const workers = new Map();
  const hiddenEnv = master.hiddenEnv;
  const handle = new MasterHandle(master, workers);
  const idOf = (worker) => worker[ID]?.id;
  const connections = holdConnections(master, (id) => workers.get(id));
  const listeners = keepListeners();

  const onListening = (worker, address) => {
    if (idOf(worker) === undefined) return;
    master.listening(idOf(worker), address.addressType === -1 ? String(address.address) : null);
  };
  const onMessage = (worker, message) => {
    if (idOf(worker) === undefined) return;
    if (typeof message === 'string') master.message(idOf(worker), message);
    else if (message && typeof message.msg === 'string') master.message(idOf(worker), message.msg);
  };
  /** Tell the core a worker is gone, once: a failed spawn may emit 'error' and 'exit'. */
  function gone(worker, code, signal) {
    const info = worker[ID];
    if (info === undefined || info.gone) return;
    info.gone = true;
    workers.delete(info.id);
    master.exited(info.id, code ?? null, signal ?? null);
  }
  const onExit = (worker, code, signal) => gone(worker, code, signal);
  const clusterListeners = { listening: onListening, message: onMessage, exit: onExit };
  for (const [event, listener] of Object.entries(clusterListeners)) cluster.on(event, listener);
  const unglue = () => {
    for (const [event, listener] of Object.entries(clusterListeners)) cluster.removeListener(event, listener);
  };

  function fork(command) {
    try {
      process.chdir(startCwd);
    } catch {
      // The start directory is gone: fork where we are, as cluster would.
    }
    /** @type {Record<string, string | undefined>} */
    const env = {
      PPID: String(process.pid),
      RELOAD_INDEX: String(command.generation),
      WORKER_INDEX: String(command.index),
      ...(command.port === undefined ? {} : { PORT: command.port }),
      ...command.env,
    };
    for (const name of hiddenEnv) env[name] = undefined; // cluster.fork leaves these out
    Object.assign(env, workerEnv);
    let worker;
    try {
      worker = cluster.fork(env);
    } catch {
      master.exited(command.id, null, null); // the core must hear of every fork it asked for
      return;
    }
    worker[ID] = { id: command.id, index: command.index, generation: command.generation };
    workers.set(command.id, worker);
    worker.on('error', noop); // IPC to a worker that is already gone
    connections.watch(worker, command.id);
    listeners.watch(worker);
    worker.process.on('internalMessage', (message) => {
      if (message?.cmd === protocol.DRAINED) master.drained(command.id);
      else if (message?.cmd === protocol.LISTENING) master.listening(command.id, message.path ?? null);
      else if (message?.cmd === protocol.ALIVE) master.alive(command.id);
      else if (message?.cmd === protocol.SETTLED) master.settled(command.id);
    });
    if (worker.process.pid !== undefined) master.forked(command.id, worker.process.pid);
    else worker.process.once('error', () => gone(worker, null, null)); // ENOENT, EAGAIN: no 'exit'
  }

  /** Send to worker `command.id`; one that cannot be reached any more is reported at once. */
  function send(command, message) {
    const worker = workers.get(command.id);
    if (worker?.isConnected()) worker.process.send(message, noop);
    else if (worker) master.disconnected(command.id);
  }

  /** @type {import('./lib/master/commands.js').Runners} */
  const run = {
    fork,
    drain: (command) => send(command, { cmd: protocol.DRAIN }),
    settle: (command) => send(command, { cmd: protocol.SETTLE }),
    persist: (command) => send(command, { cmd: protocol.PERSIST_CACHE }),
    send: (command) => send(command, command.message),
    notify: ({ notice }) => {
      const { event, ...payload } = notice;
      handle.emit(event, payload);
    },
    exit: ({ code }) => process.exit(code),
    ping: () => master.pong(),
    heartbeat: (command) => send(command, { cmd: protocol.PING }),
    isolate: (command) => {
      const worker = workers.get(command.id);
      if (worker?.isConnected()) worker.disconnect();
    },
    handoff: connections.handoff,
    release: connections.release,
    unlisten: () => listeners.release(),
    checkupgrade: () => checkImage(master, started),
    exec: () => void replaceImage(master, { listeners, connections, workers }),
  };
  return { handle, unglue, onCommand: (command) => dispatch(command, run) };
}

/**
 * Start the master in the cluster primary: fork the workers and supervise them.
 * Returns the master handle (an EventEmitter); 4.x callers may ignore it.
 */
function init(options = {}) {
  return start(options, false);
}

/**
 * The command line's start: `app` (a resolved path) with `args` is the workers' entry, the
 * options came from flags (errors name them), and WEB_CONCURRENCY counts.
 */
function runApp(options, { app, args }) {
  if (running) return running;
  cluster.setupPrimary({ exec: app, args });
  return start(options, true);
}

function start(options, cli) {
  if (running) return running;
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw codedError('ERR_UNSUPPORTED_PLATFORM',
      `master-process needs POSIX signals (Linux or macOS); ${process.platform} is not supported`);
  }
  if (!cluster.isPrimary) {
    throw codedError('ERR_NOT_PRIMARY', 'master-process: init() must run in the cluster primary');
  }
  const master = loadMaster(options, cli);
  const workersSetup = setupWorkers(master);
  const started = { settings: toSettings(options), cli };
  const { handle, unglue, onCommand } = glue(master, startDirectory(), workersSetup.workerEnv, started);
  const signals = pinSignals(master); // as late as possible: until start() registers Rust's handlers, only JS sees them
  try {
    master.start(onCommand);
  } catch (error) {
    // Leave the process as it was: the pins would otherwise swallow SIGTERM and SIGINT.
    signals.unpin();
    unglue();
    workersSetup.restore();
    exitOnSetupError(error);
    throw error;
  }
  signals.stopCounting();
  watchSignals(master);
  process.on('exit', () => master.closeControl()); // also when the app itself exits the process
  running = handle;
  return handle;
}

/**
 * In a worker: run `callback` once when this worker starts to retire (a reload, a
 * replacement, a stop), before any signal, e.g. to close each WebSocket with 1001 "going
 * away". The drain then waits for the worker's upgraded connections to close (up to the kill
 * deadline) instead of ending them. Needs the drain module (MASTER_PROCESS_DRAIN on, the
 * default): returns whether the callback was registered.
 */
function onRetire(callback) {
  const drain = require.cache[WORKER_PRELOAD]?.exports;
  if (cluster.isPrimary || typeof drain?.onRetire !== 'function') return false;
  drain.onRetire(callback);
  return true;
}

module.exports = { init, onRetire };
Object.defineProperty(module.exports, RUN_APP, { value: runApp });
