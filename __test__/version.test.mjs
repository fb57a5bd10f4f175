// If master-process's own package.json changes version on disk, the master upgrades in place
// at the next fork (same pid); with MASTER_PROCESS_NEW_VERSION=exit it exits 1 instead, as
// 4.x did, so the service manager restarts it on the new code. Runs a copy of the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, get, alive, copyPackage } from './helpers.mjs';

function readPackage(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
}

function writePackage(dir, json, indent = 2) {
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(json, null, indent)}\n`);
}

/** A master running the copy, its first worker listening. */
async function startCopy(t, env = { MASTER_PROCESS_NEW_VERSION: 'exit' }) {
  const dir = copyPackage(t);
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), FIXTURE_PACKAGE_DIR: dir, ...env } });
  const [worker] = await master.waitFor('WORKER listening');
  await master.waitEvent('worker-listening', (e) => e.pid === worker.pid);
  assert.equal((await get(port)).json.pid, worker.pid, 'the copy serves');
  return { dir, port, master, worker };
}

test('with MASTER_PROCESS_NEW_VERSION=exit, a new version on disk makes the master exit 1 at the next reload, workers gone', async (t) => {
  const { dir, master, worker } = await startCopy(t);
  const pkg = readPackage(dir);
  writePackage(dir, { ...pkg, version: '99.0.0-next' });
  master.signal('SIGHUP');
  const { code } = await master.exit;
  assert.equal(code, 1, master.transcript());
  assert.equal(alive(worker.pid), false, 'the old worker is gone');
  assert.deepEqual(master.records('WORKER').filter((w) => w.reload !== '0'), [], 'no new generation started');
  await master.waitStderr(/99\.0\.0-next/);
});

test('with MASTER_PROCESS_NEW_VERSION=exit, a new version on disk makes the master exit 1 when a crashed worker is to be restarted', async (t) => {
  const { dir, master, worker } = await startCopy(t);
  writePackage(dir, { ...readPackage(dir), version: '99.0.0-next' });
  process.kill(worker.pid, 'SIGKILL');
  const { code } = await master.exit;
  assert.equal(code, 1, master.transcript());
  assert.equal(master.records('WORKER listening').length, 1, 'no replacement was forked');
});

test('package.json rewritten with the same version reloads normally', async (t) => {
  const { dir, port, master, worker } = await startCopy(t);
  // Same version, different bytes: only the version counts.
  writePackage(dir, { ...readPackage(dir), description: 'rewritten' }, 4);
  master.signal('SIGHUP');
  const [next] = await master.waitFor('WORKER listening', (w) => w.reload === '1');
  await master.waitEvent('worker-exit', (e) => e.pid === worker.pid);
  assert.equal((await get(port)).json.pid, next.pid);
  assert.equal(alive(master.pid), true, 'the master keeps running');
  assert.equal(master.events('stopping').length, 0, master.transcript());
});

test('by default a new version on disk found by a reload upgrades the master in place', async (t) => {
  const { dir, port, master, worker } = await startCopy(t, {});
  writePackage(dir, { ...readPackage(dir), version: '99.0.0-next' });
  master.signal('SIGHUP');
  const [upgraded] = await master.waitEvent('upgraded');
  assert.equal(upgraded.upgrades, 1);
  const [failed] = master.events('reload-failed');
  assert.match(failed.reason, /changed to version 99\.0\.0-next: upgrading in place instead/);
  assert.equal(master.records('MASTER').length, 2, 'a second image of the same process started');
  assert.ok(master.records('MASTER').every((m) => m.pid === master.pid));
  const served = await get(port);
  assert.notEqual(served.json.pid, worker.pid);
  assert.equal(served.json.ppid, String(master.pid));
  assert.equal(alive(master.pid), true);
});

test('by default a new version on disk found by a crashed worker\'s restart upgrades the master in place', async (t) => {
  const { dir, port, master, worker } = await startCopy(t, {});
  writePackage(dir, { ...readPackage(dir), version: '99.0.0-next' });
  process.kill(worker.pid, 'SIGKILL');
  await master.waitEvent('upgraded');
  assert.equal((await get(port)).status, 200);
  assert.equal(master.events('stopping').length, 0, master.transcript());
});
