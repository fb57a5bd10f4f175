// WebSockets and HTTP/2 across reloads. A worker's retire callback
// (`require('master-process').onRetire`) runs before any signal; the app closes its
// WebSockets with 1001 "going away", the drain waits for them, and clients reconnect to the
// new generation. HTTP/2 sessions are closed gracefully (GOAWAY): streams in flight finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';
import { wsConnect, h2Load } from '../bench/long-lived-clients.mjs';

test('on reload, the app closes its WebSockets with 1001 before any signal, and clients reconnect to the new generation', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { fixture: 'long-lived.js', env: { PORT: String(port), WORKERS: '1', FIXTURE_MODE: 'ws' } });
  const [registered] = await master.waitFor('WORKER registered');
  assert.equal(registered.registered, true);
  await master.waitFor('WORKER listening');
  const clients = [wsConnect(port), wsConnect(port), wsConnect(port)];
  const first = await Promise.all(clients.map((c) => c.firstMessage));
  assert.deepEqual(first.map((m) => m.reload), ['0', '0', '0']);
  master.signal('SIGHUP');
  const ends = await Promise.all(clients.map((c) => c.ended));
  for (const end of ends) assert.deepEqual(end.closeFrame, { code: 1001, reason: 'going away' });
  // The drain waited for the app's WebSockets: they closed before the old worker was signalled.
  const [closedAll] = await master.waitFor('WORKER ws-closed');
  assert.equal(closedAll.reload, '0');
  const oldExit = await master.waitEvent('worker-exit', (e) => e.pid === closedAll.pid);
  assert.equal(oldExit[0].expected, true);
  const again = wsConnect(port);
  assert.equal((await again.firstMessage).reload, '1');
  again.socket.destroy();
});

test('an HTTP/2 client under load sees no failed stream across reloads', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    fixture: 'long-lived.js',
    env: { PORT: String(port), WORKERS: '2', FIXTURE_MODE: 'h2', FIXTURE_DELAY_MS: '5' },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  const load = h2Load(port);
  t.after(() => load.stop());
  for (let generation = 1; generation <= 5; generation++) {
    await load.answered(load.stats.ok + 100);
    master.signal('SIGHUP');
    await master.waitEvent('reload', (e) => e.generation === generation);
  }
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.ok(stats.ok > 500, JSON.stringify(stats));
});
