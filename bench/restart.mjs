// Master restarts under load (`npm run bench:restart`; not part of `npm test`). Two series in
// one run, each under keep-alive load with every request accounted for:
//   socket activation   a launcher holds the listening socket and restarts the master the
//                       way systemd does (__test__/fixtures/socket-launcher.py): bind once,
//                       then per run fork, LISTEN_PID=<child>, exec.
//   master binds        the same restarts of a master that binds the port itself, restarted
//                       as soon as it has exited (Restart=always without a socket unit).
// Each series: BENCH_RESTARTS restarts by SIGTERM, then one exit for a new version of
// master-process on disk (exit 1), each followed by a restart; BENCH_RESTART_GAP requests
// answered between two. The app is bench/apps/app.js on a copy of this package (so its
// version can change). Prints a table, then one JSON line (the last line of stdout). Every
// process it starts is killed by pid at the end, also on error or Ctrl-C.
// Knobs: BENCH_RESTARTS 3  BENCH_RESTART_GAP 500  BENCH_CONNECTIONS 32  BENCH_WORKERS 2
//        BENCH_DELAY_MS 5
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLoad } from './load-client.mjs';
import { APPS, BENCH, Proc, freePort, killAll, ownDir, survivors } from './procs.mjs';

const knob = (name, fallback) => Number(process.env[name] ?? fallback);
const RESTARTS = knob('BENCH_RESTARTS', 3);
const GAP = knob('BENCH_RESTART_GAP', 500);
const CONNECTIONS = knob('BENCH_CONNECTIONS', 32);
const WORKERS = knob('BENCH_WORKERS', 2);
const ROOT = path.join(BENCH, '..');
const LAUNCHER = path.join(ROOT, '__test__', 'fixtures', 'socket-launcher.py');
ownDir(path.dirname(LAUNCHER));

/** A copy of this package whose package.json version the bench may change. */
function copyPackage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-restart-'));
  for (const file of ['index.js', 'binding.js', 'worker-drain.js', 'package.json']) {
    fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  }
  fs.cpSync(path.join(ROOT, 'lib'), path.join(dir, 'lib'), { recursive: true });
  for (const file of fs.readdirSync(ROOT).filter((f) => /^master-process\..+\.node$/.test(f))) {
    fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  }
  return dir;
}

function bumpVersion(dir, run) {
  const file = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...pkg, version: `${pkg.version.split('-')[0]}-bench.${run}` }));
}

function appEnv(dir) {
  return {
    BENCH_MASTER: dir,
    BENCH_DELAY_MS: process.env.BENCH_DELAY_MS ?? '5',
    WORKERS: String(WORKERS),
  };
}

/**
 * One series. `start()` brings up the first master and returns { port, masterPid(), next() }:
 * next(run) waits until the master of run `run` (from 1) has every worker listening.
 */
async function series(name, start) {
  const dir = copyPackage();
  const control = await start(dir);
  await control.serving(1);
  const load = startLoad(control.port, { connections: CONNECTIONS });
  const downtimes = [];
  for (let run = 1; run <= RESTARTS + 1; run++) {
    await load.answered(load.stats.ok + GAP);
    const pid = control.masterPid();
    const t0 = Date.now();
    if (run <= RESTARTS) {
      process.kill(pid, 'SIGTERM');
    } else {
      bumpVersion(dir, run);
      process.kill(pid, 'SIGHUP'); // the next fork finds the new version: exit 1
    }
    await control.serving(run + 1);
    downtimes.push(Date.now() - t0);
    process.stderr.write(`${name}: restart ${run} done\n`);
  }
  await load.answered(load.stats.ok + GAP);
  const stats = await load.stop();
  await control.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { name, restarts: RESTARTS + 1, sent: stats.sent, failed: stats.failed, errors: stats.errors, downtimes };
}

/** Socket activation: the launcher holds the socket and restarts the master on it. */
async function launchWithSocket(dir) {
  const app = path.join(APPS, 'app.js');
  const launcher = new Proc(null, appEnv(dir), {
    command: ['python3', LAUNCHER, 'tcp', String(RESTARTS + 2), '--', process.execPath, app],
  });
  const count = (kind, test = () => true) => launcher.records.filter((r) => r.kind === kind && test(r)).length;
  await launcher.waitUntil(() => count('LAUNCHER', (r) => r.port !== undefined), 'the socket');
  const port = launcher.records.find((r) => r.kind === 'LAUNCHER' && r.port !== undefined).port;
  const started = () => launcher.records.filter((r) => r.kind === 'LAUNCHER' && r.started !== undefined);
  return {
    port,
    masterPid: () => started().at(-1).started,
    serving: (run) => launcher.waitUntil(
      () => started().length >= run && count('WORKER') >= WORKERS * run, `run ${run} serving`),
    stop: async () => {
      launcher.signal('SIGKILL');
      process.kill(started().at(-1).started, 'SIGTERM');
      await launcher.exit;
    },
  };
}

/** No socket activation: each master binds the port itself; restarted as soon as it exits. */
async function launchBinding(dir) {
  const port = await freePort();
  const masters = [];
  let stopping = false;
  let workers = 0;
  const startOne = () => {
    const master = new Proc(path.join(APPS, 'app.js'), { ...appEnv(dir), PORT: String(port) });
    master.onRecord = (r) => {
      if (r.kind === 'WORKER') workers++;
    };
    master.exit.then(() => stopping || startOne());
    masters.push(master);
  };
  startOne();
  const waitRun = (run) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`run ${run} not serving`)), 60000);
    const check = () => {
      if (masters.length >= run && workers >= WORKERS * run) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    };
    const poll = setInterval(check, 5);
    check();
  });
  return {
    port,
    masterPid: () => masters.at(-1).pid,
    serving: waitRun,
    stop: async () => {
      stopping = true;
      masters.at(-1).signal('SIGTERM');
      await masters.at(-1).exit;
    },
  };
}

async function main() {
  const results = [
    await series('socket activation', launchWithSocket),
    await series('master binds the port', launchBinding),
  ];
  console.log(`master restarts under keep-alive load: ${RESTARTS} by SIGTERM + 1 for a new version, ` +
    `${CONNECTIONS} connections, ${WORKERS} workers`);
  console.log('| series | requests | failed | errors | restart to all workers listening (ms) |');
  console.log('|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.sent} | ${r.failed} | ${JSON.stringify(r.errors)} | ${r.downtimes.join(', ')} |`);
  }
  console.log(JSON.stringify({ restarts: RESTARTS + 1, results }));
}

const cleanup = () => {
  killAll();
  const left = survivors();
  if (left.length) process.stderr.write(`still running after cleanup: ${left.join(' ')}\n`);
};
try {
  await main();
} finally {
  cleanup();
}
