// Workers that exit on their own are replaced in their WORKER_INDEX with the current
// RELOAD_INDEX; WORKER_THROTTLE delays the replacement of one that lived too short; workers
// retired by a reload are not replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';

const WORKERS = 2;

/** A master on restart-control.js with WORKERS workers of generation 0 listening. */
async function serving(t, env = {}) {
  const port = await freePort();
  const master = startMaster(t, {
    fixture: 'restart-control.js',
    env: { PORT: String(port), WORKERS: String(WORKERS), WORKER_THROTTLE: '0ms', ...env },
  });
  const workers = await master.waitFor('WORKER listening', (w) => w.reload === '0', WORKERS);
  return { master, workers };
}

/** Wait for the worker that replaces `gone` in its WORKER_INDEX to listen. */
async function replacement(master, gone) {
  const [worker] = await master.waitFor(
    'WORKER listening',
    (w) => w.index === gone.index && w.pid !== gone.pid && Number(w.reload) >= Number(gone.reload),
  );
  return worker;
}

/** Wait for reload `generation` to be done and every worker of an older one to have exited. */
async function reloaded(master, generation) {
  await master.waitEvent('reload', (e) => e.generation === generation);
  const older = master.records('WORKER listening').filter((w) => Number(w.reload) < generation);
  const pids = new Set(older.map((w) => w.pid));
  await master.waitEvent('worker-exit', (e) => pids.has(e.pid), pids.size);
}

/** The master's exit, awaited with the helpers' hang guard (rejects with the transcript). */
async function exited(master) {
  const gone = () => master.child.exitCode !== null || master.child.signalCode !== null;
  await master.waitUntil(gone, 'the master to exit');
  return master.exit;
}

for (const code of [0, 7]) {
  test(`a worker that exits with code ${code} is replaced with the same WORKER_INDEX and RELOAD_INDEX`, async (t) => {
    const { master, workers } = await serving(t, { RESTART_FIXTURE_EXIT_CODE: String(code) });
    const gone = workers.find((w) => w.index === '1');
    process.kill(gone.pid, 'SIGWINCH'); // the fixture's worker then calls process.exit(code)
    const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === gone.pid);
    assert.equal(exit.code, code);
    assert.equal(exit.expected, false);
    const worker = await replacement(master, gone);
    assert.equal(worker.index, '1');
    assert.equal(worker.reload, '0');
    assert.equal(worker.ppid, String(master.pid));
    assert.equal(master.liveWorkers().length, WORKERS);
  });
}

test('a worker killed with SIGKILL is replaced with the same WORKER_INDEX and RELOAD_INDEX', async (t) => {
  const { master, workers } = await serving(t);
  const gone = workers.find((w) => w.index === '0');
  process.kill(gone.pid, 'SIGKILL');
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === gone.pid);
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.expected, false);
  const worker = await replacement(master, gone);
  assert.equal(worker.index, '0');
  assert.equal(worker.reload, '0');
  assert.equal(master.liveWorkers().length, WORKERS);
});

test('after a reload, a crashed worker is replaced with the current RELOAD_INDEX', async (t) => {
  const { master } = await serving(t);
  master.signal('SIGHUP');
  await reloaded(master, 1);
  const gone = master.liveWorkers().find((w) => w.index === '1');
  assert.equal(gone.reload, '1');
  process.kill(gone.pid, 'SIGKILL');
  const worker = await replacement(master, gone);
  assert.equal(worker.index, '1');
  assert.equal(worker.reload, '1');
});

test('a worker that keeps crashing at start keeps being replaced in its WORKER_INDEX', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: {
      PORT: String(port),
      WORKERS: '1',
      WORKER_THROTTLE: '0ms',
      MASTER_PROCESS_MAX_CRASHES: '0',
      FIXTURE_MODE: 'exit-soon',
      FIXTURE_EXIT_AFTER_MS: '0',
    },
  });
  const crashes = 5;
  const exits = await master.waitEvent('worker-exit', (e) => e.code === 3, crashes);
  for (const exit of exits) {
    assert.equal(exit.index, 0);
    assert.equal(exit.expected, false);
  }
  const started = master.records('WORKER log-line-from-worker');
  assert.ok(started.length >= crashes);
  for (const worker of started) {
    assert.equal(worker.index, '0');
    assert.equal(worker.reload, '0');
  }
  master.signal('SIGTERM');
  assert.equal((await exited(master)).code, 0);
});

test('WORKER_THROTTLE: a worker that crashes right after start is re-forked no earlier than the throttle after its fork', async (t) => {
  const port = await freePort();
  const throttle = 400;
  const master = startMaster(t, {
    fixture: 'restart-control.js',
    env: {
      PORT: String(port),
      WORKERS: '1',
      WORKER_THROTTLE: `${throttle}ms`,
      FIXTURE_MODE: 'exit-soon',
      FIXTURE_EXIT_AFTER_MS: '0',
    },
  });
  // `at` is the master's monotonic clock just before each cluster.fork (restart-control.js).
  const [first, second] = await master.waitFor('PRIMARY fork', () => true, 2);
  const [exit] = master.events('worker-exit').filter((e) => e.pid === first.pid);
  assert.ok(exit, `the first worker exited before its replacement was forked\n${master.transcript()}`);
  assert.equal(exit.code, 3);
  const gap = second.at - first.at;
  assert.ok(gap >= throttle, `replacement forked ${gap.toFixed(1)} ms after the crashed worker's fork`);
  master.signal('SIGTERM');
  assert.equal((await exited(master)).code, 0);
});

test('workers retired by a reload are not replaced', async (t) => {
  // WORKER_THROTTLE=0ms: a wrong restart of a retired worker would be forked at its exit.
  const { master } = await serving(t);
  master.signal('SIGHUP');
  await reloaded(master, 1);
  // The master runs the commands of an exit in order, a restart's fork right after the exit
  // event, so by the time it answers SIGWINCH any such fork is in handle.workers.
  master.signal('SIGWINCH');
  const [{ workers }] = await master.waitFor('PRIMARY workers');
  assert.equal(workers.length, WORKERS, JSON.stringify(workers));
  assert.deepEqual(workers.map((w) => w.generation), Array(WORKERS).fill(1));
  assert.deepEqual(workers.map((w) => w.reloadIndex), Array(WORKERS).fill(1), "reloadIndex: the 5.0 alias");
  assert.deepEqual(workers.map((w) => w.index).sort(), [0, 1]);
  assert.equal(master.liveWorkers().length, WORKERS);
  assert.equal(master.records('PRIMARY fork').length, 2 * WORKERS);
});
