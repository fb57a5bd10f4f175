// Scaling under keep-alive load: slots added fork and serve, slots removed retire through
// the drain, and not one request fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir } from './helpers.mjs';
import { pollUntil } from './ops-helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';
import { controlHome, socketReady, Client } from './control-helpers.mjs';

test('scaling up and down under keep-alive load fails no request', async (t) => {
  const home = controlHome(t);
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_DELAY_MS: '5', ...home.env },
  });
  await master.waitEvent('worker-listening', () => true, 2);
  const client = new Client(await socketReady(master, home.socketOf(master.pid)));
  t.after(() => client.close());
  const load = startLoad(port, { connections: 32 });
  t.after(() => load.stop());
  for (const workers of [4, 1, 3, 2, 1, 4]) {
    await load.answered(load.stats.ok + 100);
    assert.deepEqual(await client.ask({ request: 'scale', workers }), { ok: true, workers });
    const { status } = await client.ask({ request: 'status' });
    assert.equal(status.slots, workers);
    assert.deepEqual(
      status.workers.map((w) => [w.index, w.state]),
      Array.from({ length: workers }, (_, index) => [index, 'serving']),
      'once a scale is answered, each slot has one serving worker and the removed ones are gone',
    );
  }
  await load.answered(load.stats.ok + 100);
  const stats = await load.stop();
  assert.equal(stats.pending, 0);
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.equal(stats.ok, stats.sent);
  const retired = master.events('worker-exit');
  assert.equal(retired.length, 3 + 1 + 1, 'every removed worker exited (4 to 1, 3 to 2, 2 to 1)');
  assert.ok(retired.every((e) => e.expected), 'retired, not crashed');
});

test('scales asked during a reload wait for it, and the latest count wins', async (t) => {
  const home = controlHome(t);
  const gate = path.join(tempDir(t), 'gate');
  const master = startMaster(t, {
    fixture: 'gated.js',
    env: { PORT: String(await freePort()), WORKERS: '1', FIXTURE_GATE: gate, FIXTURE_GATE_INDEX: '0', ...home.env },
  });
  await master.waitEvent('worker-listening');
  const socket = await socketReady(master, home.socketOf(master.pid));
  const [reload, three, two, look] = [0, 1, 2, 3].map(() => new Client(socket));
  t.after(() => [reload, three, two, look].forEach((c) => c.close()));
  const scalingTo = async (n) => {
    await pollUntil(async () => (await look.ask({ request: 'status' })).status.scalingTo === n, `scalingTo ${n}`);
  };
  const reloaded = reload.ask({ request: 'reload' }); // its new worker is held at the gate
  await pollUntil(async () => (await look.ask({ request: 'status' })).status.reloading, 'the reload to run');
  const toThree = three.ask({ request: 'scale', workers: 3 });
  await scalingTo(3);
  const toTwo = two.ask({ request: 'scale', workers: 2 });
  await scalingTo(2);
  fs.writeFileSync(gate, '');
  assert.deepEqual(await reloaded, { ok: true, reload: { generation: 1, outcome: 'done' } });
  assert.deepEqual(await toThree, { ok: true, workers: 2 });
  assert.deepEqual(await toTwo, { ok: true, workers: 2 });
  const forked = master.records('WORKER listening').map((w) => [w.index, w.reload]);
  assert.deepEqual(forked, [['0', '0'], ['0', '1'], ['1', '1']], 'the new slot took the new generation; slot 2 never came');
});

test('a new slot whose worker never gets ready ends the scale at the ready timeout, and a reload then goes on', async (t) => {
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()), WORKERS: '1', FIXTURE_MODE_FILE: modeFile,
      MASTER_PROCESS_READY_TIMEOUT: '1s', DEBUG: 'master-process',
    },
  });
  await master.waitEvent('worker-listening');
  fs.writeFileSync(modeFile, 'never-listen');
  master.signal('SIGTTIN');
  const [hung] = await master.waitFor('WORKER started', (w) => w.index === '1');
  fs.writeFileSync(modeFile, 'http');
  master.signal('SIGHUP'); // waits behind the scale
  await master.waitStderr(/1 new worker\(s\) not ready after 1000 ms: the scale ends/);
  const [reload] = await master.waitEvent('reload');
  assert.equal(reload.generation, 1);
  const fresh = master.records('WORKER listening').filter((w) => w.reload === '1');
  assert.deepEqual(fresh.map((w) => w.index).sort(), ['0', '1']);
  await master.waitEvent('worker-exit', (e) => e.pid === hung.pid && e.expected);
});
