// What resource monitoring costs, and how exact it is. `node bench/monitor-cost.mjs`
//
//  1. Cost: two masters run at the same time, each with WORKERS idle workers (default 16)
//     at the default interval (2 s). One samples (MASTER_PROCESS_MONITOR_WARMUP=0), the other
//     never does in the window (MASTER_PROCESS_MONITOR_WARMUP=1h; its timer still fires
//     every 2 s, it just has no worker to sample). Each master's utime+stime is read from
//     /proc/<pid>/stat at the start and end of a window (MONITOR_COST_SECONDS, default 60)
//     and scaled to ms of CPU per hour; the difference is the cost of sampling. /proc/stat
//     counts clock ticks (getconf CLK_TCK, usually 100 => 10 ms), so each delta is only good
//     to about 2 ticks; the resolution, scaled to an hour, is printed. As a finer cross-check
//     the ns counters of /proc/<pid>/task/<tid>/schedstat (live threads only) are printed too.
//  2. Accuracy: a master with one worker that burns BUSY ms of CPU time in every PERIOD ms
//     (default 50 of 100; less if the machine cannot give it that), MAX_CPU_ALLOWED=1 and
//     CPU_MONITOR_FAILURES=1000000, so with DEBUG=master-process every sample is logged as
//     `... cpu X.X% ...` and none leads to a replacement. Right when each such line arrives
//     the worker's /proc/<pid>/stat is read; the mean of N logged figures (MONITOR_COST_SAMPLES,
//     default 20) is compared with the /proc delta over the same span (from the line before
//     the first to the last). The first sample sysinfo takes is 0% and is not logged.
//
// Everything runs in a temp dir (the app is written there) on 127.0.0.1 ephemeral ports;
// every process started (masters, and the workers found under them) is SIGKILLed by pid at
// the end, on error and on SIGINT/SIGTERM/SIGHUP (bench/procs.mjs). Prints a table, then
// one JSON line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH, CLK_TCK, Proc, cpuTicks, freePort, killAll, ownDir, readLines, schedNs, sleep, survivors } from './procs.mjs';

const ROOT = path.resolve(BENCH, '..');
const num = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return value;
};
const SECONDS = num('MONITOR_COST_SECONDS', 60);
const WORKERS = num('MONITOR_COST_WORKERS', 16);
const SAMPLES = num('MONITOR_COST_SAMPLES', 20);
const BUSY_MS = num('MONITOR_COST_BUSY_MS', 50);
const PERIOD_MS = num('MONITOR_COST_PERIOD_MS', 100);
const SETTLE_MS = 3000; // after every worker listens, before the cost window opens
const INTERVAL = '2s'; // the default, written out so both parts say what they use
const INTERVAL_MS = 2000;

const TICK_MS = 1000 / CLK_TCK;

// ---------------------------------------------------------------- processes and cleanup

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-monitor-cost-'));
const APP = path.join(TMP, 'monitor-app.js');
ownDir(TMP); // procs.mjs kills by pid only what runs a command line under TMP (or bench/apps)
let cleaned = false;

fs.writeFileSync(
  APP,
  `'use strict';
// Written by bench/monitor-cost.mjs. Primary: master-process. Worker: an HTTP server on
// 127.0.0.1:PORT that, with MC_BUSY_MS > 0, burns MC_BUSY_MS of CPU in every MC_PERIOD_MS.
const cluster = require('node:cluster');
const http = require('node:http');
const line = (kind, data) => process.stdout.write(kind + ' ' + JSON.stringify(data) + '\\n');
if (cluster.isPrimary) {
  require(process.env.MC_ROOT).init();
  line('MASTER', { pid: process.pid });
  return;
}
const busy = Number(process.env.MC_BUSY_MS || 0);
const period = Number(process.env.MC_PERIOD_MS || 100);
if (busy > 0) {
  // Burn busy ms of CPU time (not wall time: a preempted loop would burn less), then sleep
  // to the next period boundary.
  let next = performance.now();
  const burn = () => {
    const start = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(start);
      if (used.user + used.system >= busy * 1000) break;
    }
    next += period;
    const now = performance.now();
    if (next < now) next = now; // fell behind (preempted): do not try to catch up
    setTimeout(burn, next - now);
  };
  burn();
}
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => {
  line('WORKER', { pid: process.pid });
});
`,
);

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  fs.rmSync(TMP, { recursive: true, force: true });
}

// procs.mjs kills every process at exit and on these signals too; this runs first, so the
// temp dir goes as well and the message names this script.
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.prependListener(signal, () => {
    cleanup();
    process.stderr.write(`monitor-cost: ${signal}, every process it started was killed\n`);
    process.exit(130);
  });
}

/** A master on the temp app (a Proc run in TMP): stdout `KIND <json>` records and stderr lines, as they come. */
class Master extends Proc {
  constructor(name, env) {
    super(APP, { MC_ROOT: ROOT, DEBUG_COLORS: '0', ...env }, { cwd: TMP });
    this.name = name;
    this.stderrLines = [];
    readLines(this.child.stderr, (text) => {
      if (this.stderrLines.length < 2000) this.stderrLines.push(text);
      this.onStderr?.(text);
    });
  }

  workers() {
    return this.records.filter((r) => r.kind === 'WORKER').map((r) => r.pid);
  }

  /**
   * Resolve when `predicate()` is truthy; reject if the master exits or on a hang guard.
   * Checked on every stdout record and every `pollMs` (for what stderr lines fill in).
   */
  waitUntil(predicate, what, timeoutMs = 60000, pollMs = 0) {
    return super.waitUntil(predicate, `${what} (${this.name} master)`, { timeoutMs, pollMs });
  }

  tail() {
    return this.stderrLines.slice(-20).join('\n');
  }
}

// ---------------------------------------------------------------- /proc readers

/** schedNs of a pid (sum over its live threads, procs.mjs), or null when it cannot be read. */
function schedNsOrNull(pid) {
  try {
    return schedNs(pid);
  } catch {
    return null;
  }
}

/** Read syscalls of a pid (/proc/<pid>/io syscr), or null: shows the sampler at work. */
function readCalls(pid) {
  try {
    return Number(/^syscr:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
  } catch {
    return null;
  }
}

/**
 * /proc/stat "cpu" line summed the way sysinfo sums it, in ticks, divided by the number of
 * cpuN lines: the time base sysinfo divides a process's tick delta by.
 */
function sysinfoBaseTicks() {
  const text = fs.readFileSync('/proc/stat', 'utf8');
  const cpus = (text.match(/^cpu\d+ /gm) || []).length || 1;
  const [user, nice, system, idle, iowait, irq, softirq, steal, guest, guestNice] = text
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = user + nice + system + irq + softirq + idle + iowait + (guest || 0) + (guestNice || 0) + (steal || 0);
  return total / cpus;
}

// ---------------------------------------------------------------- part 1: cost

async function measureCost() {
  const base = { WORKERS: String(WORKERS), MASTER_PROCESS_MONITOR_INTERVAL: INTERVAL };
  const monitored = new Master('monitored', {
    ...base,
    PORT: String(await freePort()),
    MASTER_PROCESS_MONITOR_WARMUP: '0',
  });
  const unmonitored = new Master('unmonitored', {
    ...base,
    PORT: String(await freePort()),
    MASTER_PROCESS_MONITOR_WARMUP: '1h',
  });
  const masters = [monitored, unmonitored];
  await Promise.all(
    masters.map((m) => m.waitUntil(() => m.workers().length >= WORKERS, `${WORKERS} workers listening`)),
  );
  await sleep(SETTLE_MS);
  const read = (m) => ({ ticks: cpuTicks(m.pid), ns: schedNsOrNull(m.pid), syscr: readCalls(m.pid) });
  const t0 = performance.now();
  const before = masters.map(read);
  process.stderr.write(`monitor-cost: part 1, ${SECONDS} s window with ${WORKERS} idle workers per master ...\n`);
  await sleep(SECONDS * 1000);
  const after = masters.map(read);
  const windowS = (performance.now() - t0) / 1000;
  const perHour = 3600 / windowS;
  const live = new Set(survivors()); // alive and still running our temp app (not a reused pid)
  const rows = masters.map((m, i) => {
    const ticks = after[i].ticks - before[i].ticks;
    const ns = before[i].ns === null || after[i].ns === null ? null : after[i].ns - before[i].ns;
    const syscr = before[i].syscr === null || after[i].syscr === null ? null : after[i].syscr - before[i].syscr;
    const workersAlive = m.workers().filter((pid) => live.has(pid)).length;
    return {
      master: m.name,
      warmup: m === monitored ? '0' : '1h',
      ticks,
      cpuMsPerHour: round(ticks * TICK_MS * perHour, 0),
      schedMsPerHour: ns === null ? null : round((ns / 1e6) * perHour, 0),
      readSyscalls: syscr,
      workersAlive,
    };
  });
  for (const m of masters) {
    if (m.exited) throw new Error(`${m.name} master exited during the window\n${m.tail()}`);
  }
  const [on, off] = rows;
  const tickResolution = round(2 * TICK_MS * perHour, 0); // one delta: up to 2 ticks off
  const cost = {
    windowSeconds: round(windowS, 1),
    workersPerMaster: WORKERS,
    interval: INTERVAL,
    clkTck: CLK_TCK,
    tickMs: TICK_MS,
    monitored: on,
    unmonitored: off,
    monitoringCostMsPerHour: round(on.cpuMsPerHour - off.cpuMsPerHour, 0),
    monitoringCostSchedMsPerHour:
      on.schedMsPerHour === null || off.schedMsPerHour === null ? null : round(on.schedMsPerHour - off.schedMsPerHour, 0),
    samplesInWindow: Math.floor(windowS / (INTERVAL_MS / 1000)),
    resolutionMsPerHourPerMaster: tickResolution,
    resolutionMsPerHourDifference: 2 * tickResolution,
  };
  cost.costPerSampleRoundMs =
    cost.monitoringCostSchedMsPerHour === null ? null : round(cost.monitoringCostSchedMsPerHour / (3600000 / INTERVAL_MS), 3);
  killAll();
  return cost;
}

// ---------------------------------------------------------------- part 2: accuracy

async function measureAccuracy() {
  const master = new Master('busy', {
    WORKERS: '1',
    PORT: String(await freePort()),
    DEBUG: 'master-process',
    MAX_CPU_ALLOWED: '1',
    CPU_MONITOR_FAILURES: '1000000',
    MASTER_PROCESS_MONITOR_INTERVAL: INTERVAL,
    MASTER_PROCESS_MONITOR_WARMUP: '0',
    MC_BUSY_MS: String(BUSY_MS),
    MC_PERIOD_MS: String(PERIOD_MS),
  });
  const [worker] = await master.waitUntil(() => (master.workers().length ? master.workers() : null), 'the worker');
  const lines = [];
  master.onStderr = (text) => {
    // Read /proc first: as close as possible to the moment the sample was taken.
    const arrived = Date.now();
    const t = performance.now();
    let ticks = null;
    try {
      ticks = cpuTicks(worker);
    } catch {
      // gone: reported below
    }
    const base = sysinfoBaseTicks();
    const match = /over its limits: .*cpu (\d+(?:\.\d+)?)% .* (\d+) cpu samples in a row/.exec(text);
    if (!match) return;
    const pid = Number(/pid=(\d+)/.exec(text)?.[1]);
    const stamp = Date.parse(text.split(' ', 1)[0]);
    lines.push({ cpu: Number(match[1]), streak: Number(match[2]), pid, t, ticks, base, lagMs: arrived - stamp });
  };
  process.stderr.write(`monitor-cost: part 2, ${SAMPLES} samples of a worker burning ${BUSY_MS} ms of CPU in every ${PERIOD_MS} ms ...\n`);
  await master.waitUntil(() => lines.length >= SAMPLES + 1, `${SAMPLES + 1} logged samples`, (SAMPLES + 10) * INTERVAL_MS + 30000, 50);
  const used = lines.slice(0, SAMPLES + 1);
  const [first, last] = [used[0], used[used.length - 1]];
  const problems = [];
  if (used.some((l) => l.pid && l.pid !== worker)) problems.push('a sample names another pid than the worker');
  if (used.some((l) => l.ticks === null)) problems.push('the worker could not be read in /proc');
  for (let i = 1; i < used.length; i++) {
    if (used[i].streak !== used[i - 1].streak + 1) problems.push(`sample ${i}: streak ${used[i - 1].streak} -> ${used[i].streak} (a sample was not logged)`);
  }
  const figures = used.slice(1).map((l) => l.cpu);
  const spanS = (last.t - first.t) / 1000;
  const deltaTicks = last.ticks - first.ticks;
  const masterMean = figures.reduce((a, b) => a + b, 0) / figures.length;
  const procPercent = (deltaTicks * TICK_MS) / (spanS * 1000) * 100;
  const sysinfoBasePercent = (deltaTicks / (last.base - first.base)) * 100;
  const lags = used.map((l) => l.lagMs).filter(Number.isFinite).sort((a, b) => a - b);
  killAll();
  return {
    samples: figures.length,
    intended: round((BUSY_MS / PERIOD_MS) * 100, 1),
    busyMs: BUSY_MS,
    periodMs: PERIOD_MS,
    spanSeconds: round(spanS, 2),
    masterMeanPercent: round(masterMean, 2),
    masterMin: Math.min(...figures),
    masterMax: Math.max(...figures),
    procDeltaTicks: deltaTicks,
    procPercent: round(procPercent, 2),
    differencePoints: round(masterMean - procPercent, 2),
    procOverSysinfoBasePercent: round(sysinfoBasePercent, 2),
    procResolutionPoints: round(((2 * TICK_MS) / (spanS * 1000)) * 100, 2),
    readLagMsMedian: lags.length ? lags[Math.floor(lags.length / 2)] : null,
    readLagMsMax: lags.length ? lags[lags.length - 1] : null,
    problems,
  };
}

// ---------------------------------------------------------------- report

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

function report(cost, acc) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const out = [];
  out.push(`monitor-cost: node ${process.version}, ${cores} cores, load average ${load} (other work may run concurrently)`);
  out.push('');
  out.push(
    `1. Master CPU with ${cost.workersPerMaster} idle workers, interval ${cost.interval}, both masters side by side, ` +
      `${cost.windowSeconds} s window (~${cost.samplesInWindow} sample rounds)`,
  );
  const na = (x) => (x === null ? 'n/a' : x);
  out.push(
    table([
      ['master', 'warmup', 'ticks', 'cpu ms/hour (stat)', 'cpu ms/hour (schedstat)', 'read syscalls', 'workers alive'],
      ...[cost.monitored, cost.unmonitored].map((r) => [
        r.master,
        r.warmup,
        r.ticks,
        r.cpuMsPerHour,
        na(r.schedMsPerHour),
        na(r.readSyscalls),
        r.workersAlive,
      ]),
      ['difference = cost', '', cost.monitored.ticks - cost.unmonitored.ticks, cost.monitoringCostMsPerHour, na(cost.monitoringCostSchedMsPerHour), '', ''],
    ]),
  );
  out.push(
    `   resolution: 1 tick = ${cost.tickMs} ms (CLK_TCK ${cost.clkTck}); a utime+stime delta can be up to 2 ticks off, ` +
      `i.e. +-${cost.resolutionMsPerHourPerMaster} ms/hour per master and +-${cost.resolutionMsPerHourDifference} ms/hour ` +
      `for the difference over this window (MONITOR_COST_SECONDS to lengthen it). schedstat is ns-exact but counts live threads only.`,
  );
  const diffTicks = cost.monitored.ticks - cost.unmonitored.ticks;
  if (Math.abs(diffTicks) <= 4) {
    out.push(
      `   the /proc/<pid>/stat difference (${diffTicks} tick${Math.abs(diffTicks) === 1 ? '' : 's'}) is within its +-4-tick resolution: it bounds the cost, ` +
        `the schedstat figure measures it`,
    );
  }
  if (cost.costPerSampleRoundMs !== null) {
    out.push(`   per sample round of ${cost.workersPerMaster} workers (schedstat): ~${cost.costPerSampleRoundMs} ms of master CPU`);
  }
  out.push('');
  out.push(
    `2. Master's cpu figure vs /proc for one worker burning ${acc.busyMs} ms of CPU in every ${acc.periodMs} ms (intended ${acc.intended}%), ` +
      `${acc.samples} samples at ${INTERVAL} over ${acc.spanSeconds} s`,
  );
  out.push(
    table([
      ['source', 'cpu %'],
      [`master log (mean of ${acc.samples}, min ${acc.masterMin}, max ${acc.masterMax})`, acc.masterMeanPercent.toFixed(2)],
      [`/proc/<pid>/stat delta / wall time (${acc.procDeltaTicks} ticks)`, acc.procPercent.toFixed(2)],
      ['difference (percentage points)', acc.differencePoints.toFixed(2)],
      ['/proc delta / (/proc/stat total / cpus), the base sysinfo divides by', acc.procOverSysinfoBasePercent.toFixed(2)],
    ]),
  );
  out.push(
    `   /proc read ${acc.readLagMsMedian} ms (median; max ${acc.readLagMsMax}) after the master stamped its log line; ` +
      `tick resolution of the /proc figure over this span: +-${acc.procResolutionPoints} points`,
  );
  if (acc.problems.length) out.push(`   PROBLEMS: ${acc.problems.join('; ')}`);
  out.push('');
  const result = { cores, loadavg: os.loadavg().map((x) => round(x, 2)), node: process.version, cost, accuracy: acc };
  out.push(JSON.stringify(result));
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main() {
  try {
    const cost = await measureCost();
    const acc = await measureAccuracy();
    report(cost, acc);
  } finally {
    cleanup();
  }
  // Every pid we started must be gone now (SIGKILL is asynchronous: give it a moment).
  for (let i = 0; i < 20 && survivors().length; i++) await sleep(100);
  const left = survivors();
  if (left.length) {
    process.stderr.write(`monitor-cost: still running after SIGKILL: ${left.join(' ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(`monitor-cost: ${error.stack || error}\n`);
  cleanup();
  process.exit(1);
});
