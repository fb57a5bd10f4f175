'use strict';
// Preloaded into every worker by master-process (`node --require`), unless
// MASTER_PROCESS_DRAIN=off. On the master's word it retires the worker without failing a
// request: stop listening (net close, so the primary stops routing here), answer what is in
// flight with `Connection: close`, close idle keep-alive sockets after a grace, then tell
// the master. The app's own SIGTERM handler still runs afterwards.

const cluster = require('node:cluster');
const net = require('node:net');
const diagnostics = require('node:diagnostics_channel');
const protocol = require('./lib/protocol.js');

const IDLE_GRACE_MS = 1000;
const netClose = net.Server.prototype.close;
const netListen = net.Server.prototype.listen;

const servers = new Map(); // net.Server -> 'pending' | 'listening' | 'closed'
const sockets = new Map(); // socket of an http(s) server -> requests in flight (once draining)
let draining = false;
let reported = false;

function stopListening(server) {
  servers.set(server, 'closed');
  netClose.call(server);
  check();
}

net.Server.prototype.listen = function listen(...args) {
  if (!servers.has(this)) track(this);
  servers.set(this, 'pending');
  watchListenErrors(this);
  return netListen.apply(this, args);
};

/**
 * While a listen is pending, a failure means the server will not listen. Watched through
 * `emit`, not with an 'error' listener (that would swallow the app's own unhandled
 * EADDRINUSE, which must still crash the worker), and only until the listen settles, so
 * no request ever passes through here.
 */
function watchListenErrors(server) {
  if (server.emit.watching) return;
  const own = Object.getOwnPropertyDescriptor(server, 'emit');
  const emit = server.emit;
  const restore = () => (own ? Object.defineProperty(server, 'emit', own) : delete server.emit);
  function watchedEmit(event, ...args) {
    if (event === 'listening') restore();
    if (event === 'error') {
      restore();
      servers.set(server, 'closed');
      check();
    }
    return emit.call(this, event, ...args);
  }
  watchedEmit.watching = true;
  server.emit = watchedEmit;
}

function track(server) {
  server.on('listening', () => {
    servers.set(server, 'listening');
    if (draining) stopListening(server);
  });
  server.on('close', () => {
    servers.set(server, 'closed');
    check();
  });
  // Told apart by shape, so that node:http and node:https (tls, crypto) are not loaded into
  // every worker at start: about 3 ms of each worker's start-up. The request channel names
  // the socket HTTP reads from: the TLS socket for https.
  const isHttp = typeof server.closeIdleConnections === 'function';
  const isTls = typeof server.setSecureContext === 'function';
  if (isHttp && isTls) server.on('secureConnection', onConnection);
  else if (isHttp) server.on('connection', onConnection);
}

function onConnection(socket) {
  sockets.set(socket, 0);
  socket.once('close', () => {
    sockets.delete(socket);
    check();
  });
  if (draining) closeWhenIdle(socket);
}

/** A request that starts while draining is answered with `Connection: close`. */
function onRequestStart({ socket, response }) {
  response.shouldKeepAlive = false;
  follow(socket, response);
}

/** Count a response in flight on its socket until it closes; then the socket may be idle. */
function follow(socket, response) {
  if (!sockets.has(socket)) return;
  sockets.set(socket, sockets.get(socket) + 1);
  response.once('close', () => {
    if (!sockets.has(socket)) return;
    sockets.set(socket, sockets.get(socket) - 1);
    closeWhenIdle(socket);
  });
}

/** Close a keep-alive socket that stays idle for the grace (it may be about to send). */
function closeWhenIdle(socket) {
  setTimeout(() => {
    if (sockets.get(socket) === 0) socket.end();
  }, IDLE_GRACE_MS).unref();
}

/**
 * An app with its own SIGTERM handler (say, one that closes its server) would never exit
 * by itself: the IPC channel keeps a cluster worker alive. So once its handler has run,
 * disconnect, and the worker exits as soon as its cleanup leaves the loop empty. An app
 * without a handler is left to SIGTERM's default action.
 */
function exitAfterOwnSigtermHandler() {
  if (process.listenerCount('SIGTERM') === 0) return;
  process.once('SIGTERM', () => setImmediate(() => cluster.worker?.isConnected() && cluster.worker.disconnect()));
}

function drain() {
  if (draining) return check();
  draining = true;
  exitAfterOwnSigtermHandler();
  for (const [server, state] of servers) {
    if (state === 'listening') stopListening(server);
  }
  // Requests are watched only from now on, so serving costs nothing per request before.
  diagnostics.subscribe('http.server.request.start', onRequestStart);
  for (const socket of sockets.keys()) {
    // The response in progress on the socket, if any (what http's own server tracks).
    const response = socket._httpMessage;
    if (response) {
      if (!response.headersSent) response.shouldKeepAlive = false;
      follow(socket, response);
    }
    closeWhenIdle(socket);
  }
  check();
}

function check() {
  if (!draining || reported) return;
  for (const state of servers.values()) if (state !== 'closed') return;
  if (sockets.size > 0) return;
  reported = true;
  process.send({ cmd: protocol.DRAINED }, () => {});
}

// Ctrl-C in a terminal sends SIGINT to the whole process group, workers included. The
// master stops them cleanly (drain, then SIGTERM), so a worker leaves SIGINT to it unless
// the app listens for SIGINT itself (its own listeners still run).
process.on('SIGINT', () => {});

process.on('internalMessage', (message) => {
  if (message?.cmd === protocol.DRAIN) drain();
  else if (message?.cmd === protocol.SETTLE) process.send({ cmd: protocol.SETTLED }, () => {});
});
