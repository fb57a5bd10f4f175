// A second, independent keep-alive load generator: raw net.Socket connections, hand-written
// HTTP/1.1 requests, a small response parser. It shares no code with load-client.mjs (which
// is built on http.Agent), so the two can be compared. Every request sent is accounted for:
// answered (2xx), failed (refused, reset, the socket closed with it unanswered, timeout,
// non-2xx) or still pending when it stops. A request is never retried. A response that says
// `Connection: close` ends the socket after it; the next request opens a new one.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const CRLF2 = Buffer.from('\r\n\r\n');

function request(path, close) {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
}

/** Incremental parser of HTTP/1.1 responses on one socket (Content-Length or chunked). */
export class ResponseParser {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.head = null;
  }

  /** True when some bytes of a response have arrived but not all of it. */
  get partial() {
    return this.head !== null || this.buf.length > 0;
  }

  /** Feed bytes; returns the responses completed by them: { status, close, body }. */
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const done = [];
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf(CRLF2);
        if (end < 0) return done;
        this.head = parseHead(this.buf.subarray(0, end).toString('latin1'));
        this.buf = this.buf.subarray(end + 4);
      }
      const body = this.head.chunked ? this.#chunkedBody() : this.#lengthBody();
      if (body === null) return done;
      done.push({ status: this.head.status, close: this.head.close, body: body.toString('utf8') });
      this.head = null;
    }
  }

  #lengthBody() {
    const length = this.head.length;
    if (this.buf.length < length) return null;
    const body = this.buf.subarray(0, length);
    this.buf = this.buf.subarray(length);
    return body;
  }

  #chunkedBody() {
    const parts = [];
    let at = 0;
    for (;;) {
      const eol = this.buf.indexOf('\r\n', at);
      if (eol < 0) return null;
      const size = parseInt(this.buf.subarray(at, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      if (size === 0) {
        const end = this.buf.indexOf(CRLF2, eol);
        if (end !== eol) return null; // no trailers are sent by the app
        this.buf = this.buf.subarray(eol + 4);
        return Buffer.concat(parts);
      }
      if (this.buf.length < eol + 2 + size + 2) return null;
      parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
}

function parseHead(text) {
  const [statusLine, ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`bad status line: ${statusLine.slice(0, 40)}`);
  const head = { status: Number(match[2]), length: 0, chunked: false, close: match[1] === '0' };
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === 'content-length') head.length = Number(value);
    else if (name === 'transfer-encoding') head.chunked = value.includes('chunked');
    else if (name === 'connection') head.close = value.split(',').some((v) => v.trim() === 'close');
  }
  return head;
}

/**
 * Run `connections` keep-alive connections to 127.0.0.1:`port`, each sending its next GET as
 * soon as the previous one is answered, until `stop()`. `onResponse(body, time)` sees every
 * 2xx body. Returns { stats, stop }.
 */
export function startRawLoad(port, { connections = 32, path = '/', timeoutMs = 10000, onResponse } = {}) {
  const stats = {
    sent: 0, ok: 0, failed: 0, pending: 0, errors: {}, statuses: {},
    connects: 0, closedAfterConnectionClose: 0, unsolicited: 0, latencies: [],
  };
  const payload = request(path, false);
  const live = new Set();
  let running = true;

  function fail(kind) {
    stats.failed++;
    stats.errors[kind] = (stats.errors[kind] || 0) + 1;
  }

  function open() {
    stats.connects++;
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const parser = new ResponseParser();
    const conn = { socket, dead: false, current: null, error: null };
    live.add(conn);
    const settleCurrent = (outcome) => {
      const current = conn.current;
      if (!current) return;
      conn.current = null;
      stats.pending--;
      outcome(current);
      current.resolve();
    };
    socket.on('data', (chunk) => {
      let responses;
      try {
        responses = parser.push(chunk);
      } catch {
        settleCurrent(() => fail('bad-response'));
        conn.dead = true;
        socket.destroy();
        return;
      }
      for (const response of responses) {
        if (!conn.current) {
          stats.unsolicited++;
          continue;
        }
        if (response.close) {
          conn.dead = true;
          stats.closedAfterConnectionClose++;
          socket.end();
        }
        settleCurrent((current) => {
          if (response.status >= 200 && response.status < 300) {
            const now = performance.now();
            stats.ok++;
            stats.latencies.push(now - current.started);
            onResponse?.(response.body, now);
          } else {
            stats.statuses[response.status] = (stats.statuses[response.status] || 0) + 1;
            fail(`status ${response.status}`);
          }
        });
      }
    });
    socket.on('error', (error) => {
      conn.error ??= error.code || error.message;
    });
    socket.on('end', () => {
      conn.dead = true;
    });
    socket.on('close', () => {
      conn.dead = true;
      live.delete(conn);
      const kind = conn.error ?? (parser.partial ? 'closed-mid-response' : 'closed-unanswered');
      settleCurrent(() => fail(kind));
    });
    return conn;
  }

  function send(conn) {
    return new Promise((resolve) => {
      stats.sent++;
      stats.pending++;
      conn.current = { started: performance.now(), resolve };
      conn.socket.write(payload);
    });
  }

  // One sweep for timeouts instead of a timer per request.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const conn of live) {
      if (conn.current && now - conn.current.started > timeoutMs) {
        conn.error = 'TIMEOUT';
        conn.dead = true;
        conn.socket.destroy();
      }
    }
  }, 250);

  const loops = Array.from({ length: connections }, async () => {
    let conn = null;
    while (running) {
      if (!conn || conn.dead) conn = open();
      await send(conn);
    }
    conn?.socket.end();
  });

  return {
    stats,
    /** Stop sending; resolves once every request sent is settled. */
    async stop() {
      running = false;
      await Promise.all(loops);
      clearInterval(sweep);
      for (const conn of live) conn.socket.destroy();
      return stats;
    },
  };
}

/** One GET on a fresh connection (`Connection: close`): { ok, status, body, time } or { error }. */
export function probe(port, { path = '/', timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const parser = new ResponseParser();
    let settled = false;
    const settle = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ error: 'TIMEOUT' }), timeoutMs);
    socket.on('data', (chunk) => {
      try {
        const [response] = parser.push(chunk);
        if (response) {
          const ok = response.status >= 200 && response.status < 300;
          settle({ ok, status: response.status, body: response.body, time: performance.now() });
        }
      } catch {
        settle({ error: 'bad-response' });
      }
    });
    socket.on('error', (error) => settle({ error: error.code || error.message }));
    socket.on('close', () => settle({ error: 'closed-unanswered' }));
    socket.write(request(path, true));
  });
}

/**
 * Open-loop probing: a new `probe` every `intervalMs` (whatever the earlier ones are doing)
 * until one's result passes `accept`. Resolves with the time that response arrived.
 */
export function probeUntil(port, accept, { intervalMs = 1, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    let done = false;
    const started = performance.now();
    const tick = setInterval(() => {
      if (done) return;
      if (performance.now() - started > timeoutMs) {
        done = true;
        clearInterval(tick);
        reject(new Error(`no accepted response on port ${port} within ${timeoutMs} ms`));
        return;
      }
      probe(port).then((result) => {
        if (done || !accept(result)) return;
        done = true;
        clearInterval(tick);
        resolve(result.time);
      });
    }, intervalMs);
  });
}
