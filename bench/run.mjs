// The benchmark of issue 4 (`npm run bench`; not part of `npm test`). In one run, side by
// side, on 127.0.0.1 with ephemeral ports:
//   failures    failed requests over BENCH_RELOADS reloads (SIGHUP, each awaited) under
//               keep-alive load, for an app without a SIGTERM handler and one that closes its
//               server on SIGTERM, with two independent clients (http.Agent, raw sockets);
//               also master-process 4.x as a baseline when it is installed in bench/.
//   throughput  no reloads: master-process vs a plain Node `cluster` primary, same workers.
//   latency     SIGHUP -> first response from the new generation, -> last old worker gone,
//               next to a bare `node app.js` -> its first response, and next to a plain
//               Node `cluster` primary (bench/apps/plain-cluster-fork.js, as many workers)
//               that forks a new generation on SIGHUP: what cluster itself costs (medians).
//               BENCH_TRACE=1 adds a breakdown of where the time goes (TRACE lines).
//   real        the same SIGHUP -> first new response with a real app (bench/apps/real-app.js:
//               express and the AWS SDK's S3 client, installed by `npm --prefix bench
//               install`; skipped with a message when they are not): master-process with its
//               compile cache (a fresh folder per run), master-process with it off, 4.x when
//               installed, and the plain cluster fork, one reload of each per round in
//               rotated order after a warm-up reload each; ratios to the plain fork are
//               medians of the per-round ratios. Also a bare `node app.js` of the real app,
//               without and (Node 22.1+) with the warm cache.
//   idle        master RSS and CPU over BENCH_IDLE_SECONDS idle, 4 workers, monitoring on.
// Prints one table (stdout), then one JSON line (the last line of stdout); progress goes to
// stderr. `--quick` (or BENCH_QUICK=1) runs small counts. Every process it starts is killed
// by pid at the end, also on error or Ctrl-C. Knobs (full default / quick default):
//   BENCH_WORKERS 2/2  BENCH_CONNECTIONS 32  BENCH_DELAY_MS 5  BENCH_RELOADS 50/5
//   BENCH_RELOAD_GAP_MS 250/100  BENCH_CLIENTS agent,raw  BENCH_STYLES no-handler,close-on-term
//   BENCH_CLIENTS_TOGETHER 1: the clients run at once on one master, sharing the connections
//                          (0: one series per client, each with all the connections)
//   BENCH_THROUGHPUT_SECONDS 2/1 (+ BENCH_THROUGHPUT_WARMUP_SECONDS 0.5 each slice)
//   BENCH_THROUGHPUT_ROUNDS 6/2  BENCH_THROUGHPUT_DELAYS 5,0
//   BENCH_THROUGHPUT_DRAIN_OFF=1  also measure master-process with MASTER_PROCESS_DRAIN=off
//   BENCH_WITH_DRAIN_OFF=1  also run the failure series with MASTER_PROCESS_DRAIN=off (a check
//                           that both clients do count failed requests)
//   BENCH_LATENCY_SAMPLES 20/5  BENCH_IDLE_SECONDS 30/5  BENCH_IDLE_WORKERS 4
//   BENCH_LATENCY_DRAIN_OFF=1  latency: also master-process with MASTER_PROCESS_DRAIN=off (no
//                              worker preload), to isolate what the preload costs a reload
//   BENCH_LATENCY_CACHE_OFF=1  latency: also master-process with MASTER_PROCESS_COMPILE_CACHE=off
//   BENCH_SWAP_BATCH=1  latency and real: also master-process with MASTER_PROCESS_RELOAD_SWAP=batch
//                       (the old workers go once all new ones are ready, as in the plain fork;
//                       in the real phase with the compile cache off, to compare with that row)
//   BENCH_TRACE=1  latency: also time each stage (signal, fork, worker start-up, listen, first
//                  request) in the apps, on the monotonic clock; adds a table and `breakdown`,
//                  with the CPU time the primary used from SIGHUP to the first new response
//                  and the CPU time the worker that answered it used since it started (CPU
//                  time is far less disturbed than wall time by other work on the machine)
//   BENCH_REAL_SAMPLES 20/5  rounds of the real-app phase
//   BENCH_REAL_PROBE_MS 5  the real-app phase probes with a new connection every 5 ms: the old
//                          workers answer each probe through express, and every 1 ms would
//                          keep them busy for about 60 % of a core during the reload
//   BENCH_PHASES failures,throughput,latency,real,idle
//   BENCH_BASELINE_MODULE  path of a 4.x-compatible module to run as the baseline (default:
//                          `master-process-4` from bench/node_modules, if installed)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startLoad } from './load-client.mjs';
import { probeUntil, startRawLoad } from './raw-client.mjs';
import { APPS, BENCH, Proc, alive, freePort, killAll, schedNs, sleep, survivors, track, usage } from './procs.mjs';

const ROOT = path.resolve(BENCH, '..');
const APP = path.join(APPS, 'app.js');
const PLAIN = path.join(APPS, 'plain-cluster.js');
const PLAIN_FORK = path.join(APPS, 'plain-cluster-fork.js');
const TRACE_PRELOAD = path.join(APPS, 'trace-preload.js');
// What a worker preloads by default: the bundle, running its heartbeat answerer and drain.
const WORKER_PRELOAD = path.join(ROOT, 'lib', 'worker', 'preload.js');
const WORKER_PRELOAD_ENV = { MASTER_PROCESS_WORKER_PRELOAD: 'heartbeat,drain' };
const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

function setting(name, full, quick, parse = Number) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return QUICK ? quick : full;
  const value = parse(raw);
  if (typeof value === 'number' && !(value >= 0)) throw new Error(`bench: ${name}=${raw} is not a number >= 0`);
  return value;
}
const list = (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean);
const numbers = (raw) => list(raw).map(Number);

const S = {
  workers: setting('BENCH_WORKERS', 2, 2),
  connections: setting('BENCH_CONNECTIONS', 32, 32),
  delayMs: setting('BENCH_DELAY_MS', 5, 5),
  reloads: setting('BENCH_RELOADS', 50, 5),
  reloadGapMs: setting('BENCH_RELOAD_GAP_MS', 250, 100),
  clients: setting('BENCH_CLIENTS', ['agent', 'raw'], ['agent', 'raw'], list),
  together: setting('BENCH_CLIENTS_TOGETHER', true, true, (v) => v !== '0' && v !== 'false'),
  styles: setting('BENCH_STYLES', ['no-handler', 'close-on-term'], ['no-handler', 'close-on-term'], list),
  throughputSeconds: setting('BENCH_THROUGHPUT_SECONDS', 2, 1),
  throughputWarmupSeconds: setting('BENCH_THROUGHPUT_WARMUP_SECONDS', 0.5, 0.5),
  throughputRounds: setting('BENCH_THROUGHPUT_ROUNDS', 6, 2),
  throughputDelays: setting('BENCH_THROUGHPUT_DELAYS', [5, 0], [5, 0], numbers),
  withDrainOff: setting('BENCH_WITH_DRAIN_OFF', false, false, (v) => v === '1' || v === 'true'),
  throughputDrainOff: setting('BENCH_THROUGHPUT_DRAIN_OFF', false, false, (v) => v === '1' || v === 'true'),
  latencySamples: setting('BENCH_LATENCY_SAMPLES', 20, 5),
  realSamples: setting('BENCH_REAL_SAMPLES', 20, 5),
  realProbeMs: setting('BENCH_REAL_PROBE_MS', 5, 5),
  idleSeconds: setting('BENCH_IDLE_SECONDS', 30, 5),
  idleWorkers: setting('BENCH_IDLE_WORKERS', 4, 4),
  phases: setting('BENCH_PHASES', ['failures', 'throughput', 'latency', 'real', 'idle'],
    ['failures', 'throughput', 'latency', 'real', 'idle'], list),
  trace: setting('BENCH_TRACE', false, false, (v) => v === '1' || v === 'true'),
  latencyDrainOff: setting('BENCH_LATENCY_DRAIN_OFF', false, false, (v) => v === '1' || v === 'true'),
  latencyCacheOff: setting('BENCH_LATENCY_CACHE_OFF', false, false, (v) => v === '1' || v === 'true'),
  swapBatch: setting('BENCH_SWAP_BATCH', false, false, (v) => v === '1' || v === 'true'),
};

const started = performance.now();
function progress(text) {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}

// ---------------------------------------------------------------------------- statistics

function quantile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const median = (values) => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (value, digits = 1) => (value === null || value === undefined ? null : Number(value.toFixed(digits)));

// ---------------------------------------------------------------------------- reloaders

const OURS = { name: 'master-process', module: ROOT, events: true, version: readVersion(ROOT) };
// The same with MASTER_PROCESS_DRAIN=off: old workers get SIGTERM once replaced, no drain.
// A check that the clients do see failures (BENCH_WITH_DRAIN_OFF=1).
const DRAIN_OFF = { ...OURS, name: 'master-process, drain off', env: { MASTER_PROCESS_DRAIN: 'off' } };
const CACHE_OFF = { ...OURS, name: 'master-process, compile cache off', env: { MASTER_PROCESS_COMPILE_CACHE: 'off' } };
const SWAP_BATCH = { ...OURS, name: 'master-process, batch swap', env: { MASTER_PROCESS_RELOAD_SWAP: 'batch' } };
// The latency baseline: a plain `cluster` primary that forks a new generation on SIGHUP.
const PLAIN_CLUSTER_FORK = { name: 'plain cluster fork', script: PLAIN_FORK, events: false };

/** HEAD and whether files outside bench/ differ from it, so a figure names the code it measured. */
function gitState() {
  try {
    const git = (...args) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const dirty = git('status', '--porcelain', '--', '.', ':!bench').trim().split('\n').filter(Boolean).length;
    const binary = fs.statSync(path.join(ROOT, 'master-process.linux-x64-gnu.node'), { throwIfNoEntry: false });
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), dirtyFiles: dirty, addonMtime: binary?.mtime.toISOString() ?? null };
  } catch {
    return null;
  }
}

function readVersion(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** master-process 4.x under its alias in bench/node_modules (or BENCH_BASELINE_MODULE). */
function findBaseline() {
  let dir = process.env.BENCH_BASELINE_MODULE;
  if (!dir) {
    dir = path.join(BENCH, 'node_modules', 'master-process-4');
    if (!fs.existsSync(path.join(dir, 'package.json'))) {
      return {
        installed: false,
        reason: 'master-process-4 is not installed in bench/node_modules ' +
          '(cd bench && npm install --no-save master-process-4@npm:master-process@4)',
      };
    }
  }
  dir = path.resolve(dir);
  const version = readVersion(dir);
  return { installed: true, name: `master-process ${version ?? '?'} (baseline)`, module: dir, events: false, version };
}

/**
 * A cluster primary running bench/apps/app.js: under a reloader (`module`), or the plain
 * `cluster` baseline (`plain: true`). Knows its workers from their `WORKER` lines and, with
 * `events`, from the handle's `EVENT` lines.
 */
class Master {
  constructor({ reloader = null, plain = false, workers, style = 'no-handler', delayMs, port, env = {} }) {
    this.reloader = reloader;
    this.workers = workers;
    this.port = port;
    this.proc = new Proc(plain ? PLAIN : reloader.script ?? APP, {
      PORT: String(port),
      WORKERS: String(workers),
      BENCH_STYLE: style,
      BENCH_DELAY_MS: String(delayMs),
      ...(plain || !reloader.module ? {} : { BENCH_MASTER: reloader.module }),
      ...env,
    });
    this.pid = this.proc.pid;
  }

  get records() {
    return this.proc.records;
  }

  workerLines() {
    return this.records.filter((r) => r.kind === 'WORKER');
  }

  generation() {
    return Math.max(-1, ...this.workerLines().map((r) => r.reload));
  }

  async ready() {
    await this.proc.waitUntil(
      () => this.workerLines().filter((r) => r.reload === 0).length >= this.workers,
      `${this.workers} workers listening`,
    );
  }

  /**
   * SIGHUP, then wait for the reload to complete (the new generation serves). Resolves with
   * performance.now() times and `gone`, a promise of the time the last old worker was gone.
   */
  async reload() {
    const r = await (this.reloader.events ? this.#reloadByEvents() : this.#reloadByWorkers());
    r.gone.catch(() => {}); // awaited by the caller; this only keeps it from being "unhandled"
    return r;
  }

  // This package: the handle's 'reload' (or 'reload-failed') event; gone: a 'worker-exit'
  // event for every worker that was listening before the SIGHUP.
  async #reloadByEvents() {
    const records = this.records;
    const events = (name) => records.filter((r) => r.kind === 'EVENT' && r.event === name);
    const exitTimes = () => new Map(events('worker-exit').map((r) => [r.pid, r.time]));
    const exited = exitTimes();
    const old = events('worker-listening').map((r) => r.pid).filter((pid) => !exited.has(pid));
    const before = Math.max(-1, ...events('worker-listening').map((r) => r.generation));
    const from = records.length;
    const tSighup = performance.now();
    this.proc.signal('SIGHUP');
    const done = await this.proc.waitUntil(
      () => records.slice(from).find((r) => r.kind === 'EVENT' && ['reload', 'reload-failed'].includes(r.event) &&
        r.generation > before),
      'the reload event',
      { timeoutMs: 60000 },
    );
    if (done.event === 'reload-failed') {
      return { tSighup, tDone: done.time, gone: Promise.resolve(null), failed: done.reason };
    }
    const gone = this.proc.waitUntil(() => {
      const times = exitTimes();
      if (!old.every((pid) => times.has(pid))) return null;
      const lingering = old.filter(alive);
      if (lingering.length) throw new Error(`worker-exit event for ${lingering.join(' ')} but /proc still has them`);
      return Math.max(done.time, ...old.map((pid) => times.get(pid)));
    }, 'worker-exit of every old worker', { timeoutMs: 60000 });
    return { tSighup, tDone: done.time, gone, generation: done.generation };
  }

  // A reloader without events (4.x): every slot has a newer worker listening (its WORKER
  // line); gone: /proc says every worker that was there before is gone (polled every 2 ms).
  async #reloadByWorkers() {
    const old = this.workerLines().map((r) => r.pid).filter(alive);
    const before = this.generation();
    const tSighup = performance.now();
    this.proc.signal('SIGHUP');
    const tDone = await this.proc.waitUntil(() => {
      const fresh = this.workerLines().filter((r) => r.reload > before);
      return fresh.length >= this.workers ? Math.max(...fresh.map((r) => r.time)) : null;
    }, 'a new generation listening', { timeoutMs: 60000 });
    const gone = this.proc.waitUntil(
      () => (old.every((pid) => !alive(pid)) ? performance.now() : null),
      'the old workers gone',
      { timeoutMs: 60000, pollMs: 2 },
    );
    return { tSighup, tDone, gone, generation: this.generation() };
  }

  /** SIGTERM and wait for the master to exit; SIGKILL whatever of it is left. */
  async stop() {
    const pids = () => [this.pid, ...this.workerLines().map((r) => r.pid),
      ...this.records.filter((r) => r.kind === 'EVENT' && r.pid).map((r) => r.pid)];
    for (const pid of pids()) track(pid);
    if (!this.proc.exited) {
      this.proc.signal('SIGTERM');
      const exited = await Promise.race([this.proc.exit, sleep(20000).then(() => null)]);
      if (!exited) progress(`master ${this.pid} did not exit within 20 s of SIGTERM: killing it`);
    }
    const deadline = performance.now() + 3000;
    while (pids().some(alive) && performance.now() < deadline) await sleep(20);
    const left = [...new Set(pids())].filter(alive);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await this.proc.exit;
    return { exit: this.proc.exited, leftBehind: left.length };
  }
}

async function startMaster(options) {
  const master = new Master({ ...options, port: await freePort() });
  try {
    await master.ready();
  } catch (error) {
    await master.stop();
    throw error;
  }
  return master;
}

// ---------------------------------------------------------------------------- phases

const CLIENT_NAMES = { agent: 'http.Agent', raw: 'raw socket' };

/**
 * Failed requests over S.reloads reloads under keep-alive load, with `clients` running at
 * once against the same master (S.connections split between them), so both count the same
 * reloads. One row per client.
 */
async function failureSeries(reloader, style, clients) {
  const master = await startMaster({ reloader, workers: S.workers, style, delayMs: S.delayMs, env: reloader.env });
  let watch = null;
  const onResponse = (body, time) => {
    if (watch && watch.first === null && Number(body) >= watch.generation) watch.first = time;
  };
  const share = (i) => Math.floor(S.connections / clients.length) + (i < S.connections % clients.length ? 1 : 0);
  const loads = clients.map((client, i) => (client === 'agent'
    ? startLoad(master.port, { connections: share(i) })
    : startRawLoad(master.port, { connections: share(i), onResponse })));
  const reloads = [];
  const gones = [];
  let stats;
  let stopped;
  let exits;
  const t0 = performance.now();
  try {
    await sleep(500);
    for (let i = 0; i < S.reloads; i++) {
      const w = { generation: master.generation() + 1, first: null };
      watch = w;
      const r = await master.reload();
      const entry = { done: r.tDone - r.tSighup, gone: null, failed: r.failed ?? null };
      // The first new-generation response seen by the raw client before the next SIGHUP.
      Object.defineProperty(entry, 'first', { get: () => (w.first === null ? null : w.first - r.tSighup) });
      reloads.push(entry);
      // The old generation retires in the background; the next reload does not wait for it.
      gones.push(r.gone.then((t) => {
        entry.gone = t === null ? null : t - r.tSighup;
      }));
      await sleep(S.reloadGapMs);
    }
    await Promise.all(gones); // every old worker gone, still under load
    await sleep(500);
  } finally {
    stats = await Promise.all(loads.map((load) => load.stop()));
    exits = exitKinds(master);
    stopped = await master.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const ok = reloads.filter((r) => !r.failed);
  const firsts = ok.map((r) => r.first).filter((v) => v !== null);
  return clients.map((client, i) => ({
    reloader: reloader.name,
    style,
    client: CLIENT_NAMES[client],
    connections: share(i),
    reloads: ok.length,
    reloadsFailed: reloads.length - ok.length,
    sent: stats[i].sent,
    ok: stats[i].ok,
    failed: stats[i].failed,
    pending: stats[i].pending,
    failedPercent: round((100 * stats[i].failed) / Math.max(1, stats[i].sent), 3),
    errors: stats[i].errors,
    ...(client === 'raw' ? {
      connects: stats[i].connects,
      connectionCloseResponses: stats[i].closedAfterConnectionClose,
      unsolicitedResponses: stats[i].unsolicited,
    } : {}),
    rps: Math.round(stats[i].sent / seconds),
    seconds: round(seconds),
    reloadDoneMsP50: round(median(ok.map((r) => r.done))),
    oldGoneMsP50: round(median(ok.map((r) => r.gone))),
    oldGoneMsMax: round(Math.max(...ok.map((r) => r.gone))),
    firstNewMsP50: firsts.length ? round(median(firsts)) : null,
    oldWorkerExits: exits,
    masterExit: stopped.exit.code ?? stopped.exit.signal,
    leftBehind: stopped.leftBehind,
  }));
}

/** How the workers that exited so far ended, from 'worker-exit' events: { SIGKILL: n, 'code 0': n }. */
function exitKinds(master) {
  const out = {};
  for (const r of master.records) {
    if (r.kind !== 'EVENT' || r.event !== 'worker-exit') continue;
    const kind = r.signal ? r.signal : `code ${r.code}`;
    out[kind] = (out[kind] || 0) + 1;
  }
  return master.reloader.events ? out : null;
}

/** Requests per second on one master with no reloads: a fresh load, a warm-up, a window. */
async function throughputSlice(master) {
  const load = startRawLoad(master.port, { connections: S.connections });
  let result;
  try {
    await sleep(S.throughputWarmupSeconds * 1000);
    const ok0 = load.stats.ok;
    const t0 = performance.now();
    await sleep(S.throughputSeconds * 1000);
    const ok1 = load.stats.ok;
    const seconds = (performance.now() - t0) / 1000;
    const window = load.stats.latencies.slice(ok0, ok1);
    result = { rps: (ok1 - ok0) / seconds, p50: quantile(window, 0.5), p99: quantile(window, 0.99) };
  } finally {
    const stats = await load.stop();
    if (result) result.failed = stats.failed;
  }
  return result;
}

/**
 * Per handler delay: master-process and a plain cluster primary (and, optionally,
 * master-process with the drain off) run side by side, idle but for the one under load;
 * the load alternates between them in short slices (ABBA order) so that other work on the
 * machine hits both alike. The ratio is the median of the per-round ratios.
 */
async function throughputPhase() {
  const out = [];
  for (const delayMs of S.throughputDelays) {
    const kinds = ['ours', 'plain', ...(S.throughputDrainOff ? ['drainOff'] : [])];
    const masters = {};
    const runs = { ours: [], plain: [], drainOff: [] };
    try {
      for (const kind of kinds) {
        masters[kind] = await startMaster({
          reloader: kind === 'plain' ? null : OURS,
          plain: kind === 'plain',
          workers: S.workers,
          delayMs,
          env: kind === 'drainOff' ? { MASTER_PROCESS_DRAIN: 'off' } : {},
        });
      }
      for (let round_ = 0; round_ < S.throughputRounds; round_++) {
        const order = round_ % 2 ? [...kinds].reverse() : kinds;
        for (const kind of order) runs[kind].push(await throughputSlice(masters[kind]));
        progress(`throughput ${delayMs} ms handler, round ${round_ + 1}: ` +
          kinds.map((k) => `${k} ${Math.round(runs[k].at(-1).rps)}`).join(', ') + ' req/s');
      }
    } finally {
      for (const master of Object.values(masters)) await master.stop();
    }
    const mean = (rs) => rs.reduce((n, r) => n + r.rps, 0) / rs.length;
    const ratios = (rs) => rs.map((r, i) => r.rps / runs.plain[i].rps);
    out.push({
      handlerMs: delayMs,
      masterProcessRps: Math.round(mean(runs.ours)),
      plainClusterRps: Math.round(mean(runs.plain)),
      ratio: round(median(ratios(runs.ours)), 3),
      ratioOfMeans: round(mean(runs.ours) / mean(runs.plain), 3),
      ratioPerRound: ratios(runs.ours).map((r) => round(r, 3)),
      p50Ms: { masterProcess: round(median(runs.ours.map((r) => r.p50)), 2), plainCluster: round(median(runs.plain.map((r) => r.p50)), 2) },
      p99Ms: { masterProcess: round(median(runs.ours.map((r) => r.p99)), 2), plainCluster: round(median(runs.plain.map((r) => r.p99)), 2) },
      failed: [...runs.ours, ...runs.plain, ...runs.drainOff].reduce((n, r) => n + r.failed, 0),
      ...(S.throughputDrainOff ? {
        drainOffRps: Math.round(mean(runs.drainOff)),
        drainOffRatio: round(median(ratios(runs.drainOff)), 3),
      } : {}),
    });
  }
  return out;
}

/**
 * Unloaded reloads probed open-loop (a new connection every 1 ms), interleaved with the plain
 * cluster fork baseline and bare starts: one reload of each side per round, in an order that
 * rotates each round.
 */
async function latencyPhase(reloaders) {
  const traceEnv = S.trace ? { BENCH_TRACE: '1' } : {};
  const out = {};
  const bare = [];
  const barePreload = [];
  const bareStages = { bare: [], barePreload: [] };
  const masters = [];
  try {
    const extra = [...(S.latencyCacheOff ? [CACHE_OFF] : []), ...(S.latencyDrainOff ? [DRAIN_OFF] : []),
      ...(S.swapBatch ? [SWAP_BATCH] : [])];
    for (const reloader of [...reloaders, ...extra, PLAIN_CLUSTER_FORK]) {
      masters.push(await startMaster({ reloader, workers: S.workers, delayMs: S.delayMs, env: { ...reloader.env, ...traceEnv } }));
      out[reloader.name] = { first: [], done: [], gone: [], stages: [] };
    }
    for (let i = 0; i < S.latencySamples; i++) {
      // The order rotates each round, so that no side always comes first (or right after the bare starts).
      for (const master of masters.map((_, k) => masters[(i + k) % masters.length])) {
        const generation = master.generation() + 1;
        const from = master.records.length;
        const probing = probeUntil(master.port, (r) => r.ok && Number(r.body) >= generation);
        probing.catch(() => {}); // awaited below, unless the reload fails first
        const cpu0 = S.trace ? schedNs(master.pid) : 0;
        let cpu1 = null;
        probing.then(() => {
          if (S.trace) cpu1 = schedNs(master.pid);
        }, () => {});
        const r = await master.reload();
        const first = await probing;
        const samples = out[master.reloader.name];
        if (r.failed) throw new Error(`reload failed during the latency phase: ${r.failed}`);
        samples.first.push(first - r.tSighup);
        samples.done.push(r.tDone - r.tSighup);
        samples.gone.push((await r.gone) - r.tSighup);
        await sleep(S.reloadGapMs);
        if (S.trace) {
          const stages = traceStages(master.records.slice(from), toMono(r.tSighup), toMono(first), generation);
          if (stages) stages.primaryCpuMs = cpu1 === null ? null : (cpu1 - cpu0) / 1e6;
          samples.stages.push(stages);
        }
      }
      // Bare `node app.js`, then the same with this package's worker preload (for the breakdown).
      for (const [samples, execArgv, stages, env] of [[bare, [], bareStages.bare, {}],
        [barePreload, ['--require', WORKER_PRELOAD], bareStages.barePreload, WORKER_PRELOAD_ENV]]) {
        const port = await freePort();
        const t0 = performance.now();
        const app = new Proc(APP, { PORT: String(port), BENCH_DELAY_MS: String(S.delayMs), ...traceEnv, ...env },
          { quiet: !S.trace, execArgv: S.trace ? ['--require', TRACE_PRELOAD, ...execArgv] : execArgv });
        try {
          const first = await probeUntil(port, (r) => r.ok);
          samples.push(first - t0);
          if (S.trace) {
            await sleep(20); // its TRACE lines were written before the response: let them arrive
            stages.push(traceStages(app.records, toMono(t0), toMono(first), null));
          }
        } finally {
          app.signal('SIGKILL');
          await app.exit;
        }
        await sleep(S.reloadGapMs);
      }
    }
  } finally {
    for (const master of masters) await master.stop();
  }
  const bareP50 = median(bare);
  const plainP50 = median(out[PLAIN_CLUSTER_FORK.name].first);
  const result = {
    samples: S.latencySamples,
    bareFirstResponseMsP50: round(bareP50),
    bareWithDrainPreloadMsP50: round(median(barePreload)),
    bareMs: bare.map((v) => round(v)),
    plainClusterForkFirstResponseMsP50: round(plainP50),
    plainClusterForkWorkers: S.workers,
  };
  for (const [name, s] of Object.entries(out)) {
    result[name] = {
      firstNewResponseMsP50: round(median(s.first)),
      reloadEventMsP50: round(median(s.done)),
      lastOldGoneMsP50: round(median(s.gone)),
      firstMinusBareMs: round(median(s.first) - bareP50),
      ...(name === PLAIN_CLUSTER_FORK.name ? {} : {
        firstMinusPlainClusterForkMs: round(median(s.first) - plainP50),
        // The same from the pairs measured back to back (sample i of each), less exposed to drift.
        firstMinusPlainClusterForkPairedMsP50: round(median(s.first.map((v, i) => v - out[PLAIN_CLUSTER_FORK.name].first[i]))),
      }),
      firstMs: s.first.map((v) => round(v)),
      goneMs: s.gone.map((v) => round(v)),
    };
  }
  if (S.trace) {
    result.breakdown = {};
    for (const [name, s] of Object.entries(out)) result.breakdown[name] = stageMedians(s.stages);
    result.breakdown['bare node app.js'] = stageMedians(bareStages.bare);
    result.breakdown['bare + worker preload'] = stageMedians(bareStages.barePreload);
  }
  return result;
}

// ---------------------------------------------------------------------------- real app

const REAL_PACKAGES = ['express', '@aws-sdk/client-s3'];
const [NODE_MAJOR, NODE_MINOR] = process.versions.node.split('.').map(Number);
const NODE_HAS_COMPILE_CACHE = NODE_MAJOR > 22 || (NODE_MAJOR === 22 && NODE_MINOR >= 1);

/** Why the real app cannot run (its packages are not installed in bench/), or null. */
function realAppMissing() {
  const missing = REAL_PACKAGES.filter((name) => !fs.existsSync(path.join(BENCH, 'node_modules', name, 'package.json')));
  return missing.length
    ? `${missing.join(' and ')} not installed in bench/node_modules (install them with: npm --prefix bench install)`
    : null;
}

/**
 * SIGHUP -> first response from the new generation of the real app, side by side: one reload
 * of each side per round, the order rotated each round, after one warm-up reload each (so
 * the compile cache side has had a generation retire and write its cache, and every side
 * has its files in the page cache). Ratios to the plain fork are per round, then the median.
 */
async function realAppPhase(reloaders) {
  const missing = realAppMissing();
  if (missing) {
    progress(`real app skipped: ${missing}`);
    return { skipped: missing };
  }
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-compile-cache-'));
  const appEnv = { BENCH_APP: 'real', NODE_NO_WARNINGS: '1', ...(S.trace ? { BENCH_TRACE: '1' } : {}) };
  const sides = [];
  for (const reloader of reloaders) {
    if (reloader === OURS) {
      sides.push({ name: 'master-process', reloader, env: { MASTER_PROCESS_COMPILE_CACHE: cacheDir } });
      sides.push({ name: 'master-process, compile cache off', reloader, env: { MASTER_PROCESS_COMPILE_CACHE: 'off' } });
      if (S.swapBatch) {
        sides.push({ name: 'master-process, compile cache off, batch swap', reloader,
          env: { MASTER_PROCESS_COMPILE_CACHE: 'off', MASTER_PROCESS_RELOAD_SWAP: 'batch' } });
      }
    } else sides.push({ name: reloader.name, reloader, env: {} });
  }
  sides.push({ name: PLAIN_CLUSTER_FORK.name, reloader: PLAIN_CLUSTER_FORK, env: {}, plain: true });
  const bare = { 'bare node app.js, no cache': [], 'bare node app.js, warm compile cache': [] };
  try {
    for (const side of sides) {
      side.master = await startMaster({ reloader: side.reloader, workers: S.workers, delayMs: S.delayMs,
        env: { ...appEnv, ...side.env } });
      side.first = [];
      side.stages = [];
      progress(`real app: ${side.name} warm-up reload`);
      const r = await side.master.reload();
      if (r.failed) throw new Error(`${side.name}: warm-up reload failed: ${r.failed}`);
      await r.gone;
    }
    for (let i = 0; i < S.realSamples; i++) {
      const order = sides.map((_, k) => sides[(i + k) % sides.length]);
      for (const side of order) {
        const { master } = side;
        const generation = master.generation() + 1;
        const from = master.records.length;
        const probing = probeUntil(master.port, (res) => res.ok && Number(res.body) >= generation,
          { intervalMs: S.realProbeMs });
        probing.catch(() => {}); // awaited below, unless the reload fails first
        const cpu0 = S.trace ? schedNs(master.pid) : 0;
        let cpu1 = null;
        probing.then(() => {
          if (S.trace) cpu1 = schedNs(master.pid);
        }, () => {});
        const r = await master.reload();
        if (r.failed) throw new Error(`${side.name}: reload failed during the real-app phase: ${r.failed}`);
        const first = await probing;
        side.first.push(first - r.tSighup);
        await r.gone;
        if (S.trace) {
          const stages = traceStages(master.records.slice(from), toMono(r.tSighup), toMono(first), generation);
          if (stages) stages.primaryCpuMs = cpu1 === null ? null : (cpu1 - cpu0) / 1e6;
          side.stages.push(stages);
        }
        await sleep(S.reloadGapMs);
      }
      for (const [name, env] of [['bare node app.js, no cache', {}],
        ...(NODE_HAS_COMPILE_CACHE ? [['bare node app.js, warm compile cache', { NODE_COMPILE_CACHE: cacheDir }]] : [])]) {
        const port = await freePort();
        const t0 = performance.now();
        const app = new Proc(APP, { PORT: String(port), BENCH_DELAY_MS: String(S.delayMs), ...appEnv, BENCH_TRACE: '0', ...env },
          { quiet: true });
        try {
          bare[name].push((await probeUntil(port, (res) => res.ok, { intervalMs: S.realProbeMs })) - t0);
        } finally {
          app.signal('SIGKILL');
          await app.exit;
        }
        await sleep(S.reloadGapMs);
      }
      progress(`real app round ${i + 1}: ` + sides.map((side) => `${side.name} ${round(side.first.at(-1))}`).join(', ') + ' ms');
    }
  } finally {
    for (const side of sides) if (side.master) await side.master.stop();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  const plain = sides.find((side) => side.plain);
  const out = {
    app: 'express + @aws-sdk/client-s3 (bench/apps/real-app.js)',
    versions: Object.fromEntries(REAL_PACKAGES.map((name) => [name, readVersion(path.join(BENCH, 'node_modules', name))])),
    samples: S.realSamples,
    probeMs: S.realProbeMs,
    workers: S.workers,
    nodeHasCompileCache: NODE_HAS_COMPILE_CACHE,
    sides: {},
  };
  for (const side of sides) {
    const ratios = side.first.map((v, i) => v / plain.first[i]);
    out.sides[side.name] = {
      firstNewResponseMsP50: round(median(side.first)),
      ratioToPlainForkP50: round(median(ratios), 3),
      ratioP25: round(quantile(ratios, 0.25), 3),
      ratioP75: round(quantile(ratios, 0.75), 3),
      firstMs: side.first.map((v) => round(v)),
      ...(S.trace ? { breakdown: stageMedians(side.stages) } : {}),
    };
  }
  for (const [name, values] of Object.entries(bare)) {
    if (values.length) out.sides[name] = { firstResponseMsP50: round(median(values)), firstMs: values.map((v) => round(v)) };
  }
  return out;
}

// performance.now() and process.hrtime() (the apps' TRACE times) are both CLOCK_MONOTONIC.
const MONO_OFFSET = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const toMono = (t) => t + MONO_OFFSET;

/**
 * Where one reload's (or bare start's) time went, from the TRACE lines of the processes, in
 * ms, following the new worker that got the first request (`generation` null: a bare app).
 * t0: SIGHUP sent (or the bare app spawned); tFirst: the accepted response arrived.
 */
function traceStages(records, t0, tFirst, generation) {
  const traces = records.filter((r) => r.kind === 'TRACE');
  const at = (name) => traces.filter((r) => r.at === name);
  const forks = at('fork-call').filter((r) => generation === null || r.generation === generation);
  const starts = new Map(at('worker-start').filter((r) => generation === null || r.reload === generation).map((r) => [r.pid, r]));
  const times = (name) => new Map(at(name).map((r) => [r.pid, r.t]));
  const listens = times('listen');
  const firsts = times('first-request');
  const candidates = [...starts.keys()].filter((pid) => firsts.has(pid) && listens.has(pid));
  if (!candidates.length) return null;
  const pid = candidates.reduce((a, b) => (firsts.get(a) <= firsts.get(b) ? a : b));
  const w = starts.get(pid);
  const fork = forks.find((f) => f.child === pid);
  const sighup = at('sighup-js')[0];
  const primaryListening = at('primary-listening').find((r) => r.child === pid);
  const firstForkAt = forks.length ? Math.min(...forks.map((f) => f.start)) : null;
  // signalToWinnerFork .. firstRequestToResponse add up to the total, sample by sample.
  return {
    signalToJsListener: sighup ? sighup.t - t0 : null,
    signalToFirstFork: firstForkAt === null ? null : firstForkAt - t0,
    forkCallsMs: forks.length ? Math.max(...forks.map((f) => f.end)) - firstForkAt : null,
    signalToWinnerFork: fork ? fork.start - t0 : null,
    forkCallToProcessStart: w.origin - (fork ? fork.start : t0),
    processStartToEnvironment: w.environment - w.origin,
    environmentToPreloads: w.preloadStart === null ? null : w.preloadStart - w.environment,
    preloadsToAppJs: w.app - (w.preloadStart ?? w.bootstrapComplete),
    nodeBootstrap: w.bootstrapComplete - w.origin,
    appJsToListen: listens.get(pid) - w.app,
    listenToPrimaryListening: primaryListening ? primaryListening.t - listens.get(pid) : null,
    listenToFirstRequest: firsts.get(pid) - listens.get(pid),
    firstRequestToResponse: tFirst - firsts.get(pid),
    total: tFirst - t0,
    workerCpuMs: at('first-request').find((r) => r.pid === pid)?.cpuMs ?? null,
    winnerForkIndex: fork ? forks.indexOf(fork) : null,
  };
}

const STAGES = [
  ['signalToJsListener', 'signal->JS'],
  ['signalToFirstFork', 'signal->fork()'],
  ['forkCallsMs', 'fork() calls'],
  ['signalToWinnerFork', 'signal->its fork()'],
  ['forkCallToProcessStart', 'fork()->proc start'],
  ['processStartToEnvironment', 'start->env'],
  ['environmentToPreloads', 'env->preloads'],
  ['preloadsToAppJs', 'preloads->app.js'],
  ['appJsToListen', 'app.js->listen'],
  ['listenToFirstRequest', 'listen->1st req'],
  ['firstRequestToResponse', '1st req->resp'],
  ['total', 'total'],
];

const CPU = [
  ['primaryCpuMs', 'primary CPU, SIGHUP->1st new resp'],
  ['workerCpuMs', 'answering worker CPU, start->1st req'],
];

/** Per stage: the median (the table), and in `means` the mean (means add up to the mean total). */
function stageMedians(samples) {
  const ok = samples.filter(Boolean);
  const out = { samples: ok.length };
  const means = {};
  for (const key of [...STAGES.map(([k]) => k), 'nodeBootstrap', 'listenToPrimaryListening', ...CPU.map(([k]) => k)]) {
    const values = ok.map((s) => s[key]).filter((v) => v !== null && v !== undefined);
    out[key] = values.length ? round(median(values), 2) : null;
    means[key] = values.length ? round(values.reduce((a, v) => a + v, 0) / values.length, 2) : null;
  }
  out.means = means;
  out.perSample = ok.map((sample) => Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, round(v, 2)])));
  const order = ok.map((s) => s.winnerForkIndex).filter((v) => v !== null);
  if (order.length) out.firstServedByFirstForked = order.filter((v) => v === 0).length;
  return out;
}

/** Master RSS and CPU over S.idleSeconds with S.idleWorkers workers, all masters side by side. */
async function idlePhase(reloaders) {
  const masters = [];
  try {
    for (const reloader of reloaders) {
      masters.push([reloader.name, await startMaster({
        reloader,
        workers: S.idleWorkers,
        delayMs: S.delayMs,
        env: { MASTER_PROCESS_MONITOR_WARMUP: '0' }, // monitoring samples from the start (every 2 s)
      })]);
    }
    masters.push(['plain cluster', await startMaster({ plain: true, workers: S.idleWorkers, delayMs: S.delayMs })]);
    await sleep(2000);
    const before = masters.map(([, m]) => usage(m.pid));
    const t0 = performance.now();
    await sleep(S.idleSeconds * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const after = masters.map(([, m]) => usage(m.pid));
    const out = {};
    masters.forEach(([name, m], i) => {
      const cpuMs = after[i].cpuMs - before[i].cpuMs;
      const runMs = after[i].runMs - before[i].runMs;
      out[name] = {
        rssMiBBefore: round(before[i].rssKiB / 1024),
        rssMiBAfter: round(after[i].rssKiB / 1024),
        rssPeakMiB: round(after[i].hwmKiB / 1024),
        cpuMs: Math.round(cpuMs),
        cpuPercent: round((100 * cpuMs) / (seconds * 1000), 3),
        schedRunMs: round(runMs, 2),
        schedRunPercent: round((100 * runMs) / (seconds * 1000), 4),
        threads: after[i].threads,
        workersAlive: m.workerLines().filter((r) => alive(r.pid)).length,
      };
    });
    return { seconds: round(seconds), workers: S.idleWorkers, monitoring: 'on, warm-up 0, every 2 s', masters: out };
  } finally {
    for (const [, m] of masters) await m.stop();
  }
}

// ---------------------------------------------------------------------------- output

function table(headers, rows) {
  const cells = [headers, ...rows].map((row) => headers.map((_, i) => (row[i] === null || row[i] === undefined ? '-' : String(row[i]))));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const kinds = (errors) => Object.entries(errors).map(([k, n]) => `${k}:${n}`).join(' ') || '-';

function render(result) {
  const out = [];
  out.push(`master-process ${OURS.version} bench: node ${process.version}, ${result.cpus} CPUs, ` +
    `load average ${result.loadavg.start.join(' ')} at start, ${result.loadavg.end.join(' ')} at end` +
    `${QUICK ? ' (QUICK MODE)' : ''}`);
  if (result.git) {
    out.push(`code: commit ${result.git.commit}${result.git.dirtyFiles ? ` + ${result.git.dirtyFiles} changed files outside bench/` : ''}` +
      `${result.gitAtEnd ? ` (CHANGED during the run: ${JSON.stringify(result.gitAtEnd)})` : ''}`);
  }
  out.push(`4.x baseline: ${result.baseline4x.installed ? result.baseline4x.name : `skipped: ${result.baseline4x.reason}`}`);
  if (result.failures) {
    out.push('', `Failed requests, ${S.reloads} reloads each under keep-alive load (${S.connections} connections, ` +
      `${S.delayMs} ms handler, ${S.workers} workers; ${S.together ? 'clients side by side; ' : ''}` +
      `each reload awaited until the new generation serves, then ` +
      `${S.reloadGapMs} ms; old workers retire in the background; times from SIGHUP)`);
    out.push(table(
      ['reloader', 'app', 'client', 'conns', 'reloads', 'requests', 'failed', 'pending', 'failure kinds', 'req/s',
        'reload ev p50', '1st new p50', 'old gone p50', 'old gone max', 'old workers ended by'],
      result.failures.map((f) => f.error
        ? [f.reloader, f.style, f.client, null, 'ERROR']
        : [f.reloader, f.style, f.client, f.connections, f.reloads + (f.reloadsFailed ? ` (+${f.reloadsFailed} failed)` : ''),
          f.sent, f.failed, f.pending, kinds(f.errors), f.rps, ms(f.reloadDoneMsP50), ms(f.firstNewMsP50),
          ms(f.oldGoneMsP50), ms(f.oldGoneMsMax), f.oldWorkerExits ? kinds(f.oldWorkerExits) : null]),
    ));
    for (const f of result.failures.filter((x) => x.error)) {
      out.push(`error: ${f.reloader}, ${f.style}, ${f.client}: ${f.error.split('\n')[0]}`);
    }
    if (result.failures.some((f) => f.oldWorkerExits?.SIGKILL)) {
      out.push('note: old workers ended by SIGKILL outlived their SIGTERM until the kill timeout (MAX_KILL_TIMEOUT, ' +
        'default 5 s); meanwhile the next reload waits (at most 2 x WORKERS workers at once), hence its reload time.');
    }
  }
  if (result.throughput?.error) out.push('', `Throughput: ERROR ${result.throughput.error.split('\n')[0]}`);
  else if (result.throughput) {
    out.push('', `Throughput, no reloads (raw-socket client, ${S.connections} connections, ${S.workers} workers, ` +
      `${S.throughputRounds} rounds of ${S.throughputSeconds} s per side, ABBA; ratio = median of per-round ratios)`);
    const drainOff = S.throughputDrainOff ? ['drain off req/s', 'ratio'] : [];
    out.push(table(
      ['handler', 'master-process req/s', 'plain cluster req/s', 'ratio', 'per round', 'p50 ms mp/plain',
        'p99 ms mp/plain', 'failed', ...drainOff],
      result.throughput.map((t) => [`${t.handlerMs} ms`, t.masterProcessRps, t.plainClusterRps, t.ratio.toFixed(3),
        t.ratioPerRound.join(' '), `${t.p50Ms.masterProcess}/${t.p50Ms.plainCluster}`,
        `${t.p99Ms.masterProcess}/${t.p99Ms.plainCluster}`, t.failed,
        ...(S.throughputDrainOff ? [t.drainOffRps, t.drainOffRatio.toFixed(3)] : [])]),
    ));
  }
  if (result.latency && !result.latency.error) {
    const l = result.latency;
    out.push('', `Reload latency, no load (open-loop probe: a new connection every 1 ms), medians of ${l.samples}`);
    const signed = (v) => (v === null || v === undefined ? null : `${v >= 0 ? '+' : ''}${v} ms`);
    const rows = Object.entries(l).filter(([, v]) => v && typeof v === 'object' && 'firstNewResponseMsP50' in v)
      .map(([name, v]) => [name, ms(v.firstNewResponseMsP50), ms(v.reloadEventMsP50), ms(v.lastOldGoneMsP50),
        ms(l.bareFirstResponseMsP50), signed(v.firstMinusBareMs), signed(v.firstMinusPlainClusterForkMs)]);
    out.push(table(['reloader', 'SIGHUP->1st new resp', 'SIGHUP->reload ev', 'SIGHUP->old gone',
      'bare node app.js->1st resp', '1st new - bare', '1st new - plain fork'], rows));
    out.push(`(bare \`node --require lib/worker/preload.js app.js\` (heartbeat and drain) -> 1st resp: ${ms(l.bareWithDrainPreloadMsP50)}; ` +
      `times from SIGHUP / from spawn to the response's arrival, ${S.delayMs} ms handler included on both sides)`);
    if ('plainClusterForkFirstResponseMsP50' in l) {
      out.push(`(plain cluster fork: a plain Node \`cluster\` primary with ${l.plainClusterForkWorkers} workers serving ` +
        `forks ${l.plainClusterForkWorkers} new ones on SIGHUP (its own handler), no preload; ` +
        '"reload ev" = all of them listening, "old gone" = the old ones SIGTERMed then and gone)');
    }
    if (l.breakdown) {
      out.push('', 'Where the time goes (BENCH_TRACE=1; medians per stage, ms, so they need not add up to the total; ' +
        'following the new worker that got the first request; from SIGHUP, or from spawn for bare)');
      out.push(table(['', 'n', ...STAGES.map(([, label]) => label)],
        Object.entries(l.breakdown).map(([name, b]) => [name, b.samples,
          ...STAGES.map(([key]) => (b[key] === null ? null : b[key].toFixed(2)))])));
      out.push('(signal->JS: the primary\'s own process.on(\'SIGHUP\') listener; fork() calls: first fork() call start ' +
        'to last one\'s return; signal->its fork(): to the fork() call of the worker followed, then its own stages, ' +
        'which add up to the total sample by sample (the means in the JSON do); fork()->proc start: to the new process\'s performance.timeOrigin; start->env: ' +
        'node and V8 start-up; env->preloads: node\'s pre-execution (for a worker: IPC channel, cluster set-up); ' +
        'preloads->app.js: the --require modules (lib/worker/preload.js) and loading app.js; app.js->listen: for a worker, ' +
        'the listen round trip to the primary; 1st req->resp: the handler\'s delay and the way back)');
      out.push('', 'CPU time (BENCH_TRACE=1; medians, ms; the primary\'s from its threads\' schedstat, the worker\'s from ' +
        'process.cpuUsage() at its first request)');
      out.push(table(['', 'n', ...CPU.map(([, label]) => label)],
        Object.entries(l.breakdown).map(([name, b]) => [name, b.samples,
          ...CPU.map(([key]) => (b[key] === null ? null : b[key].toFixed(2)))])));
    }
  } else if (result.latency) out.push('', `Reload latency: ERROR ${result.latency.error.split('\n')[0]}`);
  if (result.realApp?.skipped) out.push('', `Reload with a real app: skipped: ${result.realApp.skipped}`);
  else if (result.realApp?.error) out.push('', `Reload with a real app: ERROR ${result.realApp.error.split('\n')[0]}`);
  else if (result.realApp) {
    const r = result.realApp;
    out.push('', `Reload with a real app (${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}, ` +
      `loaded at start; ${r.workers} workers, no load but a probe every ${r.probeMs} ms; ${r.samples} rounds, one reload of each side per round in ` +
      'rotated order after a warm-up reload each; medians; ratio = median of the per-round ratios to the plain fork)');
    if (!r.nodeHasCompileCache) out.push(`(Node ${process.version} has no module compile cache: "master-process" runs without it too)`);
    out.push(table(['', 'SIGHUP->1st new resp', 'ratio to plain fork', 'ratio p25-p75'],
      Object.entries(r.sides).map(([name, v]) => ('firstNewResponseMsP50' in v
        ? [name, ms(v.firstNewResponseMsP50), v.ratioToPlainForkP50.toFixed(3), `${v.ratioP25.toFixed(2)}-${v.ratioP75.toFixed(2)}`]
        : [`${name} (spawn->1st resp)`, ms(v.firstResponseMsP50), null, null]))));
    if (S.trace) {
      out.push('', 'Real app, where the time goes (BENCH_TRACE=1; medians, ms; as above)');
      const rows = Object.entries(r.sides).filter(([, v]) => v.breakdown);
      out.push(table(['', 'n', ...STAGES.map(([, label]) => label), ...CPU.map(([, label]) => label)],
        rows.map(([name, { breakdown: b }]) => [name, b.samples,
          ...[...STAGES, ...CPU].map(([key]) => (b[key] === null ? null : b[key].toFixed(2)))])));
    }
  }
  if (result.idle && !result.idle.error) {
    const i = result.idle;
    out.push('', `Master idle for ${i.seconds} s, ${i.workers} workers, monitoring ${i.monitoring}`);
    out.push(table(['master', 'RSS before MiB', 'RSS after MiB', 'peak MiB', 'CPU ms (utime+stime)', 'CPU %',
      'CPU ms (schedstat)', 'CPU %', 'threads'],
    Object.entries(i.masters).map(([name, m]) => [name, m.rssMiBBefore, m.rssMiBAfter, m.rssPeakMiB, m.cpuMs,
      m.cpuPercent, m.schedRunMs, m.schedRunPercent, m.threads])));
  } else if (result.idle) out.push('', `Idle: ERROR ${result.idle.error.split('\n')[0]}`);
  return out.join('\n');
}

function ms(value) {
  return value === null || value === undefined ? null : `${value} ms`;
}

// ---------------------------------------------------------------------------- main

async function main() {
  const loadStart = os.loadavg().map((v) => round(v, 2));
  const baseline = findBaseline();
  const reloaders = baseline.installed ? [OURS, baseline] : [OURS];
  const failureReloaders = S.withDrainOff ? [...reloaders, DRAIN_OFF] : reloaders;
  if (!baseline.installed) progress(`4.x baseline skipped: ${baseline.reason}`);
  progress(`settings ${JSON.stringify(S)}`);
  const result = {
    bench: 'master-process',
    version: OURS.version,
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    quick: QUICK,
    git: gitState(),
    settings: S,
    baseline4x: baseline.installed
      ? { installed: true, name: baseline.name, version: baseline.version, module: baseline.module }
      : baseline,
  };
  let errors = 0;
  const attempt = async (name, fn) => {
    try {
      return await fn();
    } catch (error) {
      errors++;
      progress(`${name} failed: ${error.stack}`);
      return { error: String(error.message) };
    }
  };

  if (S.phases.includes('failures')) {
    result.failures = [];
    const groups = S.together ? [S.clients] : S.clients.map((c) => [c]);
    for (const reloader of failureReloaders) {
      for (const style of S.styles) {
        for (const clients of groups) {
          progress(`failures: ${reloader.name}, ${style}, ${clients.join('+')} client(s), ${S.reloads} reloads`);
          const rows = await attempt('failure series', () => failureSeries(reloader, style, clients));
          if (rows.error) {
            for (const client of clients) {
              result.failures.push({ reloader: reloader.name, style, client: CLIENT_NAMES[client], error: rows.error });
            }
            continue;
          }
          for (const f of rows) {
            progress(`  ${f.client}: ${f.sent} requests, ${f.failed} failed ${kinds(f.errors)}, ` +
              `old gone p50 ${f.oldGoneMsP50} ms, old worker exits ${kinds(f.oldWorkerExits ?? {})}`);
            result.failures.push(f);
          }
        }
      }
    }
  }
  if (S.phases.includes('throughput')) {
    progress('throughput');
    result.throughput = await attempt('throughput', throughputPhase);
  }
  if (S.phases.includes('latency')) {
    progress('reload latency');
    result.latency = await attempt('latency', () => latencyPhase(reloaders));
  }
  if (S.phases.includes('real')) {
    progress('reload latency with a real app');
    result.realApp = await attempt('real app', () => realAppPhase(reloaders));
  }
  if (S.phases.includes('idle')) {
    progress(`idle ${S.idleSeconds} s`);
    result.idle = await attempt('idle', () => idlePhase(reloaders));
  }

  const left = survivors();
  result.leftBehind = left.length;
  if (left.length) progress(`processes left behind, now killed: ${left.join(' ')}`);
  killAll();
  result.loadavg = { start: loadStart, end: os.loadavg().map((v) => round(v, 2)) };
  const gitEnd = gitState();
  if (JSON.stringify(gitEnd) !== JSON.stringify(result.git)) {
    result.gitAtEnd = gitEnd;
    progress(`the code under bench changed during the run: ${JSON.stringify(result.git)} -> ${JSON.stringify(gitEnd)}`);
  }
  result.elapsedSeconds = round((performance.now() - started) / 1000);

  process.stdout.write(`${render(result)}\n\n`);
  const json = JSON.stringify(result, (key, value) => (['bareMs', 'firstMs', 'goneMs', 'perSample'].includes(key) ? undefined : value));
  try {
    const dir = path.join(BENCH, 'results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `bench-${result.date.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    progress(`could not save the result: ${error.message}`);
  }
  process.stdout.write(`${json}\n`);
  return errors ? 1 : 0;
}

main().then(
  (code) => {
    killAll();
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench: ${error.stack}\n`);
    killAll();
    process.exitCode = 1;
  },
);
