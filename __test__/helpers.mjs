// Shared helpers of the end-to-end tests: start a master on a fixture app, read its output
// line by line, wait for lines (events, never sleeps), make HTTP requests, and end every
// process a test started, by pid, whatever the outcome.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(ROOT, '__test__', 'fixtures');

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** A fresh temp dir, removed by the test's cleanup. */
export function tempDir(t, prefix = 'mp-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Start `node <fixture>` as a master (or `command`, [file, ...args], that runs masters, such as
 * a launcher). `env` is added to a small base environment (or, with `bare`, is the whole
 * environment); `group` puts it in a process group of its own, as a terminal would. Every
 * pid the output names is killed at the end, unless `foreignPids` (pids printed from another
 * PID namespace mean other processes here: only the process started is killed).
 */
export function startMaster(t, { fixture = 'app.js', command, ...options } = {}) {
  const [file, ...args] = command ?? [process.execPath, path.join(FIXTURES, fixture)];
  return startProcess(t, file, args, options);
}

/** The `master-process` command, as a master running an app: `args` after the command. */
export const BIN = path.join(ROOT, 'bin', 'master-process.js');

/** Start `node bin/master-process.js ...args` as startMaster starts a fixture. */
export function startCli(t, args, options = {}) {
  return startNode(t, [BIN, ...args], options);
}

/** Start `node ...argv` as a master (see startMaster); `stdin` gives it a pipe to write to. */
export function startNode(t, argv, options = {}) {
  return startProcess(t, process.execPath, argv, options);
}

function startProcess(t, file, args, { env = {}, bare = false, cwd = ROOT, group = false, stdin = false, foreignPids = false } = {}) {
  const base = bare ? {} : { PATH: process.env.PATH, HOME: process.env.HOME };
  const child = spawn(file, args, {
    cwd,
    env: { ...base, ...env },
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const master = new MasterProcess(child, { notePids: !foreignPids });
  t.after(() => master.cleanup());
  return master;
}

/** Every master started by this test file: killed (with its workers) if the file exits early. */
const started = new Set();
function killStarted() {
  for (const master of started) master.killAll();
}
process.on('exit', killStarted);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(signal, () => {
    killStarted();
    process.exit(1);
  });
}

class MasterProcess {
  constructor(child, { notePids = true } = {}) {
    this.notingPids = notePids;
    started.add(this);
    this.child = child;
    this.pid = child.pid;
    this.lines = [];
    this.stderrLines = [];
    this.waiters = [];
    this.pids = new Set();
    this.exit = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    /** Like `exit`, but also after all output was read (workers share the pipes: they must be gone too). */
    this.closed = new Promise((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    this.#read(child.stdout, this.lines);
    this.#read(child.stderr, this.stderrLines);
  }

  #read(stream, into) {
    readLines(
      stream,
      (text) => {
        into.push(text);
        this.#notePids(text);
        this.#wake();
      },
      () => this.#wake(),
    );
  }

  #notePids(text) {
    if (!this.notingPids) return;
    const record = parse(text);
    for (const key of ['pid', 'newPid', 'oldPid', 'started']) {
      if (record && Number.isInteger(record[key])) this.pids.add(record[key]);
    }
  }

  #wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** All stdout records `KIND <json>` so far, parsed, whose kind starts with `kind`. */
  records(kind) {
    return this.lines.filter((l) => l.startsWith(`${kind} `) || l === kind).map(parse);
  }

  /** Handle events so far (`EVENT` lines), optionally of one name. */
  events(name) {
    return this.records('EVENT').filter((e) => !name || e.event === name);
  }

  /**
   * Resolve once `predicate()` returns a truthy value (re-checked on every output line);
   * reject if the master exits first or `timeoutMs` passes (a hang guard, not a measure).
   */
  waitUntil(predicate, what, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      let timer;
      let exited = false;
      let settled = false; // the exit's setImmediate may run a check after the wait is over
      const check = () => {
        if (settled) return;
        let value;
        try {
          value = predicate();
        } catch (error) {
          done();
          reject(error);
          return;
        }
        if (value) {
          done();
          resolve(value);
        } else if (exited) {
          done();
          reject(new Error(`master exited before: ${what}\n${this.transcript()}`));
        }
      };
      const done = () => {
        settled = true;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.exit.then(() => {
        exited = true;
        setImmediate(check);
      });
      timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for: ${what}\n${this.transcript()}`));
      }, timeoutMs);
      this.waiters.push(check);
      check();
    });
  }

  /** Wait for `count` stdout records of `kind` matching `filter`; returns them. */
  async waitFor(kind, filter = () => true, count = 1) {
    return this.waitUntil(() => {
      const found = this.records(kind).filter(filter);
      return found.length >= count ? found : null;
    }, `${count} x ${kind}`);
  }

  /** Wait for a handle event by name (and filter). */
  async waitEvent(name, filter = () => true, count = 1) {
    return this.waitFor('EVENT', (e) => e.event === name && filter(e), count);
  }

  /** Wait for a stderr line matching `regex`. */
  async waitStderr(regex) {
    return this.waitUntil(() => this.stderrLines.find((l) => regex.test(l)), `stderr ${regex}`);
  }

  /** Workers listening now: listened and not yet exited. */
  liveWorkers() {
    const exited = new Set(this.events('worker-exit').map((e) => e.pid));
    return this.records('WORKER listening').filter((w) => !exited.has(w.pid));
  }

  signal(name) {
    process.kill(this.pid, name);
  }

  transcript() {
    return `--- stdout\n${this.lines.join('\n')}\n--- stderr\n${this.stderrLines.join('\n')}`;
  }

  /** Kill the master and every worker it announced, by pid. */
  killAll() {
    for (const pid of [this.pid, ...this.pids]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  async cleanup() {
    this.killAll();
    await this.exit;
    started.delete(this);
  }
}

/** Call `onLine` for each whole line of `stream` (a last unterminated one too), then `onEnd`. */
export function readLines(stream, onLine, onEnd = () => {}) {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffer += chunk;
    let at;
    while ((at = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, at));
      buffer = buffer.slice(at + 1);
    }
  });
  stream.on('end', () => {
    if (buffer) onLine(buffer);
    onEnd();
  });
}

function parse(text) {
  const at = text.indexOf(' {');
  if (at < 0) return null;
  try {
    return JSON.parse(text.slice(at + 1));
  } catch {
    return null;
  }
}

/** GET `path` from a TCP port or a unix socket path; resolves { status, body, json }. */
export function get(target, urlPath = '/', { agent = false } = {}) {
  const where = typeof target === 'string' ? { socketPath: target } : { host: '127.0.0.1', port: target };
  return new Promise((resolve, reject) => {
    const req = http.get({ ...where, path: urlPath, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(body);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode, body, json, headers: res.headers });
      });
    });
    req.on('error', reject);
  });
}

/** A copy of the package (JS, lib/, built addon, package.json) in a temp dir. */
export function copyPackage(t) {
  const dir = tempDir(t, 'mp-copy-');
  for (const file of ['index.js', 'binding.js', 'worker-drain.js', 'package.json']) {
    fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  }
  fs.cpSync(path.join(ROOT, 'lib'), path.join(dir, 'lib'), { recursive: true });
  const addons = fs.readdirSync(ROOT).filter((f) => /^master-process\..+\.node$/.test(f));
  if (addons.length === 0) throw new Error('the addon is not built');
  for (const file of addons) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  return dir;
}

/** Whether a pid is alive (signal 0). */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * `loops` clients, each sending requests on a new connection every time, to a TCP port or a
 * unix socket path, until stopped; every outcome counted in `stats.errors` by its code (a
 * request with no answer within `timeoutMs` counts once, as TIMEOUT, never also as the reset
 * its destruction causes). `stop()` ends the loops and resolves the stats once every request
 * has an outcome; `answered(n)` waits for n more answers.
 */
export function freshConnections(target, { loops = 8, timeoutMs = 8000 } = {}) {
  const where = typeof target === 'string' ? { socketPath: target } : { host: '127.0.0.1', port: target };
  const stats = { sent: 0, ok: 0, errors: {} };
  let running = true;
  let waiters = [];
  const one = () => new Promise((resolve) => {
    stats.sent++;
    let outcome = null;
    const settle = (code) => {
      if (outcome !== null) return;
      outcome = code;
      if (code === 'ok') stats.ok++;
      else stats.errors[code] = (stats.errors[code] || 0) + 1;
      waiters = waiters.filter((w) => !w());
      resolve();
    };
    const req = http.get({ ...where, agent: false }, (res) => {
      res.resume();
      res.on('end', () => settle('ok'));
      res.on('error', (e) => settle(e.code ?? 'ERROR'));
    });
    req.setTimeout(timeoutMs, () => {
      settle('TIMEOUT');
      req.destroy();
    });
    req.on('error', (e) => settle(e.code ?? 'ERROR'));
  });
  const all = Array.from({ length: loops }, async () => { while (running) await one(); });
  const failed = () => Object.values(stats.errors).reduce((n, c) => n + c, 0);
  /** Resolves once `n` more requests than now were answered (rejects after `ms`: a hang guard). */
  const answered = (n, ms = 20000) => new Promise((resolve, reject) => {
    const goal = stats.ok + n;
    const timer = setTimeout(() => reject(new Error(`no ${n} more answers in ${ms} ms: ${JSON.stringify(stats)}`)), ms);
    waiters.push(() => {
      if (stats.ok < goal) return false;
      clearTimeout(timer);
      resolve();
      return true;
    });
  });
  return { stats, failed, answered, stop: async () => { running = false; await Promise.all(all); return stats; } };
}
