'use strict';
// `npm install` hook. A user installing from the registry gets a prebuilt binary through
// the optional `master-process-<platform>` package: nothing to do. In a clone (or where no
// prebuilt binary fits) the addon is built from source with @napi-rs/cli and cargo.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

function loads() {
  try {
    require(path.join(root, 'binding.js'));
    return true;
  } catch {
    return false;
  }
}

if (!process.env.MASTER_PROCESS_FORCE_BUILD && loads()) process.exit(0);

let cli;
try {
  const manifest = require.resolve('@napi-rs/cli/package.json', { paths: [root] });
  cli = path.join(path.dirname(manifest), require(manifest).bin.napi);
} catch {
  console.error(
    'master-process: no prebuilt binary for this platform could be loaded, and @napi-rs/cli is not ' +
      'installed to build one. Install Rust and run `npm install` in a clone of master-process, ' +
      'or use a supported platform (linux x64/arm64 gnu/musl, darwin x64/arm64).',
  );
  process.exit(1);
}
const args = [cli, 'build', '--platform', '--release', '--js', 'binding.js', '--dts', 'binding.d.ts'];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
