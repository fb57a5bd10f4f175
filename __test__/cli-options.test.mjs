// Every option the command-line parser knows is in --help (with a value label that fits it)
// and in README's options table, and nothing else is: the three cannot drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './helpers.mjs';

const require = createRequire(import.meta.url);
const { settings } = require('../lib/master/native.js');
const cli = require('../bin/master-process.js');

const FIXED = ['--', '-h', '--help', '--version'];

/** Every option the parser accepts: the settings' flags and short flags, the commands' flags, the fixed ones. */
function parserOptions() {
  const flags = settings().flatMap((s) => (s.short ? [s.flag, `-${s.short}`] : [s.flag]));
  return [...flags, ...cli.CLIENT_FLAGS, ...FIXED].sort();
}

/** The options README's "Command line" options table names (its first column). */
function readmeOptions() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('| option | setting |');
  assert.ok(start >= 0, 'README has the options table');
  const rows = readme.slice(start).split('\n').slice(2);
  const table = rows.slice(0, rows.findIndex((r) => !r.startsWith('|')));
  const names = table.flatMap((row) => [...row.split('|')[1].matchAll(/`(-[^` ]*)[^`]*`/g)].map((m) => m[1]));
  return names.sort();
}

test('the parser accepts each option README and --help name, and no other', () => {
  for (const option of parserOptions().filter((o) => o.startsWith('-') && !FIXED.includes(o) && !cli.CLIENT_FLAGS.includes(o))) {
    assert.doesNotThrow(() => cli.parse([option, '1', 'app.js']), option);
  }
  assert.throws(() => cli.parse(['--no-such-option', 'app.js']), /unknown option --no-such-option/);
});

test("README's options table names every option the parser knows, and only those", () => {
  assert.deepEqual(readmeOptions(), parserOptions());
});

test('--help names every option the parser knows with its value label', () => {
  const help = cli.help();
  for (const s of settings()) {
    const short = s.short ? `-${s.short}, ` : '    ';
    assert.ok(help.includes(`  ${short}${s.flag} ${cli.placeholder(s)} `), `${s.flag} ${cli.placeholder(s)} is in --help`);
  }
  for (const flag of [...cli.CLIENT_FLAGS, '-h, --help', '--version', '"--"']) assert.ok(help.includes(flag), `${flag} is in --help`);
});

test('a value label says DURATION exactly for the settings that take a duration', () => {
  for (const s of settings()) {
    const takesDuration = /^duration\b/.test(s.help);
    assert.equal(cli.placeholder(s).startsWith('DURATION'), takesDuration, `${s.flag}: ${cli.placeholder(s)} for "${s.help}"`);
  }
  const compileCache = settings().find((s) => s.option === 'compileCache');
  assert.equal(cli.placeholder(compileCache), 'on|off|PATH');
});
