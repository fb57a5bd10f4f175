// The master as PID 1 of a new PID namespace (`unshare --pid --fork`, as in a container):
// SIGTERM and SIGINT stop it cleanly with exit 0, a bad setting exits 78, and an upgrade in
// place keeps it PID 1 (a new pid would end the container). Needs root.
// Pids the master prints are the namespace's own: only the unshare process (and, through
// --kill-child, everything in the namespace) is killed at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { startMaster, freePort, get, copyPackage, tempDir, freshConnections, FIXTURES } from './helpers.mjs';
import { ask } from './control-helpers.mjs';
import path from 'node:path';

const canUnshare = process.getuid?.() === 0
  && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;
const skip = !canUnshare && 'needs root and unshare --pid';

function asPid1(t, env) {
  return startMaster(t, {
    command: ['unshare', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc', process.execPath, path.join(FIXTURES, 'app.js')],
    env,
    foreignPids: true,
  });
}

/** The master's pid as this namespace sees it: unshare's only child. */
function hostPid(unshare) {
  const children = fs.readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim();
  return Number(children.split(/\s+/)[0]);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`as PID 1, ${signal} stops every worker and the master exits 0`, { skip }, async (t) => {
    const port = await freePort();
    const unshare = asPid1(t, { PORT: String(port), WORKERS: '2' });
    const [master] = await unshare.waitFor('MASTER');
    assert.equal(master.pid, 1);
    await unshare.waitFor('WORKER listening', () => true, 2);
    assert.equal((await get(port)).json.ppid, '1');
    process.kill(hostPid(unshare), signal);
    const { code, signal: killedBy } = await unshare.exit;
    assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null }, unshare.transcript());
    assert.equal(unshare.events('worker-exit').length, 2);
    assert.ok(unshare.events('worker-exit').every((e) => e.expected));
  });
}

test('as PID 1, a bad setting exits 78', { skip }, async (t) => {
  const unshare = asPid1(t, { PORT: String(await freePort()), WORKERS: 'abc' });
  const { code } = await unshare.exit;
  assert.equal(code, 78, unshare.transcript());
});

test('as PID 1, an upgrade keeps the master PID 1 and fails no request', { skip }, async (t) => {
  const port = await freePort();
  const control = path.join(tempDir(t, 'mp-pid1-'), 'control.sock');
  const unshare = asPid1(t, {
    PORT: String(port), WORKERS: '2', FIXTURE_PACKAGE_DIR: copyPackage(t), MASTER_PROCESS_CONTROL_SOCKET: control,
  });
  await unshare.waitFor('WORKER listening', () => true, 2);
  const load = freshConnections(port);
  await load.answered(50);
  const answer = await ask(t, control, { request: 'upgrade' });
  assert.equal(answer.ok, true, JSON.stringify(answer));
  const [upgraded] = await unshare.waitEvent('upgraded');
  assert.equal(upgraded.upgrades, 1);
  await load.answered(50);
  const stats = await load.stop();
  assert.equal(load.failed(), 0, JSON.stringify(stats));
  const images = unshare.records('MASTER');
  assert.deepEqual(images.map((m) => m.pid), [1, 1], unshare.transcript());
  assert.equal((await get(port)).json.ppid, '1');
  process.kill(hostPid(unshare), 'SIGTERM');
  const { code } = await unshare.exit;
  assert.equal(code, 0, unshare.transcript());
});
