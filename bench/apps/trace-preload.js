'use strict';
// BENCH_TRACE=1 only: preloaded first (`--require`) into every app process the latency
// breakdown starts, so app.js can tell node's own start-up from the other preloads (the
// drain module). It records the monotonic time at which preloading began, nothing else.
globalThis.benchPreloadStart = process.hrtime.bigint();
