// Zero failed requests: 10 reloads under keep-alive load, every request accounted for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

async function reloadsUnderLoad(t, mode) {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_MODE: mode, FIXTURE_DELAY_MS: '5' },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  const load = startLoad(port, { connections: 32 });
  t.after(() => load.stop());
  for (let generation = 1; generation <= 10; generation++) {
    await load.answered(load.stats.ok + 50);
    master.signal('SIGHUP');
    await master.waitEvent('reload', (e) => e.generation === generation);
  }
  const stats = await load.stop();
  return { stats, master };
}

test('10 reloads under keep-alive load fail no request (app without SIGTERM handler)', async (t) => {
  const { stats } = await reloadsUnderLoad(t, 'no-handler');
  assert.equal(stats.pending, 0);
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.equal(stats.ok, stats.sent);
});

test('10 reloads under keep-alive load fail no request (app closing its server on SIGTERM)', async (t) => {
  const { stats, master } = await reloadsUnderLoad(t, 'close-on-term');
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.equal(stats.ok, stats.sent);
  // the app's own SIGTERM handler still ran for the retired workers
  await master.waitFor('WORKER sigterm', () => true, 2);
});
