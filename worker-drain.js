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
const sockets = new Map(); // socket of an http(s) server -> requests in flight
const responses = new Set(); // responses whose request has started and not finished
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
  return netListen.apply(this, args);
};

function track(server) {
  server.on('listening', () => {
    servers.set(server, 'listening');
    if (draining) stopListening(server);
  });
  // Watch errors without an 'error' listener: adding one would swallow the app's own
  // unhandled listen errors (EADDRINUSE must still crash the worker).
  const emit = server.emit;
  server.emit = function watchedEmit(event, ...args) {
    if (event === 'error' && servers.get(server) === 'pending') {
      servers.set(server, 'closed');
      check();
    }
    return emit.call(this, event, ...args);
  };
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

diagnostics.subscribe('http.server.request.start', ({ socket, response }) => {
  if (sockets.has(socket)) sockets.set(socket, sockets.get(socket) + 1);
  responses.add(response);
  if (draining) response.shouldKeepAlive = false;
  response.once('close', () => {
    responses.delete(response);
    if (!sockets.has(socket)) return;
    sockets.set(socket, sockets.get(socket) - 1);
    if (draining) closeWhenIdle(socket);
  });
});

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
  for (const response of responses) {
    if (!response.headersSent) response.shouldKeepAlive = false;
  }
  for (const socket of sockets.keys()) closeWhenIdle(socket);
  check();
}

function check() {
  if (!draining || reported) return;
  for (const state of servers.values()) if (state !== 'closed') return;
  if (sockets.size > 0) return;
  reported = true;
  process.send({ cmd: protocol.DRAINED }, () => {});
}

process.on('internalMessage', (message) => {
  if (message?.cmd === protocol.DRAIN) drain();
  else if (message?.cmd === protocol.SETTLE) process.send({ cmd: protocol.SETTLED }, () => {});
});
