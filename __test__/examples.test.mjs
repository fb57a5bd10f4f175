// The example unit files verify with systemd's own checker (when the machine has it): the
// default (Type=notify + ExecReload) cleanly on any systemd, and the Type=notify-reload
// variant cleanly on systemd 253 and later. On older systemd that variant can only be
// checked to draw the one warning that says the type is unknown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './helpers.mjs';

const UNITS = path.join(ROOT, 'examples', 'systemd');
const hasVerify = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !hasVerify && 'no systemd-analyze here';

function verify(dir) {
  const files = ['myapp.socket', 'myapp.service'].map((f) => path.join(dir, f));
  return spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
}

const systemdVersion = () => Number(/systemd (\d+)/.exec(spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout)?.[1]);

test('examples/systemd (Type=notify with ExecReload) verifies without a warning', { skip }, () => {
  const service = fs.readFileSync(path.join(UNITS, 'myapp.service'), 'utf8');
  assert.match(service, /^Type=notify\nExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  const result = verify(UNITS);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('the Type=notify-reload variant verifies cleanly on systemd 253+, and on older ones draws only the unknown-type warning', { skip }, (t) => {
  const dir = tempDir(t, 'mp-units-');
  fs.copyFileSync(path.join(UNITS, 'myapp.socket'), path.join(dir, 'myapp.socket'));
  const service = fs.readFileSync(path.join(UNITS, 'myapp.service'), 'utf8')
    .replace(/^Type=notify\nExecReload=.*\n/m, '')
    .replace(/^#Type=notify-reload\n/m, 'Type=notify-reload\n');
  assert.match(service, /^Type=notify-reload$/m);
  assert.doesNotMatch(service, /^(Type=notify|ExecReload=.*)$/m);
  fs.writeFileSync(path.join(dir, 'myapp.service'), service);
  const result = verify(dir);
  assert.equal(result.status, 0, result.stderr);
  const warnings = result.stderr.split('\n').filter(Boolean);
  const expected = systemdVersion() < 253 ? [/Failed to parse service type, ignoring: notify-reload/] : [];
  assert.equal(warnings.length, expected.length, result.stderr);
  warnings.forEach((w, i) => assert.match(w, expected[i]));
});
