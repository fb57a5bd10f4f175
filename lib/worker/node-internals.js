'use strict';
// Every Node internal the worker side (drain.js, inherited-listen.js) relies on, in one place,
// each checked once per worker before it is relied on. What lives in modules a worker loads
// anyway (net, diagnostics_channel, the IPC channel) is checked at start-up; what lives in node:http
// is checked when a worker with an HTTP(S) server is first asked to drain, because http is
// loaded by then (loading http or https at start would add about 3 ms to every worker's
// start-up) and those checks take about 1 ms, which is kept off the way to the worker's first
// response. The checks keep nothing, and none runs per request. A failed check names what is
// missing; drain.js then retires the worker the 4.x way instead of misbehaving.

const net = require('node:net');
const diagnostics = require('node:diagnostics_channel');

/** What a failed check reports, to be named in the worker's one line on stderr. */
const MISSING = {
  internalMessage: "the 'internalMessage' event (how the master's NODE_ commands reach a worker)",
  listen: 'a patchable net.Server.prototype.listen',
  diagnostics: 'diagnostics_channel.subscribe()',
  httpMessage: 'socket._httpMessage (the response in flight on an HTTP socket)',
  keepAlive: 'response.shouldKeepAlive (to answer with Connection: close)',
  ownDescriptor: "a settable cluster.isPrimary (to listen on an inherited socket without the primary)",
};

const REQUEST_START = 'http.server.request.start';


function noop() {}

/**
 * The checks that need nothing more than a worker has loaded. Returns what is missing.
 *
 * - internalMessage: IPC messages whose `cmd` starts with NODE_ are emitted on `process` as
 *   'internalMessage', not 'message'. Node's own IPC code listens there before any --require
 *   runs (child_process for its handle ACKs, cluster for its worker protocol), so a Node that
 *   routes NODE_ messages another way has no such listener. A process without an IPC channel
 *   is no worker of a master (say, `node --require master-process/worker-drain.js app.js`): nothing to hear.
 * - diagnostics_channel.subscribe(name, fn), which the drain calls (only once draining).
 * - socket._httpMessage is a plain field: no accessor anywhere on net.Socket's prototype chain
 *   (an accessor is how Node deprecates or moves a field, and reading it might warn).
 */
/** @type {string[] | undefined} */
let startChecked;

function checkAtStart() {
  // Computed once, by the first preload that asks, before any of ours listens to
  // 'internalMessage' (a listener of ours would hide a Node that has none of its own).
  startChecked ??= missingAtStart();
  return [...startChecked];
}

function missingAtStart() {
  const missing = [];
  if (typeof process.send === 'function' && process.listenerCount('internalMessage') === 0) {
    missing.push(MISSING.internalMessage);
  }
  if (typeof diagnostics.subscribe !== 'function') missing.push(MISSING.diagnostics);
  if (hasAccessor(net.Socket.prototype, '_httpMessage')) missing.push(MISSING.httpMessage);
  return missing;
}

function hasAccessor(prototype, key) {
  for (let object = prototype; object !== null; object = Object.getPrototypeOf(object)) {
    const descriptor = Object.getOwnPropertyDescriptor(object, key);
    if (descriptor) return descriptor.get !== undefined || descriptor.set !== undefined;
  }
  return false;
}

/**
 * Wrap net.Server.prototype.listen, which http, https and tls servers inherit, so that
 * `before(server)` runs before every listen. The check is the wrapping itself: it must not
 * throw (a non-writable property, in strict mode) and must read back. Returns what is
 * missing, or null.
 */
function wrapListen(before) {
  const prototype = net.Server.prototype;
  const netListen = prototype.listen;
  const listen = function listen(...args) {
    before(this);
    return netListen.apply(this, args);
  };
  try {
    prototype.listen = listen;
  } catch {
    return MISSING.listen;
  }
  return prototype.listen === listen ? null : MISSING.listen;
}

/**
 * Wrap net.Server.prototype.listen so that `route(server, args)` decides each listen: it
 * returns null to leave the listen as it is, or `{ fd, callback }` to listen on descriptor
 * `fd` in this worker itself. Checked like wrapListen; returns what is missing, or null.
 */
function routeListen(route) {
  const prototype = net.Server.prototype;
  const netListen = prototype.listen;
  const listen = function listen(...args) {
    const own = route(this, args);
    if (own === null) return netListen.apply(this, args);
    return listenOnOwnDescriptor(this, netListen, own.fd, own.callback);
  };
  try {
    prototype.listen = listen;
  } catch {
    return MISSING.listen;
  }
  return prototype.listen === listen ? null : MISSING.listen;
}

/**
 * Listen on descriptor `fd` in this worker, not through the cluster primary. A cluster
 * worker's `listen({ fd })` is sent to the primary, which would listen on the primary's own
 * descriptor of that number; net's listen skips the primary when cluster says this process
 * is the primary, which it reads synchronously during the call. So, for that call only, it
 * is.
 */
function listenOnOwnDescriptor(server, netListen, fd, callback) {
  const cluster = settableCluster();
  const was = cluster.isPrimary;
  cluster.isPrimary = true;
  try {
    return netListen.call(server, { fd }, ...(callback ? [callback] : []));
  } finally {
    cluster.isPrimary = was;
  }
}

/** node:cluster, whose isPrimary (read-only in its types) is set for a moment above. */
function settableCluster() {
  return /** @type {{ isPrimary: boolean }} */ (/** @type {unknown} */ (require('node:cluster')));
}

/** Whether cluster's isPrimary can be set for a moment (listenOnOwnDescriptor needs it). */
function checkOwnDescriptor() {
  const cluster = settableCluster();
  const was = cluster.isPrimary;
  try {
    cluster.isPrimary = !was;
    const changed = cluster.isPrimary === !was;
    cluster.isPrimary = was;
    return changed && cluster.isPrimary === was ? null : MISSING.ownDescriptor;
  } catch {
    return MISSING.ownDescriptor;
  }
}

/**
 * The checks of node:http, run at the first drain request of a worker with an HTTP(S) server
 * (http is loaded by then; for an https-only app, requiring node:http on top of https costs
 * about 0.1 ms, once).
 * Returns what is missing.
 *
 * - socket._httpMessage: http's own ServerResponse#assignSocket, which the server calls to
 *   give a socket its current response, puts the response there, and detachSocket clears it.
 *   Checked on bare objects of both prototypes: constructing a real ServerResponse would
 *   announce it on the http.server.response.created channel (Node 26), and a real socket
 *   would be a stream to tear down.
 * - response.shouldKeepAlive is a plain boolean field of every response (OutgoingMessage),
 *   which the drain sets to false so that the response goes out with Connection: close.
 */
function checkHttp() {
  const http = require('node:http');
  const missing = [];
  if (!recordsResponseOnSocket(http)) missing.push(MISSING.httpMessage);
  if (!hasKeepAliveField(http)) missing.push(MISSING.keepAlive);
  return missing;
}

function recordsResponseOnSocket(http) {
  const socket = Object.create(net.Socket.prototype);
  const response = Object.create(http.ServerResponse.prototype);
  try {
    response.assignSocket(socket);
    if (socket._httpMessage !== response) return false;
    response.detachSocket(socket);
    return socket._httpMessage === null;
  } catch {
    return false;
  }
}

function hasKeepAliveField(http) {
  try {
    const descriptor = Object.getOwnPropertyDescriptor(new http.OutgoingMessage(), 'shouldKeepAlive');
    return descriptor?.writable === true && typeof descriptor.value === 'boolean';
  } catch {
    return false;
  }
}

module.exports = {
  MISSING,
  checkAtStart,
  checkHttp,
  wrapListen,
  routeListen,
  checkOwnDescriptor,

  /** Listen for the master's NODE_ commands, which the app's process.on('message') never sees. */
  onInternalMessage(listener) {
    process.on('internalMessage', listener);
  },

  /** Answer the master: a NODE_ `cmd` makes the master's cluster side get it as 'internalMessage'. */
  sendInternal(message) {
    process.send(message, noop);
  },

  /**
   * Whether an HTTP server's socket was upgraded (a WebSocket): http frees the socket's
   * parser when it hands the socket over in 'upgrade'; a served keep-alive socket keeps it.
   */
  isUpgraded(socket) {
    return !socket.destroyed && socket.parser == null;
  },

  /** The response being written on an HTTP socket (what http's own server tracks), or null. */
  responseInFlight(socket) {
    return socket._httpMessage ?? null;
  },

  /** Make a response whose head is not sent yet go out with `Connection: close`, then close. */
  closeAfterResponse(response) {
    response.shouldKeepAlive = false;
  },

  /** From now on, `listener({ socket, response })` runs as each HTTP request starts. */
  onRequestStart(listener) {
    diagnostics.subscribe(REQUEST_START, listener);
  },
};
