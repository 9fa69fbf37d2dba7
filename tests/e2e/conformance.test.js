// RFC 6455 frame-level conformance: runs tests/conformance/run_probes.py (raw-socket probes with
// Debian's python3, no third-party modules) against the binary the e2e suite tests, and asserts it
// exits 0. The runner starts and stops its own gateways; its table of cases is printed on failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { gatewayBinary, repoRoot } from './lib/gateway.js';

const PYTHON = '/usr/bin/python3';
const RUNNER = path.join(repoRoot, 'tests/conformance/run_probes.py');

function runProbes(timeoutMs) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [RUNNER], {
      cwd: repoRoot,
      env: { ...process.env, WSGATE_BIN: gatewayBinary(), PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    proc.stdout.on('data', (d) => out.push(d));
    proc.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

test('RFC 6455 frame-level probes (tests/conformance/run_probes.py) all pass', { timeout: 120_000 }, async () => {
  const r = await runProbes(90_000);
  const summary = /^(\d+) passed, (\d+) failed$/m.exec(r.stdout);
  assert.equal(r.code, 0,
    `run_probes.py exited ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  assert.ok(summary, `no summary line in the runner's output:\n${r.stdout}`);
  assert.equal(Number(summary[2]), 0, 'failed cases');
  assert.ok(Number(summary[1]) >= 40, `at least 40 cases ran (got ${summary[1]})`);
});
