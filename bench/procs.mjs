// The processes the bench starts: spawned with their output read line by line, every pid
// (the ones spawned and the workers they announce or fork) remembered, and all of them
// killed by pid at the end, on error, on Ctrl-C and at exit. A pid is only ever signalled
// while /proc says it still runs a command line under bench/apps, or under a dir given to
// ownDir (no pid reuse accidents).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const APPS = path.join(BENCH, 'apps');

const tracked = new Set();
const owned = new Set([APPS]); // a pid is ours while its command line names one of these
/** Clock ticks per second (getconf CLK_TCK, usually 100): the unit of utime/stime in /proc. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** State letter of a pid from /proc, or null when it does not exist. */
export function procState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Alive: exists and is not a zombie. */
export function alive(pid) {
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

function ours(pid) {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    for (const dir of owned) if (cmdline.includes(dir)) return true;
    return false;
  } catch {
    return false;
  }
}

/** Processes whose command line names `dir` (say an app written to a temp dir) are ours too. */
export function ownDir(dir) {
  owned.add(dir);
}

/** Direct children of a pid, from /proc/<pid>/task/<tid>/children. */
export function childrenOf(pid) {
  const kids = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) kids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return kids;
}

export function track(pid) {
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) tracked.add(pid);
}

/** SIGKILL every tracked pid still alive, and their descendants, children first. Sync. */
export function killAll() {
  const order = [];
  const seen = new Set();
  const visit = (pid) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    for (const kid of childrenOf(pid)) visit(kid);
    order.push(pid);
  };
  for (const pid of tracked) visit(pid);
  let killed = 0;
  for (const pid of order) {
    if (alive(pid) && ours(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}

/** Pids among the tracked ones (and their descendants) still running. */
export function survivors() {
  const out = new Set();
  const visit = (pid) => {
    if (out.has(pid) || !alive(pid) || !ours(pid)) return;
    out.add(pid);
    for (const kid of childrenOf(pid)) visit(kid);
  };
  for (const pid of tracked) visit(pid);
  return [...out];
}

process.on('exit', () => killAll());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll();
    process.stderr.write(`bench: ${signal}, every process it started was killed\n`);
    process.exit(130);
  });
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call `onLine(text, time)` for each whole line of `stream` (`time`: performance.now() when
 * its chunk arrived), then `afterChunk()` once per chunk. A last unterminated line is dropped.
 */
export function readLines(stream, onLine, afterChunk = () => {}) {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const time = performance.now();
    buffer += chunk;
    let at;
    while ((at = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      onLine(text, time);
    }
    afterChunk();
  });
}

/**
 * `node <script>` with exactly `env` (plus PATH/HOME). stdout lines `KIND <json>` are parsed;
 * each line is timestamped on arrival. `waitUntil(predicate)` re-checks on every line (and
 * every `pollMs` if given). Its errors end with `tail()`: the stderr so far, unless overridden.
 */
export class Proc {
  /** `command` ([file, ...args]) runs something else than `node <script>`, such as a launcher. */
  constructor(script, env, { quiet = false, execArgv = [], cwd = BENCH, command } = {}) {
    const [file, ...args] = command ?? [process.execPath, ...execArgv, script];
    this.child = spawn(file, args, {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', quiet ? 'ignore' : 'pipe', 'pipe'],
    });
    this.pid = this.child.pid;
    track(this.pid);
    this.records = [];
    this.stderr = '';
    this.waiters = new Set();
    this.exited = null;
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = { code, signal, time: performance.now() };
        resolve(this.exited);
        this.#wake();
      });
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text) => {
      if (this.stderr.length < 20000) this.stderr += text;
    });
    if (!quiet) this.#read();
  }

  #read() {
    readLines(
      this.child.stdout,
      (text, time) => {
        // `KIND <json>`, or `KIND what <json>` (then `label` is `KIND what`).
        const space = text.indexOf(' ');
        const at = text.indexOf(' {');
        let data = null;
        try {
          data = JSON.parse(text.slice(at >= 0 ? at + 1 : space + 1));
        } catch {
          // not a record
        }
        if (!data) return;
        const record = { kind: text.slice(0, space), label: text.slice(0, at >= 0 ? at : space), time, ...data };
        for (const key of ['pid', 'newPid', 'oldPid']) track(record[key]);
        this.records.push(record);
        this.onRecord?.(record);
      },
      () => this.#wake(),
    );
  }

  #wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  waitUntil(predicate, what, { timeoutMs = 30000, pollMs = 0 } = {}) {
    return new Promise((resolve, reject) => {
      let poll;
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      const check = () => {
        let value;
        try {
          value = predicate();
        } catch (error) {
          finish();
          reject(error);
          return;
        }
        if (value) {
          finish();
          resolve(value);
        } else if (this.exited) {
          finish();
          reject(new Error(`${path.basename(this.child.spawnargs.at(-1))} (pid ${this.pid}) exited ` +
            `${JSON.stringify(this.exited)} before: ${what}\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}\n${this.tail()}`));
      }, timeoutMs);
      if (pollMs) poll = setInterval(check, pollMs);
      this.waiters.add(check);
      check();
    });
  }

  signal(name) {
    if (!this.exited) process.kill(this.pid, name);
  }

  /** What an error of waitUntil ends with: the stderr so far. */
  tail() {
    return this.stderr;
  }
}

/** utime+stime of a pid in clock ticks (all threads, not its children), from /proc/<pid>/stat. */
export function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
}

/** On-CPU time in ns of every thread of a pid alive now (schedstat): finer than the ticks. */
export function schedNs(pid) {
  let runNs = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      runNs += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone meanwhile
    }
  }
  return runNs;
}

/** utime+stime (ms, all threads), schedstat run time and VmRSS/VmHWM (KiB) of a pid, from /proc. */
export function usage(pid) {
  const ticks = cpuTicks(pid);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  const runNs = schedNs(pid);
  return {
    cpuMs: (ticks * 1000) / CLK_TCK,
    runMs: runNs / 1e6,
    rssKiB: field('VmRSS'),
    hwmKiB: field('VmHWM'),
    threads: field('Threads'),
  };
}
