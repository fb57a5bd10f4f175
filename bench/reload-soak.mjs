// Reload soak (`npm run bench:soak`; not part of `npm test`): BENCH_SOAK_RELOADS reloads of
// one master-process master under a light keep-alive load, each awaited until its old
// workers are gone, with monitoring sampling every worker (no warm-up, a short interval) so
// that every generation passes through the sampler. Prints the master's RSS, open fds and
// thread count after the first generation is up, at every checkpoint and at the end, then one
// JSON line (the last line of stdout). A master that keeps something per retired worker
// shows it here as growth with the number of reloads. Every process it starts is killed by
// pid at the end, also on error or Ctrl-C.
// Knobs: BENCH_SOAK_RELOADS 1000  BENCH_SOAK_WORKERS 2  BENCH_SOAK_CONNECTIONS 4
//        BENCH_SOAK_EVERY 100 (checkpoint interval)  BENCH_DELAY_MS 0
//        BENCH_SOAK_MODULE the master-process to soak (default: this checkout), e.g. an
//        older build to compare with
import fs from 'node:fs';
import path from 'node:path';
import { startLoad } from './load-client.mjs';
import { APPS, BENCH, Proc, freePort, killAll, survivors, usage } from './procs.mjs';

const knob = (name, fallback) => Number(process.env[name] ?? fallback);
const RELOADS = knob('BENCH_SOAK_RELOADS', 1000);
const WORKERS = knob('BENCH_SOAK_WORKERS', 2);
const CONNECTIONS = knob('BENCH_SOAK_CONNECTIONS', 4);
const EVERY = knob('BENCH_SOAK_EVERY', 100);
const MODULE = path.resolve(process.env.BENCH_SOAK_MODULE || path.join(BENCH, '..'));

/** The master's RSS (KiB), open fds and threads, from /proc. */
function snapshot(pid, reloads) {
  const { rssKiB, threads } = usage(pid);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { reloads, rssKiB, fds, threads };
}

async function main() {
  const port = await freePort();
  const master = new Proc(path.join(APPS, 'app.js'), {
    BENCH_MASTER: MODULE,
    BENCH_DELAY_MS: process.env.BENCH_DELAY_MS ?? '0',
    PORT: String(port),
    WORKERS: String(WORKERS),
    MASTER_PROCESS_MONITOR_WARMUP: '0',
    MASTER_PROCESS_MONITOR_INTERVAL: '50ms',
  });
  const seen = { listening: 0, reloaded: 0, retired: 0, unexpected: 0 };
  master.onRecord = (r) => {
    if (r.kind === 'WORKER') seen.listening++;
    if (r.kind === 'EVENT' && r.event === 'reload') seen.reloaded = r.generation;
    if (r.kind === 'EVENT' && r.event === 'worker-exit') seen[r.expected ? 'retired' : 'unexpected']++;
    master.records.length = 0; // only the counts matter
  };
  await master.waitUntil(() => seen.listening >= WORKERS, 'the first generation');
  const load = startLoad(port, { connections: CONNECTIONS });
  const rows = [snapshot(master.pid, 0)];
  const started = Date.now();
  for (let generation = 1; generation <= RELOADS; generation++) {
    master.signal('SIGHUP');
    await master.waitUntil(() => seen.reloaded === generation, `reload ${generation}`);
    await master.waitUntil(() => seen.retired >= generation * WORKERS,
      `the old workers of reload ${generation} to be gone`);
    if (generation % EVERY === 0 || generation === RELOADS) {
      rows.push(snapshot(master.pid, generation));
      process.stderr.write(`${generation} reloads, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
  }
  const stats = await load.stop();
  const { unexpected } = seen;
  master.signal('SIGTERM');
  const exit = await master.exit;
  const [first, last] = [rows[0], rows.at(-1)];
  console.log(`${MODULE}: reload soak, ${RELOADS} reloads, ${WORKERS} workers, ${CONNECTIONS} keep-alive connections`);
  console.log('| reloads | master RSS | open fds | threads |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.reloads} | ${(r.rssKiB / 1024).toFixed(1)} MiB | ${r.fds} | ${r.threads} |`);
  console.log(`requests ${stats.sent}, failed ${stats.failed}, unexpected worker exits ${unexpected}, ` +
    `master exit ${JSON.stringify({ code: exit.code, signal: exit.signal })}, ` +
    `${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(JSON.stringify({
    reloads: RELOADS, workers: WORKERS, rows,
    rssGrowthKiB: last.rssKiB - first.rssKiB, fdGrowth: last.fds - first.fds,
    requests: stats.sent, failed: stats.failed, errors: stats.errors, unexpected,
  }));
}

const cleanup = () => {
  killAll();
  const left = survivors();
  if (left.length) process.stderr.write(`still running after cleanup: ${left.join(' ')}\n`);
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
try {
  await main();
} finally {
  cleanup();
}
