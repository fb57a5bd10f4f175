'use strict';
// Run by an upgrading master, with the Node on disk, before it replaces its image: does
// master-process as it is on disk now load (its JavaScript, the addon, the worker preload)
// and accept the master's settings? Exit 0 when it does; else one line on stderr, starting
// with PREFIX, says why. MASTER_PROCESS_UPGRADE_CHECK holds { settings, cli }: the master's
// options as strings.

const PREFIX = 'master-process upgrade check: ';

try {
  const { settings, cli } = JSON.parse(process.env.MASTER_PROCESS_UPGRADE_CHECK || '{}');
  require('../../index.js');
  require('../worker/preload.js'); // with no parts asked for, it only parses
  const { checkSettings } = require('../master/native.js');
  checkSettings(settings ?? {}, cli === true);
} catch (error) {
  // A SyntaxError's message does not say where: its stack's first line does.
  const where = error instanceof SyntaxError ? ` (${String(error.stack).split('\n')[0]})` : '';
  const code = typeof error?.code === 'string' ? `${error.code}: ` : '';
  process.stderr.write(`${PREFIX}${code}${error?.name ?? 'Error'}: ${error?.message ?? error}${where}\n`);
  process.exit(1);
}
