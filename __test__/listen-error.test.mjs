// The drain module must not change what an app's own errors do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startMaster, freePort } from './helpers.mjs';

test('a worker whose listen fails (port taken) still crashes, and the crash loop ends the master', async (t) => {
  const port = await freePort();
  const squatter = net.createServer().listen(port, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());
  const master = startMaster(t, {
    env: { PORT: String(port), WORKER_THROTTLE: '0ms', MASTER_PROCESS_MAX_CRASHES: '2' },
  });
  const { code } = await master.closed;
  assert.equal(code, 70);
  assert.equal(master.records('WORKER listening').length, 0);
  assert.ok(master.stderrLines.some((l) => /EADDRINUSE/.test(l)), master.transcript());
});
