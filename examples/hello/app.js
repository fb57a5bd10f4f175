'use strict';
// A tiny HTTP app run under master-process: `npm start`, then `kill -HUP <master pid>`.
const cluster = require('node:cluster');

if (cluster.isPrimary && process.env.NODE_ENV !== 'test') {
  // In your app: require('master-process').init();
  const master = require('../../index.js').init();
  const port = process.env.PORT || 3000;
  console.log(`master-process: master pid ${process.pid}, serving http://127.0.0.1:${port}/`);
  console.log(`reload with: kill -HUP ${process.pid}    stop with: kill ${process.pid} (or Ctrl-C)`);
  master.on('reload', ({ generation }) => console.log(`master-process: reload ${generation} done`));
  return;
}

const http = require('node:http');

const server = http.createServer((req, res) => {
  res.end(`hello from worker ${process.env.WORKER_INDEX} (pid ${process.pid}, reload ${process.env.RELOAD_INDEX})\n`);
});
server.listen(process.env.PORT || 3000, process.env.HOST || '127.0.0.1');
