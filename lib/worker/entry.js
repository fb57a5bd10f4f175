'use strict';
// What a worker of master-process runs before the app (`node --require`), once, from one
// file: lib/worker/preload.js, which scripts/bundle-worker.js builds from this file and the
// modules it requires. Every file a worker loads at start costs it a module resolution, read
// and compile (about 1 ms each on a busy machine), so the worker side ships as one file.
//
// The master names the parts this worker needs in MASTER_PROCESS_WORKER_PRELOAD (a comma-
// separated list of `inherited`, `heartbeat`, `drain`), removed from the environment before
// the app starts, so neither the app nor what it spawns sees it. Without it (say,
// `node --require master-process/lib/worker/preload.js app.js`), nothing runs.

const VARIABLE = 'MASTER_PROCESS_WORKER_PRELOAD';
const parts = new Set((process.env[VARIABLE] ?? '').split(','));
delete process.env[VARIABLE];

if (parts.has('inherited')) require('./inherited-listen.js');
if (parts.has('heartbeat')) require('./heartbeat.js');

/** `{ onRetire }` when this worker drains, else nothing. */
module.exports = parts.has('drain') ? require('./drain.js') : {};
