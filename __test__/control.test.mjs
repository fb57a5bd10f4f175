// The control socket of a master started by init(): where it is, who may use it, and every
// request, answered one JSON line per request line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir, ROOT } from './helpers.mjs';
import { spawnTracked, staleSocket, holdSocket, mode, pollUntil, gone } from './ops-helpers.mjs';
import { controlHome, Client, ask, socketReady, cli } from './control-helpers.mjs';

/** A master on app.js with `workers` workers listening, and its control socket. */
async function serving(t, { env = {}, workers = 1, home = controlHome(t), fixture } = {}) {
  const port = await freePort();
  const master = startMaster(t, {
    fixture,
    stdin: fixture !== undefined,
    env: { PORT: String(port), WORKERS: String(workers), ...home.env, ...env },
  });
  // The master knows a worker listens when it emits the event (app.js prints it).
  await master.waitEvent('worker-listening', () => true, workers);
  const socket = await socketReady(master, home.socketOf(master.pid));
  return { master, port, socket, home };
}

test('every master listens on <pid>.sock, mode 0600, in a 0700 directory under XDG_RUNTIME_DIR, removed at exit', async (t) => {
  const { master, socket, home } = await serving(t);
  assert.equal(path.dirname(socket), home.dir);
  assert.equal(mode(home.dir), 0o700);
  assert.ok(fs.lstatSync(socket).isSocket());
  assert.equal(mode(socket), 0o600);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0);
  assert.equal(fs.existsSync(socket), false, 'removed at exit');
});

test('without XDG_RUNTIME_DIR the socket is in master-process-<uid> in the temp directory', async (t) => {
  const home = controlHome(t, { xdg: false });
  const { socket } = await serving(t, { home });
  assert.equal(socket, path.join(home.env.TMPDIR, `master-process-${process.getuid()}`, `${path.basename(socket)}`));
  assert.equal(mode(path.dirname(socket)), 0o700);
});

test('the socket file is removed when the app exits the process itself', async (t) => {
  const { master, socket } = await serving(t, { env: { FIXTURE_EXIT_ON_USR2: '1' } });
  master.signal('SIGUSR2'); // the fixture's primary calls process.exit(5)
  assert.deepEqual(await master.exit, { code: 5, signal: null });
  assert.equal(fs.existsSync(socket), false);
});

test('MASTER_PROCESS_CONTROL_SOCKET names the path, and workers see it unset', async (t) => {
  const dir = tempDir(t);
  const named = path.join(dir, 'control.sock');
  const home = controlHome(t);
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), MASTER_PROCESS_CONTROL_SOCKET: named, ...home.env } });
  const [worker] = await master.waitFor('WORKER listening');
  await socketReady(master, named);
  assert.equal(mode(named), 0o600);
  assert.equal(worker.controlEnv, '', 'a master started from a worker cannot take this path');
  const { status } = await ask(t, named, { request: 'status' });
  assert.equal(status.controlSocket, named);
  assert.equal(status.settings.controlSocket, named);
  assert.equal(fs.existsSync(home.dir), false, 'nothing in the default place');
});

test('MASTER_PROCESS_CONTROL_SOCKET=off: no control socket', async (t) => {
  const home = controlHome(t);
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), MASTER_PROCESS_CONTROL_SOCKET: 'off', FIXTURE_OPTIONS: '{}', ...home.env },
  });
  const [worker] = await master.waitFor('WORKER listening');
  assert.equal(worker.controlEnv, 'off');
  assert.equal(fs.existsSync(home.dir), false);
  assert.deepEqual(master.stderrLines, []);
});

test('a bad MASTER_PROCESS_CONTROL_SOCKET stops the master with exit 78 naming it', async (t) => {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), MASTER_PROCESS_CONTROL_SOCKET: 'relative.sock' },
  });
  assert.equal((await master.exit).code, 78);
  await master.closed;
  assert.match(master.stderrLines.join('\n'), /invalid MASTER_PROCESS_CONTROL_SOCKET="relative.sock": expected an absolute path/);
});

test('a stale socket of a dead master at the path is removed and replaced', async (t) => {
  const named = path.join(tempDir(t), 'control.sock');
  await staleSocket(t, named);
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), MASTER_PROCESS_CONTROL_SOCKET: named } });
  await master.waitFor('WORKER listening');
  assert.deepEqual(master.stderrLines, []);
  assert.equal((await ask(t, named, { request: 'status' })).status.pid, master.pid);
});

test('a socket someone listens on, or a file, at the path stops the master with exit 78 and is kept', async (t) => {
  const dir = tempDir(t);
  const live = path.join(dir, 'live.sock');
  await holdSocket(t, live);
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'precious');
  for (const [named, why] of [[live, /is a socket another process is listening on/], [file, /not a socket; it is never deleted/]]) {
    const master = startMaster(t, { env: { PORT: String(await freePort()), MASTER_PROCESS_CONTROL_SOCKET: named } });
    assert.equal((await master.exit).code, 78);
    await master.closed;
    assert.match(master.stderrLines.join('\n'), why);
  }
  assert.ok(fs.lstatSync(live).isSocket());
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
});

/** Whether another user may run `file`: every directory on its real path and the file itself have o+x. */
function othersMayRun(file) {
  let at = fs.realpathSync(file);
  for (;;) {
    if ((fs.statSync(at).mode & 0o001) === 0) return false;
    if (at === path.dirname(at)) return true;
    at = path.dirname(at);
  }
}

/** A node binary uid 65534 may run (this one, else a system one), or undefined. */
const peerNode = [process.execPath, '/usr/bin/node', '/usr/local/bin/node'].find((file) => fs.existsSync(file) && othersMayRun(file));

function peerSkip() {
  if (process.getuid() !== 0) return 'needs root to connect as another uid';
  if (peerNode === undefined) return `uid 65534 cannot run ${process.execPath} and there is no system node`;
  return false;
}

test('a peer of another user is refused, even when the file lets it in', { skip: peerSkip() }, async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o755);
  const named = path.join(dir, 'control.sock');
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), MASTER_PROCESS_CONTROL_SOCKET: named } });
  await master.waitFor('WORKER listening');
  await socketReady(master, named);
  fs.chmodSync(named, 0o666);
  const code = `const s = require('node:net').connect(process.argv[1]);
    s.on('data', (d) => process.stdout.write(d));
    s.on('error', (e) => process.stdout.write(JSON.stringify({ clientError: e.code }) + '\\n'));`;
  const nobody = spawnTracked(t, peerNode, ['-e', code, named], { uid: 65534, gid: 65534, cwd: '/' });
  const line = await nobody.out.waitLine(/^\{/).catch((e) => {
    throw new Error(`${e.message}\n${nobody.err.lines.join('\n')}`);
  });
  const answer = JSON.parse(line);
  assert.equal(answer.ok, false, line);
  assert.equal(answer.error, 'permission denied: uid 65534 is not the master\'s user (uid 0)');
  await nobody.exited;
  assert.equal((await ask(t, named, { request: 'status' })).status.stopping, false);
});

test('bad requests get error answers and the connection and the master carry on', async (t) => {
  const { socket } = await serving(t);
  const client = new Client(socket);
  t.after(() => client.close());
  const cases = [
    ['not json', /^not JSON/],
    ['{"req":"status"}', /a request is a JSON object with a "request" field/],
    ['{"request":"restart"}', /unknown request "restart": accepted are status, reload, stop, pause, resume, scale and upgrade/],
    ['{"request":"scale","workers":"two"}', /^invalid workers="two": expected a whole number from 1 to 1024$/],
    ['{"request":"scale","workers":0}', /^cannot scale to 0 workers: expected a whole number from 1 to 1024$/],
    ['{"request":"scale","workers":5000}', /^cannot scale to 5000 workers/],
  ];
  for (const [line, error] of cases) {
    const answer = await client.ask(line);
    assert.equal(answer.ok, false, line);
    assert.match(answer.error, error);
  }
  const { ok, status } = await client.ask({ request: 'status' });
  assert.equal(ok, true);
  assert.equal(status.slots, 1, 'nothing was scaled');
});

test('a line longer than 64 KiB is answered with an error and the connection closed', async (t) => {
  const { socket, master } = await serving(t);
  const client = new Client(socket);
  t.after(() => client.close());
  await client.connected;
  client.send('x'.repeat(70 * 1024));
  const answer = await client.answer(0);
  assert.equal(answer.error, 'request longer than 65536 bytes');
  await client.closed();
  assert.equal((await ask(t, socket, { request: 'status' })).status.pid, master.pid);
});

test('status: the master, its settings in force and each worker', async (t) => {
  const { master, socket, port } = await serving(t, { workers: 2, env: { MAX_KILL_TIMEOUT: '3s' } });
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { ok, status } = await ask(t, socket, { request: 'status' });
  assert.equal(ok, true);
  assert.equal(status.pid, master.pid);
  assert.equal(status.version, version);
  assert.ok(Number.isInteger(status.uptimeMs) && status.uptimeMs >= 0);
  assert.deepEqual(
    { generation: status.generation, reloading: status.reloading, paused: status.paused, stopping: status.stopping, slots: status.slots },
    { generation: 0, reloading: false, paused: false, stopping: false, slots: 2 },
  );
  assert.equal(status.controlSocket, socket);
  assert.equal(status.settings.workers, 2);
  assert.equal(status.settings.maxKillTimeout, 3000);
  assert.equal(status.settings.port, String(port));
  const listening = master.records('WORKER listening');
  assert.deepEqual(
    status.workers.map((w) => [w.pid, w.index, w.generation, w.state]),
    listening.map((w) => [w.pid, Number(w.index), 0, 'serving']).sort((a, b) => a[1] - b[1]),
  );
  for (const w of status.workers) {
    assert.ok(Number.isInteger(w.uptimeMs));
    assert.equal(w.rssBytes, null, 'not sampled during the warm-up');
    assert.equal(w.cpuPercent, null);
  }
});

test('status shows RSS and CPU from the last sample', async (t) => {
  const env = { MASTER_PROCESS_MONITOR_WARMUP: '0', MASTER_PROCESS_MONITOR_INTERVAL: '20ms' };
  const { socket } = await serving(t, { env });
  const client = new Client(socket);
  t.after(() => client.close());
  let worker;
  await pollUntil(async () => {
    [worker] = (await client.ask({ request: 'status' })).status.workers;
    return worker.rssBytes !== null;
  }, 'a first sample');
  assert.ok(worker.rssBytes > 1024 * 1024, `${worker.rssBytes} bytes`);
  assert.ok(worker.cpuPercent >= 0);
});

test('reload is answered once the new generation serves', async (t) => {
  const { master, socket } = await serving(t, { workers: 2 });
  const answer = await ask(t, socket, { request: 'reload' });
  assert.deepEqual(answer, { ok: true, reload: { generation: 1, outcome: 'done' } });
  await master.waitEvent('reload', (e) => e.generation === 1);
});

test('a reload that is rolled back is answered with ok false and the reason', async (t) => {
  const modeFile = path.join(tempDir(t), 'mode');
  fs.writeFileSync(modeFile, 'http');
  const { master, socket } = await serving(t, { env: { FIXTURE_MODE_FILE: modeFile } });
  fs.writeFileSync(modeFile, 'throw');
  const answer = await ask(t, socket, { request: 'reload' });
  assert.equal(answer.ok, false);
  assert.equal(answer.reload.generation, 1);
  assert.equal(answer.reload.outcome, 'rolled back');
  assert.match(answer.error, /^reload 1 failed and was rolled back: worker 0 \(pid \d+\) exited with code 1 before it was ready$/);
  await master.waitEvent('reload-failed', (e) => e.generation === 1);
});

test('pause and resume answer the monitoring state and signal no worker', async (t) => {
  const { master, socket } = await serving(t, { env: { FIXTURE_MODE: 'no-handler' } });
  const client = new Client(socket);
  t.after(() => client.close());
  assert.deepEqual(await client.ask({ request: 'pause' }), { ok: true, paused: true });
  assert.equal((await client.ask({ request: 'status' })).status.paused, true);
  assert.deepEqual(await client.ask({ request: 'pause' }), { ok: true, paused: true });
  assert.deepEqual(await client.ask({ request: 'resume' }), { ok: true, paused: false });
  assert.deepEqual(master.records('WORKER sigusr2'), []);
  assert.deepEqual(master.events('worker-exit'), [], 'a worker without a SIGUSR2 handler is still alive');
});

test('stop is answered, then the master stops cleanly, exits 0 and removes the socket', async (t) => {
  const { master, socket } = await serving(t, { workers: 2 });
  const client = new Client(socket);
  t.after(() => client.close());
  assert.deepEqual(await client.ask({ request: 'stop' }), { ok: true, stopping: true });
  const [stopping] = await master.waitEvent('stopping');
  assert.equal(stopping.reason, 'stop was asked on the control socket');
  await client.closed();
  assert.deepEqual(await master.exit, { code: 0, signal: null });
  assert.equal(fs.existsSync(socket), false);
});

test('SIGTTIN adds a slot and SIGTTOU removes one', async (t) => {
  const { master, socket } = await serving(t, { workers: 1 });
  master.signal('SIGTTIN');
  const [added] = await master.waitFor('WORKER listening', (w) => w.index === '1');
  assert.equal((await ask(t, socket, { request: 'status' })).status.slots, 2);
  master.signal('SIGTTOU');
  await master.waitEvent('worker-exit', (e) => e.pid === added.pid && e.expected);
  const { status } = await ask(t, socket, { request: 'status' });
  assert.equal(status.slots, 1);
  assert.deepEqual(status.workers.map((w) => w.index), [0]);
  master.signal('SIGTTOU');
  master.signal('SIGHUP');
  await master.waitEvent('reload');
  assert.equal((await ask(t, socket, { request: 'status' })).status.slots, 1, 'never below 1');
});

test('handle.status() returns the status answer\'s object', async (t) => {
  const { master, socket } = await serving(t, { fixture: 'handle-control.js', workers: 2 });
  master.child.stdin.write('status\n');
  const [fromHandle] = await master.waitFor('STATUS');
  const { status } = await ask(t, socket, { request: 'status' });
  assert.deepEqual(Object.keys(fromHandle), Object.keys(status));
  const stable = (s) => ({ ...s, uptimeMs: 0, workers: s.workers.map((w) => ({ ...w, uptimeMs: 0 })) });
  assert.deepEqual(stable(fromHandle), stable(status));
  assert.equal(master.records('MASTER')[0].controlSocket, socket);
});

test('handle.scale(n) scales and the scale event says when it is over', async (t) => {
  const { master } = await serving(t, { fixture: 'handle-control.js', workers: 1 });
  master.child.stdin.write('scale 3\n');
  const [scaled] = await master.waitEvent('scale');
  assert.equal(scaled.workers, 3);
  const listening = master.records('WORKER listening');
  assert.deepEqual(listening.map((w) => w.index).sort(), ['0', '1', '2']);
  master.child.stdin.write('status\n');
  const [status] = await master.waitFor('STATUS');
  assert.equal(status.slots, 3);
  assert.ok(status.workers.every((w) => w.state === 'serving'));
});

test('handle.scale(n) with a bad value throws ERR_INVALID_ARG_VALUE naming it', async (t) => {
  const { master } = await serving(t, { fixture: 'handle-control.js' });
  master.child.stdin.write('scale 0\nscale "many"\nscale 2.5\n');
  const errors = await master.waitFor('SCALE-ERROR', () => true, 3);
  assert.deepEqual(errors.map((e) => e.code), ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_VALUE']);
  assert.deepEqual(errors.map((e) => e.message), [
    'handle.scale(workers): invalid workers=0: expected a whole number from 1 to 1024',
    'handle.scale(workers): invalid workers=many: expected a whole number from 1 to 1024',
    'handle.scale(workers): invalid workers=2.5: expected a whole number from 1 to 1024',
  ]);
  assert.ok(master.records('WORKER listening').every((w) => !gone(w.pid)));
});

test('64 idle connections do not lock a client out: the one idle the longest is closed for it', async (t) => {
  const { socket, home, master } = await serving(t);
  const idle = [];
  for (let i = 0; i < 64; i++) {
    const client = new Client(socket);
    t.after(() => client.close());
    // Answered, so admitted (one past the limit would be told "busy" and closed), then idle.
    assert.equal((await client.ask({ request: 'status' })).ok, true, `connection ${i}`);
    idle.push(client);
  }
  const { code, stdout, stderr } = await cli(t, ['status', '--json'], home.env);
  assert.equal(code, 0, stderr);
  assert.equal(JSON.parse(stdout).pid, master.pid);
  await idle[0].closed();
  assert.equal(idle[1].ended, false, 'only one was closed for the newcomer');
  assert.equal((await idle[1].ask({ request: 'status' })).ok, true, 'the others still work');
});

test("the control threads' own log lines reach stderr: with DEBUG, the eviction of an idle connection is logged", async (t) => {
  const { socket, home, master } = await serving(t, { env: { DEBUG: 'master-process' } });
  for (let i = 0; i < 64; i++) {
    const client = new Client(socket);
    t.after(() => client.close());
    assert.equal((await client.ask({ request: 'status' })).ok, true, `connection ${i}`);
  }
  const { code, stderr } = await cli(t, ['status'], home.env);
  assert.equal(code, 0, stderr);
  await master.waitStderr(/ master-process control socket: closed the connection idle the longest$/);
});
