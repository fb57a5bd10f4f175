// The subcommands: status, reload, stop, scale, pause, resume against running masters, and
// how they find the master (by itself, --pid, --socket) or refuse to guess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, startCli, freePort, tempDir, FIXTURES } from './helpers.mjs';
import { staleSocket, gone } from './ops-helpers.mjs';
import { controlHome, socketReady, cli } from './control-helpers.mjs';

/** A master on app.js in `home` (a fresh one by default), its workers known to be listening. */
async function serving(t, { env = {}, workers = 1, home = controlHome(t) } = {}) {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: String(workers), ...home.env, ...env },
  });
  await master.waitEvent('worker-listening', () => true, workers);
  const socket = await socketReady(master, home.socketOf(master.pid));
  return { master, socket, home };
}

test('status prints a table, a row per worker, and exits 0', async (t) => {
  const { master, home } = await serving(t, { workers: 2 });
  const { code, lines, stderr } = await cli(t, ['status'], home.env);
  assert.equal(code, 0, stderr);
  assert.match(lines[0], new RegExp(`^master ${master.pid} +master-process \\d+\\.\\d+\\.\\d+ +up \\d+s +generation 0 +2 slots$`));
  assert.equal(lines[1], '');
  assert.deepEqual(lines[2].split(/ +/), ['INDEX', 'PID', 'GEN', 'STATE', 'UPTIME', 'RSS', 'CPU']);
  const end = lines.indexOf('', 3);
  const rows = lines.slice(3, end).map((l) => l.split(/ +/));
  const pids = master.records('WORKER listening').map((w) => String(w.pid)).sort();
  assert.deepEqual(rows.map((r) => r[1]).sort(), pids);
  for (const [i, row] of rows.entries()) {
    assert.deepEqual([row[0], row[2], row[3], row[5], row[6]], [String(i), '0', 'serving', '-', '-']);
  }
  assert.match(lines[end + 1], /^RSS and CPU: - until a worker's first sample, 30s after it starts \(MASTER_PROCESS_MONITOR_WARMUP/);
});

test('status --json prints the status answer', async (t) => {
  const { master, socket, home } = await serving(t);
  const { code, stdout } = await cli(t, ['status', '--json'], home.env);
  assert.equal(code, 0);
  const status = JSON.parse(stdout);
  assert.equal(status.pid, master.pid);
  assert.equal(status.controlSocket, socket);
  assert.equal(status.workers[0].state, 'serving');
});

test('status exits 1 when a slot has no serving worker', async (t) => {
  const home = controlHome(t);
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), FIXTURE_MODE: 'never-listen', ...home.env },
  });
  await master.waitFor('WORKER started');
  await socketReady(master, home.socketOf(master.pid));
  const { code, lines, stderr } = await cli(t, ['status'], home.env);
  assert.equal(code, 1);
  assert.equal(lines[3].split(/ +/)[3], 'starting');
  assert.equal(stderr, 'master-process: no serving worker in slot 0');
  assert.equal((await cli(t, ['status', '--json'], home.env)).code, 1, 'as a probe with --json too');
});

test('reload waits for the outcome and exits 0 when the new generation serves', async (t) => {
  const { master, home } = await serving(t, { workers: 2 });
  const { code, stdout } = await cli(t, ['reload'], home.env);
  assert.equal(code, 0);
  assert.equal(stdout, 'reload 1 done');
  await master.waitEvent('reload', (e) => e.generation === 1);
});

test('reload exits 1 when the reload was rolled back', async (t) => {
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const { master, home } = await serving(t, { env: { FIXTURE_MODE_FILE: modeFile } });
  fs.writeFileSync(modeFile, 'throw');
  const { code, stdout, stderr } = await cli(t, ['reload'], home.env);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.match(stderr, /^master-process: reload 1 failed and was rolled back: worker 0 \(pid \d+\) exited with code 1 before it was ready$/);
  await master.waitEvent('reload-failed');
});

test('scale N waits until N workers serve, and status then shows them', async (t) => {
  const { home } = await serving(t);
  const up = await cli(t, ['scale', '3'], home.env);
  assert.deepEqual([up.code, up.stdout], [0, '3 workers']);
  const after = JSON.parse((await cli(t, ['status', '--json'], home.env)).stdout);
  assert.equal(after.slots, 3);
  assert.deepEqual(after.workers.map((w) => [w.index, w.state]), [[0, 'serving'], [1, 'serving'], [2, 'serving']]);
  const down = await cli(t, ['scale', '1'], home.env);
  assert.deepEqual([down.code, down.stdout], [0, '1 worker']);
  const last = JSON.parse((await cli(t, ['status', '--json'], home.env)).stdout);
  assert.deepEqual(last.workers.map((w) => w.index), [0], 'the removed slots\' workers are gone');
});

test('scale with a bad N exits 64, and one out of range exits 1 with the master\'s reason', async (t) => {
  const { home } = await serving(t);
  const bad = await cli(t, ['scale', 'two'], home.env);
  assert.equal(bad.code, 64);
  assert.equal(bad.stderr, 'master-process: scale: invalid N="two": expected a whole number from 1 to 1024');
  const none = await cli(t, ['scale'], home.env);
  assert.equal(none.code, 64);
  const zero = await cli(t, ['scale', '0'], home.env);
  assert.equal(zero.code, 1);
  assert.equal(zero.stderr, 'master-process: cannot scale to 0 workers: expected a whole number from 1 to 1024');
});

test('pause and resume say the monitoring state', async (t) => {
  const { home } = await serving(t);
  assert.deepEqual(await cli(t, ['pause'], home.env).then((r) => [r.code, r.stdout]), [0, 'monitoring paused']);
  assert.equal(JSON.parse((await cli(t, ['status', '--json'], home.env)).stdout).paused, true);
  assert.deepEqual(await cli(t, ['resume'], home.env).then((r) => [r.code, r.stdout]), [0, 'monitoring resumed']);
});

test('stop returns once the master has exited', async (t) => {
  const { master, socket, home } = await serving(t, { workers: 2 });
  const { code, stdout } = await cli(t, ['stop'], home.env);
  assert.deepEqual([code, stdout], [0, 'stopped']);
  assert.ok(gone(master.pid), 'the master process has exited');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
  assert.equal(fs.existsSync(socket), false);
});

test('the subcommands drive a master the command line runs', async (t) => {
  const home = controlHome(t);
  const master = startCli(t, ['-w', '2', path.join(FIXTURES, 'plain-app.js')], {
    env: { PORT: String(await freePort()), ...home.env },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  await socketReady(master, home.socketOf(master.pid));
  assert.equal((await cli(t, ['reload'], home.env)).stdout, 'reload 1 done');
  assert.equal((await cli(t, ['scale', '1'], home.env)).stdout, '1 worker');
  const status = await cli(t, ['status'], home.env);
  assert.equal(status.code, 0);
  assert.match(status.lines[0], new RegExp(`^master ${master.pid} .* generation 1 +1 slot$`));
  assert.equal((await cli(t, ['stop'], home.env)).code, 0);
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('with several masters, the candidates are listed and it exits 64; --pid and --socket pick one', async (t) => {
  const home = controlHome(t);
  const a = await serving(t, { home });
  const b = await serving(t, { home });
  const { code, stderr } = await cli(t, ['status'], home.env);
  assert.equal(code, 64);
  assert.match(stderr, /^master-process: 2 masters are running; name one with --pid PID or --socket PATH:$/m);
  for (const { master, socket } of [a, b]) assert.ok(stderr.includes(`pid ${master.pid}  ${socket}`), stderr);
  const byPid = JSON.parse((await cli(t, ['status', '--json', '--pid', String(b.master.pid)], home.env)).stdout);
  assert.equal(byPid.pid, b.master.pid);
  const bySocket = JSON.parse((await cli(t, ['status', '--json', '--socket', a.socket], home.env)).stdout);
  assert.equal(bySocket.pid, a.master.pid);
});

test('a stale socket left by a killed master is not a candidate', async (t) => {
  const home = controlHome(t);
  const { master } = await serving(t, { home });
  await staleSocket(t, path.join(home.dir, '999999.sock'));
  const { code, stdout } = await cli(t, ['status', '--json'], home.env);
  assert.equal(code, 0);
  assert.equal(JSON.parse(stdout).pid, master.pid);
});

test('no master to talk to exits 69; an unknown --pid too', async (t) => {
  const home = controlHome(t);
  const none = await cli(t, ['status'], home.env);
  assert.equal(none.code, 69);
  assert.match(none.stderr, /^master-process: no running master found for this user \(looked in .*\)$/);
  const pid = await cli(t, ['reload', '--pid', '999999'], home.env);
  assert.equal(pid.code, 69);
  assert.match(pid.stderr, /no control socket for pid 999999/);
  const socket = await cli(t, ['stop', '--socket', path.join(home.dir, 'nothing.sock')], home.env);
  assert.equal(socket.code, 69);
  assert.match(socket.stderr, /cannot reach the master at .*nothing\.sock: ENOENT/);
});

test('command-line mistakes of the subcommands exit 64', async (t) => {
  for (const [args, message] of [
    [['status', 'extra'], 'unexpected "extra" after status'],
    [['reload', '--json'], 'unexpected "--json" after reload'],
    [['status', '--pid', 'me'], 'invalid --pid="me": expected a process id'],
    [['--workers', '2', 'status'], 'settings are for running an app, not for status'],
    [['--pid', '1', 'app.js'], '--pid is for the commands'],
  ]) {
    const { code, stderr } = await cli(t, args);
    assert.equal(code, 64, args.join(' '));
    assert.ok(stderr.includes(message), `${args.join(' ')}: ${stderr}`);
  }
});
