// MASTER_PROCESS_SHUTDOWN_DELAY: on SIGTERM (and the control socket's `stop`) /readyz turns
// 503 at once while the workers go on serving for the delay, so a load balancer (Kubernetes'
// endpoints) stops sending traffic before the listeners close; then the usual stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startMaster, freePort, freshConnections, get, tempDir } from './helpers.mjs';
import { pollUntil } from './ops-helpers.mjs';
import { controlHome, socketReady, Client } from './control-helpers.mjs';

const DELAY_MS = 3000;

async function started(t, env = {}) {
  const home = controlHome(t);
  const metrics = path.join(tempDir(t), 'metrics.sock');
  const port = await freePort();
  const master = startMaster(t, {
    env: {
      PORT: String(port),
      WORKERS: '2',
      MASTER_PROCESS_METRICS: metrics,
      MASTER_PROCESS_SHUTDOWN_DELAY: `${DELAY_MS}ms`,
      ...home.env,
      ...env,
    },
  });
  await master.waitEvent('worker-listening', () => true, 2);
  await pollUntil(async () => (await get(metrics, '/readyz')).status === 200, '/readyz 200');
  return { master, metrics, port, home };
}

/** Ask for the stop with `stop()`, then check the delay: 503 at once, requests answered, the usual stop after it. */
async function stopsAfterTheDelay(master, metrics, port, stop) {
  const load = freshConnections(port, { loops: 4 });
  await load.answered(20);
  const asked = Date.now();
  await stop();
  const [stopping] = await master.waitEvent('stopping');
  assert.equal(stopping.code, 0);
  await pollUntil(async () => (await get(metrics, '/readyz')).status === 503, '/readyz 503');
  const ready = await get(metrics, '/readyz');
  assert.equal(ready.body, 'the master is stopping: its workers serve until the shutdown delay is over\n');
  await load.answered(50);
  assert.equal(master.events('worker-exit').length, 0, 'no worker retired during the delay');
  const during = await load.stop();
  assert.deepEqual(during.errors, {}, JSON.stringify(during));

  const { code } = await master.exit;
  assert.equal(code, 0);
  assert.ok(Date.now() - asked >= DELAY_MS, 'the master exited only after the delay');
  const exits = master.events('worker-exit');
  assert.equal(exits.length, 2);
  assert.ok(exits.every((e) => e.expected));
  return stopping;
}

test('SIGTERM: /readyz says 503 at once, workers serve through the delay, then the usual stop', async (t) => {
  const { master, metrics, port } = await started(t);
  const stopping = await stopsAfterTheDelay(master, metrics, port, () => master.signal('SIGTERM'));
  assert.equal(stopping.reason, 'SIGTERM');
});

test("the control socket's stop takes the same path", async (t) => {
  const { master, metrics, port, home } = await started(t);
  const client = new Client(await socketReady(master, home.socketOf(master.pid)));
  t.after(() => client.close());
  const stopping = await stopsAfterTheDelay(master, metrics, port, async () => {
    await client.ask({ request: 'stop' });
  });
  assert.equal(stopping.reason, 'stop was asked on the control socket');
});

test('a second SIGTERM during the delay stops at once', async (t) => {
  const { master, metrics } = await started(t, { MASTER_PROCESS_SHUTDOWN_DELAY: '1h' });
  master.signal('SIGTERM');
  await master.waitEvent('stopping');
  await pollUntil(async () => (await get(metrics, '/readyz')).status === 503, '/readyz 503');
  master.signal('SIGTERM');
  const { code } = await master.exit;
  assert.equal(code, 0);
  assert.equal(master.events('stopping').length, 1, 'the stop is announced once');
});

test('during the delay the status says stopping and how long is left', async (t) => {
  const { master, home } = await started(t, { MASTER_PROCESS_SHUTDOWN_DELAY: '1h' });
  const client = new Client(await socketReady(master, home.socketOf(master.pid)));
  t.after(() => client.close());
  master.signal('SIGTERM');
  await master.waitEvent('stopping');
  const { status } = await client.ask({ request: 'status' });
  assert.equal(status.stopping, true);
  assert.ok(status.shutdownDelayLeftMs > 0 && status.shutdownDelayLeftMs <= 3600_000, String(status.shutdownDelayLeftMs));
  assert.equal(status.workers.length, 2);
});
