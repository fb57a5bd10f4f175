// Hung and killed workers under load: a SIGSTOPped worker is replaced by the heartbeat
// (MASTER_PROCESS_HEARTBEAT_TIMEOUT) and no request hangs; connections the primary was
// handing to a worker that died go to another worker, so none hangs and the master's
// descriptors stay flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startMaster, freePort, get, alive, freshConnections } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

/** How many descriptors `pid` has open (Infinity once it is gone). */
function fds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Infinity;
  }
}

test('a SIGSTOPped worker is replaced for not responding, and no request hangs', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: {
      PORT: String(port), WORKERS: '2', FIXTURE_DELAY_MS: '5',
      MASTER_PROCESS_HEARTBEAT_TIMEOUT: '1s', MAX_KILL_TIMEOUT: '1s',
    },
  });
  const [victim] = await master.waitFor('WORKER listening', () => true, 2);
  const load = startLoad(port, { connections: 16, timeoutMs: 8000 });
  t.after(() => load.stop());
  await load.answered(200);
  process.kill(victim.pid, 'SIGSTOP');
  t.after(() => alive(victim.pid) && process.kill(victim.pid, 'SIGKILL'));
  const [replaced] = await master.waitEvent('worker-replaced', (e) => e.oldPid === victim.pid);
  assert.equal(replaced.reason, 'stopped responding');
  await master.waitEvent('worker-exit', (e) => e.pid === victim.pid);
  await load.answered(load.stats.ok + 200);
  assert.equal((await get(port)).status, 200, 'new connections are served');
  const stats = await load.stop();
  assert.equal(stats.pending, 0);
  assert.equal(stats.errors.TIMEOUT, undefined, `a request hung: ${JSON.stringify(stats.errors)}`);
  // Only what was in flight on the stopped worker's 16 / 2 connections may fail.
  assert.ok(stats.failed <= 16, JSON.stringify(stats));
});

test('workers SIGKILLed in a loop under load: the fleet is full again, no connection hangs, the master keeps no descriptor', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_DELAY_MS: '2', WORKER_THROTTLE: '0ms' },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  const before = fds(master.pid);
  const load = freshConnections(port);
  t.after(() => load.stop());
  for (let round = 1; round <= 5; round++) {
    const listening = master.liveWorkers();
    const victim = listening[round % listening.length];
    process.kill(victim.pid, 'SIGKILL');
    await master.waitEvent('worker-exit', (e) => e.pid === victim.pid);
    // The fleet is full again: a new worker of the victim's slot listens.
    await master.waitUntil(() => master.liveWorkers().length === 2, `round ${round}: the fleet full again`);
  }
  const stats = await load.stop();
  assert.equal(stats.errors.TIMEOUT, undefined, `a connection hung: ${JSON.stringify(stats)}`);
  assert.equal(stats.errors.ECONNREFUSED, undefined, `refused: ${JSON.stringify(stats)}`);
  assert.ok(stats.ok > 0);
  await master.waitUntil(() => fds(master.pid) <= before, `the master's fds back to ${before}`);
});

test('workers SIGKILLed in the middle of reloads under load: no connection hangs or is refused, the master keeps no descriptor', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_DELAY_MS: '2', WORKER_THROTTLE: '0ms' },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  const before = fds(master.pid);
  const load = freshConnections(port);
  t.after(() => load.stop());
  const kills = 4;
  for (let generation = 1; generation <= kills; generation++) {
    master.signal('SIGHUP');
    // The first new worker to listen is killed while the reload is under way.
    const [victim] = await master.waitFor('WORKER listening', (w) => w.reload === String(generation));
    process.kill(victim.pid, 'SIGKILL');
    await master.waitEvent('worker-exit', (e) => e.pid === victim.pid);
    const outcome = () => master.events().some((e) => (e.event === 'reload' || e.event === 'reload-failed') && e.generation === generation);
    // The fleet is full again (two workers listening, the old generation gone) before the next round.
    await master.waitUntil(() => outcome() && master.liveWorkers().length === 2, `round ${generation}: the fleet full again`);
  }
  const stats = await load.stop();
  assert.equal(stats.errors.TIMEOUT, undefined, `a connection hung: ${JSON.stringify(stats)}`);
  assert.equal(stats.errors.ECONNREFUSED, undefined, `refused: ${JSON.stringify(stats)}`);
  // Only what was in flight on a killed worker may fail: at most one request per client.
  const failed = Object.values(stats.errors).reduce((n, c) => n + c, 0);
  assert.ok(failed <= kills * 8, JSON.stringify(stats));
  await master.waitUntil(() => fds(master.pid) <= before, `the master's fds back to ${before}`);
});
