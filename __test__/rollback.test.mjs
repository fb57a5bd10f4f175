// Transactional reload: a new version that fails to start is rolled back, the old
// generation keeps serving, and a later good reload succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, get, tempDir } from './helpers.mjs';

async function deployBroken(t, brokenMode, env = {}) {
  const port = await freePort();
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_MODE_FILE: modeFile, ...env },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  fs.writeFileSync(modeFile, brokenMode);
  master.signal('SIGHUP');
  const [failure] = await master.waitEvent('reload-failed');
  return { port, modeFile, master, failure };
}

test('a version that throws at start is rolled back and the old workers keep serving', async (t) => {
  const { port, master, failure } = await deployBroken(t, 'throw');
  assert.equal(failure.generation, 1);
  assert.match(failure.reason, /exited with code 1 before it was ready/);
  const { json } = await get(port);
  assert.equal(json.reload, '0');
  assert.equal(master.events('worker-exit').filter((e) => e.pid === json.pid).length, 0);
});

test('a version that never listens fails the ready timeout and is rolled back', async (t) => {
  const { port, failure } = await deployBroken(t, 'never-listen', { MASTER_PROCESS_READY_TIMEOUT: '500ms' });
  assert.match(failure.reason, /not ready within 500 ms/);
  assert.equal((await get(port)).json.reload, '0');
});

test('the new workers of a failed reload are stopped', async (t) => {
  const { master } = await deployBroken(t, 'never-listen', { MASTER_PROCESS_READY_TIMEOUT: '500ms' });
  const started = (await master.waitFor('WORKER started', () => true, 2)).map((w) => w.pid);
  await master.waitEvent('worker-exit', (e) => started.includes(e.pid), 2);
  assert.equal(master.liveWorkers().length, 2);
  assert.ok(master.liveWorkers().every((w) => w.reload === '0'));
});

test('a later reload with a good version succeeds after a rollback', async (t) => {
  const { port, modeFile, master } = await deployBroken(t, 'throw');
  fs.writeFileSync(modeFile, 'http');
  master.signal('SIGHUP');
  const [done] = await master.waitEvent('reload');
  assert.equal(done.generation, 2);
  assert.equal((await get(port)).json.reload, '2');
});
