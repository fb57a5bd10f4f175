// index.d.ts types every option, the handle and its events: checked with the TypeScript compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, FIXTURES } from './helpers.mjs';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function compile(file) {
  const args = [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), path.join(FIXTURES, 'types', file)];
  return spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
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
