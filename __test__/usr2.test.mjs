// SIGUSR2: forwarded to every live worker, every time; each one toggles the monitoring pause.
// Signals are sent one at a time, each after the previous one's effect was seen: the kernel
// merges a signal sent while the same one is still pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';

const WORKERS = 2;
const TOGGLE = /monitoring (paused|resumed)/;

async function serving(t, env = {}) {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: String(WORKERS), ...env } });
  const workers = await master.waitFor('WORKER listening', () => true, WORKERS);
  return { master, workers };
}

/** How many `WORKER sigusr2` lines each pid printed. */
function usr2Counts(master) {
  const counts = new Map();
  for (const { pid } of master.records('WORKER sigusr2')) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  return counts;
}

/** The pause/resume lines of the master's log, in order. */
function toggles(master) {
  return master.stderrLines.map((l) => TOGGLE.exec(l)?.[1]).filter(Boolean);
}

test('SIGUSR2 is forwarded to every worker, every time', async (t) => {
  const { master, workers } = await serving(t);
  for (let round = 1; round <= 3; round++) {
    master.signal('SIGUSR2');
    await master.waitUntil(() => {
      const counts = usr2Counts(master);
      return workers.every((w) => counts.get(w.pid) >= round);
    }, `SIGUSR2 round ${round} reached every worker`);
  }
  const counts = usr2Counts(master);
  assert.deepEqual([...counts.keys()].sort(), workers.map((w) => w.pid).sort());
  for (const worker of workers) assert.equal(counts.get(worker.pid), 3, `pid ${worker.pid}`);
});

test('SIGUSR2 toggles the monitoring pause every time', async (t) => {
  const { master } = await serving(t, { DEBUG: 'master-process' });
  for (let round = 1; round <= 3; round++) {
    master.signal('SIGUSR2');
    await master.waitUntil(() => toggles(master).length >= round, `monitoring toggle ${round}`);
  }
  await master.waitStderr(/monitoring paused/);
  await master.waitStderr(/monitoring resumed/);
  assert.deepEqual(toggles(master), ['paused', 'resumed', 'paused']);
});

test('after a reload, SIGUSR2 reaches the workers of the new generation', async (t) => {
  const { master } = await serving(t);
  master.signal('SIGHUP');
  await master.waitEvent('reload', (e) => e.generation === 1);
  const old = master.records('WORKER listening').filter((w) => w.reload === '0');
  await master.waitEvent('worker-exit', (e) => old.some((w) => w.pid === e.pid), old.length);
  const fresh = master.liveWorkers();
  assert.deepEqual(fresh.map((w) => w.reload), Array(WORKERS).fill('1'));
  master.signal('SIGUSR2');
  await master.waitUntil(() => {
    const counts = usr2Counts(master);
    return fresh.every((w) => counts.get(w.pid) === 1);
  }, 'SIGUSR2 reached every generation 1 worker');
});
