'use strict';
// The app under bench. It runs three ways:
//  - BENCH_MASTER=<module> in the cluster primary: `require(BENCH_MASTER).init()` (this
//    package, or master-process 4.x as a baseline); the handle's events, if it emits any,
//    are printed as `EVENT <json>` lines.
//  - as a cluster worker (of either reloader, or of plain-cluster.js / plain-cluster-fork.js):
//    serves HTTP.
//  - bare, `node app.js`: serves HTTP, no cluster at all.
// Every response's body is the worker's RELOAD_INDEX, sent after BENCH_DELAY_MS (default 5).
// BENCH_APP=real serves it through real-app.js (express and the AWS SDK's S3 client loaded
// at start, as a real service would) instead of a bare http handler.
// BENCH_STYLE=close-on-term closes the server on SIGTERM; otherwise there is no SIGTERM
// handler at all. A worker prints `WORKER <json>` once it listens.
// BENCH_TRACE=1 (the latency breakdown) adds `TRACE <json>` lines with CLOCK_MONOTONIC times
// in ms (process.hrtime, comparable across processes): in the primary, its own SIGHUP
// listener, every cluster.fork() call (start, end) and cluster 'listening'; in a worker (or a
// bare app), its process start, node's start-up marks, the start of its preloads (when
// trace-preload.js is preloaded first), app.js running, listen, first request (with the CPU
// time the process has used so far).
const appStart = process.hrtime.bigint();
const TRACE = process.env.BENCH_TRACE === '1';
const cluster = require('node:cluster');
const http = require('node:http');

const mono = (ns = process.hrtime.bigint()) => Number(ns) / 1e6;

function line(kind, data) {
  process.stdout.write(`${kind} ${JSON.stringify(data)}\n`);
}

function trace(data) {
  if (TRACE) line('TRACE', { pid: process.pid, ...data });
}

if (cluster.isPrimary && process.env.BENCH_MASTER) {
  if (TRACE) {
    // Only observes: the reloader still calls the real cluster.fork, at the time it chooses.
    const fork = cluster.fork;
    cluster.fork = function tracedFork(env) {
      const start = mono();
      const worker = fork.call(this, env);
      trace({ at: 'fork-call', start, end: mono(), child: worker.process.pid,
        generation: Number(env?.RELOAD_INDEX), index: Number(env?.WORKER_INDEX) });
      return worker;
    };
    process.on('SIGHUP', () => trace({ at: 'sighup-js', t: mono() }));
    // Workers preload the marker first; the reloader appends its own preloads after it.
    cluster.setupPrimary({ execArgv: [...process.execArgv, '--require', require.resolve('./trace-preload.js')] });
    cluster.on('listening', (worker) => trace({ at: 'primary-listening', t: mono(), child: worker.process.pid }));
  }
  const handle = require(process.env.BENCH_MASTER).init();
  if (handle && typeof handle.on === 'function') {
    for (const event of ['worker-listening', 'worker-exit', 'reload', 'reload-failed', 'worker-replaced', 'stopping', 'upgraded', 'upgrade-refused']) {
      handle.on(event, (payload) => line('EVENT', { event, ...payload }));
    }
  }
  line('MASTER', { pid: process.pid });
  return;
}

if (TRACE) {
  const { nodeStart, v8Start, environment, bootstrapComplete } = performance.nodeTiming;
  const now = process.hrtime.bigint();
  const origin = mono(now) - performance.now(); // performance.timeOrigin on the monotonic clock
  trace({ at: 'worker-start', origin, nodeStart: origin + nodeStart, v8Start: origin + v8Start,
    environment: origin + environment, bootstrapComplete: origin + bootstrapComplete, app: mono(appStart),
    preloadStart: globalThis.benchPreloadStart === undefined ? null : mono(globalThis.benchPreloadStart),
    reload: Number(process.env.RELOAD_INDEX || 0) });
}

const reload = process.env.RELOAD_INDEX || '0';
const delay = Number(process.env.BENCH_DELAY_MS ?? 5);
let firstRequest = TRACE;
const handler = process.env.BENCH_APP === 'real'
  ? require('./real-app.js')({ body: reload, delayMs: delay })
  : (req, res) => {
    const reply = () => {
      res.setHeader('content-type', 'text/plain');
      res.end(reload);
    };
    if (delay > 0) setTimeout(reply, delay);
    else reply();
  };
const server = http.createServer((req, res) => {
  if (firstRequest) {
    firstRequest = false;
    const { user, system } = process.cpuUsage(); // every thread of this process since it started
    trace({ at: 'first-request', t: mono(), cpuMs: (user + system) / 1000 });
  }
  handler(req, res);
});
if (process.env.BENCH_STYLE === 'close-on-term') process.on('SIGTERM', () => server.close());
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  trace({ at: 'listen', t: mono() });
  line('WORKER', { pid: process.pid, reload: Number(reload), index: Number(process.env.WORKER_INDEX ?? 0) });
});
