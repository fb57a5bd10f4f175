// A stopping master must not delete the socket a newer master has bound at the same path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, tempDir, get } from './helpers.mjs';

test("an old master's exit leaves the new master's socket alone", async (t) => {
  const sock = path.join(tempDir(t), 'app.sock');
  const old = startMaster(t, {
    env: { PORT: sock, FIXTURE_MODE: 'ignore-term', MAX_KILL_TIMEOUT: '3s', DEBUG: 'master-process' },
  });
  await old.waitFor('WORKER listening');
  old.signal('SIGTERM');
  // The drain closed the old worker's listener, and with it the socket file.
  await old.waitStderr(/drained: settling/);
  await old.waitUntil(() => !fs.existsSync(sock), 'the old socket file to go');
  const fresh = startMaster(t, { env: { PORT: sock } });
  await fresh.waitFor('WORKER listening');
  assert.equal(old.child.exitCode, null, 'the old master is still stopping when the new one serves');
  assert.equal((await old.closed).code, 0);
  assert.ok(fs.existsSync(sock));
  assert.equal((await get(sock)).status, 200);
});
