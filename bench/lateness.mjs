// How late the core's deadlines run while the master is flooded with IPC messages, as a
// ratio to an idle master measured side by side in the same run. `node bench/lateness.mjs`
//
// Two masters run at the same time, each with two workers and MASTER_PROCESS_HEARTBEAT_TIMEOUT
// (LATENESS_HEARTBEAT_MS, default 1000 ms). In the "flooded" one, worker 1 sends the master
// IPC messages without pause for the whole run (the next batch as soon as the channel took
// the last); in the "idle" one nothing does. Each round SIGSTOPs worker 0 of both masters at
// once and times, from the SIGSTOP to the master's `worker-replaced` event, how long the
// heartbeat deadline took to fire: the timeout itself plus the lateness (heartbeat period,
// driver turn, JS event loop). LATENESS_ROUNDS rounds (default 8); the medians and their
// ratio (flooded / idle) are printed, then one JSON line. 1.0 means the flood costs nothing.
//
// Everything runs in a temp dir on 127.0.0.1 ephemeral ports; every process started is
// SIGKILLed by pid at the end, on error and on SIGINT/SIGTERM/SIGHUP (bench/procs.mjs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH, Proc, freePort, killAll, ownDir } from './procs.mjs';

const ROOT = path.resolve(BENCH, '..');
const num = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${raw}: expected a whole number above 0`);
  return value;
};
const ROUNDS = num('LATENESS_ROUNDS', 8);
const HEARTBEAT_MS = num('LATENESS_HEARTBEAT_MS', 1000);

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-lateness-'));
const APP = path.join(TMP, 'lateness-app.js');
ownDir(TMP);
fs.writeFileSync(
  APP,
  `'use strict';
// Written by bench/lateness.mjs. Primary: master-process, printing worker-replaced events.
// Worker: an HTTP server; with LT_FLOOD=1, worker 1 floods the master with IPC messages.
const cluster = require('node:cluster');
const http = require('node:http');
const line = (kind, data) => process.stdout.write(kind + ' ' + JSON.stringify(data) + '\\n');
if (cluster.isPrimary) {
  const master = require(process.env.LT_ROOT).init();
  master.on('worker-replaced', (e) => line('REPLACED', e));
  return;
}
if (process.env.LT_FLOOD === '1' && process.env.WORKER_INDEX === '1') {
  const batch = () => {
    for (let i = 1; i < 200; i++) process.send('flood');
    process.send('flood', batch);
  };
  batch();
}
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => {
  line('WORKER', { pid: process.pid, index: process.env.WORKER_INDEX });
});
`,
);

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  fs.rmSync(TMP, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.prependListener(signal, () => {
    cleanup();
    process.stderr.write(`lateness: ${signal}, every process it started was killed\n`);
    process.exit(130);
  });
}

async function master(name, flood) {
  const proc = new Proc(APP, {
    LT_ROOT: ROOT, LT_FLOOD: flood ? '1' : '0', PORT: String(await freePort()), WORKERS: '2',
    MASTER_PROCESS_HEARTBEAT_TIMEOUT: `${HEARTBEAT_MS}ms`, MAX_KILL_TIMEOUT: '1s',
  }, { cwd: TMP });
  proc.name = name;
  return proc;
}

/** The live worker of `index`: the last one that listened and was not replaced since. */
function worker(proc, index) {
  const replaced = new Set(proc.records.filter((r) => r.kind === 'REPLACED').map((r) => r.oldPid));
  return proc.records.filter((r) => r.kind === 'WORKER' && r.index === index && !replaced.has(r.pid)).at(-1);
}

async function round(procs) {
  const victims = procs.map((p) => worker(p, '0'));
  const stoppedAt = performance.now();
  for (const v of victims) process.kill(v.pid, 'SIGSTOP');
  const took = await Promise.all(procs.map(async (p, i) => {
    const done = await p.waitUntil(
      () => p.records.find((r) => r.kind === 'REPLACED' && r.oldPid === victims[i].pid),
      `${p.name}: worker ${victims[i].pid} replaced`,
    );
    return done.time - stoppedAt;
  }));
  for (const v of victims) {
    try {
      process.kill(v.pid, 'SIGKILL');
    } catch {
      // already killed by the master
    }
  }
  await Promise.all(procs.map((p, i) => p.waitUntil(
    () => { const w = worker(p, '0'); return w && w.pid !== victims[i].pid; },
    `${p.name}: a new worker 0 listening`,
  )));
  return took;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const procs = [await master('idle', false), await master('flooded', true)];
  await Promise.all(procs.map((p) => p.waitUntil(() => worker(p, '0') && worker(p, '1'), `${p.name}: 2 workers`)));
  const times = { idle: [], flooded: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const [idle, flooded] = await round(procs);
    times.idle.push(idle);
    times.flooded.push(flooded);
  }
  const result = {
    rounds: ROUNDS,
    heartbeatMs: HEARTBEAT_MS,
    idleMedianMs: Math.round(median(times.idle)),
    floodedMedianMs: Math.round(median(times.flooded)),
    idleLatenessMs: Math.round(median(times.idle) - HEARTBEAT_MS),
    floodedLatenessMs: Math.round(median(times.flooded) - HEARTBEAT_MS),
  };
  result.ratio = Number((median(times.flooded) / median(times.idle)).toFixed(2));
  console.log(`heartbeat deadline, SIGSTOP to replacement (median of ${ROUNDS}):`);
  console.log(`  idle master     ${result.idleMedianMs} ms (lateness ${result.idleLatenessMs} ms)`);
  console.log(`  flooded master  ${result.floodedMedianMs} ms (lateness ${result.floodedLatenessMs} ms)`);
  console.log(`  ratio flooded / idle: ${result.ratio}`);
  console.log(JSON.stringify(result));
} finally {
  cleanup();
}
