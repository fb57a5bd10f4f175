// A SIGHUP storm coalesces: bounded workers, every request answered, one generation at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { startMaster, freePort, get } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

const WORKERS = 2;

/** Workers the core tracks at once, from its own fork/exit log lines (one thread, in order). */
function peakWorkers(stderrLines) {
  let live = 0;
  let peak = 0;
  for (const line of stderrLines) {
    if (/ forking worker /.test(line)) peak = Math.max(peak, ++live);
    if (/ worker \d+ exited with /.test(line)) live--;
  }
  return peak;
}

test('200 SIGHUPs in about a second stay within 2 x WORKERS and end in one generation', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: String(WORKERS), DEBUG: 'master-process', FIXTURE_DELAY_MS: '5' },
  });
  await master.waitFor('WORKER listening', () => true, WORKERS);
  const load = startLoad(port, { connections: 16 });
  t.after(() => load.stop());
  await load.answered(100);
  for (let i = 0; i < 200; i++) {
    master.signal('SIGHUP');
    await delay(5); // pacing the storm over about a second, not waiting for an outcome
  }
  const started = () => Math.max(...master.stderrLines.map((l) => Number(/reload (\d+) starts/.exec(l)?.[1] ?? 0)));
  const last = await master.waitUntil(() => {
    const generation = started();
    return master.events('reload').some((e) => e.generation === generation) && generation;
  }, 'the last reload to finish');
  const stats = await load.stop();

  assert.ok(last >= 1 && last <= 200, `reloads run: ${last}`);
  assert.ok(peakWorkers(master.stderrLines) <= 2 * WORKERS, `peak ${peakWorkers(master.stderrLines)}`);
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  await master.waitUntil(() => master.liveWorkers().length === WORKERS, 'old workers gone');
  assert.deepEqual([...new Set(master.liveWorkers().map((w) => w.reload))], [String(last)]);
  assert.equal((await get(port)).json.reload, String(last));
});

test('a burst of two different signals interleaved leaves the master answering: it reloads, then stops', async (t) => {
  // A signal arriving while the handler of another runs on the same thread used to hang the
  // master for good (libuv's signal lock, taken twice by one thread). Thousands of pairs make
  // that overlap all but certain; SIGTTOU at one worker is refused and SIGUSR2 is forwarded.
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '1' } });
  await master.waitFor('WORKER listening');
  for (let i = 0; i < 10000; i++) {
    master.signal('SIGTTOU');
    master.signal('SIGUSR2');
  }
  master.signal('SIGHUP');
  const [reload] = await master.waitEvent('reload');
  assert.equal(reload.generation, 1);
  assert.equal((await get(port)).json.reload, '1');
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('with its stderr not read, a master that logs a lot still reloads and stops; the dropped lines are counted', async (t) => {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), WORKERS: '1', DEBUG: 'master-process' } });
  master.child.stderr.pause(); // the pipe fills, as with a log reader that stopped
  await master.waitFor('WORKER listening');
  // Each SIGUSR2 the master handles logs two lines (pause or resume, and the forward) and
  // reaches the worker, which prints a line on stdout: one at a time, so none coalesce. 3000
  // of them log well over what the pipe, the paused stream and the log queue can hold.
  let seen = 0;
  for (let i = 0; i < 3000; i++) {
    master.signal('SIGUSR2');
    await master.waitUntil(() => {
      const now = master.lines.length;
      if (now === seen) return false;
      seen = now;
      return true;
    }, `the worker's sigusr2 line ${i + 1}`);
  }
  master.signal('SIGHUP');
  const [reload] = await master.waitEvent('reload');
  assert.equal(reload.generation, 1);
  master.child.stderr.resume();
  await master.waitStderr(/master-process: \d+ log line\(s\) dropped: stderr was not being read/);
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('a worker that makes the shared stderr non-blocking costs the master no log line', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '1', DEBUG: 'master-process', FIXTURE_MODE: 'stderr-nonblocking' },
  });
  await master.waitFor('WORKER listening');
  const flags = /^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${master.pid}/fdinfo/2`, 'utf8'))[1];
  assert.ok(parseInt(flags, 8) & fs.constants.O_NONBLOCK, `the master's stderr is non-blocking (flags ${flags})`);
  master.child.stderr.pause(); // stderr fills: writes to it now fail with EAGAIN
  // Each handled SIGUSR2 logs two lines, "monitoring paused|resumed (SIGUSR2)" and the
  // forward. 400 of them fill stderr (a socket pair: each small write takes a buffer of its
  // own), while the master's queue (1024 lines) holds the rest.
  // One at a time (the worker's line for each comes after the master logged it), so no two
  // signals coalesce into one delivery.
  const SIGNALS = 400;
  for (let i = 1; i <= SIGNALS; i++) {
    master.signal('SIGUSR2');
    await master.waitFor('WORKER sigusr2', () => true, i);
  }
  master.child.stderr.resume();
  const monitoring = () => master.stderrLines.filter((l) => / monitoring (paused|resumed) \(SIGUSR2\)/.test(l)).length;
  await master.waitUntil(() => monitoring() === SIGNALS, `all ${SIGNALS} monitoring lines`);
  assert.equal(master.stderrLines.filter((l) => /log line\(s\) dropped/.test(l)).length, 0);
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});
