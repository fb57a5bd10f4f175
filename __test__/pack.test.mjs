// The package as users install it: `npm pack` of the repository and of the linux-x64-gnu
// platform package (with the built binary copied in, as `napi artifacts` does), both installed
// from their tarballs into a temp project, offline, with no cargo on PATH. Without the
// platform package init() throws ERR_NO_BINARY; with it, an app starts, reloads and stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, FIXTURES, startMaster, startNode, freePort, get } from './helpers.mjs';

const PLATFORM = 'linux-x64-gnu';
const BINARY = `master-process.${PLATFORM}.node`;
const APP = path.join(FIXTURES, 'installed-app.js');

function isLinuxX64Glibc() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return false;
  return Boolean(process.report.getReport().header.glibcVersionRuntime);
}

/** Where `name` is found on a PATH string, or null. */
function which(name, searchPath) {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * A PATH with node and npm and without cargo: the node binary's dir and /usr/bin:/bin; or, if
 * one of those has cargo (or npm is elsewhere), a dir of symlinks to just node, npm and sh.
 */
function pathWithoutCargo(tmp) {
  const dirs = [path.dirname(process.execPath), '/usr/bin', '/bin'];
  const plain = dirs.join(path.delimiter);
  if (!dirs.some((dir) => which('cargo', dir)) && which('npm', plain)) return plain;
  const npm = which('npm', process.env.PATH);
  assert.ok(npm, 'npm is on PATH');
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(fs.realpathSync(npm), path.join(bin, 'npm'));
  fs.symlinkSync(fs.realpathSync(which('sh', '/bin:/usr/bin')), path.join(bin, 'sh'));
  return bin;
}

/**
 * Run npm with `args` in `cwd` and the small environment `env`; resolves its stdout, rejects
 * (with its output) if it fails. Its own process group, killed by pid at the end if still there.
 */
function npm(running, args, { cwd, env }) {
  const child = spawn('npm', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
  const timer = setTimeout(() => kill(child), 60000); // a hang guard, not a measure
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`npm ${args.join(' ')} in ${cwd}: ${code ?? signal}\n${stdout}\n${stderr}`));
    });
  });
}

function kill(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // npm and whatever it started
  } catch {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A temp project (a directory with a package.json and the app) with `tarballs` installed. */
async function project(t, setup, name, tarballs) {
  const dir = path.join(setup.tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  fs.copyFileSync(APP, path.join(dir, 'app.js'));
  await npm(setup.running, ['install', '--offline', '--no-audit', '--no-fund', ...setup.npmFlags, ...tarballs], {
    cwd: dir,
    env: setup.env,
  });
  return dir;
}

/** Start the project's app.js under master-process, with only PATH, HOME and `env`. */
function startApp(t, setup, dir, env) {
  return startMaster(t, {
    fixture: path.relative(FIXTURES, path.join(dir, 'app.js')),
    cwd: dir,
    bare: true,
    env: { PATH: setup.env.PATH, HOME: setup.env.HOME, ...env },
  });
}

/** The master's exit, with the helpers' hang guard (rejects with the transcript). */
async function exited(master) {
  await master.waitUntil(() => master.child.exitCode !== null || master.child.signalCode !== null, 'the master to exit');
  return master.exit;
}

function listFiles(dir) {
  return fs.readdirSync(dir, { recursive: true }).map(String);
}

test('installed from its tarballs, offline and without cargo: ERR_NO_BINARY alone, and an app that starts, reloads and stops with its platform package', async (t) => {
  if (!isLinuxX64Glibc()) {
    t.skip(`packs and runs the ${PLATFORM} package: this is ${process.platform} ${process.arch}, not linux x64 glibc`);
    return;
  }
  const binary = path.join(ROOT, BINARY);
  assert.ok(fs.existsSync(binary), `${BINARY} is built (npm run build)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pack-'));
  const running = new Set();
  t.after(async () => {
    for (const child of running) kill(child);
    await Promise.all([...running].map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'close') : null)));
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const home = path.join(tmp, 'home');
  const tarballs = path.join(tmp, 'tarballs');
  fs.mkdirSync(home);
  fs.mkdirSync(tarballs);
  const PATH = pathWithoutCargo(tmp);
  assert.equal(which('cargo', PATH), null, `no cargo on ${PATH}`);
  const setup = {
    tmp,
    running,
    // Nothing of this process's npm environment (npm_config_*, when run by `npm test`).
    env: { PATH, HOME: home },
    npmFlags: ['--cache', path.join(tmp, 'npm-cache'), '--no-update-notifier'],
  };

  // npm pack of the repository: runs `prepare`, which must build nothing (and needs no cargo).
  const [root] = JSON.parse(
    await npm(running, ['pack', '--json', '--pack-destination', tarballs, ...setup.npmFlags], { cwd: ROOT, env: setup.env }),
  );
  const packed = root.files.map((f) => f.path);
  for (const file of ['package.json', 'index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'worker-drain.js', 'lib/worker-preload.js', 'lib/worker/preload.js', 'lib/protocol.js', 'lib/master/native.js', 'bin/master-process.js']) {
    assert.ok(packed.includes(file), `the package has ${file}: ${packed.join(' ')}`);
  }
  const needless = packed.filter((file) => /^(scripts|src|tests?|__test__|bench|examples|npm|target|\.github|\.ci)\//.test(file) || file.endsWith('.node'));
  assert.deepEqual(needless, [], 'no build-time file and no binary in the package');

  // The platform package as `napi artifacts` fills it: its package.json and README plus the binary.
  const platformDir = path.join(tmp, PLATFORM);
  fs.cpSync(path.join(ROOT, 'npm', PLATFORM), platformDir, { recursive: true });
  fs.copyFileSync(binary, path.join(platformDir, BINARY));
  const [platform] = JSON.parse(
    await npm(running, ['pack', '--json', '--pack-destination', tarballs, ...setup.npmFlags], { cwd: platformDir, env: setup.env }),
  );
  assert.ok(platform.files.some((f) => f.path === BINARY), `the platform package has ${BINARY}`);
  const rootTarball = path.join(tarballs, root.filename);
  const platformTarball = path.join(tarballs, platform.filename);

  await t.test('alone, with no binary that fits: no install script ran, and init() throws ERR_NO_BINARY', async (t) => {
    const dir = await project(t, setup, 'no-binary', [rootTarball]);
    const installed = path.join(dir, 'node_modules', 'master-process');
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    for (const script of ['preinstall', 'install', 'postinstall']) {
      assert.equal(manifest.scripts?.[script], undefined, `the packed package.json has no ${script} script`);
    }
    const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
    assert.equal(lock.packages['node_modules/master-process'].hasInstallScript, undefined, 'npm saw no install script');
    assert.deepEqual(listFiles(installed).filter((f) => f.endsWith('.node')), [], 'no binary in the package itself');

    const master = startApp(t, setup, dir, { PORT: String(await freePort()) });
    const [error] = await master.waitFor('INIT-ERROR');
    assert.equal(error.code, 'ERR_NO_BINARY', master.transcript());
    const { message } = error;
    assert.match(message, /no native binary could be loaded for linux x64 \(glibc\)/, 'names this platform, arch and libc');
    assert.match(message, /master-process-linux-x64-gnu/, 'names the platform package that would fit');
    for (const supported of ['linux x64 \\(glibc\\)', 'linux arm64 \\(glibc\\)', 'linux x64 \\(musl\\)', 'linux arm64 \\(musl\\)', 'darwin x64', 'darwin arm64']) {
      assert.match(message, new RegExp(`Prebuilt binaries: .*${supported}`), `lists ${supported}`);
    }
    assert.match(message, /Rust >= 1\.95/);
    assert.match(message, /`npm install`/);
    assert.match(message, /`npm run build`/);
    assert.match(error.cause?.message ?? '', /Cannot find native binding/, 'the loader\'s error is the cause');
    assert.equal((await exited(master)).code, 2, master.transcript());
  });

  await t.test('with the platform package: the app starts, reloads on SIGHUP and exits 0 on SIGTERM, and runs under the installed command', async (t) => {
    const dir = await project(t, setup, 'app', [rootTarball, platformTarball]);
    assert.ok(fs.existsSync(path.join(dir, 'node_modules', `master-process-${PLATFORM}`, BINARY)));
    const port = await freePort();
    const master = startApp(t, setup, dir, { PORT: String(port), WORKERS: '2' });
    await master.waitFor('WORKER listening', (w) => w.reload === '0', 2);
    const first = await get(port);
    assert.equal(first.status, 200);
    assert.equal(first.json.reload, '0');

    master.signal('SIGHUP');
    await master.waitFor('WORKER listening', (w) => w.reload === '1', 2);
    // The old generation retires once the new one listens: soon every answer is from reload 1.
    const deadline = Date.now() + 15000;
    let answer;
    for (;;) {
      answer = await get(port);
      if (answer.json?.reload === '1' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(answer.status, 200);
    assert.equal(answer.json.reload, '1', master.transcript());

    master.signal('SIGTERM');
    const { code, signal } = await exited(master);
    assert.equal(signal, null, master.transcript());
    assert.equal(code, 0, master.transcript());
    await master.closed;

    // The command npm linked (what `npx master-process app.js` runs): the app as the workers'
    // entry, the master in the command's process.
    const bin = path.join(dir, 'node_modules', '.bin', 'master-process');
    assert.ok(fs.existsSync(bin), 'npm linked the master-process command');
    const cliPort = await freePort();
    const cli = startNode(t, [bin, '-w', '2', 'app.js'], {
      cwd: dir,
      bare: true,
      env: { PATH: setup.env.PATH, HOME: setup.env.HOME, PORT: String(cliPort), TMPDIR: setup.tmp },
    });
    const workers = await cli.waitFor('WORKER listening', () => true, 2);
    assert.equal((await get(cliPort)).status, 200);
    assert.deepEqual(cli.records('MASTER'), [], 'the app\'s own init() branch never ran');
    assert.ok(workers.every((w) => w.pid !== cli.pid));
    cli.signal('SIGTERM');
    assert.deepEqual(await exited(cli), { code: 0, signal: null }, cli.transcript());
  });
});
