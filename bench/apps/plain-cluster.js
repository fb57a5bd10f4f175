'use strict';
// The throughput and idle baseline: a plain Node `cluster` primary forking WORKERS workers
// of the same app, with nothing else (no reloads, no monitoring, no drain).
const cluster = require('node:cluster');
const path = require('node:path');

cluster.setupPrimary({ exec: path.join(__dirname, 'app.js') });
const workers = Number(process.env.WORKERS || 1);
for (let i = 0; i < workers; i++) cluster.fork({ WORKER_INDEX: String(i), RELOAD_INDEX: '0' });
process.stdout.write(`MASTER ${JSON.stringify({ pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
  process.exit(0);
});
