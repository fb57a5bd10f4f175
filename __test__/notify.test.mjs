// sd_notify: the master tells the service manager READY (every slot of the first generation
// ready), RELOADING + MONOTONIC_USEC then READY around a reload, STOPPING, STATUS lines, and
// WATCHDOG=1 while its JS event loop answers. The receiving end is a real datagram socket
// bound by the test (fixtures/notify-receiver.py; Node has no unix datagram sockets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startMaster, freePort, tempDir, readLines, copyPackage, FIXTURES } from './helpers.mjs';
import { controlHome, cli } from './control-helpers.mjs';

/** Bind a notify socket in a temp dir; returns { path, datagrams, waitFor }. */
async function receiver(t, { read = true } = {}) {
  const socketPath = path.join(tempDir(t, 'mp-notify-'), 'notify.sock');
  const args = [path.join(FIXTURES, 'notify-receiver.py'), socketPath, ...(read ? [] : ['--never-read'])];
  const child = spawn('python3', args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const datagrams = [];
  let wake = () => {};
  let bound;
  const listening = new Promise((resolve) => (bound = resolve));
  readLines(child.stdout, (line) => {
    const record = JSON.parse(line);
    if (record.listening) bound();
    else datagrams.push(record);
    wake();
  });
  await listening;
  /** Wait until `predicate(datagrams)` holds (a hang guard of 20 s, not a measure). */
  const waitFor = (predicate, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(datagrams)}`)), 20000);
    wake = () => {
      if (predicate(datagrams)) {
        clearTimeout(timer);
        resolve(datagrams);
      }
    };
    wake();
  });
  return { path: socketPath, datagrams, waitFor, child };
}

/** The state messages (READY, RELOADING, STOPPING), in order, without STATUS or WATCHDOG. */
const states = (datagrams) => datagrams
  .map((d) => d.text.split('\n')[0])
  .filter((first) => /^(READY|RELOADING|STOPPING)=1$/.test(first));

test('READY once every worker listens, RELOADING then READY around a reload, STOPPING on SIGTERM', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    fixture: 'env-report.js',
    env: { PORT: String(await freePort()), WORKERS: '2', NOTIFY_SOCKET: notify.path },
  });
  await notify.waitFor((d) => states(d).length === 1, 'READY');
  assert.equal(master.records('WORKER listening').length, 2, 'READY only once both workers listen');
  const ready = notify.datagrams.find((d) => d.text.startsWith('READY=1'));
  assert.match(ready.text, /^READY=1\nSTATUS=2\/2 workers serving, generation 0$/);

  master.signal('SIGHUP');
  await master.waitEvent('reload');
  await notify.waitFor((d) => states(d).length === 3, 'RELOADING then READY');
  const reloading = notify.datagrams.find((d) => d.text.startsWith('RELOADING=1'));
  assert.match(reloading.text, /^RELOADING=1\nMONOTONIC_USEC=\d+$/);

  master.signal('SIGTERM');
  await master.waitUntil(() => master.child.exitCode !== null, 'the master to exit');
  await notify.waitFor((d) => states(d).length === 4, 'STOPPING');
  assert.deepEqual(states(notify.datagrams), ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
  const statuses = notify.datagrams.map((d) => /STATUS=(.*)/.exec(d.text)?.[1]).filter(Boolean);
  assert.ok(statuses.includes('2/2 workers serving, generation 1, reloading'), statuses.join('\n'));
  assert.ok(statuses.some((s) => s.startsWith('stopping:')), statuses.join('\n'));
});

test('a rolled-back reload is reported in STATUS and ends with READY', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    fixture: 'gated.js',
    env: {
      PORT: String(await freePort()), WORKERS: '1', NOTIFY_SOCKET: notify.path,
      FIXTURE_GATE: '/', FIXTURE_GATE_INDEX: '0', FIXTURE_GATE_THROWS: '1',
    },
  });
  await notify.waitFor((d) => states(d).length === 1, 'READY');
  master.signal('SIGHUP');
  await master.waitEvent('reload-failed');
  await notify.waitFor((d) => states(d).length === 3, 'RELOADING then READY');
  await notify.waitFor((d) => d.some((x) => /STATUS=.*last reload 1 failed: worker 0/.test(x.text)), 'the failure in STATUS');
});

test('workers do not see NOTIFY_SOCKET, WATCHDOG_USEC or WATCHDOG_PID', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    fixture: 'env-report.js',
    env: {
      PORT: String(await freePort()), WORKERS: '2', NOTIFY_SOCKET: notify.path,
      WATCHDOG_USEC: '60000000',
    },
  });
  const reports = await master.waitFor('WORKER env', () => true, 2);
  for (const report of reports) {
    assert.equal(report.NOTIFY_SOCKET, null);
    assert.equal(report.WATCHDOG_USEC, null);
    assert.equal(report.WATCHDOG_PID, null);
  }
});

test('WATCHDOG=1 comes every half of WATCHDOG_USEC, and stops while the JS event loop is blocked', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    fixture: 'env-report.js',
    env: {
      PORT: String(await freePort()), NOTIFY_SOCKET: notify.path,
      WATCHDOG_USEC: '200000', FIXTURE_BLOCK_MS: '1500',
    },
  });
  const dogs = (d) => d.filter((x) => x.text === 'WATCHDOG=1');
  await notify.waitFor((d) => dogs(d).length >= 5, 'five WATCHDOG=1');
  master.signal('SIGUSR1');
  const [block] = await master.waitFor('PRIMARY block');
  const after = dogs(notify.datagrams).length;
  await notify.waitFor((d) => dogs(d).length >= after + 2, 'WATCHDOG=1 again after the block');
  // One ping may have been answered just before the block began; none after that.
  const during = dogs(notify.datagrams).filter((x) => x.t > block.start + 250 && x.t < block.end);
  assert.deepEqual(during, [], `fed while the JS loop was blocked ${JSON.stringify(block)}`);
});

test('no WATCHDOG=1 when WATCHDOG_PID names another process', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    fixture: 'env-report.js',
    env: {
      PORT: String(await freePort()), NOTIFY_SOCKET: notify.path,
      WATCHDOG_USEC: '100000', WATCHDOG_PID: '1',
    },
  });
  await notify.waitFor((d) => states(d).length === 1, 'READY');
  master.signal('SIGHUP');
  await master.waitEvent('reload');
  await notify.waitFor((d) => states(d).length === 3, 'RELOADING then READY');
  assert.equal(notify.datagrams.filter((x) => x.text === 'WATCHDOG=1').length, 0);
});

test('a NOTIFY_SOCKET nobody reads holds nothing up: reloads finish, status answers, the drops are counted and told', async (t) => {
  // The receiver's queue takes about ten datagrams; the watchdog at every 10 ms then
  // overflows the master's own queue within a second. Were the datagrams sent on the thread
  // that decides, each would wait out the 1 s send timeout there: reloads and status behind it.
  const notify = await receiver(t, { read: false });
  const home = controlHome(t);
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: '2', NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '20000', ...home.env },
  });
  await master.waitEvent('worker-listening', () => true, 2);
  for (let generation = 1; generation <= 10; generation++) {
    master.signal('SIGHUP');
    await master.waitEvent('reload', (e) => e.generation === generation);
  }
  const { code, stdout, stderr } = await cli(t, ['status', '--json'], home.env);
  assert.equal(code, 0, stderr);
  const status = JSON.parse(stdout);
  assert.equal(status.generation, 10);
  assert.ok(status.dropped.notifications > 0, JSON.stringify(status.dropped));
  // Once the receiver reads again, one line tells how many were dropped.
  notify.child.kill('SIGUSR1');
  await master.waitStderr(/master-process: \d+ notification\(s\) dropped: NOTIFY_SOCKET was not being read/);
  master.signal('SIGTERM');
  assert.deepEqual(await master.exit, { code: 0, signal: null });
});

test('while a worker floods the master with messages, a frozen worker is still replaced and WATCHDOG=1 keeps coming', async (t) => {
  const notify = await receiver(t);
  const master = startMaster(t, {
    env: {
      PORT: String(await freePort()), WORKERS: '2', NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '200000',
      MASTER_PROCESS_HEARTBEAT_TIMEOUT: '1s', MAX_KILL_TIMEOUT: '1s', FIXTURE_FLOOD_INDEX: '1',
    },
  });
  await master.waitEvent('worker-listening', () => true, 2);
  const [flooder] = await master.waitFor('WORKER flooding');
  const victim = master.records('WORKER listening').find((w) => w.index === '0');
  process.kill(victim.pid, 'SIGSTOP');
  t.after(() => { try { process.kill(victim.pid, 'SIGKILL'); } catch {} });
  const watchdogs = () => notify.datagrams.filter((d) => d.text === 'WATCHDOG=1').length;
  const before = watchdogs();
  await master.waitEvent('worker-replaced', (e) => e.oldPid === victim.pid);
  await notify.waitFor(() => watchdogs() >= before + 3, 'three more WATCHDOG=1 during the flood');
  assert.ok(master.liveWorkers().some((w) => w.pid === flooder.pid), 'the flood went on all along');
});

test('an upgrade in place says RELOADING with MONOTONIC_USEC, then READY from the same pid once the new workers serve', async (t) => {
  const notify = await receiver(t);
  const dir = copyPackage(t);
  const control = path.join(tempDir(t), 'control.sock');
  const master = startMaster(t, {
    env: { PORT: String(await freePort()), WORKERS: '2', NOTIFY_SOCKET: notify.path, FIXTURE_PACKAGE_DIR: dir, MASTER_PROCESS_CONTROL_SOCKET: control },
  });
  await notify.waitFor((d) => states(d).length === 1, 'READY');
  const { code, stderr } = await cli(t, ['upgrade', '--socket', control]);
  assert.equal(code, 0, stderr);
  await notify.waitFor((d) => states(d).length >= 5, 'the upgrade reload, then the exec, then READY');
  // The upgrade's reload (RELOADING, READY), then the image replaced (RELOADING), then READY.
  assert.deepEqual(states(notify.datagrams), ['READY=1', 'RELOADING=1', 'READY=1', 'RELOADING=1', 'READY=1']);
  const reloadings = notify.datagrams.filter((d) => d.text.startsWith('RELOADING=1'));
  assert.ok(reloadings.every((d) => /\nMONOTONIC_USEC=\d+$/.test(d.text)), JSON.stringify(reloadings));
  assert.deepEqual([...new Set(notify.datagrams.map((d) => d.pid))], [master.pid], 'MAINPID never changes');
  assert.equal(master.events('upgraded').length, 1);
});
