// Extra helpers for socket/version/debug/config/platform/operations tests: children other
// than a master (socket holders, `script`), killed by pid at the end of the test; a line
// reader for them; a bounded poll for conditions no output line announces (a pid gone).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { alive, readLines } from './helpers.mjs';

/**
 * Spawn a child whose stdout/stderr are read line by line; it is SIGKILLed by pid when the
 * test ends, whatever the outcome. `child.exited` resolves with { code, signal }.
 */
export function spawnTracked(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
  });
  child.out = new LineReader(child, child.stdout);
  child.err = new LineReader(child, child.stderr);
  t.after(async () => {
    if (child.pid === undefined) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await child.exited;
  });
  return child;
}

class LineReader {
  constructor(child, stream) {
    this.lines = [];
    this.waiters = new Set();
    this.ended = false;
    readLines(
      stream,
      (line) => {
        this.lines.push(line.replace(/\r$/, ''));
        this.#wake();
      },
      () => {
        this.ended = true;
        this.#wake();
      },
    );
  }

  #wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first line matching `regex`, once it arrives; rejects if the stream ends first. */
  async waitLine(regex, timeoutMs = 20000) {
    const [found] = await this.waitLines(regex, 1, timeoutMs);
    return found;
  }

  /** The first `count` lines matching `regex`, once they arrived; rejects if the stream ends first. */
  waitLines(regex, count, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.filter((l) => regex.test(l));
        if (found.length >= count) finish(() => resolve(found.slice(0, count)));
        else if (this.ended) finish(() => reject(new Error(`stream ended before ${count} x ${regex}\n${this.lines.join('\n')}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out waiting for ${regex}\n${this.lines.join('\n')}`))),
        timeoutMs,
      );
      const finish = (then) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** Resolves when the child's stdio is closed too (all its output has been read). */
export function closed(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) return Promise.resolve();
  }
  return once(child, 'close');
}

/**
 * A process listening on the unix socket `socketPath` (a plain net server, not a master).
 * Resolves once it listens.
 */
export async function holdSocket(t, socketPath) {
  // Peers may hang up at once (a probe): connection errors must not end this process.
  const code = `require('node:net').createServer((c) => { c.on('error', () => {}); c.end('held\\n'); })
    .listen(process.argv[1], () => process.stdout.write('listening\\n'));`;
  const child = spawnTracked(t, process.execPath, ['-e', code, socketPath]);
  await child.out.waitLine(/^listening$/);
  return child;
}

/**
 * A real stale socket at `socketPath`: a process binds and listens on it, then is SIGKILLed,
 * so nobody unlinks the file and nobody listens any more.
 */
export async function staleSocket(t, socketPath) {
  const holder = await holdSocket(t, socketPath);
  process.kill(holder.pid, 'SIGKILL');
  await holder.exited;
  if (!fs.lstatSync(socketPath).isSocket()) throw new Error(`${socketPath} is not a socket`);
  return socketPath;
}

/** Whether a connection to the unix socket `socketPath` is accepted. */
export function connects(socketPath) {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Whether `pid` has exited: not there at all, or a zombie nobody reaped yet (Linux). */
export function gone(pid) {
  if (!alive(pid)) return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * Re-check `predicate` every `everyMs` until it holds; reject after `timeoutMs`. Only for
 * conditions no output line announces (a process ending); the bound is a hang guard.
 */
export async function pollUntil(predicate, what, timeoutMs = 30000, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Permission bits of a path (no symlink following). */
export function mode(p) {
  return fs.lstatSync(p).mode & 0o777;
}
