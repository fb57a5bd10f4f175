// /metrics, /livez and /readyz (MASTER_PROCESS_METRICS): a live scrape after reloads, a
// crash and a scale passes `promtool check metrics` and shows the counters moved, never
// back; OpenMetrics when asked; a TCP port chosen by the system is named by the status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startMaster, freePort, tempDir, get } from './helpers.mjs';
import { pollUntil } from './ops-helpers.mjs';
import { controlHome, socketReady, Client } from './control-helpers.mjs';
import { promtool, runPromtool } from './promtool.mjs';

/** The samples of a Prometheus text exposition: `name{labels}` -> value. */
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(socket) {
  const { status, body, headers } = await get(socket, '/metrics');
  assert.equal(status, 200);
  assert.match(headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return { text: body, values: samples(body) };
}

/** Start a master with metrics on a unix socket and a control socket of its own. */
async function started(t, env = {}) {
  const home = controlHome(t);
  const metrics = path.join(tempDir(t), 'metrics.sock');
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: '2', MASTER_PROCESS_METRICS: metrics, ...home.env, ...env },
  });
  await master.waitEvent('worker-listening', () => true, 2);
  const client = new Client(await socketReady(master, home.socketOf(master.pid)));
  t.after(() => client.close());
  return { master, metrics, client };
}

/** Scrape until `check(values)` holds (the snapshot is published once the driver's turn ends). */
async function scrapeUntil(socket, check, what) {
  let last;
  await pollUntil(async () => {
    last = await scrape(socket);
    return check(last.values);
  }, what);
  return last;
}

const COUNTERS = (values) => [...values].filter(([k]) => /_total(\{|$)|_count$|_bucket\{/.test(k));

test('a scrape after reloads, a crash and a scale passes promtool and the counters moved, never back', async (t) => {
  const { master, metrics, client } = await started(t);
  const seen = [];
  const step = async (check, what) => {
    const { text, values } = await scrapeUntil(metrics, check, what);
    for (const [name, value] of COUNTERS(values)) {
      const before = seen.at(-1)?.get(name) ?? 0;
      assert.ok(value >= before, `${name} went from ${before} to ${value} (${what})`);
    }
    seen.push(values);
    return text;
  };
  await step((v) => v.get('master_process_workers{state="serving"}') === 2, 'two serving workers');
  for (const generation of [1, 2]) {
    assert.equal((await client.ask({ request: 'reload' })).reload.outcome, 'done');
    await step((v) => v.get('master_process_generation') === generation, `generation ${generation}`);
  }
  const { status } = await client.ask({ request: 'status' });
  const victim = status.workers.find((w) => w.state === 'serving' && w.generation === 2);
  process.kill(victim.pid, 'SIGKILL');
  await master.waitEvent('worker-exit', (e) => e.pid === victim.pid && !e.expected);
  await step((v) => v.get('master_process_worker_restarts_total{reason="signal"}') === 1, 'the crash counted');
  assert.deepEqual(await client.ask({ request: 'scale', workers: 3 }), { ok: true, workers: 3 });
  const text = await step((v) => v.get('master_process_slots') === 3 && v.get('master_process_workers{state="serving"}') === 3, 'three slots');
  const v = samples(text);
  assert.equal(v.get('master_process_reloads_total{outcome="done"}'), 2);
  assert.equal(v.get('master_process_reloads_total{outcome="rolled_back"}'), 0);
  assert.equal(v.get('master_process_reload_duration_seconds_count'), 2);
  assert.equal(v.get('master_process_reload_duration_seconds_bucket{le="+Inf"}'), 2);
  assert.equal(v.get('master_process_worker_restarts_total{reason="exit"}'), 0);
  assert.equal(v.get('master_process_control_requests_total{request="reload"}'), 2);
  assert.equal(v.get('master_process_control_requests_total{request="scale"}'), 1);
  assert.equal(v.get('master_process_slots_wanted'), 3);
  for (const index of [0, 1, 2]) assert.equal(v.get(`master_process_worker_generation{worker_index="${index}"}`), 2);
  assert.ok(![...v.keys()].some((k) => k.includes('pid')), 'no series is labelled by pid');
  const tool = promtool();
  if (!tool.path) return t.skip(`promtool check metrics not run: ${tool.why}`);
  const checked = runPromtool(['check', 'metrics'], text);
  assert.equal(checked.status, 0, checked.output);
});

test('/readyz and /livez answer 200 while workers serve', async (t) => {
  const { metrics } = await started(t);
  await pollUntil(async () => (await get(metrics, '/readyz')).status === 200, '/readyz 200');
  const live = await get(metrics, '/livez');
  assert.deepEqual([live.status, live.body], [200, 'ok\n']);
  const missing = await get(metrics, '/nothing');
  assert.equal(missing.status, 404);
});

test('/readyz says 503 with a reason while no worker is ready', async (t) => {
  const metrics = path.join(tempDir(t), 'metrics.sock');
  const master = startMaster(t, {
    env: { WORKERS: '1', FIXTURE_MODE: 'never-listen', MASTER_PROCESS_METRICS: metrics, MASTER_PROCESS_CONTROL_SOCKET: 'off' },
  });
  await master.waitFor('WORKER started');
  const ready = await get(metrics, '/readyz');
  assert.deepEqual([ready.status, ready.body], [503, 'no worker is ready\n']);
  assert.equal((await get(metrics, '/livez')).status, 200, 'the driver turns all the same');
});

test('OpenMetrics when the scraper asks for it, on a TCP port the status names', async (t) => {
  const home = controlHome(t);
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: '1', MASTER_PROCESS_METRICS: '127.0.0.1:0', ...home.env },
  });
  await master.waitEvent('worker-listening');
  const client = new Client(await socketReady(master, home.socketOf(master.pid)));
  t.after(() => client.close());
  const { status } = await client.ask({ request: 'status' });
  const port = Number(status.metrics.split(':').pop());
  assert.ok(port > 0, `the status names the port: ${status.metrics}`);
  assert.equal(status.settings.metrics, '127.0.0.1:0');
  const body = await new Promise((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ type: res.headers['content-type'], text }));
      });
      req.on('error', reject);
    });
  });
  assert.match(body.type, /^application\/openmetrics-text; version=1\.0\.0/);
  assert.match(body.text, /^# TYPE master_process_reloads counter$/m);
  assert.ok(body.text.endsWith('# EOF\n'));
});

test('a bad MASTER_PROCESS_METRICS stops the master with 78 before any fork, naming it', async (t) => {
  const master = startMaster(t, { env: { WORKERS: '2', MASTER_PROCESS_METRICS: 'lots' } });
  const { code } = await master.exit;
  await master.closed;
  assert.equal(code, 78, master.transcript());
  assert.deepEqual(master.stderrLines, [
    'master-process: invalid MASTER_PROCESS_METRICS="lots": expected off, a port (0-65535), host:port with an IP address (127.0.0.1:9100, [::1]:9100) or an absolute path of a unix socket file',
  ]);
  assert.deepEqual(master.records('WORKER'), [], 'no worker was forked');
});

test('a metrics address in use stops the master with a line naming the variable', async (t) => {
  const metrics = path.join(tempDir(t), 'metrics.sock');
  const holder = (await import('node:net')).createServer().listen(metrics);
  t.after(() => holder.close());
  await new Promise((resolve) => holder.once('listening', resolve));
  const master = startMaster(t, { env: { WORKERS: '1', MASTER_PROCESS_METRICS: metrics, MASTER_PROCESS_CONTROL_SOCKET: 'off' } });
  const { code } = await master.exit;
  await master.closed;
  assert.notEqual(code, 0, master.transcript());
  assert.match(master.transcript(), new RegExp(`MASTER_PROCESS_METRICS=${metrics}: cannot listen: .*another process is listening`));
  assert.deepEqual(master.records('WORKER'), [], 'no worker was forked');
});
