'use strict';
// The worker preload's old path (`node --require master-process/lib/worker-preload.js`), kept
// working: the bundle lives in lib/worker/ now, and the master preloads that file directly.
module.exports = require('./worker/preload.js');
