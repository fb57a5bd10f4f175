'use strict';
// The `prepare` lifecycle script. npm runs it after a plain `npm install` or `npm ci` in a
// clone of master-process (and when master-process is installed from git), never when a user
// installs the published package from the registry: that one gets its binary from the
// optional master-process-<platform> package and runs no install script at all.
//
// In a clone it builds the addon from source: `npm run build`, which needs Rust (cargo).
// npm also runs `prepare` on `npm pack` and `npm publish`; those pack the files that are
// there (the binaries are built per target by CI), so nothing is built then.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const command = process.env.npm_command;
if (command === 'pack' || command === 'publish') process.exit(0);

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  console.error(
    'master-process: building the native addon from source needs Rust >= 1.95, and `cargo` is not on PATH.\n' +
      'Install Rust (https://rustup.rs), then run `npm install` (or `npm run build`) again.',
  );
  process.exit(1);
}

// The same package manager that runs this script runs the `build` script (npm sets
// npm_execpath; pnpm and yarn set it too).
const npm = process.env.npm_execpath;
const [file, args] = !npm
  ? ['npm', ['run', 'build']]
  : /\.[cm]?js$/.test(npm)
    ? [process.execPath, [npm, 'run', 'build']]
    : [npm, ['run', 'build']];
const result = spawnSync(file, args, { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
process.exit(result.status ?? 1);
