import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { startMaster, freePort, get } from './helpers.mjs';

test('init() forks WORKERS workers, each with its own WORKER_INDEX', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '3' } });
  const workers = await master.waitFor('WORKER listening', () => true, 3);
  assert.deepEqual(workers.map((w) => w.index).sort(), ['0', '1', '2']);
  assert.equal((await get(port)).status, 200);
});

test('WORKERS=AUTO forks one worker per CPU this process may use', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: 'AUTO' } });
  const cpus = os.availableParallelism();
  await master.waitFor('WORKER listening', () => true, cpus);
  const [{ workers }] = await master.waitFor('MASTER');
  assert.equal(master.records('WORKER listening').length, cpus);
  assert.ok(workers <= cpus);
});

test('init(options) wins over the environment', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '3', FIXTURE_OPTIONS: JSON.stringify({ workers: 2 }) },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0);
  assert.equal(master.records('WORKER listening').length, 2);
});

test('each worker gets PPID, RELOAD_INDEX and WORKER_INDEX', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port) } });
  await master.waitFor('WORKER listening');
  const { json } = await get(port);
  assert.equal(json.ppid, String(master.pid));
  assert.equal(json.reload, '0');
  assert.equal(json.index, '0');
});
