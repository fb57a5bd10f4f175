// PORT as a unix socket path: what is cleared at start, what is refused, the 664 mode, and
// the removal on exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, tempDir, get } from './helpers.mjs';
import { connects, holdSocket, mode, staleSocket } from './ops-helpers.mjs';

const EX_CONFIG = 78;

/** Start a master on `sock` and wait until its worker answers there. */
async function serving(t, sock, env = {}) {
  const master = startMaster(t, { env: { PORT: sock, ...env } });
  const [worker] = await master.waitFor('WORKER listening');
  await master.waitEvent('worker-listening', (e) => e.pid === worker.pid);
  const { status, json } = await get(sock);
  assert.equal(status, 200);
  assert.equal(json.pid, worker.pid);
  return { master, worker };
}

/** Start a master on `sock` that must refuse the path: exit 78, one stderr line naming it. */
async function refused(t, sock) {
  const master = startMaster(t, { env: { PORT: sock } });
  const { code } = await master.exit;
  await master.closed;
  assert.equal(code, EX_CONFIG, master.transcript());
  assert.equal(master.stderrLines.length, 1, master.transcript());
  const [line] = master.stderrLines;
  assert.match(line, /PORT/);
  assert.ok(line.includes(sock), `stderr names the path: ${line}`);
  assert.deepEqual(master.records('WORKER'), [], 'no worker was forked');
  return line;
}

test('a stale socket at PORT is removed and the master serves on the path', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  await staleSocket(t, sock);
  assert.equal(await connects(sock), false, 'the socket is stale before the master starts');
  await serving(t, sock);
  assert.ok(fs.lstatSync(sock).isSocket());
});

test('an empty regular file at PORT is removed and the master serves on the path', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  fs.writeFileSync(sock, '');
  await serving(t, sock);
  assert.ok(fs.lstatSync(sock).isSocket());
});

test('the socket is chmod 664 once a worker binds it', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  await serving(t, sock);
  assert.equal(mode(sock).toString(8), '664');
});

test('the socket is chmod 664 again when a crashed worker is replaced', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  const { master, worker } = await serving(t, sock);
  assert.equal(mode(sock).toString(8), '664');
  fs.chmodSync(sock, 0o600);
  assert.equal(mode(sock).toString(8), '600');
  process.kill(worker.pid, 'SIGKILL');
  const [next] = await master.waitFor('WORKER listening', (w) => w.pid !== worker.pid);
  await master.waitEvent('worker-listening', (e) => e.pid === next.pid);
  assert.equal(mode(sock).toString(8), '664');
  assert.equal((await get(sock)).json.pid, next.pid);
});

test('the socket is removed when the master exits on SIGTERM', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  const { master } = await serving(t, sock);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0);
  assert.equal(fs.existsSync(sock), false);
  assert.throws(() => fs.lstatSync(sock), { code: 'ENOENT' });
});

test('a non-empty regular file at PORT is kept and the master exits 78', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  fs.writeFileSync(sock, 'precious data\n');
  const line = await refused(t, sock);
  assert.match(line, /regular file/);
  assert.equal(fs.readFileSync(sock, 'utf8'), 'precious data\n');
});

test('a directory at PORT is kept and the master exits 78', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  fs.mkdirSync(sock);
  fs.writeFileSync(path.join(sock, 'inside'), 'kept');
  const line = await refused(t, sock);
  assert.match(line, /directory/);
  assert.ok(fs.lstatSync(sock).isDirectory());
  assert.equal(fs.readFileSync(path.join(sock, 'inside'), 'utf8'), 'kept');
});

test('a symlink at PORT is kept (and its target too) and the master exits 78', async (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'target');
  const sock = path.join(dir, 'app.sock');
  // An empty file behind the link: following the link would make it look removable.
  fs.writeFileSync(target, '');
  fs.symlinkSync(target, sock);
  const line = await refused(t, sock);
  assert.match(line, /symbolic link/);
  assert.ok(fs.lstatSync(sock).isSymbolicLink());
  assert.equal(fs.readlinkSync(sock), target);
  assert.ok(fs.lstatSync(target).isFile());
});

test('a socket another process is listening on is refused and left working', async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  const holder = await holdSocket(t, sock);
  const line = await refused(t, sock);
  assert.match(line, /listening/);
  assert.equal(holder.exitCode, null, 'the other process still runs');
  assert.ok(fs.lstatSync(sock).isSocket());
  assert.equal(await connects(sock), true, 'the other process still answers on its socket');
});
