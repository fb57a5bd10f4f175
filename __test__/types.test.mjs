// index.d.ts types every option, the handle and its events, and the JS glue handles every
// command of the Rust core (binding.d.ts): checked with the TypeScript compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, FIXTURES } from './helpers.mjs';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function tscRun(files, extra = []) {
  const args = [tsc, '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), ...extra, ...files];
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
}

function compile(file) {
  return tscRun([path.join(FIXTURES, 'types', file)], ['--strict']);
}

test('index.d.ts accepts the documented options, handle and events', () => {
  const result = compile('usage.ts');
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('index.d.ts rejects a misspelt option and a wrong event payload', () => {
  const result = compile('wrong.ts');
  assert.notEqual(result.status, 0);
  assert.match(result.stdout, /wrokers/);
  assert.match(result.stdout, /reason/);
});

test('the glue (index.js) type-checks against the commands and events of binding.d.ts', () => {
  const result = tscRun([path.join(ROOT, 'index.js')], ['--allowJs', '--checkJs']);
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('a runner set missing a command kind does not compile', () => {
  const result = tscRun([path.join(FIXTURES, 'types', 'runners-missing-kind.ts')], ['--strict', '--allowJs']);
  assert.notEqual(result.status, 0);
  assert.match(result.stdout, /Property 'exit' is missing/);
});
