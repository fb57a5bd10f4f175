// Ready-by-message mode: for workers with several servers or none (queue consumers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';

test('a worker with no server takes over on reload once it says ready', async (t) => {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: '1', FIXTURE_MODE: 'ready-message', MASTER_PROCESS_READY: 'message' },
  });
  const [first] = await master.waitFor('WORKER started');
  master.signal('SIGHUP');
  const [done] = await master.waitEvent('reload');
  assert.equal(done.generation, 1);
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === first.pid);
  assert.equal(exit.expected, true);
  const [second] = await master.waitFor('WORKER started', (w) => w.reload === '1');
  const at = (record) => master.lines.findIndex((l) => l.endsWith(JSON.stringify(record)));
  assert.ok(at(second) < at(exit), 'the new worker started before the old one was retired');
});

test('in message mode, listening alone does not make a new worker ready', async (t) => {
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()),
      FIXTURE_MODE: 'http',
      MASTER_PROCESS_READY: 'message',
      MASTER_PROCESS_READY_TIMEOUT: '500ms',
    },
  });
  await master.waitFor('WORKER listening');
  master.signal('SIGHUP');
  const [failure] = await master.waitEvent('reload-failed');
  assert.match(failure.reason, /not ready within 500 ms/);
});
