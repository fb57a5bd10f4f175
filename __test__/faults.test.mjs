// Faults: a worker flooding the master with junk over IPC, SIGTERM in the middle of a
// reload, and reloads, SIGUSR2 and worker kills mixed at random. The master stays
// responsive, exits 0 when asked, leaves nothing running and never runs more than
// 2 x WORKERS workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort, get, alive } from './helpers.mjs';

/** Workers started (their start line) and not yet exited, at most, over the output so far. */
function mostAtOnce(master) {
  let live = 0;
  let most = 0;
  for (const text of master.lines) {
    if (text.startsWith('WORKER log-line-from-worker ')) most = Math.max(most, ++live);
    else if (text.startsWith('EVENT ') && text.includes('"event":"worker-exit"')) live--;
  }
  return most;
}

async function exited(master) {
  await master.waitUntil(() => master.child.exitCode !== null || master.child.signalCode !== null, 'the master to exit');
  return master.exit;
}

test('a worker flooding the master with malformed and huge messages: the master stays responsive and reloads', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '2', FIXTURE_MODE: 'flood' } });
  await master.waitFor('WORKER listening', () => true, 2);
  master.signal('SIGHUP');
  await master.waitEvent('reload', (e) => e.generation === 1);
  await master.waitFor('WORKER flooded', () => true, 2);
  assert.equal((await get(port)).json.reload, '1');
  master.signal('SIGTERM');
  assert.equal((await exited(master)).code, 0);
});

test('SIGTERM in the middle of a reload: exit 0 and no worker left', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '2' } });
  await master.waitFor('WORKER listening', () => true, 2);
  master.signal('SIGHUP');
  await master.waitFor('WORKER log-line-from-worker', (w) => w.reload === '1');
  master.signal('SIGTERM');
  assert.deepEqual(await exited(master), { code: 0, signal: null });
  const pids = master.records('WORKER log-line-from-worker').map((w) => w.pid);
  assert.deepEqual(pids.filter(alive), []);
});

test('reloads, SIGUSR2 and worker kills at random: exit 0, nothing left, never more than 2 x WORKERS', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '2', WORKER_THROTTLE: '0ms', MAX_KILL_TIMEOUT: '1s' } });
  await master.waitFor('WORKER listening', () => true, 2);
  let seed = 7;
  const random = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let step = 0; step < 40; step++) {
    const live = master.liveWorkers();
    const action = random(3);
    if (action === 0) master.signal('SIGHUP');
    else if (action === 1) master.signal('SIGUSR2');
    else if (live.length > 0) {
      const victim = live[random(live.length)];
      if (alive(victim.pid)) process.kill(victim.pid, 'SIGKILL');
    }
    // Let the master act on it: the next line of output, whatever it is.
    const seen = master.lines.length;
    await master.waitUntil(() => master.lines.length > seen, `output after step ${step}`);
  }
  master.signal('SIGTERM');
  assert.deepEqual(await exited(master), { code: 0, signal: null });
  const pids = master.records('WORKER log-line-from-worker').map((w) => w.pid);
  assert.deepEqual(pids.filter(alive), [], 'a worker outlived the master');
  assert.ok(mostAtOnce(master) <= 4, `at most 2 x WORKERS at once, saw ${mostAtOnce(master)}`);
});
