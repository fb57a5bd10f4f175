// How a reload hands each slot over: by default slot by slot, as 4.x did (an old worker goes
// as soon as its own replacement listens, while the others keep serving); with
// MASTER_PROCESS_RELOAD_SWAP=batch only once the whole batch listens. Worker 1 of the new
// generation is held at a gate (fixtures/gated.js) so each test decides the order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, get, tempDir, alive } from './helpers.mjs';

async function reloadWithGate(t, env = {}) {
  const port = await freePort();
  const gate = path.join(tempDir(t), 'gate');
  const master = startMaster(t, {
    fixture: 'gated.js',
    env: { PORT: String(port), WORKERS: '2', FIXTURE_GATE: gate, FIXTURE_GATE_INDEX: '1', ...env },
  });
  const old = await master.waitFor('WORKER listening', (w) => w.reload === '0', 2);
  const byIndex = Object.fromEntries(old.map((w) => [w.index, w]));
  master.signal('SIGHUP');
  return { port, master, gate, old: byIndex, open: () => fs.writeFileSync(gate, '') };
}

const exitOf = (master, pid) => master.events('worker-exit').find((e) => e.pid === pid);
const lineOf = (master, kind, filter) => master.lines.findIndex((l) => {
  const at = l.indexOf(' {');
  return l.startsWith(`${kind} `) && at >= 0 && filter(JSON.parse(l.slice(at + 1)));
});

test('by default an old worker is retired as soon as its own replacement listens, while the other keeps serving', async (t) => {
  const { master, old, open } = await reloadWithGate(t);
  await master.waitEvent('worker-exit', (e) => e.pid === old[0].pid);
  assert.equal(exitOf(master, old[0].pid).expected, true);
  assert.equal(exitOf(master, old[1].pid), undefined, 'old worker 1 must wait for its own replacement');
  assert.ok(alive(old[1].pid));
  assert.equal(master.events('reload').length, 0);
  open();
  await master.waitEvent('reload', (e) => e.generation === 1);
  await master.waitEvent('worker-exit', (e) => e.pid === old[1].pid);
});

test('MASTER_PROCESS_RELOAD_SWAP=batch retires no old worker before the whole batch listens', async (t) => {
  const { master, old, open } = await reloadWithGate(t, { MASTER_PROCESS_RELOAD_SWAP: 'batch' });
  await master.waitEvent('worker-listening', (e) => e.generation === 1 && e.index === 0);
  open();
  await master.waitEvent('reload', (e) => e.generation === 1);
  await master.waitEvent('worker-exit', (e) => e.pid === old[0].pid || e.pid === old[1].pid, 2);
  const lastListen = lineOf(master, 'EVENT', (e) => e.event === 'worker-listening' && e.generation === 1 && e.index === 1);
  const firstExit = lineOf(master, 'EVENT', (e) => e.event === 'worker-exit' && (e.pid === old[0].pid || e.pid === old[1].pid));
  assert.ok(lastListen >= 0 && firstExit > lastListen, `an old worker went before the batch was ready\n${master.transcript()}`);
});

test('a slot whose new worker fails keeps its old worker; the slot already swapped keeps the new one', async (t) => {
  const { port, master, old, open } = await reloadWithGate(t, { FIXTURE_GATE_THROWS: '1' });
  await master.waitEvent('worker-exit', (e) => e.pid === old[0].pid);
  open();
  const [failure] = await master.waitEvent('reload-failed');
  assert.equal(failure.generation, 1);
  assert.match(failure.reason, /^worker 1 .* before it was ready$/);
  assert.ok(master.stderrLines.some((l) => /reload 1 failed and was rolled back/.test(l)));
  assert.equal(exitOf(master, old[1].pid), undefined);
  const serving = new Map();
  for (let i = 0; i < 40 && serving.size < 2; i++) {
    const { json } = await get(port);
    serving.set(json.index, json.reload);
  }
  assert.deepEqual(Object.fromEntries(serving), { 0: '1', 1: '0' });
});

test('MASTER_PROCESS_RELOAD_SWAP=batch rolls the whole batch back when one slot fails', async (t) => {
  const { port, master, old, open } = await reloadWithGate(t, {
    FIXTURE_GATE_THROWS: '1',
    MASTER_PROCESS_RELOAD_SWAP: 'batch',
  });
  await master.waitEvent('worker-listening', (e) => e.generation === 1 && e.index === 0);
  open();
  await master.waitEvent('reload-failed');
  const newZero = master.events('worker-listening').find((e) => e.generation === 1 && e.index === 0);
  await master.waitEvent('worker-exit', (e) => e.pid === newZero.pid);
  assert.equal(exitOf(master, old[0].pid), undefined);
  assert.equal(exitOf(master, old[1].pid), undefined);
  const { json } = await get(port);
  assert.equal(json.reload, '0');
});
