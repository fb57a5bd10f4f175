// The drain follows HTTPS connections too: a slow request in flight on a TLS keep-alive
// connection is answered before the worker goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startMaster, freePort, tempDir } from './helpers.mjs';
import { startLoad } from '../bench/load-client.mjs';

function selfSigned(dir) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  return dir;
}

test('reloads under HTTPS keep-alive load with requests longer than the idle grace fail none', async (t) => {
  const port = await freePort();
  const master = startMaster(t, {
    env: { PORT: String(port), WORKERS: '2', FIXTURE_TLS_DIR: selfSigned(tempDir(t)), FIXTURE_DELAY_MS: '1500' },
  });
  await master.waitFor('WORKER listening', () => true, 2);
  const load = startLoad(port, { connections: 8, tls: true });
  t.after(() => load.stop());
  for (let generation = 1; generation <= 3; generation++) {
    await load.answered(load.stats.ok + 8);
    master.signal('SIGHUP');
    await master.waitEvent('reload', (e) => e.generation === generation);
  }
  const stats = await load.stop();
  assert.deepEqual({ failed: stats.failed, errors: stats.errors }, { failed: 0, errors: {} });
  assert.ok(stats.ok >= 24);
});
