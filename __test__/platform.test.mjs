// master-process needs POSIX signals: on a platform without them init() throws a clear,
// coded error instead of starting a master that cannot reload or stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';

test('on win32 init() throws ERR_UNSUPPORTED_PLATFORM naming the platform, before any fork', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), FIXTURE_FAKE_PLATFORM: 'win32' } });
  const [error] = await master.waitFor('INIT-ERROR');
  assert.equal(error.code, 'ERR_UNSUPPORTED_PLATFORM');
  assert.match(error.message, /\bwin32\b/);
  assert.match(error.message, /signal/i, 'says why');
  // The fixture exits 2 when init() throws.
  assert.equal((await master.exit).code, 2, master.transcript());
  await master.closed;
  assert.deepEqual(master.records('WORKER'), [], 'no worker was forked');
  assert.deepEqual(master.records('MASTER'), []);
});
