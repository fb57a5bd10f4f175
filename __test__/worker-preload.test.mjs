// The worker side ships as one preloaded file, built from its sources: each file a worker
// loads at start costs it a module resolution, read and compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir, ROOT } from './helpers.mjs';

const BUNDLER = path.join(ROOT, 'scripts', 'bundle-worker.js');

test('the committed lib/worker/preload.js is the bundle of its current sources', () => {
  const result = spawnSync(process.execPath, [BUNDLER, '--check'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
});

test('the bundle check fails once a source changes after the bundle was built', (t) => {
  const dir = tempDir(t, 'mp-bundle-');
  for (const part of ['scripts', 'lib']) {
    fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  }
  const script = path.join(dir, 'scripts', 'bundle-worker.js');
  assert.equal(spawnSync(process.execPath, [script, '--check']).status, 0);
  fs.appendFileSync(path.join(dir, 'lib', 'worker', 'heartbeat.js'), '\n// changed\n');
  const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /lib\/worker\/preload\.js is out of date/);
});

test('a worker preloads one file of master-process, and the app never sees the parts list', async (t) => {
  const master = startMaster(t, { fixture: 'preload-report.js', env: { PORT: String(await freePort()) } });
  const [report] = await master.waitFor('WORKER preload');
  const requires = report.execArgv.filter((arg, i) => report.execArgv[i - 1] === '--require');
  assert.deepEqual(requires, [path.join(ROOT, 'lib', 'worker', 'preload.js')]);
  assert.deepEqual(report.files, [path.join('lib', 'worker', 'preload.js')]);
  assert.equal(report.variable, null);
});

test('with the drain and the heartbeat off, workers preload nothing', async (t) => {
  const env = { PORT: String(await freePort()), MASTER_PROCESS_DRAIN: 'off', MASTER_PROCESS_HEARTBEAT_TIMEOUT: 'off' };
  const master = startMaster(t, { fixture: 'preload-report.js', env });
  const [report] = await master.waitFor('WORKER preload');
  assert.deepEqual(report.execArgv, []);
  assert.deepEqual(report.files, []);
  assert.equal(report.variable, null);
});
