// The master's listening sockets never close while it runs, whatever takes its only worker
// away: the heartbeat replacing it, its crash, a reload or a rollback, the app closing its
// own server. New connections wait (in the kernel's backlog, or accepted by the primary and
// queued) until a worker takes them; over a unix socket, the socket file never disappears.
// Only a stop closes them. Each case runs one worker under clients that open a new
// connection for every request, over TCP and over a unix socket: none may be refused; only a
// request already in flight to a frozen or killed worker may fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir, alive, freshConnections } from './helpers.mjs';

const LOOPS = 6;
const REFUSALS = ['ECONNREFUSED', 'ENOENT'];

/** One worker on TCP or on a unix socket in a temp dir; `target` is what clients use. */
async function oneWorker(t, transport, env = {}) {
  const target = transport === 'unix' ? path.join(tempDir(t, 'mp-listen-'), 'app.sock') : await freePort();
  const master = startMaster(t, {
    env: { PORT: String(target), WORKERS: '1', FIXTURE_DELAY_MS: '2', WORKER_THROTTLE: '0ms', ...env },
  });
  await master.waitFor('WORKER listening');
  return { master, target };
}

/** Clients under way, with a watch that the unix socket file stays while the master runs. */
function underLoad(t, target) {
  const load = freshConnections(target, { loops: LOOPS });
  t.after(() => load.stop());
  let vanished = 0;
  const watch = typeof target === 'string'
    ? setInterval(() => { if (!fs.existsSync(target)) vanished++; }, 1)
    : null;
  t.after(() => clearInterval(watch));
  return {
    load,
    answered: (n) => load.answered(n),
    stop: async () => {
      clearInterval(watch);
      return { stats: await load.stop(), vanished };
    },
  };
}

function assertNoneRefused({ stats, vanished }, allowedFailures) {
  for (const code of REFUSALS) assert.equal(stats.errors[code], undefined, `${code}: ${JSON.stringify(stats)}`);
  assert.equal(stats.errors.TIMEOUT, undefined, `a request hung: ${JSON.stringify(stats)}`);
  assert.equal(vanished, 0, 'the unix socket file was missing while the master ran');
  const failed = Object.values(stats.errors).reduce((n, c) => n + c, 0);
  assert.ok(failed <= allowedFailures, `at most ${allowedFailures} in flight may fail: ${JSON.stringify(stats)}`);
  assert.ok(stats.ok > 0);
}

for (const transport of ['tcp', 'unix']) {
  test(`${transport}: the only worker frozen and replaced by the heartbeat: no connection refused`, async (t) => {
    const { master, target } = await oneWorker(t, transport, {
      MASTER_PROCESS_HEARTBEAT_TIMEOUT: '1s', MAX_KILL_TIMEOUT: '2s',
    });
    const [victim] = master.records('WORKER listening');
    const run = underLoad(t, target);
    await run.answered(50);
    process.kill(victim.pid, 'SIGSTOP');
    t.after(() => alive(victim.pid) && process.kill(victim.pid, 'SIGKILL'));
    await master.waitEvent('worker-replaced', (e) => e.oldPid === victim.pid);
    await master.waitEvent('worker-exit', (e) => e.pid === victim.pid);
    await run.answered(50);
    // Each client had at most one request on its way to the frozen worker.
    assertNoneRefused(await run.stop(), LOOPS);
  });

  test(`${transport}: the only worker SIGKILLed three times: no connection refused`, async (t) => {
    const { master, target } = await oneWorker(t, transport);
    const run = underLoad(t, target);
    for (let round = 1; round <= 3; round++) {
      await run.answered(30);
      const [victim] = master.liveWorkers();
      process.kill(victim.pid, 'SIGKILL');
      await master.waitEvent('worker-exit', (e) => e.pid === victim.pid);
      await master.waitUntil(() => master.liveWorkers().length === 1, `round ${round}: a worker listens again`);
    }
    await run.answered(30);
    assertNoneRefused(await run.stop(), 3 * LOOPS);
  });

  test(`${transport}: reloads with one worker fail no request`, async (t) => {
    const { master, target } = await oneWorker(t, transport);
    const run = underLoad(t, target);
    for (let generation = 1; generation <= 3; generation++) {
      await run.answered(30);
      master.signal('SIGHUP');
      await master.waitEvent('reload', (e) => e.generation === generation);
    }
    await run.answered(30);
    assertNoneRefused(await run.stop(), 0);
  });

  test(`${transport}: a rolled-back reload with one worker fails no request`, async (t) => {
    const modeFile = path.join(tempDir(t, 'mp-mode-'), 'mode');
    fs.writeFileSync(modeFile, 'http');
    const { master, target } = await oneWorker(t, transport, { FIXTURE_MODE_FILE: modeFile });
    const run = underLoad(t, target);
    await run.answered(30);
    fs.writeFileSync(modeFile, 'throw');
    master.signal('SIGHUP');
    await master.waitEvent('reload-failed', (e) => e.generation === 1);
    await run.answered(30);
    assertNoneRefused(await run.stop(), 0);
  });

  test(`${transport}: the only worker closes its own server and exits: no connection refused`, async (t) => {
    const { master, target } = await oneWorker(t, transport, { FIXTURE_MODE: 'close-on-usr2' });
    const [first] = master.records('WORKER listening');
    const run = underLoad(t, target);
    await run.answered(30);
    master.signal('SIGUSR2'); // forwarded to the worker, which closes its server and exits
    await master.waitEvent('worker-exit', (e) => e.pid === first.pid);
    await master.waitUntil(() => master.liveWorkers().length === 1, 'a new worker listens');
    await run.answered(30);
    // Node's server.close() destroys the connections the worker accepted but has not read a
    // request from yet (closeIdleConnections): the app's own doing, at most one per client.
    // The client sees a reset, or EPIPE when its request is written after the close (seen
    // on a unix socket on Node 26).
    const result = await run.stop();
    const others = { ...result.stats.errors };
    delete others.ECONNRESET;
    delete others.EPIPE;
    assert.deepEqual(others, {}, `only resets of connections the app closed: ${JSON.stringify(result.stats)}`);
    assertNoneRefused(result, LOOPS);
  });
}

test('a stop closes the listening socket and removes the unix socket file', async (t) => {
  const { master, target } = await oneWorker(t, 'unix');
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
  assert.equal(fs.existsSync(target), false, 'the socket file is gone');
});
