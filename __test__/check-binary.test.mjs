// scripts/check-binary.js, the check every build of `npm run build:all` passes: run on the
// addon this machine built, it reads the real ELF headers with readelf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { check } = require('../scripts/check-binary.js');
const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch];
const built = fs.readdirSync(ROOT).find((f) => /^master-process\.linux-.*\.node$/.test(f));
const hasReadelf = spawnSync('readelf', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = (!built && 'no addon built for linux here') || (!hasReadelf && 'no readelf (binutils)') || (!arch && `arch ${process.arch}`);

test("the addon built here is a shared object for this machine's architecture", { skip }, () => {
  const libc = built.includes('musl') ? 'musl' : 'gnu';
  const results = check(path.join(ROOT, built), `${arch}-unknown-linux-${libc}`);
  const byWhat = Object.fromEntries(results.map((r) => [r.what.split(' ')[0], r]));
  assert.equal(byWhat.machine.ok, true, JSON.stringify(byWhat.machine));
  assert.equal(byWhat.no.ok, true, `no interpreter: ${JSON.stringify(byWhat.no)}`);
  assert.match(byWhat.needs.found, libc === 'gnu' ? /libc\.so\.6/ : /libc\.so/);
});

test('the same addon checked as the other architecture fails its machine check, naming what it found', { skip }, () => {
  const other = arch === 'x86_64' ? 'aarch64' : 'x86_64';
  const [machine] = check(path.join(ROOT, built), `${other}-unknown-linux-gnu`);
  assert.equal(machine.ok, false);
  assert.notEqual(machine.found, undefined);
});

test('the command exits 1 on a failed check and prints one line per check', { skip }, () => {
  const other = arch === 'x86_64' ? 'aarch64' : 'x86_64';
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-binary.js'), path.join(ROOT, built), `${other}-unknown-linux-gnu`], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.equal(run.stdout.trim().split('\n').length, 4);
  assert.match(run.stdout, /^BAD .*machine/m);
});

test('a triple the check does not know is refused with what it expects', () => {
  assert.throws(() => check('/nonexistent', 'riscv64gc-unknown-linux-gnu'), /TRIPLE=riscv64gc-unknown-linux-gnu: expected a linux x86_64 or aarch64 triple/);
});
