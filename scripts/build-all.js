'use strict';
// `npm run build:all`: the four Linux addons, built on this machine and each checked
// (scripts/check-binary.js), and both macOS targets compiled with `cargo check` (linking for
// macOS needs its SDK, so the real darwin binaries come from macOS runners; the check still
// catches what does not compile or warns there).
//
// Linux targets cross-compile with `napi build -x`, which runs cargo-zigbuild with zig as the
// linker; the gnu ones ask zig for a glibc 2.17 floor (`<triple>.2.17`). What it needs is
// installed here if missing: the rustup targets, and cargo-zigbuild + ziglang from PyPI into
// a venv under ~/.cache/master-process-build (never into the repository). Output:
// dist/<platform>/master-process.<platform>.node. `-- TRIPLE ...` builds only those.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { check } = require('./check-binary.js');

const ROOT = path.join(__dirname, '..');
const LINUX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
};
const DARWIN = ['x86_64-apple-darwin', 'aarch64-apple-darwin'];
const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'master-process-build');
const VENV = path.join(CACHE, 'zig-venv');

function run(file, argv, env = process.env) {
  const result = spawnSync(file, argv, { cwd: ROOT, stdio: 'inherit', env });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${file} ${argv.join(' ')} exited ${result.status}`);
}

/** PATH with cargo-zigbuild and a `zig` from the ziglang wheel, installed on first use. */
function zigPath() {
  const bin = path.join(VENV, 'bin');
  if (!fs.existsSync(path.join(bin, 'cargo-zigbuild'))) {
    run('python3', ['-m', 'venv', VENV]);
    run(path.join(bin, 'pip'), ['install', '--quiet', 'cargo-zigbuild', 'ziglang']);
  }
  const lib = path.join(VENV, 'lib');
  const site = fs.readdirSync(lib).map((v) => path.join(lib, v, 'site-packages', 'ziglang', 'zig')).find(fs.existsSync);
  if (!site) throw new Error(`no zig in the ziglang wheel under ${lib}`);
  const shim = path.join(CACHE, 'zig-shim');
  fs.mkdirSync(shim, { recursive: true });
  fs.rmSync(path.join(shim, 'zig'), { force: true });
  fs.symlinkSync(site, path.join(shim, 'zig'));
  return `${shim}:${bin}:${process.env.PATH}`;
}

function buildLinux(triple, env) {
  const platform = LINUX[triple];
  const out = path.join(ROOT, 'dist', platform);
  const target = triple.endsWith('-gnu') ? `${triple}.2.17` : triple;
  const started = Date.now();
  run(path.join(ROOT, 'node_modules', '.bin', 'napi'),
    ['build', '--platform', '--release', '--target', target, '-x', '--no-js', '--output-dir', out], env);
  const file = path.join(out, `master-process.${platform}.node`);
  return { triple, file, seconds: (Date.now() - started) / 1000, checks: check(file, triple) };
}

function checkDarwin(triple) {
  const started = Date.now();
  run('cargo', ['check', '--release', '--quiet', '--target', triple], { ...process.env, RUSTFLAGS: '-D warnings' });
  return { triple, file: '(cargo check only)', seconds: (Date.now() - started) / 1000, checks: [] };
}

function main() {
  const asked = process.argv.slice(2);
  const known = [...Object.keys(LINUX), ...DARWIN];
  for (const t of asked) {
    if (!known.includes(t)) throw new Error(`${t}: expected one of ${known.join(', ')}`);
  }
  const triples = asked.length ? asked : known;
  run('rustup', ['target', 'add', ...triples]);
  const env = { ...process.env, PATH: zigPath() };
  const results = triples.map((t) => (LINUX[t] ? buildLinux(t, env) : checkDarwin(t)));
  let bad = 0;
  for (const r of results) {
    console.log(`${r.triple}: ${r.file} (${r.seconds.toFixed(0)} s)`);
    for (const c of r.checks) {
      if (!c.ok) bad++;
      console.log(`  ${c.ok ? 'ok ' : 'BAD'} ${c.what} (${c.found})`);
    }
  }
  if (bad) throw new Error(`${bad} check(s) failed`);
}

try {
  main();
} catch (error) {
  console.error(`build:all: ${error.message}`);
  process.exit(1);
}
