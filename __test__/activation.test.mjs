// Socket activation: listening sockets passed to the master (LISTEN_FDS/LISTEN_PID) serve an
// unchanged app, and a master restart loses no request: between two masters, connections
// wait in the inherited socket's backlog. The service manager is systemd's own
// systemd-socket-activate, or fixtures/socket-launcher.py, which restarts the master the way
// systemd does (bind once; per run: fork, LISTEN_PID=<child>, exec).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, get, tempDir, copyPackage, FIXTURES } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

const hasSocketActivate = spawnSync('systemd-socket-activate', ['--help'], { stdio: 'ignore' }).status === 0;
const APP = path.join(FIXTURES, 'env-report.js');

/** A launcher holding one socket (`tcp` or `unix:<path>`) and running the app `runs` times. */
async function launch(t, socket, runs, env = {}) {
  const launcher = startMaster(t, {
    command: ['python3', path.join(FIXTURES, 'socket-launcher.py'), socket, String(runs), '--', process.execPath, APP],
    env: { WORKERS: '2', ...env },
  });
  const [bound] = await launcher.waitFor('LAUNCHER', (r) => r.port !== undefined || r.path !== undefined);
  return { launcher, bound };
}

/** The launcher's current run: wait until its master (run `n`, from 1) has both workers listening. */
async function serving(launcher, n) {
  const [started] = (await launcher.waitFor('LAUNCHER', (r) => r.started !== undefined, n)).slice(n - 1);
  await launcher.waitFor('WORKER listening', () => true, 2 * n);
  return started.started;
}

test('an unchanged app is served from the socket systemd-socket-activate passed', { skip: !hasSocketActivate && 'no systemd-socket-activate' }, async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    // It passes the command only the variables named with -E.
    command: ['systemd-socket-activate', '-l', `127.0.0.1:${port}`, '--fdname=web', '-E', 'PORT', '-E', 'WORKERS',
      process.execPath, APP],
    env: { PORT: String(port), WORKERS: '2' },
  });
  await master.waitUntil(() => master.stderrLines.some((l) => /Listening on/.test(l)), 'the socket to be bound');
  // The first connection makes systemd-socket-activate exec the master; it waits in the
  // backlog until a worker listens on the inherited socket (a worker binding the port itself
  // would fail: systemd-socket-activate holds it).
  const { json } = await get(port);
  assert.equal(json.reload, '0');
  const reports = await master.waitFor('WORKER env', () => true, 2);
  for (const report of reports) assert.deepEqual([report.LISTEN_FDS, report.LISTEN_PID, report.LISTEN_FDNAMES], [null, null, null]);
  master.signal('SIGTERM');
  await master.waitUntil(() => master.child.exitCode !== null, 'the master to exit');
  assert.equal(master.child.exitCode, 0, master.transcript());
});

test('three master restarts under keep-alive load: no failed request, no refused connection', async (t) => {
  const { launcher, bound } = await launch(t, 'tcp', 4);
  await serving(launcher, 1);
  const load = startLoad(bound.port, { connections: 16 });
  t.after(() => load.stop());
  for (let run = 1; run <= 3; run++) {
    const pid = launcher.records('LAUNCHER').filter((r) => r.started !== undefined)[run - 1].started;
    await load.answered(load.stats.ok + 200);
    process.kill(pid, 'SIGTERM');
    await launcher.waitFor('LAUNCHER', (r) => r.exited === pid);
    await serving(launcher, run + 1);
  }
  await load.answered(load.stats.ok + 200);
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.equal(stats.ok, stats.sent);
  const exits = launcher.records('LAUNCHER').filter((r) => r.exited !== undefined);
  assert.deepEqual(exits.map((e) => e.code), [0, 0, 0]);
});

test('a master that exits for a new version on disk (MASTER_PROCESS_NEW_VERSION=exit) is restarted with no failed request', async (t) => {
  const dir = copyPackage(t);
  const { launcher, bound } = await launch(t, 'tcp', 2, { FIXTURE_PACKAGE_DIR: dir, MASTER_PROCESS_NEW_VERSION: 'exit' });
  const first = await serving(launcher, 1);
  const load = startLoad(bound.port, { connections: 16 });
  t.after(() => load.stop());
  await load.answered(load.stats.ok + 200);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '99.0.0-next' }));
  process.kill(first, 'SIGHUP');
  const [exit] = await launcher.waitFor('LAUNCHER', (r) => r.exited === first);
  assert.equal(exit.code, 1);
  await serving(launcher, 2);
  await load.answered(load.stats.ok + 200);
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
});

test('a new version on disk upgrades a socket-activated master in place: same pid, the inherited socket serves on, no failed request', async (t) => {
  const dir = copyPackage(t);
  const { launcher, bound } = await launch(t, 'tcp', 1, { FIXTURE_PACKAGE_DIR: dir });
  const first = await serving(launcher, 1);
  const load = startLoad(bound.port, { connections: 16 });
  t.after(() => load.stop());
  await load.answered(load.stats.ok + 200);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '99.0.0-next' }));
  process.kill(first, 'SIGHUP');
  const [upgraded] = await launcher.waitFor('EVENT', (e) => e.event === 'upgraded');
  assert.equal(upgraded.upgrades, 1);
  await load.answered(load.stats.ok + 200);
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.deepEqual(launcher.records('LAUNCHER').filter((r) => r.exited !== undefined), [], 'the master never exited');
  assert.ok(launcher.records('MASTER').every((m) => m.pid === first), 'both images have the pid the launcher started');
  const newest = launcher.records('WORKER env').at(-1);
  assert.deepEqual([newest.LISTEN_FDS, newest.LISTEN_PID], [null, null], 'workers still never see the activation variables');
  process.kill(first, 'SIGTERM');
  const [exit] = await launcher.waitFor('LAUNCHER', (r) => r.exited === first);
  assert.equal(exit.code, 0);
});

test('an inherited unix socket serves PORT=<path> and is never removed by the master', async (t) => {
  const socketPath = path.join(tempDir(t, 'mp-activate-'), 'app.sock');
  const { launcher } = await launch(t, `unix:${socketPath}`, 2, { PORT: socketPath });
  const first = await serving(launcher, 1);
  assert.equal((await get(socketPath)).json.reload, '0');
  const mode = fs.statSync(socketPath).mode & 0o777;
  process.kill(first, 'SIGTERM');
  const [exit] = await launcher.waitFor('LAUNCHER', (r) => r.exited === first);
  assert.equal(exit.code, 0);
  assert.ok(fs.statSync(socketPath).isSocket(), 'the socket is still there after the master exited');
  assert.equal(fs.statSync(socketPath).mode & 0o777, mode, 'and its mode is as the launcher made it');
  await serving(launcher, 2);
  assert.equal((await get(socketPath)).json.reload, '0');
});

test('LISTEN_FDS=0 for this pid means no socket was passed, as sd_listen_fds reads it: the master binds PORT itself', async (t) => {
  const port = await freePort();
  // The shell's pid is the master's once it execs Node, so LISTEN_PID names the master.
  const master = startMaster(t, {
    command: ['sh', '-c', `LISTEN_PID=$$ LISTEN_FDS=0 exec "${process.execPath}" "${APP}"`],
    env: { PORT: String(port), WORKERS: '1' },
  });
  await master.waitFor('WORKER listening');
  assert.equal((await get(port)).status, 200);
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});
