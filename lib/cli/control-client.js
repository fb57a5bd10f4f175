'use strict';
// How the command line reaches a master: which control socket (named, or the only one this
// user runs), checked before anything it says is believed, and one request with its answer.
// The checks run in the addon, which can read the listener's credentials (SO_PEERCRED) as
// Node cannot: the folder must be a real directory of this user that nobody else may enter,
// the socket file this user's, the listener this user (or root) and, for a `<pid>.sock`, that
// pid. The request then goes over the very connection that was checked.

const net = require('node:net');
const path = require('node:path');

const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;
/** A socket that is not to be believed was refused (sysexits' EX_NOPERM). */
const EX_NOPERM = 77;
const CONTROL_ENV = 'MASTER_PROCESS_CONTROL_SOCKET';

/** Why a command cannot talk to a master: a message and the exit code. */
class ControlClientError extends Error {
  constructor(code, message) {
    super(message);
    this.exitCode = code;
  }
}

function native() {
  return /** @type {typeof import('../../binding.js')} */ (require('../master/native.js'));
}

/**
 * A checked connection to the socket at `socketPath` (`pid`: the pid its listener must
 * have): { path, socket }. Throws a ControlClientError: 77 refused, 69 nothing answers.
 */
function connect(socketPath, pid) {
  let fd;
  try {
    fd = native().controlConnect(socketPath, pid ?? null);
  } catch (error) {
    if (error?.code === 'ERR_CONTROL_REFUSED') throw new ControlClientError(EX_NOPERM, error.message);
    if (error?.code === 'ERR_CONTROL_UNREACHABLE') throw new ControlClientError(EX_UNAVAILABLE, error.message);
    throw error;
  }
  return { path: socketPath, socket: new net.Socket({ fd, readable: true, writable: true }) };
}

/** A checked connection to `candidate`, or null when nothing answers there (a stale socket); a refusal is added to `refused`. */
function tryConnect(candidate, refused) {
  try {
    return connect(candidate.path, candidate.pid);
  } catch (error) {
    if (!(error instanceof ControlClientError)) throw error;
    if (error.exitCode === EX_NOPERM) refused.push(error.message);
    return null;
  }
}

/**
 * The master to talk to, connected and checked: the one --socket or the environment names,
 * the one of --pid, else the only live one of this user. What was refused on the way is
 * passed to `warn` (one line each); when nothing else is left, the command exits 77.
 */
function locate({ pid, socket }, warn) {
  if (socket !== undefined) return connect(path.resolve(socket));
  const fromEnv = process.env[CONTROL_ENV]?.trim();
  if (pid === undefined && fromEnv && fromEnv.toLowerCase() !== 'off') return connect(fromEnv);
  const found = native().controlSearch();
  const refused = [...found.refused];
  const looked = found.dirs.join(' and ');
  if (pid !== undefined) {
    const candidate = found.sockets.find((s) => s.pid === Number(pid));
    if (candidate) return connect(candidate.path, candidate.pid);
    if (refused.length > 0) {
      for (const line of refused) warn(line);
      throw new ControlClientError(EX_NOPERM, `no control socket for pid ${pid} that can be trusted (looked in ${looked})`);
    }
    throw new ControlClientError(EX_UNAVAILABLE, `no control socket for pid ${pid} in ${found.dirs.join(' or ')}`);
  }
  const live = [];
  for (const candidate of found.sockets) {
    const connection = tryConnect(candidate, refused);
    if (connection) live.push({ ...connection, pid: candidate.pid });
  }
  for (const line of refused) warn(line);
  if (live.length === 1) return live[0];
  for (const { socket: open } of live) open.destroy();
  if (live.length === 0 && refused.length > 0) {
    throw new ControlClientError(EX_NOPERM, `no master of this user can be trusted (looked in ${looked})`);
  }
  if (live.length === 0) {
    throw new ControlClientError(EX_UNAVAILABLE, `no running master found for this user (looked in ${looked})`);
  }
  const list = live.map((c) => `  pid ${c.pid}  ${c.path}`).join('\n');
  throw new ControlClientError(EX_USAGE, `${live.length} masters are running; name one with --pid PID or --socket PATH:\n${list}`);
}

/**
 * Send one request over `connection` (from `locate`) and resolve its answer; `untilClosed`
 * also waits for the master to close the connection (it exits).
 */
function ask(connection, request, { untilClosed = false } = {}) {
  const { socket, path: socketPath } = connection;
  return new Promise((resolve, reject) => {
    let buffer = '';
    let answer;
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      buffer += chunk;
      const at = buffer.indexOf('\n');
      if (answer !== undefined || at < 0) return;
      try {
        answer = JSON.parse(buffer.slice(0, at));
      } catch {
        socket.destroy();
        reject(new ControlClientError(1, `the master answered something that is not JSON: ${buffer.slice(0, at)}`));
        return;
      }
      if (untilClosed && answer.ok) return;
      socket.end();
      resolve(answer);
    });
    socket.on('close', () => {
      if (answer !== undefined) resolve(answer);
      else reject(new ControlClientError(EX_UNAVAILABLE, `the master at ${socketPath} closed the connection without an answer`));
    });
    socket.on('error', (error) => {
      if (answer === undefined) {
        reject(new ControlClientError(EX_UNAVAILABLE, `lost the master at ${socketPath}: ${error.code || error.message}`));
      }
    });
    socket.write(`${JSON.stringify(request)}\n`);
  });
}

module.exports = { locate, connect, ask, ControlClientError, EX_NOPERM, CONTROL_ENV };
