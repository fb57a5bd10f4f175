// A deploy that moves a `current` symlink: the next generation starts in the new release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMaster, freePort, tempDir } from './helpers.mjs';

test('workers fork in $PWD, so a moved current symlink is followed at the next reload', async (t) => {
  const root = tempDir(t);
  for (const release of ['r1', 'r2']) fs.mkdirSync(path.join(root, release));
  const current = path.join(root, 'current');
  fs.symlinkSync(path.join(root, 'r1'), current);
  const master = startMaster(t, { cwd: current, env: { PORT: String(await freePort()), PWD: current } });
  const [first] = await master.waitFor('WORKER listening');
  assert.equal(first.cwd, fs.realpathSync(path.join(root, 'r1')));
  fs.unlinkSync(current);
  fs.symlinkSync(path.join(root, 'r2'), current);
  master.signal('SIGHUP');
  const [second] = await master.waitFor('WORKER listening', (w) => w.reload === '1');
  assert.equal(second.cwd, fs.realpathSync(path.join(root, 'r2')));
});
