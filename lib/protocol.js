'use strict';
// The drain protocol between the master and the module preloaded into workers. Commands
// starting with NODE_ arrive as 'internalMessage', so the app's process.on('message')
// never sees them.
module.exports = {
  DRAIN: 'NODE_MASTER_PROCESS_DRAIN',
  DRAINED: 'NODE_MASTER_PROCESS_DRAINED',
  SETTLE: 'NODE_MASTER_PROCESS_SETTLE',
  SETTLED: 'NODE_MASTER_PROCESS_SETTLED',
  // A server listens on an inherited socket (socket activation): cluster does not tell the
  // primary of such a listen, so the worker does.
  LISTENING: 'NODE_MASTER_PROCESS_LISTENING',
  // Liveness: the master asks, the worker's event loop answers (and says ALIVE once at start).
  PING: 'NODE_MASTER_PROCESS_PING',
  ALIVE: 'NODE_MASTER_PROCESS_ALIVE',
};
