'use strict';
// Preloaded into workers (`node --require`) unless MASTER_PROCESS_HEARTBEAT_TIMEOUT is off:
// answers the master's heartbeat from the worker's event loop, so a worker whose loop stops
// (a deadlock, an endless loop, SIGSTOP) is noticed and replaced. It says once at start that
// it can answer: only workers that did are checked. Nothing runs per request.
const internals = require('./node-internals.js');
const { PROTOCOL: protocol } = require('../protocol.js');

// A worker that cannot hear the master's NODE_ messages could never answer: it does not
// say it can, so it is not checked (the drain module reports that Node's lack once).
const deaf = internals.checkAtStart().includes(internals.MISSING.internalMessage);
if (process.connected && !deaf) {
  internals.sendInternal({ cmd: protocol.ALIVE });
  internals.onInternalMessage((message) => {
    if (message?.cmd === protocol.PING) internals.sendInternal({ cmd: protocol.ALIVE });
  });
}
