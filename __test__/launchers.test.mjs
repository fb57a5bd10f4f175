// Masters started by a package manager: `npm start` and `npx` run them through `sh -c` and,
// told to stop, signal only that shell (SIGTERM) or nothing (SIGHUP) before they exit. The
// master watches its launcher and stops cleanly once it is gone, instead of serving on as an
// orphan. Real npm and npx processes, on a throwaway package that runs the test fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, FIXTURES, freePort, get, tempDir } from './helpers.mjs';
import { gone, pollUntil, spawnTracked } from './ops-helpers.mjs';

const hasNpm = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !hasNpm && 'no npm on PATH';

/** A package whose `npm start` runs the fixture app (which calls init()), with the CLI as a local bin. */
function launchedPackage(t) {
  const dir = tempDir(t, 'mp-launched-');
  const start = `node ${JSON.stringify(path.join(FIXTURES, 'app.js'))}`;
  const manifest = { name: 'launched', version: '1.0.0', private: true, scripts: { start } };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  fs.mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  fs.symlinkSync(BIN, path.join(dir, 'node_modules', '.bin', 'master-process'));
  return dir;
}

/** Kill `pid` at the end of the test, whatever happened (the master and workers the output names). */
function killAfter(t, pid) {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
}

const env = (port) => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  PORT: String(port),
  WORKERS: '2',
  DEBUG: 'master-process',
  npm_config_update_notifier: 'false',
});

/** `KIND <json>` lines of `reader` matching `kind`, parsed, once `count` arrived; each pid killed at the end. */
async function records(t, reader, kind, count = 1) {
  const lines = await reader.waitLines(new RegExp(`^${kind} `), count);
  const parsed = lines.map((l) => JSON.parse(l.slice(kind.length + 1)));
  for (const r of parsed) killAfter(t, Number(r.pid));
  return parsed;
}

test('npm start: SIGTERM to npm stops the master and its workers cleanly', { skip }, async (t) => {
  const port = await freePort();
  const npm = spawnTracked(t, 'npm', ['start'], { cwd: launchedPackage(t), env: env(port) });
  const [{ pid: masterPid }] = await records(t, npm.out, 'MASTER');
  assert.notEqual(masterPid, npm.pid, 'npm runs the master as a child, through sh -c');
  const workers = await records(t, npm.out, 'WORKER listening', 2);
  await npm.err.waitLine(new RegExp(`stopping when its launcher \\(pid ${npm.pid}\\) or parent \\(pid \\d+\\) exits`));
  assert.equal((await get(port)).status, 200);

  process.kill(npm.pid, 'SIGTERM');
  const stopping = JSON.parse((await npm.out.waitLine(/^EVENT \{"event":"stopping"/)).slice(6));
  assert.equal(stopping.code, 0);
  assert.match(stopping.reason, new RegExp(`launcher \\(pid ${npm.pid}\\) exited`));
  const exits = await npm.out.waitLines(/^EVENT \{"event":"worker-exit"/, 2);
  assert.ok(exits.every((l) => JSON.parse(l.slice(6)).expected), exits.join('\n'));
  await npm.err.waitLine(/master-process all workers gone: exiting with code 0/);
  await pollUntil(() => gone(masterPid), `master ${masterPid} exits`);
  for (const { pid } of workers) assert.ok(gone(pid), `worker ${pid} is gone`);
});

test('npx: SIGHUP to npx (which npm does not pass on) stops the master instead of orphaning it', { skip }, async (t) => {
  const port = await freePort();
  const dir = launchedPackage(t);
  const npx = spawnTracked(t, 'npx', ['master-process', path.join(FIXTURES, 'plain-app.js')], { cwd: dir, env: env(port) });
  const listening = await records(t, npx.out, 'WORKER listening', 2);
  const masterPid = Number(listening[0].ppid);
  killAfter(t, masterPid);
  assert.notEqual(masterPid, npx.pid);
  await npx.err.waitLine(/started by a package manager/);

  process.kill(npx.pid, 'SIGHUP');
  await npx.err.waitLine(new RegExp(`stopping \\(its launcher \\(pid ${npx.pid}\\) exited\\)`));
  await pollUntil(() => gone(masterPid), `master ${masterPid} exits`);
  for (const { pid } of listening) assert.ok(gone(pid), `worker ${pid} is gone`);
});

test('a master no package manager started outlives its parent, as in 4.x', async (t) => {
  const port = await freePort();
  // A shell that starts the master in the background and exits at once: the 4.x way to daemonize.
  const app = JSON.stringify(path.join(FIXTURES, 'app.js'));
  const command = `${JSON.stringify(process.execPath)} ${app} &`;
  const shell = spawnTracked(t, 'sh', ['-c', command], { env: { ...env(port), WORKERS: '1' } });
  const [{ pid: masterPid }] = await records(t, shell.out, 'MASTER');
  await records(t, shell.out, 'WORKER listening');
  await shell.exited;
  // Its parent is gone; after a whole reload (the launcher watch, were it on, looks every
  // 200 ms) it still serves, and it never said it watches a launcher.
  process.kill(masterPid, 'SIGHUP');
  await shell.out.waitLine(/^EVENT \{"event":"reload"/);
  assert.equal((await get(port)).status, 200);
  assert.ok(!gone(masterPid));
  assert.ok(!shell.out.lines.some((l) => l.startsWith('EVENT {"event":"stopping"')));
  assert.ok(!shell.err.lines.some((l) => /started by a package manager/.test(l)), shell.err.lines.join('\n'));
});
