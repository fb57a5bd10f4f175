// A SIGHUP storm coalesces: bounded workers, every request answered, one generation at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
