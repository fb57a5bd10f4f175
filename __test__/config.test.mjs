// Every setting is validated before the first fork: a bad value stops the master with exit
// code 78 (EX_CONFIG) and one stderr line naming the variable, the value and the accepted
// forms. An empty string means unset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort, get } from './helpers.mjs';

const EX_CONFIG = 78;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const BAD = [
  { env: { WORKERS: 'abc' }, name: 'WORKERS', value: 'abc', accepted: /AUTO.*MAX/ },
  { env: { WORKERS: '0' }, name: 'WORKERS', value: '0', accepted: /whole number from 1\b/ },
  { env: { MAX_KILL_TIMEOUT: 'soon' }, name: 'MAX_KILL_TIMEOUT', value: 'soon', accepted: /duration.*5s/ },
  { env: { WORKER_THROTTLE: '-5' }, name: 'WORKER_THROTTLE', value: '-5', accepted: /duration.*5s/ },
  { env: { MAX_MEMORY_ALLOWED_MB: 'lots' }, name: 'MAX_MEMORY_ALLOWED_MB', value: 'lots', accepted: /whole number/ },
  { env: { MASTER_PROCESS_READY: 'maybe' }, name: 'MASTER_PROCESS_READY', value: 'maybe', accepted: /listening.*message/ },
  {
    env: { MASTER_PROCESS_COMPILE_CACHE: 'cache' },
    name: 'MASTER_PROCESS_COMPILE_CACHE',
    value: 'cache',
    accepted: /on, off.*absolute path/,
  },
  {
    env: { FIXTURE_OPTIONS: JSON.stringify({ wrokers: 2 }) },
    name: 'wrokers',
    value: '2',
    accepted: /\bworkers\b/,
  },
];

for (const { env, name, value, accepted } of BAD) {
  const label = env.FIXTURE_OPTIONS ? `init(${env.FIXTURE_OPTIONS})` : `${name}=${value}`;
  test(`${label} stops the master with 78 before any fork, naming it and the accepted forms`, async (t) => {
    const port = await freePort();
    const master = startMaster(t, { env: { PORT: String(port), WORKERS: '2', ...env } });
    const { code } = await master.exit;
    await master.closed;
    assert.equal(code, EX_CONFIG, master.transcript());
    assert.equal(master.stderrLines.length, 1, master.transcript());
    const [line] = master.stderrLines;
    assert.match(line, new RegExp(`${escape(name)}\\W{1,4}${escape(value)}(?![\\w-])`), 'names the setting and value');
    assert.match(line, accepted, 'names the accepted forms');
    assert.deepEqual(master.records('WORKER'), [], 'no worker was forked');
    assert.deepEqual(master.records('MASTER'), [], 'init() did not return');
  });
}

/** Start with `env`, wait for a worker to serve, stop; returns the master. */
async function startAndStop(t, env) {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), ...env } });
  const [worker] = await master.waitFor('WORKER listening');
  assert.equal((await get(port)).status, 200);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0, master.transcript());
  await master.closed;
  assert.deepEqual(master.stderrLines, [], master.transcript());
  return { master, worker };
}

test("WORKERS='' means unset: one worker", async (t) => {
  const { master } = await startAndStop(t, { WORKERS: '' });
  // Every forked worker is retired at stop and reported, listening yet or not.
  assert.equal(master.events('worker-exit').length, 1, master.transcript());
});

test('every setting given as an empty string means unset: the master starts with defaults', async (t) => {
  const empty = Object.fromEntries(
    [
      'WORKERS',
      'MAX_KILL_TIMEOUT',
      'WORKER_THROTTLE',
      'MAX_MEMORY_ALLOWED_MB',
      'MEM_MONITOR_FAILURES',
      'MAX_CPU_ALLOWED',
      'CPU_MONITOR_FAILURES',
      'CPU_MONITOR_FAILURE',
      'MASTER_PROCESS_MONITOR_INTERVAL',
      'MASTER_PROCESS_MONITOR_WARMUP',
      'MASTER_PROCESS_DRAIN',
      'MASTER_PROCESS_READY',
      'MASTER_PROCESS_READY_TIMEOUT',
      'MASTER_PROCESS_RELOAD_BATCH',
      'MASTER_PROCESS_MAX_CRASHES',
      'MASTER_PROCESS_MAX_THROTTLE',
      'MASTER_PROCESS_COMPILE_CACHE',
    ].map((name) => [name, '']),
  );
  const { master } = await startAndStop(t, empty);
  assert.equal(master.events('worker-exit').length, 1, master.transcript());
});
