// Clients for long-lived connections, shared by the tests and the benchmark: a minimal
// WebSocket client (RFC 6455 framing for short frames, enough for the fixture's server) and
// an HTTP/2 load that reconnects after GOAWAY. Every outcome is counted.
import crypto from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';

/**
 * A minimal WebSocket client: resolves `firstMessage` (text, as JSON) and `ended`
 * ({ closeFrame: { code, reason } or null, status: the handshake's HTTP status or null }).
 */
export function wsConnect(port) {
  const socket = net.connect(port, '127.0.0.1');
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const messages = [];
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let closeFrame = null;
  let status = null;
  let resolveMessage;
  const firstMessage = new Promise((r) => (resolveMessage = r));
  const ended = new Promise((resolve) => socket.on('close', () => resolve({ closeFrame, status })));
  socket.on('error', () => {});
  socket.on('data', (data) => {
    buffer = Buffer.concat([buffer, data]);
    if (!upgraded) {
      const at = buffer.indexOf('\r\n\r\n');
      if (at < 0) return;
      status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffer.slice(0, at).toString())?.[1] ?? 0);
      upgraded = status === 101;
      buffer = buffer.slice(at + 4);
    }
    while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1] & 0x7f)) {
      const opcode = buffer[0] & 0x0f;
      const length = buffer[1] & 0x7f;
      const payload = buffer.slice(2, 2 + length);
      buffer = buffer.slice(2 + length);
      if (opcode === 0x1) {
        messages.push(JSON.parse(payload.toString()));
        resolveMessage(messages[0]);
      } else if (opcode === 0x8) {
        closeFrame = { code: payload.readUInt16BE(0), reason: payload.slice(2).toString() };
        // Answer with a masked close frame, as a client must.
        const mask = crypto.randomBytes(4);
        const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
        socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, masked]));
      }
    }
  });
  return { socket, firstMessage, ended };
}

/** HTTP/2 load: `streams` concurrent requests, reconnecting after GOAWAY; every outcome counted. */
export function h2Load(port, streams = 8) {
  const stats = { ok: 0, failed: 0, refusedRetried: 0, errors: {} };
  let waiters = [];
  let session = null;
  let running = true;
  const connect = () => {
    if (session && !session.closed && !session.destroyed) return session;
    session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    session.on('goaway', () => { session = null; });
    return session;
  };
  const one = () => new Promise((resolve) => {
    let s;
    try {
      s = connect().request({ ':path': '/' });
    } catch {
      session = null; // the session closed under us before the stream was made: nothing sent
      return resolve();
    }
    s.on('response', () => {});
    s.resume();
    s.on('end', () => {
      stats.ok++;
      waiters = waiters.filter((w) => !w());
      resolve();
    });
    s.on('error', (e) => {
      // REFUSED_STREAM: the server did not process it (after its GOAWAY): safe to retry.
      if (s.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) stats.refusedRetried++;
      else { stats.failed++; stats.errors[e.code] = (stats.errors[e.code] || 0) + 1; }
      resolve();
    });
  });
  const loops = Array.from({ length: streams }, async () => { while (running) await one(); });
  return {
    stats,
    /** Resolves once `count` streams in all have been answered. */
    answered: (count) => new Promise((resolve) => {
      const check = () => stats.ok >= count && (resolve(), true);
      if (!check()) waiters.push(check);
    }),
    stop: async () => { running = false; await Promise.all(loops); session?.close(); return stats; },
  };
}

