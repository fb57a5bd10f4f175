// Resource monitoring: a worker over its memory or CPU limit is replaced before it hurts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMaster, freePort, get } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

const FAST = {
  MASTER_PROCESS_MONITOR_INTERVAL: '200ms',
  MASTER_PROCESS_MONITOR_WARMUP: '0',
  MEM_MONITOR_FAILURES: '2',
  CPU_MONITOR_FAILURES: '2',
};

test('a worker over MAX_MEMORY_ALLOWED_MB is replaced and the new one is told whom it replaced', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), FIXTURE_MODE: 'grow', MAX_MEMORY_ALLOWED_MB: '120', FIXTURE_GROW_CAP_MB: '200', ...FAST },
  });
  const [first] = await master.waitFor('WORKER listening');
  const [replaced] = await master.waitEvent('worker-replaced');
  assert.equal(replaced.oldPid, first.pid);
  assert.equal(replaced.reason, 'used too much memory');
  const [told] = await master.waitFor('WORKER message', (m) => m.pid === replaced.newPid && /replace_faulty/.test(m.message));
  assert.deepEqual(JSON.parse(told.message), {
    msg: 'replace_faulty_worker',
    reason: 'used too much memory',
    old_pid: first.pid,
    new_pid: replaced.newPid,
  });
  assert.equal(told.index, first.index);
  assert.equal(told.reload, first.reload);
  await master.waitEvent('worker-exit', (e) => e.pid === first.pid);
});

test('a worker above 80 % of its memory limit gets mem_high', async (t) => {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), FIXTURE_MODE: 'grow', MAX_MEMORY_ALLOWED_MB: '120', FIXTURE_GROW_CAP_MB: '110', ...FAST },
  });
  const [high] = await master.waitFor('WORKER message', (m) => /mem_high/.test(m.message));
  const message = JSON.parse(high.message);
  assert.equal(message.msg, 'mem_high');
  assert.ok(message.mem_perc > 80, `mem_perc ${message.mem_perc}`);
  // Unrounded, as 4.x sent it: RSS moves in 4 KiB pages, so a whole percentage of 120 MB is all but impossible.
  assert.ok(!Number.isInteger(message.mem_perc), `mem_perc ${message.mem_perc} is unrounded`);
});

test('a worker over MAX_CPU_ALLOWED is replaced for using too much cpu', async (t) => {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), FIXTURE_MODE: 'spin', MAX_CPU_ALLOWED: '30', ...FAST },
  });
  const [first] = await master.waitFor('WORKER listening');
  const [replaced] = await master.waitEvent('worker-replaced');
  assert.equal(replaced.oldPid, first.pid);
  assert.equal(replaced.reason, 'used too much cpu');
});

test('the port keeps answering while a faulty worker is replaced', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), FIXTURE_MODE: 'grow', MAX_MEMORY_ALLOWED_MB: '120', FIXTURE_GROW_CAP_MB: '200', ...FAST },
  });
  const [first] = await master.waitFor('WORKER listening');
  const load = startLoad(port, { connections: 8 });
  t.after(() => load.stop());
  await master.waitEvent('worker-exit', (e) => e.pid === first.pid);
  await load.answered(load.stats.ok + 20);
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.notEqual((await get(port)).json.pid, first.pid);
});

/** Wait until the worker has reported `reports` rss lines above `mb`, all while paused. */
async function overLimitWhilePaused(master, pid, mb, reports) {
  return master.waitFor('WORKER rss', (r) => r.pid === pid && r.rss > mb * 1024 * 1024, reports);
}

test('SIGUSR2 pauses monitoring: no replacement while paused, one after resuming', async (t) => {
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()),
      FIXTURE_MODE: 'grow',
      MAX_MEMORY_ALLOWED_MB: '120',
      FIXTURE_GROW_CAP_MB: '200',
      DEBUG: 'master-process',
      ...FAST,
      MASTER_PROCESS_MONITOR_WARMUP: '3s',
    },
  });
  await master.waitFor('MASTER');
  master.signal('SIGUSR2');
  await master.waitStderr(/monitoring paused \(SIGUSR2\)/);
  const [first] = await master.waitFor('WORKER listening');
  // 3 s warm-up, then at 50 ms a report: 80 reports over the limit cover many 200 ms rounds
  await overLimitWhilePaused(master, first.pid, 120, 80);
  assert.equal(master.events('worker-replaced').length, 0);
  master.signal('SIGUSR2');
  await master.waitStderr(/monitoring resumed \(SIGUSR2\)/);
  const [replaced] = await master.waitEvent('worker-replaced');
  assert.equal(replaced.oldPid, first.pid);
});

test('a worker message pause_monitoring stops replacements', async (t) => {
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()),
      FIXTURE_MODE: 'grow-paused',
      MAX_MEMORY_ALLOWED_MB: '120',
      FIXTURE_GROW_CAP_MB: '200',
      DEBUG: 'master-process',
      ...FAST,
    },
  });
  await master.waitStderr(/monitoring paused \(a worker asked\)/);
  const [first] = await master.waitFor('WORKER listening');
  await overLimitWhilePaused(master, first.pid, 120, 40);
  assert.equal(master.events('worker-replaced').length, 0);
});

test('DEBUG logs each over-limit sample with its numbers and the replacement reason', async (t) => {
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), FIXTURE_MODE: 'grow', MAX_MEMORY_ALLOWED_MB: '120', FIXTURE_GROW_CAP_MB: '200', DEBUG: 'master-process', ...FAST },
  });
  await master.waitEvent('worker-replaced');
  assert.ok(master.stderrLines.some((l) => /over its limits: rss \d+\.\d MB \(limit 120\)/.test(l)));
  assert.ok(master.stderrLines.some((l) => /replacing worker 0: it used too much memory/.test(l)));
});
