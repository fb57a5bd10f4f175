// Whom the command line believes: a control socket counts as a master's only in a folder
// that is a real directory of this user that nobody else may enter, owned by this user, with
// a listener of this user (or root) whose pid is the one the file is named after. Anything
// else is refused (exit 77), naming the path, its owner and mode, and never followed. And a
// master whose default folder another user holds takes a private one the command finds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir, FIXTURES } from './helpers.mjs';
import { spawnTracked, holdSocket, mode } from './ops-helpers.mjs';
import { controlHome, socketReady, cli } from './control-helpers.mjs';

const EX_NOPERM = 77;
const STRANGER = 65534;

/** A master on app.js in `home`, its worker listening, and its control socket. */
async function serving(t, home, { socketOf = home.socketOf } = {}) {
  const master = startMaster(t, { env: { PORT: String(await freePort()), ...home.env } });
  await master.waitEvent('worker-listening');
  const socket = await socketReady(master, socketOf(master.pid));
  return { master, socket };
}

function strangerSkip() {
  if (process.getuid() !== 0) return 'needs root to run a process as another uid';
  return false;
}

/** Whether uid `STRANGER` (in no group of ours) may reach `file`: every folder above it, and it. */
function reachableByStranger(file) {
  for (let p = file; ; p = path.dirname(p)) {
    if ((fs.statSync(p).mode & 0o001) === 0) return false;
    if (p === path.dirname(p)) return true;
  }
}

/**
 * A Node binary and the stranger's script that uid `STRANGER` can run. The test's own Node
 * may sit in a folder only root may enter (CI installs the newest Node under root's 0700
 * home): then both are copied into a temp folder open to everyone.
 */
function strangerKit(t) {
  const script = path.join(FIXTURES, 'stranger-control.js');
  if (reachableByStranger(process.execPath) && reachableByStranger(script)) return { node: process.execPath, script };
  const dir = tempDir(t, 'mp-stranger-');
  fs.chmodSync(dir, 0o755);
  assert.ok(reachableByStranger(dir), `uid ${STRANGER} cannot enter ${dir}: set TMPDIR to a folder open to all`);
  const kit = { node: path.join(dir, 'node'), script: path.join(dir, 'stranger-control.js') };
  fs.copyFileSync(process.execPath, kit.node);
  fs.chmodSync(kit.node, 0o755);
  fs.copyFileSync(script, kit.script);
  fs.chmodSync(kit.script, 0o644);
  return kit;
}

/**
 * Another user (uid 65534) listening at `socketPath` with made-up answers, creating its
 * folder (mode 0755) when missing. The folder's parent must let that user in.
 */
async function stranger(t, socketPath) {
  const { node, script } = strangerKit(t);
  const child = spawnTracked(t, node, [script, socketPath], { uid: STRANGER, gid: STRANGER, cwd: '/' });
  await child.out.waitLine(/^LISTENING$/).catch(async (e) => {
    const { error } = await child.exited;
    throw new Error(`${e.message}${error ? ` (${error.message})` : ''}\n${child.err.lines.join('\n')}`);
  });
  return child;
}

/** A home whose temp directory is world-writable and sticky, as /tmp is. */
function sharedTmp(t) {
  const home = controlHome(t, { xdg: false });
  fs.chmodSync(home.env.TMPDIR, 0o1777);
  return home;
}

test('a stranger holding the default folder is refused: status and reload exit 77 naming the folder, its owner and mode', { skip: strangerSkip() }, async (t) => {
  const home = sharedTmp(t);
  await stranger(t, path.join(home.dir, '78.sock'));
  assert.equal(fs.statSync(home.dir).uid, STRANGER);
  for (const command of ['status', 'reload']) {
    const { code, stdout, stderr } = await cli(t, [command], home.env);
    assert.equal(code, EX_NOPERM, `${command}: ${stdout}\n${stderr}`);
    assert.equal(stdout, '', `${command} printed nothing the stranger made up`);
    assert.ok(stderr.includes(`refused ${home.dir}: a directory owned by uid ${STRANGER} with mode 0755`), stderr);
    assert.match(stderr, /no master of this user can be trusted/);
  }
  const byPid = await cli(t, ['reload', '--pid', '78'], home.env);
  assert.equal(byPid.code, EX_NOPERM, byPid.stderr);
  assert.ok(byPid.stderr.includes(`refused ${home.dir}: a directory owned by uid ${STRANGER}`), byPid.stderr);
});

test('a master whose default folder a stranger holds uses a private one, which the command finds', { skip: strangerSkip() }, async (t) => {
  const home = sharedTmp(t);
  const squatted = path.join(home.dir, '78.sock');
  await stranger(t, squatted);
  const master = startMaster(t, { env: { PORT: String(await freePort()), ...home.env } });
  const [listening] = await master.waitEvent('worker-listening');
  assert.ok(listening);
  const { code, stdout, stderr } = await cli(t, ['status', '--json'], home.env);
  assert.equal(code, 0, stderr);
  const status = JSON.parse(stdout);
  assert.equal(status.pid, master.pid, 'the real master answered');
  const privateDir = path.dirname(status.controlSocket);
  assert.match(path.basename(privateDir), new RegExp(`^master-process-${process.getuid()}-[0-9a-f]+$`));
  assert.equal(path.dirname(privateDir), home.env.TMPDIR);
  assert.equal(fs.statSync(privateDir).uid, process.getuid());
  assert.equal(mode(privateDir), 0o700);
  assert.ok(stderr.includes(`refused ${home.dir}: a directory owned by uid ${STRANGER}`), `the squat is reported: ${stderr}`);
  assert.ok(
    master.stderrLines.some((l) => l.includes(home.dir) && l.includes(privateDir)),
    `the master says where it went instead: ${master.stderrLines.join('\n')}`,
  );
  const reload = await cli(t, ['reload'], home.env);
  assert.deepEqual([reload.code, reload.stdout], [0, 'reload 1 done']);
  await master.waitEvent('reload', (e) => e.generation === 1);
  // A second master reuses the private folder rather than making another.
  const second = startMaster(t, { env: { PORT: String(await freePort()), ...home.env } });
  await socketReady(second, path.join(privateDir, `${second.pid}.sock`));
});

test('--socket and MASTER_PROCESS_CONTROL_SOCKET get the same checks: another owner, then another peer, exit 77', { skip: strangerSkip() }, async (t) => {
  const shared = tempDir(t);
  fs.chmodSync(shared, 0o1777);
  const socket = path.join(shared, 'control.sock');
  await stranger(t, socket);
  const byOwner = await cli(t, ['reload', '--socket', socket]);
  assert.equal(byOwner.code, EX_NOPERM, byOwner.stdout);
  assert.equal(byOwner.stdout, '');
  assert.ok(byOwner.stderr.includes(`refused ${socket}: a socket owned by uid ${STRANGER} with mode 0777`), byOwner.stderr);
  // The file made ours: the listener's own credentials still give it away.
  fs.chownSync(socket, process.getuid(), process.getgid());
  for (const [args, env] of [[['reload', '--socket', socket], {}], [['reload'], { MASTER_PROCESS_CONTROL_SOCKET: socket }]]) {
    const { code, stdout, stderr } = await cli(t, args, env);
    assert.equal(code, EX_NOPERM, stdout);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`refused ${socket}: the process listening there is uid ${STRANGER} \\(pid \\d+\\)`));
  }
});

test('a listener whose pid is not the one its file names is refused, found or named by --pid', async (t) => {
  const home = controlHome(t);
  fs.mkdirSync(home.dir, { mode: 0o700 });
  const holder = await holdSocket(t, path.join(home.dir, '999999.sock'));
  const found = await cli(t, ['status'], home.env);
  assert.equal(found.code, EX_NOPERM, found.stdout);
  assert.ok(found.stderr.includes(`refused ${home.socketOf(999999)}: the process listening there is pid ${holder.pid}, not 999999`), found.stderr);
  const named = await cli(t, ['stop', '--pid', '999999'], home.env);
  assert.equal(named.code, EX_NOPERM);
  assert.ok(named.stderr.includes(`pid ${holder.pid}, not 999999`), named.stderr);
});

test('a folder group or others may enter is refused, even one of this user with a real master in it', async (t) => {
  const home = controlHome(t);
  const { master } = await serving(t, home);
  fs.chmodSync(home.dir, 0o750);
  const { code, stdout, stderr } = await cli(t, ['status'], home.env);
  assert.equal(code, EX_NOPERM, stdout);
  assert.ok(stderr.includes(`refused ${home.dir}: a directory owned by uid ${process.getuid()} with mode 0750`), stderr);
  fs.chmodSync(home.dir, 0o700);
  assert.equal(JSON.parse((await cli(t, ['status', '--json'], home.env)).stdout).pid, master.pid);
});

test('a folder that is a symlink is never followed, even to a real master', async (t) => {
  const home = controlHome(t);
  await serving(t, home);
  const runtime = tempDir(t, 'mp-xdg-link-');
  fs.symlinkSync(home.dir, path.join(runtime, 'master-process'));
  const env = { TMPDIR: tempDir(t, 'mp-tmp-'), XDG_RUNTIME_DIR: runtime };
  const { code, stdout, stderr } = await cli(t, ['status'], env);
  assert.equal(code, EX_NOPERM, stdout);
  assert.ok(stderr.includes(`refused ${path.join(runtime, 'master-process')}: a symlink owned by uid ${process.getuid()}`), stderr);
});

test('a socket path that is a symlink is never followed, even to a real master', async (t) => {
  const home = controlHome(t);
  const { socket } = await serving(t, home);
  const link = path.join(tempDir(t), 'link.sock');
  fs.symlinkSync(socket, link);
  const { code, stdout, stderr } = await cli(t, ['status', '--socket', link]);
  assert.equal(code, EX_NOPERM, stdout);
  assert.ok(stderr.includes(`refused ${link}: a symlink owned by uid ${process.getuid()}`), stderr);
});
