// The module compile cache of workers (NODE_COMPILE_CACHE, Node 22.1 and later): on by
// default in a per-user folder made 0700, a user's own NODE_COMPILE_CACHE wins, a setting
// turns it off or names the folder, a folder that cannot be used is logged once and workers
// start without it, and a retiring worker writes what it compiled. On Node 20 nothing changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodeModule from 'node:module';
import path from 'node:path';
import { startMaster, freePort, get, tempDir } from './helpers.mjs';

/** Where the master puts the compile cache by default when TMPDIR is `tmp`. */
const defaultFolder = (tmp) => path.join(tmp, `master-process-${process.getuid()}`, 'compile-cache');

const [major, minor] = process.versions.node.split('.').map(Number);
const HAS_CACHE = major > 22 || (major === 22 && minor >= 1);
const HAS_DIR_API = typeof nodeModule.getCompileCacheDir === 'function';
const HAS_FLUSH = typeof nodeModule.flushCompileCache === 'function';
const NO_CACHE = !HAS_CACHE && `Node ${process.version} has no module compile cache`;
const UID = process.getuid();

const mode = (folder) => fs.statSync(folder).mode & 0o777;

/** Start the reporting fixture with `env`; resolves with the master and the first worker's record. */
async function start(t, env) {
  const port = await freePort();
  const master = startMaster(t, { fixture: 'compile-cache-report.js', env: { PORT: String(port), ...env } });
  const [seen] = await master.waitFor('WORKER cache');
  await master.waitFor('WORKER listening');
  return { master, seen, port };
}

/** The worker uses `folder`: in its environment, and (where Node tells) as its cache. */
function assertUses(seen, folder) {
  assert.equal(seen.env, folder);
  if (HAS_DIR_API) {
    assert.ok(seen.dir?.startsWith(`${folder}${path.sep}`), `Node's folder ${seen.dir} is in ${folder}`);
  }
}

async function stop(master) {
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0, master.transcript());
}

test('by default a worker compiles with the cache in a 0700 per-user folder in the temp folder', { skip: NO_CACHE }, async (t) => {
  const tmp = tempDir(t);
  const { master, seen } = await start(t, { TMPDIR: tmp });
  const owned = path.join(tmp, `master-process-${UID}`);
  assertUses(seen, path.join(owned, 'compile-cache'));
  assert.equal(mode(owned), 0o700);
  assert.equal(mode(path.join(owned, 'compile-cache')), 0o700);
  await stop(master);
});

test('with XDG_CACHE_HOME the default folder is in it', { skip: NO_CACHE }, async (t) => {
  const cacheHome = path.join(tempDir(t), 'cache-home');
  const { master, seen } = await start(t, { XDG_CACHE_HOME: cacheHome });
  assertUses(seen, path.join(cacheHome, 'master-process', 'compile-cache'));
  await stop(master);
});

test("the user's own NODE_COMPILE_CACHE wins, and the master makes no folder", { skip: NO_CACHE }, async (t) => {
  const tmp = tempDir(t);
  const mine = path.join(tmp, 'mine');
  const { master, seen } = await start(t, { TMPDIR: tmp, NODE_COMPILE_CACHE: mine });
  assertUses(seen, mine);
  assert.equal(fs.existsSync(defaultFolder(tmp)), false, 'no compile cache folder was made');
  await stop(master);
});

test('init({ compileCache: folder }) puts the cache in that folder', { skip: NO_CACHE }, async (t) => {
  const folder = path.join(tempDir(t), 'app-cache');
  const { master, seen } = await start(t, { FIXTURE_OPTIONS: JSON.stringify({ compileCache: folder }) });
  assertUses(seen, folder);
  assert.equal(mode(folder), 0o700);
  await stop(master);
});

test('MASTER_PROCESS_COMPILE_CACHE=off: workers get no cache from the master', async (t) => {
  const tmp = tempDir(t);
  const { master, seen } = await start(t, { TMPDIR: tmp, MASTER_PROCESS_COMPILE_CACHE: 'off' });
  assert.equal(seen.env, null);
  assert.equal(seen.dir, null);
  assert.equal(fs.existsSync(defaultFolder(tmp)), false, 'no compile cache folder was made');
  await stop(master);
});

test('a folder that cannot be made is logged once; workers start and reload without the cache', { skip: NO_CACHE }, async (t) => {
  const file = path.join(tempDir(t), 'a-file');
  fs.writeFileSync(file, 'not a folder');
  const folder = path.join(file, 'cache');
  const { master, seen, port } = await start(t, { WORKERS: '2', MASTER_PROCESS_COMPILE_CACHE: folder });
  assert.equal(seen.env, null);
  assert.equal(seen.dir, null);
  assert.equal((await get(port)).status, 200);
  master.signal('SIGHUP');
  await master.waitEvent('reload');
  const lines = master.stderrLines.filter((l) => l.includes('compile cache'));
  assert.equal(lines.length, 1, master.transcript());
  assert.match(lines[0], /^master-process: cannot use .*a-file\/cache for the compile cache: .*a-file is not a folder; workers start without it/);
  await stop(master);
});

test('a folder that other users may write to is refused', { skip: NO_CACHE }, async (t) => {
  const folder = path.join(tempDir(t), 'open');
  fs.mkdirSync(folder);
  fs.chmodSync(folder, 0o777);
  const { master, seen } = await start(t, { MASTER_PROCESS_COMPILE_CACHE: folder });
  assert.equal(seen.env, null);
  await master.waitStderr(/can be written by other users \(mode 777\)/);
  await stop(master);
});

test('on a Node without the cache, workers get no folder and none is made', { skip: HAS_CACHE && `Node ${process.version} has the cache` }, async (t) => {
  const tmp = tempDir(t);
  const { master, seen } = await start(t, { TMPDIR: tmp });
  assert.equal(seen.env, null);
  assert.equal(fs.existsSync(defaultFolder(tmp)), false, 'no compile cache folder was made');
  await stop(master);
});

/** Node's own report (NODE_DEBUG_NATIVE=COMPILE_CACHE) of writing the cache of `file`. */
const wrote = (file) => new RegExp(`writing cache for (CommonJS )?\\S*${file.replace('.', '\\.')} to temporary file .*success`);
const DEBUG = { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };

test('once the first generation serves, a worker writes what it compiled to the cache, with no reload', { skip: !HAS_FLUSH && `Node ${process.version} has no module.flushCompileCache()` }, async (t) => {
  const folder = path.join(tempDir(t), 'cache');
  const { master } = await start(t, { MASTER_PROCESS_COMPILE_CACHE: folder, ...DEBUG });
  await master.waitStderr(wrote('compile-cache-report.js'));
  assert.equal(master.events('reload').length, 0);
  await stop(master);
});

test('a retiring worker without a SIGTERM handler writes what it compiled since', { skip: !HAS_FLUSH && `Node ${process.version} has no module.flushCompileCache()` }, async (t) => {
  const folder = path.join(tempDir(t), 'cache');
  // A mode the fixture does not know: a plain server, no SIGTERM handler, so the signal ends
  // the worker and Node's own write at exit never happens.
  const env = { MASTER_PROCESS_COMPILE_CACHE: folder, FIXTURE_MODE: 'no-sigterm-handler', FIXTURE_LATE_REQUIRE: '1', ...DEBUG };
  const { master, seen } = await start(t, env);
  await master.waitStderr(wrote('compile-cache-report.js'));
  process.kill(seen.pid, 'SIGUSR1');
  await master.waitFor('WORKER late', (w) => w.pid === seen.pid);
  master.signal('SIGHUP');
  await master.waitStderr(wrote('late-module.js'));
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === seen.pid);
  assert.equal(exit.signal, 'SIGTERM');
  await stop(master);
});
