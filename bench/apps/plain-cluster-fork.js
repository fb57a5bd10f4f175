'use strict';
// The reload-latency baseline: a plain Node `cluster` primary with WORKERS workers of the
// same app (bench/apps/app.js), serving. On SIGHUP (its own handler) it forks WORKERS new
// workers with the next RELOAD_INDEX and, once all of them listen, SIGTERMs the older ones.
// No drain, no readiness protocol, no preload, no native addon: what `cluster` itself costs
// to bring a new worker to its first response (fork + start-up + IPC listen + round-robin).
// BENCH_TRACE=1 prints the same `TRACE` lines as app.js (see there). BENCH_EVENTS=1 prints
// `EVENT` lines shaped like master-process's handle events (reload, worker-exit), so the
// reload soak can drive it like a master-process master.
const cluster = require('node:cluster');
const path = require('node:path');

const TRACE = process.env.BENCH_TRACE === '1';
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const trace = (data) => TRACE && process.stdout.write(`TRACE ${JSON.stringify({ pid: process.pid, ...data })}\n`);
const EVENTS = process.env.BENCH_EVENTS === '1';
const event = (data) => EVENTS && process.stdout.write(`EVENT ${JSON.stringify(data)}\n`);

cluster.setupPrimary({
  exec: path.join(__dirname, 'app.js'),
  ...(TRACE ? { execArgv: [...process.execArgv, '--require', path.join(__dirname, 'trace-preload.js')] } : {}),
});
const workers = Number(process.env.WORKERS || 1);
let generation = 0;

function forkGeneration(reload) {
  const fresh = [];
  for (let i = 0; i < workers; i++) {
    const start = mono();
    const worker = cluster.fork({ WORKER_INDEX: String(i), RELOAD_INDEX: String(reload) });
    trace({ at: 'fork-call', start, end: mono(), child: worker.process.pid, generation: reload, index: i });
    fresh.push(worker);
  }
  return fresh;
}

if (TRACE) cluster.on('listening', (worker) => trace({ at: 'primary-listening', t: mono(), child: worker.process.pid }));

let current = forkGeneration(0);
process.on('SIGHUP', () => {
  trace({ at: 'sighup-js', t: mono() });
  const old = current;
  const reload = ++generation;
  const fresh = forkGeneration(reload);
  current = fresh;
  let listening = 0;
  for (const worker of fresh) {
    worker.once('listening', () => {
      if (++listening < fresh.length) return;
      for (const o of old) o.process.kill('SIGTERM');
      event({ event: 'reload', generation: reload });
    });
  }
});
cluster.on('exit', (worker, code, signal) => event({ event: 'worker-exit', pid: worker.process.pid, code, signal, expected: true }));
process.stdout.write(`MASTER ${JSON.stringify({ pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
  process.exit(0);
});
