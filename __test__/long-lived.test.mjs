// WebSockets and HTTP/2 across reloads. A worker's retire callback
// (`require('master-process').onRetire`) runs before any signal; the app closes its
// WebSockets with 1001 "going away", the drain waits for them, and clients reconnect to the
// new generation. HTTP/2 sessions are closed gracefully (GOAWAY): streams in flight finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
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

/** A keep-alive connection that has had one plain request answered. */
async function keptAlive(port) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const [first] = await once(socket, 'data');
  assert.match(first.toString(), /^HTTP\/1\.1 200/);
  return socket;
}

test('a WebSocket upgrade that reaches a worker after its retire callback ran is refused with 503, and the drain does not wait for it', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { fixture: 'long-lived.js', env: { PORT: String(port), WORKERS: '1', FIXTURE_MODE: 'ws' } });
  const [old] = await master.waitFor('WORKER listening');
  const socket = await keptAlive(port);
  t.after(() => socket.destroy());
  let answer = '';
  socket.on('data', (data) => { answer += data; });
  master.signal('SIGHUP');
  await master.waitFor('WORKER retiring', (w) => w.pid === old.pid);
  // On the connection accepted before the drain, within its 1 s idle grace.
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === old.pid);
  assert.equal(exit.expected, true);
  assert.equal(exit.signal, 'SIGTERM', 'drained, then ended by SIGTERM as usual, not by SIGKILL at the deadline');
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
