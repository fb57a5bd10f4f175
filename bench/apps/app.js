'use strict';
// The app under bench. It runs three ways:
//  - BENCH_MASTER=<module> in the cluster primary: `require(BENCH_MASTER).init()` (this
//    package, or master-process 4.x as a baseline); the handle's events, if it emits any,
//    are printed as `EVENT <json>` lines.
//  - as a cluster worker (of either reloader, or of plain-cluster.js): serves HTTP.
//  - bare, `node app.js`: serves HTTP, no cluster at all.
// Every response's body is the worker's RELOAD_INDEX, sent after BENCH_DELAY_MS (default 5).
// BENCH_STYLE=close-on-term closes the server on SIGTERM; otherwise there is no SIGTERM
// handler at all. A worker prints `WORKER <json>` once it listens.
const cluster = require('node:cluster');
const http = require('node:http');

function line(kind, data) {
  process.stdout.write(`${kind} ${JSON.stringify(data)}\n`);
}

if (cluster.isPrimary && process.env.BENCH_MASTER) {
  const handle = require(process.env.BENCH_MASTER).init();
  if (handle && typeof handle.on === 'function') {
    for (const event of ['worker-listening', 'worker-exit', 'reload', 'reload-failed', 'worker-replaced', 'stopping']) {
      handle.on(event, (payload) => line('EVENT', { event, ...payload }));
    }
  }
  line('MASTER', { pid: process.pid });
  return;
}

const reload = process.env.RELOAD_INDEX || '0';
const delay = Number(process.env.BENCH_DELAY_MS ?? 5);
const server = http.createServer((req, res) => {
  const reply = () => {
    res.setHeader('content-type', 'text/plain');
    res.end(reload);
  };
  if (delay > 0) setTimeout(reply, delay);
  else reply();
});
if (process.env.BENCH_STYLE === 'close-on-term') process.on('SIGTERM', () => server.close());
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  line('WORKER', { pid: process.pid, reload: Number(reload), index: Number(process.env.WORKER_INDEX ?? 0) });
});
