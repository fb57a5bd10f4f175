'use strict';
// Preloaded into every worker by master-process (`node --require`), unless
// MASTER_PROCESS_DRAIN=off. On the master's word it retires the worker without failing a
// request: stop listening (net close, so the primary stops routing here), answer what is in
// flight with `Connection: close`, close idle keep-alive sockets after a grace, close HTTP/2
// sessions gracefully (GOAWAY: streams in flight finish), then tell the master. The app's own
// SIGTERM handler still runs afterwards. Callbacks the app registered with
// `require('master-process').onRetire(fn)` run first, once; when there are any, upgraded
// connections (WebSockets) are left for the app to close, and the drain waits for them.
//
// The Node internals this relies on are all in lib/worker/node-internals.js, each checked once before
// it is relied on. If one is missing, the worker says so in one line on stderr and is retired
// the 4.x way: it answers the master's drain request at once, without draining, so that the
// master sends SIGTERM right away (then SIGKILL at MAX_KILL_TIMEOUT).

const cluster = require('node:cluster');
const net = require('node:net');
const internals = require('./node-internals.js');
const { PROTOCOL: protocol } = require('../protocol.js');

const IDLE_GRACE_MS = 1000;
const LATE_UPGRADE_REFUSAL = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const netClose = net.Server.prototype.close;

const servers = new Map(); // net.Server -> 'pending' | 'listening' | 'closed'
const sockets = new Map(); // socket of an http(s) server -> requests in flight (once draining)
const sessions = new Set(); // HTTP/2 sessions of the servers
const retireCallbacks = [];
let leaveUpgraded = false; // the app has a retire callback: its WebSockets are its to close
let draining = false;
let reported = false;
let orphaned = false; // the master replaced its image: no one to report to
let oldWay = false; // a check failed: no drain, SIGTERM then SIGKILL as in 4.x
let sawHttp = false; // an HTTP(S) server was tracked
let httpChecked = false;

function stopListening(server) {
  servers.set(server, 'closed');
  netClose.call(server);
  check();
}

/** Runs before every listen of every server (net.Server.prototype.listen is wrapped). */
function onListen(server) {
  if (!servers.has(server)) track(server);
  servers.set(server, 'pending');
  watchListenErrors(server);
}

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
    if (draining) {
      refuseLateUpgrades(server);
      stopListening(server);
    }
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
  if (isHttp) {
    sawHttp = true;
    if (draining) checkHttpOnce(); // a server that came while draining
  }
  if (isHttp && isTls) server.on('secureConnection', onConnection);
  else if (isHttp) server.on('connection', onConnection);
  // http2.createServer / createSecureServer: sessions, closed with GOAWAY when draining.
  if (typeof server.updateSettings === 'function') server.on('session', onSession);
}

function onSession(session) {
  sessions.add(session);
  session.once('close', () => {
    sessions.delete(session);
    check();
  });
  if (draining) session.close();
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
  internals.closeAfterResponse(response);
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

/**
 * Close a keep-alive socket that stays idle for the grace (it may be about to send). An
 * upgraded one (a WebSocket) is left to the app when it registered a retire callback.
 */
function closeWhenIdle(socket) {
  setTimeout(() => {
    if (sockets.get(socket) !== 0) return;
    if (leaveUpgraded && internals.isUpgraded(socket)) return;
    socket.end();
  }, IDLE_GRACE_MS).unref();
}

/**
 * Once the retire callbacks have run, an upgrade request (a WebSocket) that still reaches
 * the worker (on a keep-alive connection, or accepted in the instant it stopped listening) is
 * refused with 503 before the app sees it: no callback would close that WebSocket, and the
 * drain would wait for it until the kill. The client retries, and since the worker no longer
 * listens, the retry reaches the new generation. Only when the app registered a callback;
 * without one, upgraded connections are ended after the idle grace as before.
 */
function refuseLateUpgrades(server) {
  if (!leaveUpgraded || server.emit.refusing) return;
  const emit = server.emit;
  function refusingEmit(event, ...args) {
    if (event !== 'upgrade') return emit.call(this, event, ...args);
    args[1].end(LATE_UPGRADE_REFUSAL);
    return true;
  }
  refusingEmit.refusing = true;
  server.emit = refusingEmit;
}

/** The app's retire callbacks, once each; one that throws is reported and the rest run. */
function runRetireCallbacks() {
  for (const callback of retireCallbacks.splice(0)) {
    try {
      callback();
    } catch (error) {
      process.stderr.write(`master-process: a retire callback threw: ${error?.stack ?? error}\n`);
    }
  }
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

/**
 * Check what the drain uses of node:http, once, when it is first needed: at the first drain
 * request of a worker with an HTTP(S) server (http is loaded by then). Not at its listen:
 * the checks take about 1 ms, and a listen is on the way to the worker's first response.
 */
function checkHttpOnce() {
  if (httpChecked || !sawHttp) return;
  httpChecked = true;
  const missing = internals.checkHttp();
  if (missing.length > 0) retireTheOldWay(missing);
}

function drain() {
  checkHttpOnce();
  if (oldWay) return drainedAtOnce();
  if (draining) return check();
  draining = true;
  leaveUpgraded = retireCallbacks.length > 0;
  runRetireCallbacks();
  exitAfterOwnSigtermHandler();
  for (const session of sessions) session.close();
  for (const [server, state] of servers) {
    refuseLateUpgrades(server);
    if (state === 'listening') stopListening(server);
  }
  // Requests are watched only from now on, so serving costs nothing per request before.
  internals.onRequestStart(onRequestStart);
  for (const socket of sockets.keys()) {
    const response = internals.responseInFlight(socket);
    if (response) {
      if (!response.headersSent) internals.closeAfterResponse(response);
      follow(socket, response);
    }
    closeWhenIdle(socket);
  }
  check();
}

function check() {
  if (!draining) return;
  for (const state of servers.values()) if (state !== 'closed') return;
  if (sockets.size > 0 || sessions.size > 0) return;
  report();
}

function report() {
  if (reported) return;
  reported = true;
  persistCompileCache();
  if (orphaned) {
    // No master to settle with: end the way its SIGTERM would end a drained worker (the
    // app's own SIGTERM handlers run; the new image reaps it, or kills it at the deadline).
    process.kill(process.pid, 'SIGTERM');
    return;
  }
  internals.sendInternal({ cmd: protocol.DRAINED });
}

/**
 * The master will replace its image: the channel is about to close, and cluster would then
 * exit this worker at once, cutting what it is serving. Instead, once it closes, stay (as
 * a worker told to disconnect does), drain and end by itself. Messages cluster still sends
 * to the primary meanwhile (a server's close) fail harmlessly.
 */
function onUpgrade() {
  const worker = cluster.worker;
  if (!worker || orphaned) return;
  worker.once('disconnect', () => {
    worker.exitedAfterDisconnect = true;
    orphaned = true;
    process.on('error', (error) => {
      if (error?.code !== 'ERR_IPC_CHANNEL_CLOSED') throw error;
    });
    if (reported) process.kill(process.pid, 'SIGTERM'); // drained already, awaiting the old image's signal
    else drain();
  });
}

/**
 * Write what this worker compiled to the module compile cache (NODE_COMPILE_CACHE), so the
 * next generation starts from it: Node writes it only at a normal exit, and a worker without
 * a SIGTERM handler ends by the signal. Done when the master asks (one worker, once its
 * generation serves) and when retiring, once nothing is in flight, before the master
 * signals (what was compiled since). Node 22.10 and later; a no-op without a cache folder.
 */
function persistCompileCache() {
  const nodeModule = require('node:module');
  if (typeof nodeModule.flushCompileCache === 'function' && nodeModule.getCompileCacheDir?.()) {
    nodeModule.flushCompileCache();
  }
}

/**
 * The 4.x way: report drained without closing anything, so that the master's SIGTERM comes
 * at once; what is in flight is left to the app's SIGTERM handler, as in 4.x (after which the
 * worker still disconnects, as when draining).
 */
function drainedAtOnce() {
  if (!draining) {
    draining = true;
    runRetireCallbacks();
    exitAfterOwnSigtermHandler();
  }
  report();
}

/** One line on stderr, once; from now on a drain request is answered at once. */
function retireTheOldWay(missing) {
  if (oldWay) return;
  oldWay = true;
  const deaf = missing.includes(internals.MISSING.internalMessage);
  const how = deaf
    ? "cannot hear the master's drain request: it will be retired the 4.x way once the drain "
      + 'deadline passes (SIGTERM shortly before MAX_KILL_TIMEOUT, then SIGKILL)'
    : 'will be retired the 4.x way (SIGTERM, then SIGKILL)';
  process.stderr.write(
    `master-process: this Node (${process.version}) lacks ${missing.join(' and ')}: `
      + `this worker (pid ${process.pid}) ${how}\n`,
  );
  if (draining) report(); // a check at listen time failed while draining
}

const missingAtStart = internals.checkAtStart();
if (missingAtStart.length === 0) {
  const listen = internals.wrapListen(onListen);
  if (listen) missingAtStart.push(listen);
}
if (missingAtStart.length > 0) retireTheOldWay(missingAtStart);

// Ctrl-C in a terminal sends SIGINT to the whole process group, workers included. The
// master stops them cleanly (drain, then SIGTERM), so a worker leaves SIGINT to it unless
// the app listens for SIGINT itself (its own listeners still run).
process.on('SIGINT', () => {});

/** Register `callback` to run once when this worker starts to retire, before any signal. */
function onRetire(callback) {
  if (typeof callback !== 'function') throw new TypeError('master-process: onRetire(callback) takes a function');
  retireCallbacks.push(callback);
}

module.exports = { onRetire };

internals.onInternalMessage((message) => {
  if (message?.cmd === protocol.DRAIN) drain();
  else if (message?.cmd === protocol.UPGRADE) onUpgrade();
  else if (message?.cmd === protocol.SETTLE) internals.sendInternal({ cmd: protocol.SETTLED });
  else if (message?.cmd === protocol.PERSIST_CACHE) persistCompileCache();
});
