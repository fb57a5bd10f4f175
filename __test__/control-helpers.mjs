// Helpers of the control socket and command line tests: a private per-test home for control
// sockets (so the masters of other test files are never candidates), a client that speaks
// the protocol (one JSON line each way), and the command run to completion.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BIN, tempDir, readLines } from './helpers.mjs';
import { spawnTracked, closed } from './ops-helpers.mjs';

/**
 * An environment whose control sockets live in this test's own temp dirs: XDG_RUNTIME_DIR
 * (when `xdg`, the default) and TMPDIR. `socketOf(pid)` is where a master's socket goes.
 */
export function controlHome(t, { xdg = true } = {}) {
  const runtime = tempDir(t, 'mp-xdg-');
  const tmp = tempDir(t, 'mp-tmp-');
  const env = { TMPDIR: tmp, ...(xdg ? { XDG_RUNTIME_DIR: runtime } : {}) };
  const dir = xdg ? path.join(runtime, 'master-process') : path.join(tmp, `master-process-${process.getuid()}`);
  return { env, dir, socketOf: (pid) => path.join(dir, `${pid}.sock`) };
}

/** A connection to a control socket: `ask(request)` sends one line and resolves the answer. */
export class Client {
  constructor(socketPath) {
    this.socket = net.connect(socketPath);
    this.answers = [];
    this.waiters = [];
    this.sent = 0;
    this.ended = false;
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => {});
    readLines(
      this.socket,
      (line) => {
        this.answers.push(JSON.parse(line));
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

  /** The `n`th answer (0-based), once it has come; rejects if the connection ends first. */
  answer(n) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.answers.length > n) done(() => resolve(this.answers[n]));
        else if (this.ended) done(() => reject(new Error(`connection ended before answer ${n}`)));
      };
      const done = (then) => {
        this.waiters = this.waiters.filter((w) => w !== check);
        then();
      };
      this.waiters.push(check);
      check();
    });
  }

  /** Send a raw line (a request object is sent as JSON); the index of its answer. */
  send(request) {
    this.socket.write(`${typeof request === 'string' ? request : JSON.stringify(request)}\n`);
    return this.sent++;
  }

  /** Send `request` and resolve its answer. */
  async ask(request) {
    await this.connected;
    return this.answer(this.send(request));
  }

  /** Resolves when the other side has closed the connection. */
  closed() {
    return new Promise((resolve) => {
      const check = () => {
        if (this.ended) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.waiters.push(check);
      check();
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** One request on a fresh connection; the answer. */
export async function ask(t, socketPath, request) {
  const client = new Client(socketPath);
  t.after(() => client.close());
  const answer = await client.ask(request);
  client.close();
  return answer;
}

/** Wait until `socketPath` exists (the master binds it before its first fork). */
export async function socketReady(master, socketPath) {
  await master.waitUntil(() => fs.existsSync(socketPath), `control socket ${socketPath}`);
  return socketPath;
}

/**
 * Run `master-process ...args` (a subcommand) to its end; resolves { code, stdout, stderr }.
 * Killed by pid if the test ends first.
 */
export async function cli(t, args, env = {}) {
  const child = spawnTracked(t, process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  const { code } = await child.exited;
  await closed(child);
  return { code, stdout: child.out.lines.join('\n'), stderr: child.err.lines.join('\n'), lines: child.out.lines };
}
