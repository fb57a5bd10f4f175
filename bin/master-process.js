#!/usr/bin/env node
'use strict';
// The `master-process` command. `master-process [options] <app> [args...]` runs the master
// in this process with <app> as the workers' entry (the flags become init() options, so the
// master validates them); the subcommands send one request to a running master's control
// socket and print the answer. All decisions stay with the master; this file parses,
// asks and prints.

const fs = require('node:fs');
const path = require('node:path');
const { locate, ask, ControlClientError, CONTROL_ENV } = require('../lib/cli/control-client.js');
const { awaitUpgrade } = require('../lib/cli/upgrade-wait.js');

const SUBCOMMANDS = ['status', 'reload', 'stop', 'scale', 'pause', 'resume', 'upgrade'];
const EX_USAGE = 64;

/** What each setting's value looks like in the help. */
const PLACEHOLDERS = {
  workers: 'N',
  port: 'PORT',
  maxMemoryAllowedMb: 'MB',
  memMonitorFailures: 'N',
  maxCpuAllowed: 'PERCENT',
  cpuMonitorFailures: 'N',
  drain: 'on|off',
  ready: 'listening|message',
  reloadBatch: 'N|ALL',
  reloadSwap: 'slot|batch',
  newVersion: 'upgrade|exit',
  maxCrashes: 'N',
  controlSocket: 'PATH|off',
  heartbeatTimeout: 'DURATION|off',
  compileCache: 'on|off|PATH',
  metrics: 'PORT|HOST:PORT|PATH|off',
  logFormat: 'text|json',
};

/** The flags for the commands, not settings. */
const CLIENT_FLAGS = ['--pid', '--socket', '--json'];

/** A command-line mistake or an unreachable master: a message and an exit code. */
class CliError extends Error {
  constructor(code, message) {
    super(message);
    this.exitCode = code;
  }
}

function native() {
  return /** @type {typeof import('../binding.js')} */ (require('../lib/master/native.js'));
}

function version() {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version;
}

/** A setting's value label: its own, else a duration (a test checks which settings fall here). */
function placeholder(setting) {
  return PLACEHOLDERS[setting.option] ?? 'DURATION';
}

function help() {
  const settings = native().settings();
  const rows = settings.map((s) => {
    const short = s.short ? `-${s.short}, ` : '    ';
    const envs = s.env.join(', ') + (s.option === 'workers' ? ', then WEB_CONCURRENCY' : '');
    return [`${short}${s.flag} ${placeholder(s)}`, `${envs}: ${s.help}`];
  });
  rows.push(['-h, --help', 'this help'], ['    --version', "master-process's version"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const options = rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join('\n');
  return `Usage:
  master-process [options] [--] <app> [app args...]
  master-process status [--json] [--pid PID | --socket PATH]
  master-process reload | stop | pause | resume | upgrade [--pid PID | --socket PATH]
  master-process scale N [--pid PID | --socket PATH]

Run <app> (a file, as node would) under a master in this process: the app is each worker's
entry, so it needs no change. Arguments after <app> are the app's. "--" ends the options.
Every option mirrors an environment variable (which still works); an option wins over it.
A bad value stops the master with exit 78, naming the option and what is accepted.

Options:
${options}

Commands (they talk to a running master over its control socket):
  status [--json]  the master and each worker; exits 1 when a slot has no serving worker
  reload           reload, wait for the outcome; exits 1 when it was rolled back
  stop             stop the master (as SIGTERM) and wait until it has exited
  scale N          keep N workers (1-${native().maxWorkers()}); waits until they serve or are gone
  pause, resume    pause or resume monitoring (as SIGUSR2 would, when it changes something)
  upgrade          replace the master's image with the Node and master-process on disk,
                   same pid and sockets; waits for the outcome, exits 1 when refused
The master is the one named by --pid PID or --socket PATH (or by ${CONTROL_ENV}
when it is a path), else the only one this user runs. Command names are reserved: give an
app file with such a name as a path (./status).

Exit codes: those of the master when running an app (0 stopped, 1 master-process changed on
disk, 70 crash loop, 78 bad setting); for commands 0 done, 1 failed (the answer says why),
64 a command-line mistake or several masters to choose from, 69 no master reachable,
77 a control socket refused: not this user's (see README, Security).
`;
}

/** Split `--name=value` and find the setting a flag names. */
function settingFor(arg, settings) {
  if (arg.startsWith('--')) {
    const [flag] = arg.split('=', 1);
    return settings.find((s) => s.flag === flag);
  }
  return settings.find((s) => s.short && `-${s.short}` === arg.slice(0, 2));
}

/** The value of the option at `args[i]`: inline (`--x=v`, `-wv`) or the next argument. */
function takeValue(args, i, name) {
  const arg = args[i];
  const eq = arg.indexOf('=');
  if (arg.startsWith('--') && eq >= 0) return { value: arg.slice(eq + 1), next: i + 1 };
  if (!arg.startsWith('--') && arg.length > 2) return { value: arg.slice(2).replace(/^=/, ''), next: i + 1 };
  if (i + 1 >= args.length) throw new CliError(EX_USAGE, `${name} needs a value (see --help)`);
  return { value: args[i + 1], next: i + 2 };
}

/**
 * Parse the command line: { mode: 'help' | 'version' }, { mode: 'run', options, app, args },
 * or { mode: 'command', command, operand, pid, socket, json }.
 */
function parse(args) {
  const settings = native().settings();
  /** @type {Record<string, string>} */
  const options = {};
  const client = { pid: undefined, socket: undefined, json: false };
  const clientFlags = [];
  let afterDashes = false;
  let i = 0;
  for (; i < args.length; ) {
    const arg = args[i];
    if (arg === '--') {
      afterDashes = true;
      i++;
      break;
    }
    if (arg === '-h' || arg === '--help') return { mode: 'help' };
    if (arg === '--version') return { mode: 'version' };
    if (!arg.startsWith('-') || arg === '-') break;
    const name = arg.split('=', 1)[0];
    if (CLIENT_FLAGS.includes(name) && name !== '--json') {
      const { value, next } = takeValue(args, i, name);
      client[name.slice(2)] = value;
      clientFlags.push(name);
      i = next;
      continue;
    }
    if (name === '--json') {
      client.json = true;
      clientFlags.push(name);
      i++;
      continue;
    }
    const setting = settingFor(arg, settings);
    if (!setting) throw new CliError(EX_USAGE, `unknown option ${name} (see --help)`);
    const { value, next } = takeValue(args, i, arg.startsWith('--') ? setting.flag : `-${setting.short}`);
    options[setting.option] = value;
    i = next;
  }
  const [first, ...rest] = args.slice(i);
  if (first === undefined) throw new CliError(EX_USAGE, 'no app given: master-process [options] <app> (see --help)');
  if (!afterDashes && SUBCOMMANDS.includes(first)) {
    if (Object.keys(options).length > 0) {
      throw new CliError(EX_USAGE, `settings are for running an app, not for ${first}`);
    }
    return parseCommand(first, rest, client);
  }
  if (clientFlags.length > 0) {
    throw new CliError(EX_USAGE, `${clientFlags[0]} is for the commands (status, reload, ...), not for running an app`);
  }
  return { mode: 'run', options, app: first, args: rest };
}

/** The rest of a subcommand's line: its operand and --pid, --socket, --json. */
function parseCommand(command, args, client) {
  const parsed = { mode: 'command', command, operand: undefined, ...client };
  for (let i = 0; i < args.length; ) {
    const arg = args[i];
    const name = arg.split('=', 1)[0];
    if (arg === '-h' || arg === '--help') return { mode: 'help' };
    if (name === '--pid' || name === '--socket') {
      const { value, next } = takeValue(args, i, name);
      parsed[name.slice(2)] = value;
      i = next;
    } else if (arg === '--json' && command === 'status') {
      parsed.json = true;
      i++;
    } else if (command === 'scale' && parsed.operand === undefined && !arg.startsWith('-')) {
      parsed.operand = arg;
      i++;
    } else {
      throw new CliError(EX_USAGE, `unexpected ${JSON.stringify(arg)} after ${command} (see --help)`);
    }
  }
  if (parsed.json && command !== 'status') throw new CliError(EX_USAGE, '--json is for status');
  if (command === 'scale') {
    const max = native().maxWorkers();
    if (parsed.operand === undefined) throw new CliError(EX_USAGE, `scale needs a number of workers: master-process scale N (1-${max})`);
    if (!/^\d+$/.test(parsed.operand)) {
      throw new CliError(EX_USAGE, `scale: invalid N=${JSON.stringify(parsed.operand)}: expected a whole number from 1 to ${max}`);
    }
  }
  if (parsed.pid !== undefined && !/^[1-9]\d*$/.test(parsed.pid)) {
    throw new CliError(EX_USAGE, `invalid --pid=${JSON.stringify(parsed.pid)}: expected a process id (a whole number)`);
  }
  if (parsed.pid !== undefined && parsed.socket !== undefined) {
    throw new CliError(EX_USAGE, 'give --pid or --socket, not both');
  }
  return parsed;
}

/** Run the app under a master in this process. */
function run({ options, app, args }) {
  let entry;
  try {
    entry = require.resolve(path.resolve(app));
  } catch {
    throw new CliError(EX_USAGE, `cannot find the app ${JSON.stringify(app)} (from ${process.cwd()})`);
  }
  require('../index.js')[Symbol.for('master-process.runApp')](options, { app: entry, args });
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  const two = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  if (m > 0) return `${m}m${two(s % 60)}s`;
  return `${s}s`;
}

/** The slots (WORKER_INDEX values) with no serving worker. */
function unserved(status) {
  const slots = Array.from({ length: status.slots }, (_, index) => index);
  return slots.filter((index) => !status.workers.some((w) => w.index === index && w.state === 'serving'));
}

function table(status) {
  const flags = ['reloading', 'paused', 'stopping'].filter((f) => status[f]);
  if (status.scalingTo !== null) flags.push(`scaling to ${status.scalingTo}`);
  const head = [
    `master ${status.pid}`,
    `master-process ${status.version}`,
    `up ${duration(status.uptimeMs)}`,
    `generation ${status.generation}`,
    `${status.slots} slot${status.slots === 1 ? '' : 's'}`,
    ...flags,
  ].join('   ');
  const rows = [['INDEX', 'PID', 'GEN', 'STATE', 'UPTIME', 'RSS', 'CPU']];
  for (const w of status.workers) {
    rows.push([
      String(w.index),
      w.pid === null ? '-' : String(w.pid),
      String(w.generation),
      w.state,
      duration(w.uptimeMs),
      w.rssBytes === null ? '-' : `${(w.rssBytes / 1048576).toFixed(1)} MB`,
      w.cpuPercent === null ? '-' : `${w.cpuPercent.toFixed(1)}%`,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
  return `${head}\n\n${lines.join('\n')}\n${unsampledNote(status)}`;
}

/** Why a worker shows no RSS or CPU yet: a line after the table, or nothing. */
function unsampledNote(status) {
  if (!status.workers.some((w) => w.rssBytes === null)) return '';
  if (status.paused) return '\nRSS and CPU: monitoring is paused\n';
  const ms = status.settings.monitorWarmup;
  const warmup = ms < 1000 ? `${ms}ms` : duration(ms);
  return `\nRSS and CPU: - until a worker's first sample, ${warmup} after it starts (MASTER_PROCESS_MONITOR_WARMUP: start-up work is not judged)\n`;
}

/** Run a subcommand; resolves the exit code. */
async function command(parsed) {
  const master = locate(parsed, (line) => process.stderr.write(`master-process: ${line}\n`));
  const say = (line) => process.stdout.write(`${line}\n`);
  const fail = (answer) => {
    process.stderr.write(`master-process: ${answer.error}\n`);
    return 1;
  };
  switch (parsed.command) {
    case 'status': {
      const answer = await ask(master, { request: 'status' });
      if (!answer.ok) return fail(answer);
      const { status } = answer;
      if (parsed.json) say(JSON.stringify(status, null, 2));
      else process.stdout.write(table(status));
      const missing = unserved(status);
      if (missing.length > 0 && !parsed.json) {
        process.stderr.write(`master-process: no serving worker in slot ${missing.join(', ')}\n`);
      }
      return missing.length > 0 || status.stopping ? 1 : 0;
    }
    case 'reload': {
      const answer = await ask(master, { request: 'reload' });
      if (!answer.ok) return fail(answer);
      say(`reload ${answer.reload.generation} done`);
      return 0;
    }
    case 'upgrade': {
      const status = await ask(master, { request: 'status' });
      if (!status.ok) return fail(status);
      const { pid, version: from } = status.status;
      const answer = await ask(locate(parsed, () => {}), { request: 'upgrade' });
      if (!answer.ok) return fail(answer);
      const outcome = await awaitUpgrade(master.path, pid, answer.upgrade);
      if (!outcome.ok) return fail(outcome);
      const { version: to, node, upgrade } = outcome.status;
      say(`upgraded in place: pid ${pid}, master-process ${from} -> ${to}, Node ${node} (upgrade ${upgrade.count})`);
      return 0;
    }
    case 'stop': {
      const answer = await ask(master, { request: 'stop' }, { untilClosed: true });
      if (!answer.ok) return fail(answer);
      say('stopped');
      return 0;
    }
    case 'scale': {
      const answer = await ask(master, { request: 'scale', workers: Number(parsed.operand) });
      if (!answer.ok) return fail(answer);
      say(`${answer.workers} worker${answer.workers === 1 ? '' : 's'}`);
      return 0;
    }
    default: {
      const answer = await ask(master, { request: parsed.command });
      if (!answer.ok) return fail(answer);
      say(answer.paused ? 'monitoring paused' : 'monitoring resumed');
      return 0;
    }
  }
}

/** A command-line error, or one with a code (no native binary for this machine): said on one line. */
function die(error) {
  const coded = error instanceof CliError || error instanceof ControlClientError;
  if (!coded && typeof error?.code !== 'string') throw error;
  process.stderr.write(`master-process: ${error.message}\n`);
  process.exit(coded ? error.exitCode : 1);
}

function main() {
  let parsed;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (error) {
    die(error);
  }
  if (parsed.mode === 'help') {
    try {
      return void process.stdout.write(help());
    } catch (error) {
      die(error);
    }
  }
  if (parsed.mode === 'version') return void process.stdout.write(`${version()}\n`);
  if (parsed.mode === 'run') {
    try {
      return void run(parsed);
    } catch (error) {
      die(error);
    }
  }
  command(parsed).then((code) => {
    process.exitCode = code;
  }, die);
}

if (require.main === module) main();

module.exports = { parse, help, placeholder, CLIENT_FLAGS };
