// SIGHUP reload: a new generation per WORKER_INDEX, old workers retired only once their
// replacement listens, user SIGHUP listeners left working, handle.reload() as SIGHUP.
//
// Ordering: workers inherit the master's stdout, so every `KIND <json>` line of the master and
// of its workers goes through one pipe; each line is one small write (atomic below PIPE_BUF)
// and stdout on a pipe is synchronous on Linux. A worker writes `WORKER listening` in its
// listen callback, which Node runs before cluster tells the primary that the worker listens;
// the master retires an old worker only after that message, and writes `EVENT worker-exit`
// only after the old worker died. So when the master behaves, the pipe order is
// `WORKER listening` (new) < `EVENT worker-listening` (new) < `EVENT worker-exit` (old).
// Nothing orders lines of unrelated processes, and the tests rely on nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startMaster, freePort, get, tempDir, alive } from './helpers.mjs';

const WORKERS = 2;

/** Position in the output of the first `kind` record matching `filter`, or -1. */
function position(master, kind, filter) {
  return master.lines.findIndex((text) => {
    if (!text.startsWith(`${kind} `)) return false;
    const at = text.indexOf(' {');
    return at >= 0 && filter(JSON.parse(text.slice(at + 1)));
  });
}

/** A master with WORKERS workers of generation 0 listening. */
async function serving(t, { env = {}, fixture, cwd } = {}) {
  const port = await freePort();
  const master = startMaster(t, {
    fixture,
    cwd,
    env: { PORT: String(port), WORKERS: String(WORKERS), ...env },
  });
  const workers = await master.waitFor('WORKER listening', (w) => w.reload === '0', WORKERS);
  return { master, port, workers };
}

/** Wait for reload `generation` to be done and every worker of an older one to have exited. */
async function reloaded(master, generation) {
  await master.waitEvent('reload', (e) => e.generation === generation);
  const older = master.records('WORKER listening').filter((w) => Number(w.reload) < generation);
  const pids = new Set(older.map((w) => w.pid));
  await master.waitEvent('worker-exit', (e) => pids.has(e.pid), pids.size);
  return older;
}

test('SIGHUP forks generation 1 for every WORKER_INDEX', async (t) => {
  const { master } = await serving(t);
  master.signal('SIGHUP');
  const fresh = await master.waitFor('WORKER listening', (w) => w.reload === '1', WORKERS);
  assert.deepEqual(fresh.map((w) => w.index).sort(), ['0', '1']);
  for (const worker of fresh) assert.equal(worker.ppid, String(master.pid));
  await reloaded(master, 1);
  const forked = master.records('WORKER log-line-from-worker').filter((w) => w.reload === '1');
  assert.equal(forked.length, WORKERS, 'one new worker per WORKER_INDEX, no more');
});

test('on SIGHUP each old worker exits only after the new worker of its WORKER_INDEX listens', async (t) => {
  const { master, workers: old } = await serving(t);
  master.signal('SIGHUP');
  await reloaded(master, 1);
  for (const worker of old) {
    const index = worker.index;
    const listened = position(master, 'WORKER listening', (w) => w.reload === '1' && w.index === index);
    const announced = position(
      master,
      'EVENT',
      (e) => e.event === 'worker-listening' && e.generation === 1 && e.index === Number(index),
    );
    const termed = position(master, 'WORKER sigterm', (w) => w.pid === worker.pid);
    const exited = position(master, 'EVENT', (e) => e.event === 'worker-exit' && e.pid === worker.pid);
    const where = `index ${index}: new listening at ${listened}, announced at ${announced}, `
      + `old sigterm at ${termed}, old exit at ${exited}\n${master.transcript()}`;
    assert.ok(listened >= 0 && announced >= 0, where);
    assert.ok(exited > listened && exited > announced, `old worker exited before its replacement listened; ${where}`);
    assert.ok(termed > listened, `old worker got SIGTERM before its replacement listened; ${where}`);
    const [exit] = master.events('worker-exit').filter((e) => e.pid === worker.pid);
    assert.equal(exit.expected, true);
    assert.equal(exit.code, 0);
  }
});

test('the reload event fires with generation 1 once the new generation listens', async (t) => {
  const { master } = await serving(t);
  master.signal('SIGHUP');
  const [reload] = await master.waitEvent('reload');
  assert.equal(reload.generation, 1);
  const done = position(master, 'EVENT', (e) => e.event === 'reload');
  for (let index = 0; index < WORKERS; index++) {
    const listened = position(
      master,
      'EVENT',
      (e) => e.event === 'worker-listening' && e.generation === 1 && e.index === index,
    );
    assert.ok(listened >= 0 && listened < done, `worker ${index} of generation 1 listened after the reload event`);
  }
  await reloaded(master, 1);
  assert.deepEqual(master.events('reload').map((e) => e.generation), [1]);
});

test('after a reload, HTTP is answered by the new generation', async (t) => {
  const { master, port } = await serving(t);
  master.signal('SIGHUP');
  await reloaded(master, 1);
  const fresh = new Set(master.records('WORKER listening').filter((w) => w.reload === '1').map((w) => w.pid));
  for (let i = 0; i < 2 * WORKERS; i++) {
    const { status, json } = await get(port);
    assert.equal(status, 200);
    assert.equal(json.reload, '1');
    assert.ok(fresh.has(json.pid), `answered by pid ${json.pid}, not a generation 1 worker`);
  }
});

test('a second SIGHUP retires generation 1 and leaves only generation 2', async (t) => {
  const { master, port } = await serving(t);
  master.signal('SIGHUP');
  await reloaded(master, 1);
  master.signal('SIGHUP');
  const retired = await reloaded(master, 2);
  assert.equal(retired.length, 2 * WORKERS);
  for (const worker of retired) assert.equal(alive(worker.pid), false, `pid ${worker.pid} still alive`);
  const live = master.liveWorkers();
  assert.equal(live.length, WORKERS);
  assert.deepEqual(live.map((w) => w.reload), Array(WORKERS).fill('2'));
  assert.deepEqual(live.map((w) => w.index).sort(), ['0', '1']);
  assert.equal((await get(port)).json.reload, '2');
});

test('every fork runs in the master\'s start cwd, also after the master chdir\'ed away', async (t) => {
  const start = fs.realpathSync(tempDir(t));
  const away = fs.realpathSync(tempDir(t));
  const { master, workers } = await serving(t, {
    fixture: 'reload-control.js',
    cwd: start,
    env: { FIXTURE_CHDIR: away, RELOAD_FIXTURE_CHDIR_ON_LISTEN: away },
  });
  for (const worker of workers) assert.equal(worker.cwd, start);
  // Every worker-listening moves the master away: it is away when SIGHUP arrives.
  const moves = await master.waitFor('PRIMARY cwd', () => true, WORKERS);
  assert.equal(moves.at(-1).cwd, away);
  master.signal('SIGHUP');
  const fresh = await master.waitFor('WORKER listening', (w) => w.reload === '1', WORKERS);
  for (const worker of fresh) assert.equal(worker.cwd, start, `worker ${worker.index} of generation 1`);
});

test('a SIGHUP listener added before init() still fires, and the reload still happens', async (t) => {
  const { master } = await serving(t, { env: { FIXTURE_SIGHUP_BEFORE: '1' } });
  master.signal('SIGHUP');
  await master.waitFor('PRIMARY', (p) => p.sighup === 'before');
  await reloaded(master, 1);
  master.signal('SIGHUP');
  await master.waitFor('PRIMARY', (p) => p.sighup === 'before', 2);
  await reloaded(master, 2);
});

test('a SIGHUP listener added after init() still fires, and the reload still happens', async (t) => {
  const { master } = await serving(t, { env: { FIXTURE_SIGHUP_AFTER: '1' } });
  master.signal('SIGHUP');
  await master.waitFor('PRIMARY', (p) => p.sighup === 'after');
  await reloaded(master, 1);
  master.signal('SIGHUP');
  await master.waitFor('PRIMARY', (p) => p.sighup === 'after', 2);
  await reloaded(master, 2);
});

test('SIGHUP still reloads after the app removed all its SIGHUP listeners', async (t) => {
  const { master } = await serving(t, { fixture: 'reload-control.js', env: { RELOAD_FIXTURE_REMOVE_SIGHUP: '1' } });
  await master.waitFor('PRIMARY removed');
  master.signal('SIGHUP');
  await reloaded(master, 1);
  master.signal('SIGHUP');
  await reloaded(master, 2);
  assert.equal(master.records('PRIMARY').filter((p) => p.sighup === 'removed-listener').length, 0);
});

test('a SIGHUP listener added after removing all of them fires, and the reload still happens', async (t) => {
  const { master } = await serving(t, {
    fixture: 'reload-control.js',
    env: { RELOAD_FIXTURE_REMOVE_SIGHUP: '1', RELOAD_FIXTURE_SIGHUP_AGAIN: '1' },
  });
  master.signal('SIGHUP');
  await master.waitFor('PRIMARY', (p) => p.sighup === 'again');
  await reloaded(master, 1);
});

test('handle.reload() reloads like SIGHUP', async (t) => {
  const { master, workers: old, port } = await serving(t, {
    fixture: 'reload-control.js',
    env: { RELOAD_FIXTURE_RELOAD_ON_WINCH: '1' },
  });
  master.signal('SIGWINCH');
  await reloaded(master, 1);
  for (const worker of old) {
    const listened = position(master, 'WORKER listening', (w) => w.reload === '1' && w.index === worker.index);
    const exited = position(master, 'EVENT', (e) => e.event === 'worker-exit' && e.pid === worker.pid);
    assert.ok(listened >= 0 && exited > listened, `old worker ${worker.index} exited before its replacement listened`);
  }
  assert.equal((await get(port)).json.reload, '1');
  master.signal('SIGWINCH');
  await reloaded(master, 2);
  assert.deepEqual(master.liveWorkers().map((w) => w.reload), Array(WORKERS).fill('2'));
});
