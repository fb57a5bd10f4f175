'use strict';
// Preloaded into workers (`node --require`) when the master was given listening sockets by
// its service manager (socket activation). MASTER_PROCESS_INHERITED lists them as the worker
// sees them: [{ fd, host, port } | { fd, path }], each descriptor handed to the worker by the
// master at fork. A listen on the address of one of them, the way an unchanged app listens
// (`server.listen(process.env.PORT)`, a port and a host, a unix path, or the same as
// options), is served from that socket instead: the worker listens on the descriptor
// itself (not through the cluster primary) and accepts from it directly. Only the service manager (and the master) hold the
// socket otherwise, so while no worker listens, as between a master's exit and the next
// master's start, connections wait in its backlog instead of being refused. A listen on
// any other address is left as it was (cluster binds it as usual).

const internals = require('./node-internals.js');
const { PROTOCOL: protocol } = require('../protocol.js');

const inherited = JSON.parse(process.env.MASTER_PROCESS_INHERITED || '[]');
const ANY = new Set(['0.0.0.0', '::', '::0']);

/** What a listen's arguments ask for: { port, host } or { path }, or null (a handle, fd, ...). */
function target(args) {
  const [first, second] = args;
  if (first !== null && typeof first === 'object') {
    if (first.fd !== undefined || first.handle !== undefined || first._handle !== undefined) return null;
    if (typeof first.path === 'string') return { path: first.path };
    if (first.port !== undefined) return { port: Number(first.port), host: first.host };
    return null;
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return { port: Number(first), host: typeof second === 'string' ? second : undefined };
  }
  if (typeof first === 'string') return { path: first };
  return null;
}

function sameHost(asked, socket) {
  if (asked === undefined || asked === socket.host || ANY.has(socket.host)) return true;
  return asked === 'localhost' && (socket.host === '127.0.0.1' || socket.host === '::1');
}

function inheritedFor(wanted) {
  if (wanted === null) return undefined;
  if (wanted.path !== undefined) return inherited.find((s) => s.path === wanted.path);
  return inherited.find((s) => s.port === wanted.port && sameHost(wanted.host, s));
}

const missing = internals.checkOwnDescriptor() ?? internals.routeListen((server, args) => {
  const socket = inheritedFor(target(args));
  if (socket === undefined) return null;
  server.once('listening', () => internals.sendInternal({ cmd: protocol.LISTENING, path: socket.path ?? null }));
  return { fd: socket.fd, callback: args.find((a) => typeof a === 'function') };
});
if (missing) {
  process.stderr.write(`master-process: this Node (${process.version}) lacks ${missing}: `
    + `this worker (pid ${process.pid}) cannot use the inherited sockets and listens as the app asks\n`);
}
