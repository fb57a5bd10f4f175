'use strict';
// `master-process upgrade` waits for the outcome. The master answers the request once the
// upgrade has begun; the connection then ends with the old image, so the outcome is read
// from `status`, asked again (over a fresh, checked connection each time) until it says the
// upgrade is over (`upgrade.count` went up and the new image's workers serve) or that this
// attempt was refused. While the image is being replaced nothing answers for a moment:
// that is retried, not an error.

const { connect, ask, ControlClientError } = require('./control-client.js');

const EVERY_MS = 100;
/** Longer than a reload, the check and a start with default settings together. */
const LIMIT_MS = 5 * 60_000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function statusAt(socketPath, pid) {
  try {
    const answer = await ask(connect(socketPath, pid), { request: 'status' });
    return answer.ok ? answer.status : null;
  } catch (error) {
    if (error instanceof ControlClientError && error.exitCode !== 77) return null; // not answering yet
    throw error;
  }
}

/**
 * The outcome of upgrade `attempt`, begun when the master (`pid`, at `socketPath`) had had
 * `before` upgrades: `{ ok: true, status }` or `{ ok: false, error }`.
 */
async function awaitUpgrade(socketPath, pid, { attempt, upgrades: before }) {
  const until = Date.now() + LIMIT_MS;
  while (Date.now() < until) {
    const status = await statusAt(socketPath, pid);
    if (status === null && !alive(pid)) return { ok: false, error: `the master (pid ${pid}) has exited` };
    const upgrade = status?.upgrade;
    if (upgrade?.count > before && !upgrade.resuming) return { ok: true, status };
    if (upgrade?.count === before && upgrade.refused?.attempt === attempt) {
      return { ok: false, error: `upgrade refused, nothing changed: ${upgrade.refused.reason}` };
    }
    await pause(EVERY_MS);
  }
  return { ok: false, error: `no outcome of the upgrade after ${LIMIT_MS / 1000} s (see the master's log)` };
}

module.exports = { awaitUpgrade };
