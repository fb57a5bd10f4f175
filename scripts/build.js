'use strict';
// `npm run build [-- napi build options]`: the addon for this machine (or for `--target T`,
// with `-x` to cross-compile through cargo-zigbuild), the generated binding.js and
// binding.d.ts, then the worker bundle. Every argument goes to `napi build`, so
// `npm run build -- --target aarch64-unknown-linux-gnu -x` builds for that target, where a
// plain `napi build ... && node scripts/bundle-worker.js` handed it to the bundler instead.
// `--debug` builds without --release.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const args = process.argv.slice(2);
const debug = args.includes('--debug');
const napiArgs = [
  'build', '--platform', ...(debug ? [] : ['--release']),
  '--js', 'binding.js', '--dts', 'binding.d.ts',
  ...args.filter((a) => a !== '--debug'),
];

function run(file, argv) {
  const result = spawnSync(file, argv, { cwd: ROOT, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run(path.join(ROOT, 'node_modules', '.bin', 'napi'), napiArgs);
run(process.execPath, [path.join(__dirname, 'bundle-worker.js')]);
