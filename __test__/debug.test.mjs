// DEBUG turns on the master's log on stderr, one line per decision, in the format of the
// `debug` module: `<ISO date> master-process <message>` when stderr is not a terminal, the
// coloured `  \x1b[33;1mmaster-process \x1b[0m<message> \x1b[33m+<n>ms\x1b[0m` when it is
// or when DEBUG_COLORS says so (debug reads DEBUG_COLORS as yes/on/true/enabled -> colours,
// no/off/false/disabled -> none, anything else as Number(value), so '' and '0' -> none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startMaster, freePort, FIXTURES } from './helpers.mjs';
import { closed, spawnTracked } from './ops-helpers.mjs';
import path from 'node:path';

const PLAIN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z master-process \S/;
// `debug` prints the time since the previous line with `ms`: 5ms, 2s, 1m, 3h, 1d.
const COLOURED = /^ {2}\x1b\[33;1mmaster-process \x1b\[0m\S.* \x1b\[33m\+\d+(ms|s|m|h|d)\x1b\[0m$/;

/** Run a master with `env` until its worker listens, stop it, return all it printed. */
async function runThrough(t, env) {
  const port = await freePort();
  const master = startMaster(t, { env: { PORT: String(port), ...env } });
  const [worker] = await master.waitFor('WORKER listening');
  await master.waitEvent('worker-listening', (e) => e.pid === worker.pid);
  master.signal('SIGTERM');
  assert.equal((await master.exit).code, 0, master.transcript());
  await master.closed;
  return master;
}

/** The master logged, every stderr line in `format`, and its decisions are among them. */
function assertLogged(master, format) {
  const lines = master.stderrLines;
  assert.ok(lines.length >= 3, `several decisions logged:\n${master.transcript()}`);
  for (const line of lines) assert.match(line, format);
  assert.ok(lines.some((l) => /listening/.test(l)), 'the worker listening is logged');
  assert.ok(lines.some((l) => /SIGTERM|stopping/.test(l)), 'the stop is logged');
}

for (const debug of ['master-process', '*', 'master-process*', 'master-process:*', 'express,master-process']) {
  test(`DEBUG=${debug} logs decisions on stderr, one line each, as debug prints them off a terminal`, async (t) => {
    const master = await runThrough(t, { DEBUG: debug });
    assertLogged(master, PLAIN);
  });
}

test('DEBUG with spaces between patterns (express master-process) logs too', async (t) => {
  const master = await runThrough(t, { DEBUG: 'express master-process' });
  assertLogged(master, PLAIN);
});

for (const debug of ['*,-master-process', '-master-process', 'express', 'master-processor', '']) {
  test(`DEBUG=${JSON.stringify(debug)} prints nothing from the master on stderr`, async (t) => {
    const master = await runThrough(t, { DEBUG: debug });
    assert.deepEqual(master.stderrLines, [], master.transcript());
  });
}

test('no DEBUG prints nothing from the master on stderr', async (t) => {
  const master = await runThrough(t, {});
  assert.deepEqual(master.stderrLines, [], master.transcript());
});

test('DEBUG_COLORS=1 gives the terminal format', async (t) => {
  const master = await runThrough(t, { DEBUG: 'master-process', DEBUG_COLORS: '1' });
  assertLogged(master, COLOURED);
});

test('DEBUG_COLORS=yes gives the terminal format', async (t) => {
  const master = await runThrough(t, { DEBUG: 'master-process', DEBUG_COLORS: 'yes' });
  assertLogged(master, COLOURED);
});

for (const colors of ['0', 'no', 'false', '']) {
  test(`DEBUG_COLORS=${JSON.stringify(colors)} gives the plain format, as debug reads it`, async (t) => {
    const master = await runThrough(t, { DEBUG: 'master-process', DEBUG_COLORS: colors });
    assertLogged(master, PLAIN);
  });
}

function hasScript() {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Run the fixture with stdout and stderr on a real terminal (util-linux `script`), until
 * its worker listens; then SIGTERM the master and collect everything the terminal showed.
 */
async function onTerminal(t, env) {
  const port = await freePort();
  const command = `exec '${process.execPath}' '${path.join(FIXTURES, 'app.js')}'`;
  const child = spawnTracked(t, 'script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), ...env },
  });
  const pids = new Set();
  t.after(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const masterLine = await child.out.waitLine(/^MASTER \{/);
  const masterPid = JSON.parse(masterLine.slice('MASTER '.length)).pid;
  pids.add(masterPid);
  const listening = await child.out.waitLine(/^WORKER listening \{/);
  pids.add(JSON.parse(listening.slice('WORKER listening '.length)).pid);
  await child.out.waitLine(/^EVENT \{"event":"worker-listening"/);
  process.kill(masterPid, 'SIGTERM');
  await child.out.waitLine(/^EVENT \{"event":"worker-exit"/);
  await child.exited;
  await closed(child);
  return child.out.lines.filter((l) => l.includes('master-process'));
}

test('on a terminal, DEBUG=master-process gives the coloured format', { skip: !hasScript() && 'no script(1)' }, async (t) => {
  const lines = await onTerminal(t, { DEBUG: 'master-process' });
  assert.ok(lines.length >= 3, lines.join('\n'));
  for (const line of lines) assert.match(line, COLOURED);
});

test('on a terminal, DEBUG_COLORS=no gives the plain format', { skip: !hasScript() && 'no script(1)' }, async (t) => {
  const lines = await onTerminal(t, { DEBUG: 'master-process', DEBUG_COLORS: 'no' });
  assert.ok(lines.length >= 3, lines.join('\n'));
  for (const line of lines) assert.match(line, PLAIN);
});
