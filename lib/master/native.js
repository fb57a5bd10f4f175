'use strict';
// The native addon, through the loader `napi build` generates (../binding.js). That loader
// tries ./master-process.<platform>.node (a build from source in a clone) and then the
// master-process-<platform> package that npm installs as an optional dependency. When
// nothing loads, it throws a generic "Cannot find native binding"; this module turns that
// into one clear, coded error that says what this machine is, what is supported, and how
// to build from source, keeping the loader's error (and its chain of load errors) as `cause`.

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BUILD_FROM_SOURCE =
  'To build it from source, use a clone of the repository with Rust >= 1.95 installed: ' +
  '`npm install` there builds the addon (or run `npm run build`).';

/** 'glibc', 'musl', or null when unknown (or not Linux). Only asked on the error path. */
function libc() {
  if (process.platform !== 'linux') return null;
  try {
    if (fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')) return 'musl';
  } catch {
    // no ldd: ask the process report
  }
  try {
    const report = /** @type {any} */ (process.report); // excludeNetwork: Node >= 20.13, not in every @types/node
    const excludeNetwork = report.excludeNetwork;
    report.excludeNetwork = true;
    const { header, sharedObjects } = report.getReport();
    report.excludeNetwork = excludeNetwork;
    if (header && header.glibcVersionRuntime) return 'glibc';
    if ((sharedObjects || []).some((/** @type {string} */ f) => f.includes('libc.musl-') || f.includes('ld-musl-'))) return 'musl';
  } catch {
    // no report
  }
  return null;
}

/** @typedef {{ platform: string, arch: string, libc: string | null }} Platform */
/** @typedef {Platform & { suffix: string }} Target */

/** @type {Record<string, string>} */
const ARCH = { x86_64: 'x64', aarch64: 'arm64' };
/** @type {Record<string, string>} */
const ABI = { gnu: 'glibc', musl: 'musl' };

/**
 * `x86_64-unknown-linux-gnu` -> { platform: 'linux', arch: 'x64', libc: 'glibc', suffix: 'linux-x64-gnu' }.
 * @param {string} triple
 * @returns {Target}
 */
function parseTarget(triple) {
  const [cpu, , os, abi] = triple.split('-');
  const arch = ARCH[cpu] || cpu;
  if (os === 'darwin') return { platform: 'darwin', arch, libc: null, suffix: `darwin-${arch}` };
  return { platform: os, arch, libc: ABI[abi] || abi || null, suffix: `${os}-${arch}${abi ? `-${abi}` : ''}` };
}

/** @param {Platform} platform */
function describe({ platform, arch, libc }) {
  return `${platform} ${arch}${libc ? ` (${libc})` : ''}`;
}

/**
 * The targets prebuilt binaries are published for (package.json `napi.targets`).
 * @returns {{ name: string, list: Target[] }}
 */
function targets() {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    return { name: manifest.napi.binaryName || manifest.name, list: manifest.napi.targets.map(parseTarget) };
  } catch {
    return { name: 'master-process', list: [] };
  }
}

/** @param {string} pkg */
function installed(pkg) {
  try {
    require.resolve(`${pkg}/package.json`, { paths: [ROOT] });
    return true;
  } catch {
    return false;
  }
}

/** @param {unknown} cause what ../binding.js threw */
function noBinaryError(cause) {
  const here = { platform: process.platform, arch: process.arch, libc: libc() };
  const { name, list } = targets();
  const supported = list.map(describe).join(', ') || 'linux x64/arm64 (glibc, musl), darwin x64/arm64';
  const fits = list.find(
    (t) => t.platform === here.platform && t.arch === here.arch && (here.libc === null || t.libc === here.libc),
  );
  const lines = [`master-process: no native binary could be loaded for ${describe(here)}.`];
  if (fs.existsSync(path.join(ROOT, 'Cargo.toml'))) {
    lines.push('This is a source checkout (Cargo.toml is here): build the addon with `npm run build`.');
  } else if (fits) {
    const pkg = `${name}-${fits.suffix}`;
    lines.push(
      installed(pkg)
        ? `The prebuilt binary for it, ${pkg}, is installed but did not load.`
        : `The prebuilt binary for it is the package ${pkg}, an optional dependency of master-process that ` +
            'was not installed (--omit=optional, --no-optional, or a lockfile made on another platform?): ' +
            'reinstall master-process with optional dependencies.',
    );
  } else {
    lines.push('No prebuilt binary is published for this platform.');
  }
  lines.push(`Prebuilt binaries: ${supported}.`, BUILD_FROM_SOURCE, 'The errors of each attempt to load are in error.cause.');
  return Object.assign(new Error(lines.join('\n'), { cause }), { code: 'ERR_NO_BINARY' });
}

function load() {
  try {
    return require('../../binding.js');
  } catch (cause) {
    throw noBinaryError(cause);
  }
}

module.exports = load();
