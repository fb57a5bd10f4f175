// The JavaScript tree shows which process runs what: lib/master/ runs in the primary,
// lib/worker/ inside each worker (preloaded before the app), lib/protocol.js is what both
// speak. The old public paths of the worker side stay working for apps that require them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.mjs';

const RELATIVE = /require\('(\.{1,2}\/[^']+)'\)/g;

/** The package-relative files `file` requires with a relative path. */
function relativeRequires(file) {
  const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...source.matchAll(RELATIVE)].map(([, spec]) => path.posix.join(path.posix.dirname(file), spec));
}

const jsIn = (dir) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.js')).map((f) => `${dir}/${f}`);

test('worker-side code requires nothing of the master side, and the master side nothing of the worker side', () => {
  for (const file of jsIn('lib/worker').filter((f) => f !== 'lib/worker/preload.js')) {
    for (const dep of relativeRequires(file)) {
      assert.ok(dep.startsWith('lib/worker/') || dep === 'lib/protocol.js', `${file} requires ${dep}`);
    }
  }
  for (const file of ['index.js', ...jsIn('lib/master')]) {
    for (const dep of relativeRequires(file)) {
      assert.ok(!dep.startsWith('lib/worker/'), `${file} (master side) requires ${dep}`);
    }
  }
});

test('no JavaScript of the package is left loose in lib/ but the shared protocol and the old preload path', () => {
  assert.deepEqual(jsIn('lib').sort(), ['lib/protocol.js', 'lib/worker-preload.js']);
});

test('the old paths master-process/worker-drain.js and lib/worker-preload.js still load the worker side', () => {
  const script = `
    const drain = require(${JSON.stringify(path.join(ROOT, 'worker-drain.js'))});
    const preload = require(${JSON.stringify(path.join(ROOT, 'lib', 'worker-preload.js'))});
    process.stdout.write(JSON.stringify({
      drain: drain === require(${JSON.stringify(path.join(ROOT, 'lib', 'worker', 'drain.js'))}),
      onRetire: typeof drain.onRetire,
      preload: preload === require(${JSON.stringify(path.join(ROOT, 'lib', 'worker', 'preload.js'))}),
    }));`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { drain: true, onRetire: 'function', preload: true });
});
