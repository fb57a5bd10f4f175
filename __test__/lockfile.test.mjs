// The committed package-lock.json is the one npm writes for package.json: a fresh
// `npm install` in a clone must leave the working tree clean. npm rewrites only the lock
// file here (`--package-lock-only`, no scripts, packages from npm's cache when it has them),
// in a temp copy, so the repository itself is never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './helpers.mjs';

test('npm install leaves the committed package-lock.json as it is', (t) => {
  const dir = tempDir(t, 'mp-lock-');
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  execFileSync('npm', ['install', '--package-lock-only', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const committed = fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8');
  const written = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
  assert.equal(written, committed, 'commit package-lock.json as npm writes it (run npm install and commit the result)');
});
