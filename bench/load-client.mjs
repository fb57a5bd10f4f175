// A keep-alive HTTP load generator that accounts for every request it sends: answered
// (2xx), failed (error, reset, refused, non-2xx), or still pending when it stops. Unlike
// stock autocannon it never retries silently: a request lost on a closed keep-alive socket
// is a failure. Built on Node's own http.Agent, so `Connection: close` is honoured.
import http from 'node:http';
import https from 'node:https';

/**
 * Run `connections` loops of back-to-back GETs against `target` (a TCP port on 127.0.0.1
 * or a unix socket path; `tls` for https) until `stop()` is called. Returns { stop, stats }.
 */
export function startLoad(target, { connections = 32, path = '/', timeoutMs = 10000, tls = false } = {}) {
  const client = tls ? https : http;
  const agent = new client.Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false });
  const where = typeof target === 'string' ? { socketPath: target } : { host: '127.0.0.1', port: target };
  const stats = { sent: 0, ok: 0, failed: 0, pending: 0, errors: {}, statuses: {}, latencies: [] };
  let running = true;
  let waiters = [];

  function fail(kind) {
    stats.failed++;
    stats.errors[kind] = (stats.errors[kind] || 0) + 1;
  }

  function one() {
    return new Promise((resolve) => {
      const started = process.hrtime.bigint();
      stats.sent++;
      stats.pending++;
      let settled = false;
      const settle = (outcome) => {
        if (settled) return;
        settled = true;
        stats.pending--;
        outcome();
        waiters = waiters.filter((w) => !w());
        resolve();
      };
      const req = client.get({ ...where, path, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          settle(() => {
            if (res.statusCode >= 200 && res.statusCode < 300) {
              stats.ok++;
              stats.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            } else {
              stats.statuses[res.statusCode] = (stats.statuses[res.statusCode] || 0) + 1;
              fail(`status ${res.statusCode}`);
            }
          }),
        );
        res.on('error', (e) => settle(() => fail(e.code || e.message)));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (e) => settle(() => fail(e.code || e.message)));
    });
  }

  const loops = Array.from({ length: connections }, async () => {
    while (running) await one();
  });

  return {
    stats,
    /** Resolves once `count` requests in all have been answered. */
    answered(count) {
      return new Promise((resolve) => {
        const check = () => stats.ok >= count && (resolve(), true);
        if (!check()) waiters.push(check);
      });
    },
    /** Stop sending; resolves once every request sent is settled. */
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return stats;
    },
  };
}
