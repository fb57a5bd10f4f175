// An upgrade in place beside a reload (`npm run bench:upgrade`; not part of `npm test`). One
// master (bench/apps/app.js on this checkout, BENCH_WORKERS workers) under keep-alive load
// (BENCH_CONNECTIONS connections, every request accounted for) takes BENCH_SWAPS reloads
// (SIGHUP) and BENCH_SWAPS upgrades ({"request":"upgrade"} on its control socket), one
// after the other, BENCH_GAP requests answered between two. For each kind: failed requests
// and the longest latency of a request answered during a swap (or just after it ends), with the boot of a bare app
// (`node app.js` to listening, measured in the same run) as the baseline the ratio is to.
// Prints a table, then one JSON line (the last line of stdout). Every process it starts is
// killed by pid at the end, also on error.
// Knobs: BENCH_SWAPS 5  BENCH_GAP 500  BENCH_CONNECTIONS 32  BENCH_WORKERS 2  BENCH_DELAY_MS 5
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { startLoad } from './load-client.mjs';
import { APPS, BENCH, Proc, freePort, killAll, survivors, sleep } from './procs.mjs';

const { connect, ask: askOn } = createRequire(import.meta.url)('../lib/cli/control-client.js');
const knob = (name, fallback) => Number(process.env[name] ?? fallback);
const SWAPS = knob('BENCH_SWAPS', 5);
const GAP = knob('BENCH_GAP', 500);
const CONNECTIONS = knob('BENCH_CONNECTIONS', 32);
const WORKERS = knob('BENCH_WORKERS', 2);
const APP = path.join(APPS, 'app.js');
const DELAY = process.env.BENCH_DELAY_MS ?? '5';

/** One request on a fresh control connection (the command line's client); the answer. */
const ask = (socketPath, request) => Promise.resolve().then(() => askOn(connect(socketPath), request));

/** Milliseconds from spawning a bare app (no cluster) to its server listening. */
async function bareBoot() {
  const port = String(await freePort());
  const spawned = performance.now();
  const app = new Proc(APP, { PORT: port, BENCH_DELAY_MS: DELAY });
  await app.waitUntil(() => app.records.some((r) => r.kind === 'WORKER'), 'the bare app listening');
  const ms = app.records.find((r) => r.kind === 'WORKER').time - spawned;
  app.signal('SIGKILL');
  await app.exit;
  return ms;
}

/** Wait until the master has no swap under way and no old worker left (the next can begin). */
async function settled(control) {
  for (;;) {
    const { status } = await ask(control, { request: 'status' }).catch(() => ({}));
    const idle = status && !status.reloading && !status.upgrade.upgrading && !status.upgrade.resuming;
    if (idle && status.upgrade.oldWorkers.length === 0 && status.workers.every((w) => w.state === 'serving')) return;
    await sleep(20);
  }
}

async function main() {
  const boots = [];
  for (let i = 0; i < 3; i++) boots.push(await bareBoot());
  const boot = Math.min(...boots);
  const port = await freePort();
  const control = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-upgrade-')), 'control.sock');
  const master = new Proc(APP, {
    BENCH_MASTER: path.join(BENCH, '..'), BENCH_DELAY_MS: DELAY, PORT: String(port), WORKERS: String(WORKERS),
    MASTER_PROCESS_CONTROL_SOCKET: control,
  });
  const events = (name) => master.records.filter((r) => r.kind === 'EVENT' && r.event === name).length;
  await master.waitUntil(() => events('worker-listening') >= WORKERS, 'the first workers');
  const load = startLoad(port, { connections: CONNECTIONS });
  const kinds = {
    reload: { swap: () => master.signal('SIGHUP'), event: 'reload' },
    upgrade: { swap: () => ask(control, { request: 'upgrade' }), event: 'upgraded' },
  };
  const results = [];
  for (const [name, kind] of Object.entries(kinds)) {
    const failedBefore = load.stats.failed;
    const longest = [];
    for (let i = 0; i < SWAPS; i++) {
      await load.answered(load.stats.ok + GAP);
      await settled(control);
      const seen = events(kind.event);
      const from = load.stats.latencies.length;
      const answer = await kind.swap();
      if (answer && !answer.ok) throw new Error(`${name} refused: ${answer.error}`);
      await master.waitUntil(() => events(kind.event) > seen, `${name} ${i + 1} over`, { timeoutMs: 60000 });
      // Requests in flight when it ended belong to the swap too.
      await load.answered(load.stats.ok + 2 * CONNECTIONS);
      longest.push(Math.max(0, ...load.stats.latencies.slice(from)));
      process.stderr.write(`${name} ${i + 1} done\n`);
    }
    results.push({ name, swaps: SWAPS, failed: load.stats.failed - failedBefore, longestMs: longest });
  }
  const stats = await load.stop();
  master.signal('SIGTERM');
  await master.exit;
  console.log(`upgrade beside reload under keep-alive load: ${SWAPS} of each, ${CONNECTIONS} connections, ` +
    `${WORKERS} workers; bare app boot ${boot.toFixed(0)} ms (best of 3)`);
  console.log('| swap | failed | longest request during a swap (ms) | worst / bare boot |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    const worst = Math.max(...r.longestMs);
    console.log(`| ${r.name} | ${r.failed} | ${r.longestMs.map((ms) => ms.toFixed(0)).join(', ')} | ${(worst / boot).toFixed(2)} |`);
  }
  console.log(JSON.stringify({ bootMs: boot, sent: stats.sent, errors: stats.errors, results }));
}

try {
  await main();
} finally {
  killAll();
  const left = survivors();
  if (left.length) process.stderr.write(`still running after cleanup: ${left.join(' ')}\n`);
}
