// Starts the wsgate binary for one test and stops it again.
//
//   const gw = await startGateway(t, { config: {...} });   // config object -> JSON (valid YAML) file
//   gw.port, gw.url ('ws://127.0.0.1:PORT/dev'), gw.httpBase ('http://127.0.0.1:PORT'), gw.proc
//   const code = await gw.stop();                          // SIGTERM, resolves with the exit code
//
// The binary comes from $WSGATE_BIN (default: build/release/src/app/wsgate relative to the repo
// root). stderr is buffered; when a test that started a gateway fails, the buffer is printed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function gatewayBinary() {
  const bin = process.env.WSGATE_BIN || 'build/release/src/app/wsgate';
  return path.isAbsolute(bin) ? bin : path.resolve(repoRoot, bin);
}

const live = new Set();  // every child process still running
const tempDirs = new Set();

function killLeftovers() {
  for (const proc of live) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Root-level hook of every test file that imports this module, plus a last resort on exit.
after(killLeftovers);
process.on('exit', killLeftovers);

// Writes `config` (object -> JSON, which YAML accepts; string -> as is) into a fresh temp dir.
export function writeConfig(config) {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-e2e-'));
  tempDirs.add(dir);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

// The binary may be mid-relink when someone rebuilds it during a local run (EACCES, ETXTBSY...):
// wait for it a little instead of failing the test.
const binaryExistedAtStart = existsSync(gatewayBinary());
async function spawnGateway(args) {
  const deadline = Date.now() + 20_000;
  const transient = ['EACCES', 'ETXTBSY', 'ENOEXEC', ...(binaryExistedAtStart ? ['ENOENT'] : [])];
  for (;;) {
    const proc = spawn(gatewayBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const err = await new Promise((resolve) => {
      proc.once('spawn', () => resolve(null));
      proc.once('error', resolve);
    });
    if (!err) return watch(proc);
    if (!transient.includes(err.code) || Date.now() > deadline) {
      throw new Error(`cannot start ${gatewayBinary()}: ${err.message} (set WSGATE_BIN)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function watch(proc) {
  live.add(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out.stdout += d; });
  proc.stderr.on('data', (d) => { out.stderr += d; });
  const exited = new Promise((resolve) => {
    proc.on('error', (err) => { live.delete(proc); out.stderr += `\n[spawn error] ${err.message}`; resolve({ code: null, signal: null, error: err }); });
    proc.on('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); });
  });
  return { proc, out, exited };
}

/**
 * Starts a gateway and waits for its banner.
 * @param t        node:test context (or null); when given, the gateway is killed after the test and
 *                 its stderr printed if the test failed.
 * @param options  config: object/string written to a temp file and passed with --config (omit: no
 *                 --config, the embedded default); args: extra command-line arguments; listen: passed
 *                 as --listen (default 127.0.0.1:0); stage: stage for `url` (default 'dev').
 */
export async function startGateway(t, { config, args = [], listen = '127.0.0.1:0', stage = 'dev', startTimeoutMs = 10_000 } = {}) {
  const argv = [];
  if (config !== undefined) argv.push('--config', writeConfig(config));
  if (listen) argv.push('--listen', listen);
  // WSGATE_E2E_THREADS=N runs every gateway with N I/O threads (scripts/test.sh runs the suite
  // once with 1: connections then share the io_context's one thread instead of a strand each).
  if (process.env.WSGATE_E2E_THREADS) argv.push('--threads', process.env.WSGATE_E2E_THREADS);
  argv.push(...args);
  const { proc, out, exited } = await spawnGateway(argv);
  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });

  const gw = {
    proc,
    args: argv,
    get stdout() { return out.stdout; },
    get stderr() { return out.stderr; },
    exited: exited.then((i) => i.code),
    exitInfo: () => exitInfo,
    // Sends `signal` and resolves with the exit code (null if killed by a signal).
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!exitInfo) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const info = await exited;
      clearTimeout(timer);
      return info.code;
    },
    kill() { if (!exitInfo) proc.kill('SIGKILL'); return exited; },
  };

  if (t) {
    t.after(async () => {
      if (t.passed === false) {
        process.stderr.write(`\n--- wsgate stderr (${t.name}; args: ${argv.join(' ')}) ---\n${out.stderr}\n--- end ---\n`);
      }
      await gw.kill();
    });
  }

  const banner = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`wsgate printed no banner within ${startTimeoutMs} ms; stdout=${JSON.stringify(out.stdout)} stderr=${out.stderr}`)), startTimeoutMs);
    const onData = () => {
      const nl = out.stdout.indexOf('\n');
      if (nl >= 0) done(null, out.stdout.slice(0, nl));
    };
    let settled = false;
    function done(err, line) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      if (err) { proc.kill('SIGKILL'); reject(err); } else resolve(line);
    }
    proc.stdout.on('data', onData);
    exited.then((info) => done(new Error(`wsgate exited (code ${info.code}, signal ${info.signal}) before its banner; stderr:\n${out.stderr}`)));
    onData();
  });
  const m = /^wsgate \S+ listening on (\S+):(\d+)$/.exec(banner);
  if (!m) {
    proc.kill('SIGKILL');
    throw new Error(`unexpected banner line: ${JSON.stringify(banner)}`);
  }
  gw.banner = banner;
  gw.host = m[1];
  gw.port = Number(m[2]);
  gw.httpBase = `http://${gw.host}:${gw.port}`;
  gw.wsBase = `ws://${gw.host}:${gw.port}`;
  gw.url = `${gw.wsBase}/${stage}`;
  return gw;
}

/**
 * Runs the binary to completion (for config errors): resolves {code, signal, stdout, stderr}.
 * Killed (and reported with signal SIGKILL) if it still runs after `timeoutMs`.
 */
export async function runGateway({ config, args = [], listen = '127.0.0.1:0', timeoutMs = 10_000 } = {}) {
  const argv = [];
  if (config !== undefined) argv.push('--config', writeConfig(config));
  if (listen) argv.push('--listen', listen);
  argv.push(...args);
  const { proc, out, exited } = await spawnGateway(argv);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const info = await exited;
  clearTimeout(timer);
  return { code: info.code, signal: info.signal, stdout: out.stdout, stderr: out.stderr, args: argv };
}
