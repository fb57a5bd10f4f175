'use strict';
// `node scripts/check-binary.js FILE TRIPLE`: is FILE an addon this package can ship for
// TRIPLE? Read with binutils' readelf: the ELF machine, no program interpreter (a shared
// object, not an executable), only the libraries the target's libc provides, and for glibc
// no symbol version newer than GLIBC_FLOOR (2.28, the floor of Node 20's own binaries, so
// the addon runs wherever Node does). Prints one line per check; exits 1 if one fails.
const { execFileSync } = require('node:child_process');

const GLIBC_FLOOR = '2.28';
const MACHINES = { x86_64: 'Advanced Micro Devices X86-64', aarch64: 'AArch64' };
const LIBS = {
  gnu: ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1', 'libgcc_s.so.1',
    'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1'],
  musl: ['libc.so'],
};

const version = (v) => v.split('.').map(Number);
const newer = (a, b) => {
  const [x, y] = [version(a), version(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
};

function readelf(flag, file) {
  return execFileSync('readelf', ['-W', flag, file], { encoding: 'utf8' });
}

/** The checks for `file` built for `triple`: [{ what, ok, found }]. */
function check(file, triple) {
  const [arch] = triple.split('-');
  const libc = triple.includes('musl') ? 'musl' : 'gnu';
  if (!MACHINES[arch] || !/linux/.test(triple)) throw new Error(`TRIPLE=${triple}: expected a linux x86_64 or aarch64 triple`);
  const machine = /Machine:\s+(.*)/.exec(readelf('-h', file))?.[1].trim();
  const interp = /Requesting program interpreter: ([^\]]+)/.exec(readelf('-l', file))?.[1];
  const needed = [...readelf('-d', file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const glibc = [...readelf('-V', file).matchAll(/GLIBC_([0-9.]+)/g)].map((m) => m[1]);
  const highest = glibc.reduce((a, b) => (newer(b, a) ? b : a), '0');
  const strangers = needed.filter((n) => !LIBS[libc].includes(n));
  return [
    { what: `machine ${MACHINES[arch]}`, ok: machine === MACHINES[arch], found: machine },
    { what: 'no program interpreter', ok: interp === undefined, found: interp ?? 'none' },
    { what: `needs only ${LIBS[libc].join(', ')}`, ok: strangers.length === 0, found: needed.join(', ') },
    libc === 'gnu'
      ? { what: `glibc symbols up to ${GLIBC_FLOOR}`, ok: !newer(highest, GLIBC_FLOOR), found: `GLIBC_${highest}` }
      : { what: 'no glibc symbols', ok: glibc.length === 0, found: glibc.length ? `GLIBC_${highest}` : 'none' },
  ];
}

module.exports = { check, GLIBC_FLOOR };

if (require.main === module) {
  const [file, triple] = process.argv.slice(2);
  if (!file || !triple) {
    console.error('usage: node scripts/check-binary.js FILE TRIPLE');
    process.exit(2);
  }
  const results = check(file, triple);
  for (const r of results) console.log(`${r.ok ? 'ok ' : 'BAD'} ${file}: ${r.what} (${r.found})`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}
