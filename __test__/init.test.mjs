// What init() leaves behind when it fails, and signals that arrive while it runs. The
// fixture wraps the addon's start() to put the master in each situation on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort } from './helpers.mjs';

test('a failed start() undoes init(): no listener left, and SIGTERM still ends the process', async (t) => {
  const master = startMaster(t, {
    fixture: 'start-hook.js',
    env: { FIXTURE_START: 'fail', FIXTURE_STAY_AFTER_INIT_ERROR: '1', PORT: String(await freePort()) },
  });
  const [after] = await master.waitFor('AFTER-INIT-ERROR');
  assert.deepEqual(master.records('INIT-ERROR')[0].code, 'ERR_FIXTURE_START');
  assert.deepEqual(after.listeners, { SIGHUP: 0, SIGTERM: 0, SIGINT: 0, SIGUSR2: 0, SIGTTIN: 0, SIGTTOU: 0 });
  assert.equal(after.clusterExit, 0);
  master.signal('SIGTERM');
  await master.waitUntil(() => master.child.signalCode !== null, 'the process to die of SIGTERM');
  assert.deepEqual(await master.exit, { code: null, signal: 'SIGTERM' });
});

test('a SIGTERM that arrives while init() runs stops the master', async (t) => {
  const master = startMaster(t, {
    fixture: 'start-hook.js',
    env: { FIXTURE_START: 'signal', FIXTURE_SIGNAL: 'SIGTERM', PORT: String(await freePort()), WORKERS: '2' },
  });
  await master.waitEvent('stopping', (e) => e.reason === 'SIGTERM');
  await master.waitUntil(() => master.child.exitCode !== null, 'the master to exit');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('a SIGHUP that arrives while init() runs reloads once the first generation is up', async (t) => {
  const master = startMaster(t, {
    fixture: 'start-hook.js',
    env: { FIXTURE_START: 'signal', FIXTURE_SIGNAL: 'SIGHUP', PORT: String(await freePort()), WORKERS: '1' },
  });
  const [done] = await master.waitEvent('reload');
  assert.equal(done.generation, 1);
  await master.waitFor('WORKER listening', (w) => w.reload === '1');
  master.signal('SIGTERM');
  await master.waitUntil(() => master.child.exitCode !== null, 'the master to exit');
  assert.equal((await master.exit).code, 0);
});

test('a SIGTTIN that arrives while init() runs adds a slot once the first generation is up', async (t) => {
  const master = startMaster(t, {
    fixture: 'start-hook.js',
    env: { FIXTURE_START: 'signal', FIXTURE_SIGNAL: 'SIGTTIN', PORT: String(await freePort()), WORKERS: '1' },
  });
  const [added] = await master.waitFor('WORKER listening', (w) => w.index === '1');
  assert.equal(added.reload, '0');
  master.signal('SIGTERM');
  await master.waitUntil(() => master.child.exitCode !== null, 'the master to exit');
  assert.equal((await master.exit).code, 0);
});
