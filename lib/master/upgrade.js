'use strict';
// Upgrading the master in place, Node's side of it. The core decides when (see
// src/core/upgrade.rs); this runs the two steps only Node can: checking that the image on
// disk can start (a child process runs lib/upgrade/check.js with the new code and the
// current settings), and replacing this process's image. Before the exec, cluster's
// listening sockets are copied to descriptors that survive it and cluster stops accepting
// on its own, so new connections wait in the kernel's backlog for the new image; the
// connections it had accepted are handed to workers first (they would die with the image),
// and every worker is told, so that it drains by itself once its channel closes.

const { execFile } = require('node:child_process');
const path = require('node:path');
const { PROTOCOL: protocol } = require('../protocol.js');

const CHECK = path.join(__dirname, '..', 'upgrade', 'check.js');
const CHECK_VAR = 'MASTER_PROCESS_UPGRADE_CHECK';
const CHECK_PREFIX = 'master-process upgrade check: ';
const UPGRADE_VAR = 'MASTER_PROCESS_UPGRADE';
/** The longest the check may take (a Node that hangs at start is a failed check). */
const CHECK_TIMEOUT_MS = 30_000;
/** The longest the exec waits for accepted connections to reach a worker. */
const HANDOFF_WAIT_MS = 2_000;

/** Run the check with the new image; answer `master.upgradeChecked(error or null)`. */
function checkImage(master, { settings, cli }) {
  if (!process.argv[1]) {
    master.upgradeChecked('the master was not started from a file (node -e or a REPL): there is nothing to start again');
    return;
  }
  const env = { ...process.env, [CHECK_VAR]: JSON.stringify({ settings, cli }) };
  delete env[UPGRADE_VAR];
  execFile(process.execPath, [...process.execArgv, CHECK], { env, timeout: CHECK_TIMEOUT_MS }, (error, _stdout, stderr) => {
    if (!error) return master.upgradeChecked(null);
    // The check's own line; else (the check itself did not load) Node's error line.
    const lines = String(stderr).trim().split('\n').map((l) => l.trim()).filter(Boolean);
    const own = lines.find((l) => l.startsWith(CHECK_PREFIX))?.slice(CHECK_PREFIX.length);
    const said = own ?? lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.at(-1);
    master.upgradeChecked(said ?? `${process.execPath} ${error.signal ?? `exited with ${error.code}`}`);
  });
}

/** Resolve once `busy()` is false, or after `limitMs`. */
function whenIdle(busy, limitMs) {
  const until = Date.now() + limitMs;
  return new Promise((resolve) => {
    const check = () => (busy() && Date.now() < until ? setTimeout(check, 1) : resolve());
    check();
  });
}

function tellWorkers(workers) {
  const connected = [...workers.values()].filter((w) => w.isConnected());
  return Promise.all(connected.map((w) => new Promise((resolve) => {
    w.process.send({ cmd: protocol.UPGRADE }, () => resolve());
  })));
}

function exec(master, env) {
  const file = process.execPath;
  const args = [file, ...process.execArgv, ...process.argv.slice(1)];
  master.prepareExec();
  // Node 22.15 and later (not in every @types/node yet); the addon's own execve before.
  const { execve } = /** @type {{ execve?: (file: string, args: string[], env: object) => never }} */ (/** @type {unknown} */ (process));
  if (typeof execve === 'function') return execve.call(process, file, args, env);
  return master.execve(file, args, Object.entries(env).map(([name, value]) => `${name}=${value}`));
}

/**
 * Replace this image (the core's `exec`). `listeners` and `connections` are the glue's
 * (lib/master/listeners.js, handoff.js), `workers` the cluster workers by core id.
 * Reports `master.execFailed(why)` if it returns.
 */
async function replaceImage(master, { listeners, connections, workers }) {
  try {
    const sockets = listeners.sockets();
    const handover = master.handover(sockets.map((s) => s.fd));
    for (const socket of sockets) socket.stop();
    await whenIdle(() => sockets.some((s) => s.waiting()) || connections.inFlight(), HANDOFF_WAIT_MS);
    await tellWorkers(workers);
    exec(master, { ...process.env, [UPGRADE_VAR]: handover });
    master.execFailed('exec returned');
  } catch (error) {
    master.execFailed(String(error?.message ?? error));
  }
}

module.exports = { checkImage, replaceImage, CHECK_VAR };
