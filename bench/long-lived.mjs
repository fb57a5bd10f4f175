// WebSockets and HTTP/2 across reloads (`npm run bench:long-lived`; not part of `npm test`).
// The app is __test__/fixtures/long-lived.js: a WebSocket server whose retire callback
// closes each connection with 1001 "going away", or an HTTP/2 (h2c) server. Counts, over
// BENCH_LL_RELOADS reloads (each awaited):
//   websocket  BENCH_LL_WS clients that reconnect whenever their connection ends: how many
//              connections ended with a 1001 close frame, how many handshakes a retiring
//              worker refused with 503, and how many connections ended without a close frame
//   http2      BENCH_LL_STREAMS concurrent streams, reconnecting after GOAWAY: streams
//              answered, failed, and refused-then-retried (REFUSED_STREAM: never processed)
// Prints a table, then one JSON line (the last line of stdout). Every process it starts is
// killed by pid at the end. Knobs: BENCH_LL_RELOADS 20  BENCH_LL_WS 16  BENCH_LL_STREAMS 8
//   BENCH_WORKERS 2
import path from 'node:path';
import { h2Load, wsConnect } from './long-lived-clients.mjs';
import { BENCH, Proc, freePort, killAll, ownDir } from './procs.mjs';

const knob = (name, fallback) => Number(process.env[name] ?? fallback);
const RELOADS = knob('BENCH_LL_RELOADS', 20);
const WS = knob('BENCH_LL_WS', 16);
const STREAMS = knob('BENCH_LL_STREAMS', 8);
const WORKERS = knob('BENCH_WORKERS', 2);
const FIXTURE = path.join(BENCH, '..', '__test__', 'fixtures', 'long-lived.js');
ownDir(path.dirname(FIXTURE));

async function master(mode) {
  const port = await freePort();
  const proc = new Proc(FIXTURE, { PORT: String(port), WORKERS: String(WORKERS), FIXTURE_MODE: mode, FIXTURE_DELAY_MS: '5' });
  const count = (test) => proc.records.filter(test).length;
  await proc.waitUntil(() => count((r) => r.label === 'WORKER listening' && r.reload === '0') >= WORKERS, 'the first generation');
  const reload = async (generation) => {
    proc.signal('SIGHUP');
    await proc.waitUntil(() => count((r) => r.kind === 'EVENT' && r.event === 'reload' && r.generation === generation),
      `reload ${generation}`);
  };
  return { port, proc, reload };
}

async function websockets() {
  const { port, proc, reload } = await master('ws');
  const stats = { connections: 0, closed1001: 0, refused503: 0, endedWithoutClose: 0 };
  let running = true;
  const client = async () => {
    while (running) {
      const ws = wsConnect(port);
      stats.connections++;
      const { closeFrame, status } = await ws.ended;
      if (closeFrame?.code === 1001) stats.closed1001++;
      else if (status === 503) stats.refused503++;
      else if (running) stats.endedWithoutClose++;
    }
  };
  const clients = Array.from({ length: WS }, client);
  for (let g = 1; g <= RELOADS; g++) await reload(g);
  running = false;
  proc.signal('SIGTERM');
  await Promise.all(clients);
  await proc.exit;
  return stats;
}

async function http2Streams() {
  const { port, proc, reload } = await master('h2');
  const load = h2Load(port, STREAMS);
  for (let g = 1; g <= RELOADS; g++) {
    await load.answered(load.stats.ok + 200);
    await reload(g);
  }
  const stats = await load.stop();
  proc.signal('SIGTERM');
  await proc.exit;
  return stats;
}

try {
  const ws = await websockets();
  const h2 = await http2Streams();
  console.log(`long-lived connections across ${RELOADS} reloads, ${WORKERS} workers`);
  console.log('| client | result |');
  console.log('|---|---|');
  console.log(`| WebSocket (${WS} clients, reconnecting) | ${ws.connections} connections, ${ws.closed1001} closed with 1001, ${ws.refused503} handshakes refused with 503 (reached a retiring worker) and retried, ${ws.endedWithoutClose} ended without a close frame |`);
  console.log(`| HTTP/2 (${STREAMS} streams, reconnecting after GOAWAY) | ${h2.ok} answered, ${h2.failed} failed, ${h2.refusedRetried} refused (never processed) and retried |`);
  console.log(JSON.stringify({ reloads: RELOADS, workers: WORKERS, websocket: ws, http2: h2 }));
} finally {
  killAll();
}
