'use strict';
// The drain module's old public path (`node --require master-process/worker-drain.js`), kept
// working: the worker side lives in lib/worker/ now.
module.exports = require('./lib/worker/drain.js');
