// Reload soak (`npm run bench:soak`; not part of `npm test`): BENCH_SOAK_RELOADS reloads of
// one master-process master under a light keep-alive load, each awaited until its old
// workers are gone, with monitoring sampling every worker (no warm-up, a short interval) so
// that every generation passes through the sampler. Prints the master's RSS, open fds and
// thread count after the first generation is up, at every checkpoint and at the end, then one
// JSON line (the last line of stdout). A master that keeps something per retired worker
// shows it here as growth with the number of reloads. The same soak then runs on a plain
// Node `cluster` primary that forks a new generation on SIGHUP (bench/apps/plain-cluster-fork.js)
// as the baseline: what Node's cluster itself keeps. Every process it starts is killed by
// pid at the end, also on error or Ctrl-C.
// Knobs: BENCH_SOAK_RELOADS 1000  BENCH_SOAK_WORKERS 2  BENCH_SOAK_CONNECTIONS 4
//        BENCH_SOAK_EVERY 100 (checkpoint interval)  BENCH_DELAY_MS 0
//        BENCH_SOAK_MODULE the master-process to soak (default: this checkout), e.g. an
//        older build to compare with  BENCH_SOAK_PLAIN 1 (0: no plain-cluster baseline)
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

/** Soak one master (`script` with `env`); its snapshots and what the clients saw. */
async function soak(name, script, env) {
  const port = await freePort();
  const master = new Proc(script, { ...env, PORT: String(port), WORKERS: String(WORKERS) });
  const seen = { listening: 0, reloaded: 0, retired: 0, unexpected: 0 };
  master.onRecord = (r) => {
    if (r.kind === 'WORKER') seen.listening++;
    if (r.kind === 'EVENT' && r.event === 'reload') seen.reloaded = r.generation;
    if (r.kind === 'EVENT' && r.event === 'worker-exit') seen[r.expected ? 'retired' : 'unexpected']++;
    master.records.length = 0; // only the counts matter
  };
  await master.waitUntil(() => seen.listening >= WORKERS, `${name}: the first generation`);
  const load = startLoad(port, { connections: CONNECTIONS });
  const rows = [snapshot(master.pid, 0)];
  const started = Date.now();
  for (let generation = 1; generation <= RELOADS; generation++) {
    master.signal('SIGHUP');
    await master.waitUntil(() => seen.reloaded === generation, `${name}: reload ${generation}`);
    await master.waitUntil(() => seen.retired >= generation * WORKERS,
      `${name}: the old workers of reload ${generation} to be gone`);
    if (generation % EVERY === 0 || generation === RELOADS) {
      rows.push(snapshot(master.pid, generation));
      process.stderr.write(`${name}: ${generation} reloads, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    }
  }
  const stats = await load.stop();
  master.signal('SIGTERM');
  await master.exit;
  return { name, rows, seconds: (Date.now() - started) / 1000, stats, unexpected: seen.unexpected };
}

async function main() {
  const runs = [await soak('master-process', path.join(APPS, 'app.js'), {
    BENCH_MASTER: MODULE,
    BENCH_DELAY_MS: process.env.BENCH_DELAY_MS ?? '0',
    MASTER_PROCESS_MONITOR_WARMUP: '0',
    MASTER_PROCESS_MONITOR_INTERVAL: '50ms',
  })];
  if (process.env.BENCH_SOAK_PLAIN !== '0') {
    runs.push(await soak('plain cluster', path.join(APPS, 'plain-cluster-fork.js'), {
      BENCH_EVENTS: '1',
      BENCH_DELAY_MS: process.env.BENCH_DELAY_MS ?? '0',
    }));
  }
  console.log(`reload soak: ${RELOADS} reloads, ${WORKERS} workers, ${CONNECTIONS} keep-alive connections; ${MODULE}`);
  console.log(`| reloads | ${runs.map((r) => `${r.name} RSS | fds | threads`).join(' | ')} |`);
  console.log(`|---|${runs.map(() => '---|---|---').join('|')}|`);
  for (let i = 0; i < runs[0].rows.length; i++) {
    const cells = runs.map(({ rows }) => {
      const r = rows[i];
      return `${(r.rssKiB / 1024).toFixed(1)} MiB | ${r.fds} | ${r.threads}`;
    });
    console.log(`| ${runs[0].rows[i].reloads} | ${cells.join(' | ')} |`);
  }
  const summary = runs.map(({ name, rows, seconds, stats, unexpected }) => ({
    name, seconds, rows,
    rssGrowthKiB: rows.at(-1).rssKiB - rows[0].rssKiB, fdGrowth: rows.at(-1).fds - rows[0].fds,
    requests: stats.sent, failed: stats.failed, errors: stats.errors, unexpected,
  }));
  for (const s of summary) {
    const signed = (n, digits = 0) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
    console.log(`${s.name}: RSS ${signed(s.rssGrowthKiB / 1024, 1)} MiB, fds ${signed(s.fdGrowth)}, ` +
      `${s.requests} requests, ${s.failed} failed, ${s.unexpected} unexpected worker exits, ${s.seconds.toFixed(0)} s`);
  }
  console.log(JSON.stringify({ reloads: RELOADS, workers: WORKERS, runs: summary }));
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
