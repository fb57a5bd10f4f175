// The command line running an app: `master-process [options] <app> [args...]` puts the
// master in its own process and the app in the workers, with flags as the settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startCli, freePort, get, tempDir, FIXTURES, ROOT } from './helpers.mjs';
import { controlHome, ask, socketReady, cli } from './control-helpers.mjs';

const PLAIN = path.join(FIXTURES, 'plain-app.js');
const { settings } = createRequire(import.meta.url)('../lib/master/native.js');

/** The command on the plain app with `args` before it; its control socket's status. */
async function running(t, args, { env = {}, workers = 1 } = {}) {
  const home = controlHome(t);
  const port = await freePort();
  const master = startCli(t, [...args, PLAIN], { env: { PORT: String(port), ...home.env, ...env } });
  await master.waitFor('WORKER listening', () => true, workers);
  const socket = await socketReady(master, home.socketOf(master.pid));
  return { master, port, socket, home };
}

test('--help lists every setting flag, the commands and the exit codes', async (t) => {
  const { code, stdout } = await cli(t, ['--help']);
  assert.equal(code, 0);
  for (const setting of settings()) {
    assert.ok(stdout.includes(setting.flag), `${setting.flag} is documented`);
    for (const name of setting.env) assert.ok(stdout.includes(name), `${name} is named`);
  }
  for (const word of ['-w, --workers', '-p, --port', 'WEB_CONCURRENCY', '--version', 'status [--json]', 'reload', 'stop', 'scale N', 'pause, resume', '--pid PID', '--socket PATH', 'Exit codes', '78']) {
    assert.ok(stdout.includes(word), `the help mentions ${word}`);
  }
});

test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { code, stdout } = await cli(t, ['--version']);
  assert.equal(code, 0);
  assert.equal(stdout, version);
});

test('an app that never calls init() is served by workers of the command, reloads and stops', async (t) => {
  const { master, port } = await running(t, ['-w', '2'], { workers: 2 });
  const workers = master.records('WORKER listening');
  for (const w of workers) assert.equal(w.ppid, String(master.pid), 'the command is the master');
  assert.deepEqual(workers.map((w) => w.index).sort(), ['0', '1']);
  const { json } = await get(port);
  assert.ok(workers.some((w) => w.pid === json.pid));
  master.signal('SIGHUP');
  await master.waitFor('WORKER listening', (w) => w.reload === '1', 2);
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('arguments after the app are the app\'s, and -- ends the options', async (t) => {
  const home = controlHome(t);
  const port = await freePort();
  const master = startCli(t, ['-w', '1', '--', PLAIN, '--workers', '3', 'status'], {
    env: { PORT: String(port), ...home.env },
  });
  const [worker] = await master.waitFor('WORKER listening');
  assert.deepEqual(worker.argv, ['--workers', '3', 'status']);
  const answer = await ask(t, await socketReady(master, home.socketOf(master.pid)), { request: 'status' });
  assert.equal(answer.status.slots, 1);
});

test('a flag wins over the environment variable', async (t) => {
  const { socket } = await running(t, ['--workers', '2', '--max-kill-timeout=2s'], {
    env: { WORKERS: '3', MAX_KILL_TIMEOUT: '9s' },
    workers: 2,
  });
  const { status } = await ask(t, socket, { request: 'status' });
  assert.equal(status.slots, 2);
  assert.equal(status.settings.maxKillTimeout, 2000);
});

test('WEB_CONCURRENCY sets the workers when neither WORKERS nor --workers is given', async (t) => {
  const { socket } = await running(t, [], { env: { WEB_CONCURRENCY: '2' }, workers: 2 });
  assert.equal((await ask(t, socket, { request: 'status' })).status.settings.workers, 2);
});

test('WORKERS wins over WEB_CONCURRENCY', async (t) => {
  const { socket } = await running(t, [], { env: { WORKERS: '1', WEB_CONCURRENCY: '3' } });
  assert.equal((await ask(t, socket, { request: 'status' })).status.slots, 1);
});

test('a bad flag value stops the master with exit 78, naming the flag, the value and what is accepted', async (t) => {
  const master = startCli(t, ['--max-kill-timeout', 'soon', PLAIN], { env: { PORT: String(await freePort()) } });
  assert.deepEqual(await master.exit, { code: 78, signal: null });
  await master.closed;
  assert.deepEqual(master.stderrLines, [
    'master-process: invalid --max-kill-timeout="soon": expected a duration from 0 ms to 1 hour, such as 500, 500ms, 5s, 2 minutes',
  ]);
  assert.deepEqual(master.records('WORKER listening'), [], 'no worker was forked');
});

test('a bad short flag value is named by its long flag', async (t) => {
  const master = startCli(t, ['-w', 'lots', PLAIN], { env: { PORT: String(await freePort()) } });
  assert.equal((await master.exit).code, 78);
  await master.closed;
  assert.match(master.stderrLines.join('\n'), /invalid --workers="lots": expected a whole number from 1 to 1024, AUTO or MAX/);
});

test('an unknown option exits 64 naming it', async (t) => {
  const { code, stderr } = await cli(t, ['--wrokers', '2', PLAIN]);
  assert.equal(code, 64);
  assert.equal(stderr, 'master-process: unknown option --wrokers (see --help)');
});

test('an option without its value exits 64', async (t) => {
  const { code, stderr } = await cli(t, ['--port']);
  assert.equal(code, 64);
  assert.equal(stderr, 'master-process: --port needs a value (see --help)');
});

test('no app exits 64 with the usage', async (t) => {
  const { code, stderr } = await cli(t, []);
  assert.equal(code, 64);
  assert.match(stderr, /no app given/);
});

test('an app file that does not exist exits 64 naming it', async (t) => {
  const { code, stderr } = await cli(t, ['missing-app.js']);
  assert.equal(code, 64);
  assert.match(stderr, /cannot find the app "missing-app.js"/);
});

test('an app that calls init() itself runs under the command\'s master alone', async (t) => {
  const home = controlHome(t);
  const port = await freePort();
  const master = startCli(t, ['-w', '2', path.join(FIXTURES, 'app.js')], { env: { PORT: String(port), ...home.env } });
  const workers = await master.waitFor('WORKER listening', () => true, 2);
  for (const w of workers) assert.equal(w.ppid, String(master.pid));
  const { status } = await ask(t, await socketReady(master, home.socketOf(master.pid)), { request: 'status' });
  assert.equal(status.pid, master.pid);
  assert.deepEqual(status.workers.map((w) => w.pid).sort(), workers.map((w) => w.pid).sort());
  assert.deepEqual(master.records('MASTER'), [], 'the app\'s own primary branch never ran');
  assert.deepEqual(fs.readdirSync(home.dir), [`${master.pid}.sock`], 'one master, one socket');
});

test('an app file named like a command runs when given as a path', async (t) => {
  const dir = tempDir(t);
  fs.copyFileSync(PLAIN, path.join(dir, 'status'));
  const home = controlHome(t);
  const master = startCli(t, ['./status'], { cwd: dir, env: { PORT: String(await freePort()), ...home.env } });
  const [worker] = await master.waitFor('WORKER listening');
  assert.equal(worker.ppid, String(master.pid));
});

test('the exit code is the master\'s: 70 when the app keeps crashing at start', async (t) => {
  const master = startCli(t, ['--max-crashes', '2', '--worker-throttle', '0', PLAIN], {
    env: { PORT: String(await freePort()), FIXTURE_MODE: 'throw', ...controlHome(t).env },
  });
  assert.deepEqual(await master.exit, { code: 70, signal: null });
});
