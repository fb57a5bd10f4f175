'use strict';
// Run by an upgrading master, with the Node on disk, before it replaces its image: does
// master-process as it is on disk now load (its JavaScript, the addon, the worker preload)
// and accept the master's settings? Exit 0 when it does; else the error is on stderr.
// MASTER_PROCESS_UPGRADE_CHECK holds { settings, cli }: the master's options as strings.

const { settings, cli } = JSON.parse(process.env.MASTER_PROCESS_UPGRADE_CHECK || '{}');
require('../../index.js');
require('../worker/preload.js'); // with no parts asked for, it only parses
const { checkSettings } = require('../master/native.js');
checkSettings(settings ?? {}, cli === true);
process.stdout.write(`${JSON.parse(require('node:fs').readFileSync(require.resolve('../../package.json'), 'utf8')).version}\n`);
