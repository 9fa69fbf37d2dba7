// Process lifecycle: default config, wscat, SIGTERM/SIGINT drain, configuration errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { gatewayConfig, startBackend } from './lib/backend.js';
import { repoRoot, runGateway, startGateway } from './lib/gateway.js';
import { connect, connectMany } from './lib/ws.js';

const type = (e) => e?.requestContext?.eventType;

test('default config (no config file): banner names ws://127.0.0.1:PORT/dev and text is echoed', async (t) => {
  const gw = await startGateway(t);  // only --listen 127.0.0.1:0
  assert.match(gw.banner, /^wsgate \S+ listening on 127\.0\.0\.1:\d+$/);
  assert.ok(gw.stdout.includes(`ws://127.0.0.1:${gw.port}/dev`), `banner lacks the stage URL:\n${gw.stdout}`);
  const c = await connect(gw.url);
  for (const text of ['hello', '{"action":"anything","n":1}', 'unicode \u00e9\u2713\ud83d\ude00']) {
    await c.send(text);
    assert.equal(await c.nextMessage(), text);
  }
  await c.close(1000);
  assert.equal(await gw.stop(), 0);
});

test('wscat -x sends a message and prints the echo', async (t) => {
  const gw = await startGateway(t);
  const wscat = path.join(repoRoot, 'node_modules/.bin/wscat');
  // stdin stays open (wscat exits when it closes); -w 1 waits a second for the reply, then closes.
  const child = spawn(wscat, ['-c', gw.url, '-x', '{"hi":1}', '-w', '1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  assert.equal(code, 0, `wscat failed: stdout=${stdout} stderr=${stderr}`);
  assert.deepEqual(stdout.split('\n').filter(Boolean), ['{"hi":1}']);
});

test('SIGTERM drains: 20 clients closed with 1001, 20 DISCONNECT events (1001 "Going away"), exit 0', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const clients = await connectMany(gw.url, 20);
  await be.waitFor((events) => events.filter((e) => type(e) === 'CONNECT').length === 20);
  // Every client is live before the signal.
  await Promise.all(clients.map(async (c, i) => {
    await c.send(`before ${i}`);
    assert.equal(await c.nextMessage(), `before ${i}`);
  }));

  const code = await gw.stop('SIGTERM');
  assert.equal(code, 0, 'exit code after SIGTERM');
  const closes = await Promise.all(clients.map((c) => c.closed));
  for (const cl of closes) assert.deepEqual(cl, { code: 1001, reason: 'Going away' });

  // $disconnect ran for every connection before the process exited.
  const connectIds = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId).sort();
  const disconnects = be.eventsOfType('DISCONNECT');
  assert.equal(disconnects.length, 20);
  assert.deepEqual(disconnects.map((e) => e.requestContext.connectionId).sort(), connectIds);
  for (const e of disconnects) {
    assert.equal(e.requestContext.disconnectStatusCode, 1001);
    assert.equal(e.requestContext.disconnectReason, 'Going away');
  }
});

test('SIGINT with the default echo config and a connected client: close 1001, exit 0', async (t) => {
  const gw = await startGateway(t);
  const c = await connect(gw.url);
  await c.send('still here');
  assert.equal(await c.nextMessage(), 'still here');
  const code = await gw.stop('SIGINT');
  assert.equal(code, 0, 'exit code after SIGINT');
  const closed = await c.closed;
  assert.equal(closed.code, 1001);
});

test('SIGTERM with no connections exits 0 and stops listening', async (t) => {
  const gw = await startGateway(t);
  // One exchange first, so the gateway is certainly serving when the signal arrives.
  const c = await connect(gw.url);
  await c.send('x');
  assert.equal(await c.nextMessage(), 'x');
  await c.close(1000);
  assert.equal(await gw.stop('SIGTERM'), 0);
  await assert.rejects(connect(gw.url, { timeoutMs: 2000 }));
});

test('SIGTERM sent as soon as the banner line appears still drains and exits 0 (10 starts)', async (t) => {
  // The banner is the readiness signal scripts and supervisors wait for; a SIGTERM right after it
  // must take the graceful path, not the default action of the signal.
  const results = [];
  const failures = [];
  for (let i = 0; i < 10; i++) {
    const gw = await startGateway(t);
    const code = await gw.stop('SIGTERM');
    results.push(code);
    if (code !== 0) failures.push(`start ${i}: ${JSON.stringify(gw.exitInfo())}\n${gw.stderr}`);
  }
  assert.deepEqual(results, Array(10).fill(0), `exit codes (null = ended by a signal):\n${failures.join('\n')}`);
});

function assertConfigError(r, key) {
  assert.equal(r.signal, null, `wsgate did not exit by itself (killed by ${r.signal}); stderr=${r.stderr}`);
  assert.equal(r.code, 2, `exit code; stderr=${r.stderr}`);
  assert.ok(r.stderr.includes(key), `stderr does not name ${key}: ${JSON.stringify(r.stderr)}`);
  assert.ok(!r.stdout.includes('listening on'), `it started anyway: ${r.stdout}`);
}

test('config error: unknown key exits 2 naming routes.$default.bogus', async () => {
  const r = await runGateway({ config: { routes: { $default: { integration: 'echo', bogus: 1 } } } });
  assertConfigError(r, 'routes.$default.bogus');
});

test('config error: unknown key in YAML syntax exits 2 naming it', async () => {
  const r = await runGateway({ config: 'routes:\n  $default:\n    integration: echo\n    bogus: 1\n' });
  assertConfigError(r, 'routes.$default.bogus');
});

test('config error: bad value exits 2 naming connection.max_inflight_messages', async () => {
  const r = await runGateway({ config: 'connection:\n  max_inflight_messages: zero\n' });
  assertConfigError(r, 'connection.max_inflight_messages');
});

test('config error: a route naming a missing integration exits 2', async () => {
  const r = await runGateway({ config: { routes: { $default: { integration: 'nosuchbackend', route_response: true } } } });
  assertConfigError(r, 'nosuchbackend');
  assert.ok(r.stderr.includes('routes.$default'), `stderr does not name the route: ${r.stderr}`);
});

test('config error: unknown top-level key exits 2', async () => {
  const r = await runGateway({ config: { routez: {} } });
  assertConfigError(r, 'routez');
});
