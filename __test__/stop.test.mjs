// SIGTERM / SIGINT / handle.stop(): every worker is asked to stop (its own SIGTERM handler
// runs), one that ignores SIGTERM is SIGKILLed after MAX_KILL_TIMEOUT, and the master exits 0
// only once no worker is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startMaster, freePort, alive } from './helpers.mjs';

const WORKERS = 2;

/** A master with WORKERS workers listening. */
async function serving(t, { env = {}, fixture } = {}) {
  const port = await freePort();
  const master = startMaster(t, { fixture, env: { PORT: String(port), WORKERS: String(WORKERS), ...env } });
  const workers = await master.waitFor('WORKER listening', () => true, WORKERS);
  return { master, workers };
}

/** The master's exit, awaited with the helpers' hang guard (rejects with the transcript). */
async function exited(master) {
  const gone = () => master.child.exitCode !== null || master.child.signalCode !== null;
  await master.waitUntil(gone, 'the master to exit');
  return master.exit;
}

/**
 * Wait for the master's exit; check that none of `workers` outlived it (the master waits for
 * every worker's exit before its own, so they are gone by now); then read the pipe to its end
 * (possible only once every writer, workers included, is gone). Returns the master's exit.
 */
async function stopped(master, workers) {
  const exit = await exited(master);
  const survivors = workers.map((w) => w.pid).filter(alive);
  assert.deepEqual(survivors, [], `workers alive after the master exited\n${master.transcript()}`);
  if (!master.child.stdout.readableEnded) await once(master.child.stdout, 'end');
  return exit;
}

const pids = (records) => records.map((r) => r.pid).sort((a, b) => a - b);

test('SIGTERM runs every worker\'s own SIGTERM handler', async (t) => {
  const { master, workers } = await serving(t);
  master.signal('SIGTERM');
  await stopped(master, workers);
  assert.deepEqual(pids(master.records('WORKER sigterm')), pids(workers));
});

test('SIGTERM: the master exits 0 and no worker is left alive', async (t) => {
  const { master, workers } = await serving(t);
  master.signal('SIGTERM');
  const { code, signal } = await stopped(master, workers);
  assert.equal(signal, null);
  assert.equal(code, 0);
  const exits = master.events('worker-exit');
  assert.deepEqual(pids(exits), pids(workers));
  for (const exit of exits) assert.equal(exit.expected, true);
});

test('SIGINT stops like SIGTERM: worker handlers run, exit 0, no worker left', async (t) => {
  const { master, workers } = await serving(t);
  master.signal('SIGINT');
  const { code } = await stopped(master, workers);
  assert.equal(code, 0);
  assert.deepEqual(pids(master.records('WORKER sigterm')), pids(workers));
});

test('a worker that ignores SIGTERM is SIGKILLed after MAX_KILL_TIMEOUT, and the master exits 0', async (t) => {
  const { master, workers } = await serving(t, { env: { FIXTURE_MODE: 'ignore-term', MAX_KILL_TIMEOUT: '300ms' } });
  master.signal('SIGTERM');
  const { code } = await stopped(master, workers);
  assert.equal(code, 0);
  const exits = master.events('worker-exit');
  assert.deepEqual(pids(exits), pids(workers));
  for (const exit of exits) assert.equal(exit.signal, 'SIGKILL', `worker ${exit.pid}: ${JSON.stringify(exit)}`);
});

test('MASTER_PROCESS_DRAIN=off: SIGTERM still runs worker handlers and the master exits 0', async (t) => {
  const { master, workers } = await serving(t, { env: { MASTER_PROCESS_DRAIN: 'off' } });
  master.signal('SIGTERM');
  const { code } = await stopped(master, workers);
  assert.equal(code, 0);
  assert.deepEqual(pids(master.records('WORKER sigterm')), pids(workers));
});

test('handle.stop() stops like SIGTERM', async (t) => {
  const { master, workers } = await serving(t, { fixture: 'stop-control.js' });
  master.signal('SIGWINCH');
  const { code } = await stopped(master, workers);
  assert.equal(code, 0);
  assert.deepEqual(pids(master.records('WORKER sigterm')), pids(workers));
  assert.equal(master.events('stopping').length, 1);
});

test('a retired worker whose SIGTERM handler only closes its server exits by itself, not by SIGKILL', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), FIXTURE_MODE: 'close-on-term', MAX_KILL_TIMEOUT: '1 minute' },
  });
  const [old] = await master.waitFor('WORKER listening');
  master.signal('SIGHUP');
  await master.waitFor('WORKER sigterm', (w) => w.pid === old.pid);
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === old.pid);
  assert.equal(exit.signal ?? null, null);
  assert.equal(exit.code, 0);
});

test('Ctrl-C (SIGINT to the whole process group) stops the workers cleanly, not by SIGINT', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { group: true, env: { PORT: String(port), WORKERS: String(WORKERS) } });
  const workers = await master.waitFor('WORKER listening', () => true, WORKERS);
  process.kill(-master.pid, 'SIGINT');
  const { code } = await stopped(master, workers);
  assert.equal(code, 0);
  assert.deepEqual(pids(master.records('WORKER sigterm')), pids(workers));
  for (const exit of master.events('worker-exit')) assert.equal(exit.signal ?? null, null, JSON.stringify(exit));
});
