'use strict';
// The messages between the master (lib/master/) and the modules preloaded into its workers
// (lib/worker/): the one file both sides require.

/**
 * The drain protocol between the master and the modules preloaded into workers. An IPC
 * message whose `cmd` starts with NODE_ is emitted as 'internalMessage' (the internal checked
 * below), so the app's process.on('message') never sees these. Workers get this file inside
 * their one preloaded bundle (lib/worker/preload.js), so it costs them no file of its own.
 */
const PROTOCOL = Object.freeze({
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
  // The module compile cache: write what this worker compiled, now.
  PERSIST_CACHE: 'NODE_MASTER_PROCESS_PERSIST_CACHE',
  // The master is about to replace its image (an upgrade in place): when the channel
  // closes, drain by itself and end as a retired worker does, instead of exiting at once.
  UPGRADE: 'NODE_MASTER_PROCESS_UPGRADE',
});

module.exports = { PROTOCOL };
