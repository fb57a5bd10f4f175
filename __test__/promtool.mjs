// promtool (from Debian's `prometheus` package) for the tests that check metrics, the
// Prometheus configuration and the rules: PROMTOOL, else on PATH, else unpacked once from
// `apt-get download prometheus` into a cache outside the repository. `null` (with why) when
// none can be had, so a test skips saying so.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'master-process-ci', 'prometheus');
const UNPACKED = path.join(CACHE, 'root', 'usr', 'bin', 'promtool');

function works(file) {
  return spawnSync(file, ['--version'], { stdio: 'ignore' }).status === 0;
}

let found;

/** `{ path }` of a working promtool, or `{ why }` none could be found or fetched. */
export function promtool() {
  found ??= find();
  return found;
}

function find() {
  const candidates = [process.env.PROMTOOL, 'promtool', UNPACKED].filter(Boolean);
  for (const file of candidates) if (works(file)) return { path: file };
  fs.mkdirSync(CACHE, { recursive: true });
  const download = spawnSync('apt-get', ['download', 'prometheus'], { cwd: CACHE, encoding: 'utf8' });
  const deb = fs.readdirSync(CACHE).find((f) => f.startsWith('prometheus_') && f.endsWith('.deb'));
  if (!deb) return { why: `promtool is not installed and apt-get download prometheus failed: ${download.stderr || download.error}` };
  spawnSync('dpkg-deb', ['-x', deb, 'root'], { cwd: CACHE });
  return works(UNPACKED) ? { path: UNPACKED } : { why: `promtool from ${deb} does not run` };
}

/** Run `promtool ...args` with `input` on stdin: { status, output }. */
export function runPromtool(args, input) {
  const { path: file } = promtool();
  const run = spawnSync(file, args, { input, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
