// How the master behaves in operation: worker output, a bare environment, neighbours, and
// a master killed without a chance to clean up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir, get } from './helpers.mjs';
import { gone, pollUntil } from './ops-helpers.mjs';

test('workers write straight to the master stdout, unprefixed and whole', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '2' } });
  const workers = await master.waitFor('WORKER listening', () => true, 2);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0);
  await master.closed;
  for (const worker of workers) {
    // The fixture writes this line from the worker, with the same object it prints at listen.
    const written = `WORKER log-line-from-worker ${JSON.stringify(worker)}`;
    assert.equal(master.lines.filter((l) => l === written).length, 1, `exactly once, as written:\n${master.transcript()}`);
  }
  assert.equal(master.lines.filter((l) => l.includes('log-line-from-worker')).length, 2, master.transcript());
});

test('the master runs with a bare environment (only PORT): serves and reloads', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { bare: true, env: { PORT: String(port) } });
  const [first] = await master.waitFor('WORKER listening');
  assert.equal((await get(port)).json.pid, first.pid);
  master.signal('SIGHUP');
  const [next] = await master.waitFor('WORKER listening', (w) => w.reload === '1');
  await master.waitEvent('worker-exit', (e) => e.pid === first.pid);
  const { json } = await get(port);
  assert.equal(json.pid, next.pid);
  assert.equal(json.reload, '1');
  assert.deepEqual(master.stderrLines, [], master.transcript());
});

test('two masters side by side reload independently', async (t) => {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = startMaster(t, { env: { PORT: String(portA) } });
  const b = startMaster(t, { env: { PORT: String(portB) } });
  const [a0] = await a.waitFor('WORKER listening');
  const [b0] = await b.waitFor('WORKER listening');

  a.signal('SIGHUP');
  const [a1] = await a.waitFor('WORKER listening', (w) => w.reload === '1');
  await a.waitEvent('worker-exit', (e) => e.pid === a0.pid);
  assert.equal((await get(portA)).json.pid, a1.pid);
  const fromB = (await get(portB)).json;
  assert.equal(fromB.pid, b0.pid, 'B still runs its first worker');
  assert.equal(fromB.reload, '0');
  assert.deepEqual(b.events('reload'), []);
  assert.deepEqual(b.records('WORKER listening').map((w) => w.pid), [b0.pid], b.transcript());

  b.signal('SIGHUP');
  const [b1] = await b.waitFor('WORKER listening', (w) => w.reload === '1');
  await b.waitEvent('worker-exit', (e) => e.pid === b0.pid);
  assert.equal((await get(portB)).json.reload, '1');
  assert.equal((await get(portB)).json.pid, b1.pid);
  const fromA = (await get(portA)).json;
  assert.equal(fromA.pid, a1.pid, 'A did not reload again');
  assert.equal(fromA.reload, '1');
  assert.deepEqual(a.records('WORKER listening').map((w) => w.reload), ['0', '1'], a.transcript());
});

test('workers of a SIGKILLed master exit by themselves; the next master serves on the same socket', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  const first = startMaster(t, { env: { PORT: sock, WORKERS: '2' } });
  const workers = await first.waitFor('WORKER listening', () => true, 2);
  assert.equal((await get(sock)).status, 200);

  first.signal('SIGKILL');
  assert.equal((await first.exit).signal, 'SIGKILL');
  // Nobody told the workers anything: they must notice the master is gone (IPC closed).
  await pollUntil(() => workers.every((w) => gone(w.pid)), `workers ${workers.map((w) => w.pid)} exit`);
  assert.ok(fs.lstatSync(sock).isSocket(), 'the killed master left its socket file behind');

  const second = startMaster(t, { env: { PORT: sock, WORKERS: '2' } });
  const next = await second.waitFor('WORKER listening', () => true, 2);
  const { status, json } = await get(sock);
  assert.equal(status, 200);
  assert.equal(json.ppid, String(second.pid));
  assert.ok(next.some((w) => w.pid === json.pid));
  assert.deepEqual(second.stderrLines, [], second.transcript());
});
