// The Node internals the drain module relies on (lib/worker/node-internals.js): each is checked once
// per worker, and a worker on a Node that lacks one says so in one line on stderr and is
// retired the 4.x way (SIGTERM, then SIGKILL) instead of misbehaving.
//
// A missing internal is simulated by __test__/fixtures/break-internal.js, preloaded through
// NODE_OPTIONS given to the master: workers inherit it and run it before master-process's own
// --require. It also prints the master's drain commands as the worker sees them come and go
// (`FIXTURE ipc {pid, dir, cmd}`), so that the tests can follow the retirement step by step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startMaster, freePort, FIXTURES, ROOT } from './helpers.mjs';

const { MISSING } = createRequire(import.meta.url)(path.join(ROOT, 'lib', 'worker', 'node-internals.js'));
const BREAK = path.join(FIXTURES, 'break-internal.js');
const PROBE = path.join(FIXTURES, 'internals-probe.js');
const LACKS = 'master-process: this Node (';
const DRAIN = 'NODE_MASTER_PROCESS_DRAIN';
const DRAINED = 'NODE_MASTER_PROCESS_DRAINED';
const SETTLE = 'NODE_MASTER_PROCESS_SETTLE';
const SETTLED = 'NODE_MASTER_PROCESS_SETTLED';

/** The env that makes every worker lack `what` (a FIXTURE_BREAK of break-internal.js). */
const lacking = (what) => ({ NODE_OPTIONS: `--require ${JSON.stringify(BREAK)}`, FIXTURE_BREAK: what });

/** The one line a worker prints when this Node lacks `missing`. */
function expectedLine(pid, missing, deaf = false) {
  const how = deaf
    ? "cannot hear the master's drain request: it will be retired the 4.x way once the drain "
      + 'deadline passes (SIGTERM shortly before MAX_KILL_TIMEOUT, then SIGKILL)'
    : 'will be retired the 4.x way (SIGTERM, then SIGKILL)';
  return `master-process: this Node (${process.version}) lacks ${missing}: this worker (pid ${pid}) ${how}`;
}

/**
 * Fork internals-probe.js (`checks` or `load`) with an IPC channel, as a worker has, after
 * break-internal.js when `what` is given; resolves what it sends, once it has exited.
 */
async function probe(t, mode, what) {
  const child = fork(PROBE, [mode], {
    execArgv: what ? ['--require', BREAK] : [],
    env: { PATH: process.env.PATH, FIXTURE_BREAK: what, FIXTURE_BREAK_PROBE: '1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit');
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  const [[result], [code]] = await Promise.all([once(child, 'message'), exited]);
  assert.equal(code, 0, stderr);
  return { ...result, stderr };
}

/** Position in the output of the first `kind` record matching `filter`, or -1. */
function position(master, kind, filter) {
  return master.lines.findIndex((text) => {
    if (!text.startsWith(`${kind} `)) return false;
    return filter(JSON.parse(text.slice(text.indexOf(' {') + 1)));
  });
}

/** Where, in the output, worker `pid` saw the drain command `cmd` go `dir` (in, out, unheard). */
const ipc = (master, pid, dir, cmd) => position(master, 'FIXTURE ipc', (r) => r.pid === pid && r.dir === dir && r.cmd === cmd);

/** A master with one worker of generation 0 listening. */
async function serving(t, env) {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '1', ...env } });
  const [worker] = await master.waitFor('WORKER listening', (w) => w.reload === '0');
  return { master, worker };
}

/** SIGHUP, then wait for generation 1 and for the old worker's exit; returns that exit. */
async function reload(master, old) {
  master.signal('SIGHUP');
  await master.waitEvent('reload', (e) => e.generation === 1);
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === old.pid);
  return exit;
}

/** Stop the master and read all output (workers share its pipes, so they are gone too). */
async function stopAndRead(master) {
  master.signal('SIGTERM');
  const { code } = await master.closed;
  assert.equal(code, 0, master.transcript());
}

/** The lines a worker printed about missing internals. */
const lacksLines = (master, pid) => master.stderrLines.filter((l) => l.startsWith(LACKS) && l.includes(`(pid ${pid})`));

// --- Each check, on this Node and on a Node that lacks what it checks -------------------------

test('on this Node, every check of lib/worker/node-internals.js passes', async (t) => {
  const { atStart, listen, http } = await probe(t, 'checks');
  assert.deepEqual({ atStart, listen, http }, { atStart: [], listen: null, http: [] });
});

const CHECKS = [
  // [FIXTURE_BREAK, the check that must catch it, what it must name]
  ['internal-message', 'atStart', MISSING.internalMessage],
  ['diagnostics', 'atStart', MISSING.diagnostics],
  ['socket-accessor', 'atStart', MISSING.httpMessage],
  ['listen', 'listen', MISSING.listen],
  ['assign-socket', 'http', MISSING.httpMessage],
  ['keep-alive', 'http', MISSING.keepAlive],
];
for (const [what, check, missing] of CHECKS) {
  test(`a Node with ${what} broken fails the ${check} check, which names ${missing}, and no other`, async (t) => {
    const { atStart, listen, http } = await probe(t, 'checks', what);
    const expected = { atStart: [], listen: null, http: [] };
    expected[check] = check === 'listen' ? missing : [missing];
    assert.deepEqual({ atStart, listen, http }, expected);
  });
}

test('loading the drain module loads neither node:http nor node:https nor node:tls', async (t) => {
  const { before, after, stderr } = await probe(t, 'load');
  assert.deepEqual(before, []);
  assert.deepEqual(after, []);
  assert.equal(stderr, '');
});

// --- End to end, under a master -----------------------------------------------------------------

test('on this Node, no worker prints a line about missing internals, from start through a reload', async (t) => {
  const { master, worker } = await serving(t, {});
  const exit = await reload(master, worker);
  assert.equal(exit.code, 0);
  await stopAndRead(master);
  assert.deepEqual(master.stderrLines.filter((l) => l.startsWith(LACKS)), [], master.transcript());
  assert.equal(master.records('WORKER listening').length, 2);
});

// A Node whose `what` is broken, found at start or at the first drain request: the worker
// says so once, and a reload retires it with SIGTERM at once (it answers the drain request
// without draining).
for (const [what, missing, when] of [
  ['listen', MISSING.listen, 'at start'],
  ['assign-socket', MISSING.httpMessage, 'when first asked to drain'],
]) {
  test(`${what} broken: each worker says once, ${when}, that this Node lacks ${missing}`, async (t) => {
    const { master, worker } = await serving(t, lacking(what));
    await reload(master, worker);
    await stopAndRead(master);
    const pids = master.records('WORKER listening').map((w) => w.pid);
    assert.equal(pids.length, 2, master.transcript());
    for (const pid of pids) assert.deepEqual(lacksLines(master, pid), [expectedLine(pid, missing)], master.transcript());
  });

  test(`${what} broken: a reload retires the old worker with SIGTERM at once, not at the drain deadline`, async (t) => {
    const { master, worker: old } = await serving(t, { ...lacking(what), MAX_KILL_TIMEOUT: '20s' });
    master.signal('SIGHUP');
    // From the drain request on, the master would wait until 19 s for DRAINED: the old worker
    // must be gone well before (a bound that fails the test, not a measure).
    await master.waitUntil(() => ipc(master, old.pid, 'in', DRAIN) >= 0, 'the old worker to get the drain request');
    const gone = () => master.events('worker-exit').find((e) => e.pid === old.pid);
    const exit = await master.waitUntil(gone, 'the old worker to exit well before the drain deadline', 10000);
    await master.waitEvent('reload', (e) => e.generation === 1);
    assert.equal(exit.code, 0, master.transcript());
    assert.equal(exit.signal ?? null, null);
    assert.equal(exit.expected, true);
    // It answered the drain request at once, the master settled and sent SIGTERM, and the
    // app's own SIGTERM handler ran.
    const steps = [
      ipc(master, old.pid, 'in', DRAIN),
      ipc(master, old.pid, 'out', DRAINED),
      ipc(master, old.pid, 'in', SETTLE),
      ipc(master, old.pid, 'out', SETTLED),
      position(master, 'WORKER sigterm', (w) => w.pid === old.pid),
      position(master, 'EVENT', (e) => e.event === 'worker-exit' && e.pid === old.pid),
    ];
    assert.ok(steps.every((at, i) => at >= 0 && (i === 0 || at > steps[i - 1])), `steps at ${steps}\n${master.transcript()}`);
  });
}

test('listen broken: a retired worker whose SIGTERM handler only closes its server still exits by itself', async (t) => {
  // As when draining: once the app's own SIGTERM handler ran, the worker disconnects from the
  // master, so that closing the server is enough for it to exit (not SIGKILL at 20 s).
  const env = { ...lacking('listen'), FIXTURE_MODE: 'close-on-term', MAX_KILL_TIMEOUT: '20s' };
  const { master, worker: old } = await serving(t, env);
  master.signal('SIGHUP');
  await master.waitUntil(() => ipc(master, old.pid, 'in', DRAIN) >= 0, 'the old worker to get the drain request');
  const gone = () => master.events('worker-exit').find((e) => e.pid === old.pid);
  const exit = await master.waitUntil(gone, 'the old worker to exit by itself, well before SIGKILL', 10000);
  assert.equal(exit.code, 0, master.transcript());
  assert.equal(exit.signal ?? null, null);
  assert.ok(position(master, 'WORKER sigterm', (w) => w.pid === old.pid) >= 0, master.transcript());
});

test("internalMessage missing: each worker says once that it cannot hear the master's drain request", async (t) => {
  const { master, worker } = await serving(t, { ...lacking('internal-message'), MAX_KILL_TIMEOUT: '2s' });
  await reload(master, worker);
  await stopAndRead(master);
  const pids = master.records('WORKER listening').map((w) => w.pid);
  assert.equal(pids.length, 2, master.transcript());
  for (const pid of pids) {
    assert.deepEqual(lacksLines(master, pid), [expectedLine(pid, MISSING.internalMessage, true)], master.transcript());
  }
});

test('internalMessage missing: a reload retires the old worker with SIGTERM at the drain deadline, not SIGKILL', async (t) => {
  // Retiring: SIGTERM at MAX_KILL_TIMEOUT less a quarter of it (at most 1 s), so at 2.25 s;
  // SIGKILL at 3 s.
  const { master, worker: old } = await serving(t, { ...lacking('internal-message'), MAX_KILL_TIMEOUT: '3s' });
  master.signal('SIGHUP');
  await master.waitUntil(() => ipc(master, old.pid, 'unheard', DRAIN) >= 0, 'the drain request to reach the old worker');
  const asked = performance.now();
  const [exit] = await master.waitEvent('worker-exit', (e) => e.pid === old.pid);
  const waited = performance.now() - asked;
  await master.waitEvent('reload', (e) => e.generation === 1);
  assert.equal(exit.code, 0, master.transcript());
  assert.equal(exit.signal ?? null, null, 'SIGTERM (and the app\'s handler) ended it, not SIGKILL');
  // The request never reached the drain module, so nothing answered it: only the master's
  // deadline could send that SIGTERM (it cannot fire early; the bound is loose for the pipes).
  assert.equal(ipc(master, old.pid, 'out', DRAINED), -1, master.transcript());
  const termed = position(master, 'WORKER sigterm', (w) => w.pid === old.pid);
  assert.ok(termed > ipc(master, old.pid, 'unheard', DRAIN), master.transcript());
  assert.ok(waited > 1000, `exited ${Math.round(waited)} ms after the drain request, before the deadline`);
});
