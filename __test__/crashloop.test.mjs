// Crash loops: the 4.x pace first, then exponential back-off, then a clean stop with a
// non-zero exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort, alive } from './helpers.mjs';

test('a crashing worker restarts at the 4.x pace three times, then backs off, then the master gives up with exit 70', async (t) => {
  // A throttle well above how long a worker that throws at start lives, even on a slow
  // machine, so that every crash is fast by its life alone and each restart waits.
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()),
      FIXTURE_MODE: 'throw',
      WORKER_THROTTLE: '1s',
      MASTER_PROCESS_MAX_CRASHES: '5',
      DEBUG: 'master-process',
    },
  });
  const { code } = await master.closed;
  assert.equal(code, 70);
  const delays = master.stderrLines
    .map((l) => Number(/restarting worker 0 in (\d+) ms/.exec(l)?.[1]))
    .filter((n) => !Number.isNaN(n));
  assert.equal(delays.length, 4, master.transcript());
  // Crashes 1-3: WORKER_THROTTLE minus the worker's life, as 4.x; the fourth: twice that.
  for (const delay of delays.slice(0, 3)) assert.ok(delay > 0 && delay <= 1000, `4.x pace: ${delays}`);
  assert.ok(delays[3] > 1000 && delays[3] <= 2000, `the fourth doubles: ${delays}`);
  assert.ok(master.stderrLines.some((l) => /crashed 5 times in a row soon after start; giving up/.test(l)));
});

test('the give-up line is printed without DEBUG, and no worker is left behind', async (t) => {
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()),
      FIXTURE_MODE: 'throw',
      WORKER_THROTTLE: '0ms',
      MASTER_PROCESS_MAX_CRASHES: '3',
    },
  });
  const { code } = await master.closed;
  assert.equal(code, 70);
  assert.deepEqual(
    master.stderrLines.filter((l) => l.startsWith('master-process:')),
    ['master-process: worker 0 crashed 3 times in a row soon after start; giving up (exit 70) (pid=' +
      master.events('worker-exit').at(-1).pid + ' index=0)'],
  );
  for (const e of master.events('worker-exit')) assert.equal(alive(e.pid), false);
});
