// Fault injection on the gateway process: file descriptors exhausted (ulimit -n), and SIGTERM
// while clients are busy (messages in flight, $connect waiting, a client that ignores the close
// frame). Each fault has one defined answer, and clients that can be served still are.
// docs/faults.md lists every fault with its answer and the test that proves it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';

import { defaultHandler, deferred, gatewayConfig, startBackend, waitUntil } from './lib/backend.js';
import { gatewayBinary, startGateway, writeConfig } from './lib/gateway.js';
import { RawWsClient } from './lib/mgmt.js';
import { connect, connectRejected } from './lib/ws.js';

const type = (e) => e?.requestContext?.eventType;

// Starts the gateway under `ulimit -n <fdLimit>` (through bash, which then execs the binary, so
// proc.pid is the gateway's pid) and waits for its banner. Killed after the test.
async function startLimitedGateway(t, fdLimit, config) {
  const args = ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, gatewayBinary(), '--config', writeConfig(config), '--listen', '127.0.0.1:0'];
  const proc = spawn('/bin/bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stdout.setEncoding('utf8').on('data', (d) => { out.stdout += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { out.stderr += d; });
  let exitInfo = null;
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); }));
  t.after(async () => {
    if (t.passed === false) process.stderr.write(`\n--- wsgate stderr (${t.name}) ---\n${out.stderr}\n--- end ---\n`);
    if (!exitInfo) proc.kill('SIGKILL');
    await exited;
  });
  await waitUntil(() => out.stdout.includes('\n') || exitInfo, { timeoutMs: 10_000, what: 'the banner' });
  const m = /^wsgate \S+ listening on (\S+):(\d+)$/m.exec(out.stdout);
  assert.ok(m, `no banner; stdout=${out.stdout} stderr=${out.stderr} exit=${JSON.stringify(exitInfo)}`);
  const gw = { proc, out, host: m[1], port: Number(m[2]), exitInfo: () => exitInfo, exited };
  gw.url = `ws://${gw.host}:${gw.port}/dev`;
  return gw;
}

const openFds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

// ---------------------------------------------------------------------------------------------
// ulimit -n exhausted

test('fd limit exhausted (ulimit -n 64): new handshakes fail, existing connections still echo, and handshakes succeed again once clients leave', async (t) => {
  const gw = await startLimitedGateway(t, 64, { threads: 2, routes: { $default: { integration: 'echo', route_response: true } } });
  const baseFds = openFds(gw.proc.pid);
  const clients = [];
  t.after(() => { for (const c of clients) c.ws.terminate(); });
  let failure = null;
  for (let i = 0; i < 100 && !failure; i++) {
    try {
      clients.push(await connect(gw.url, { timeoutMs: 1500, perMessageDeflate: false }));
    } catch (err) {
      failure = err;
    }
  }
  t.diagnostic(`${clients.length} clients connected before a handshake failed (${failure?.message}); gateway fds at start: ${baseFds}`);
  assert.ok(failure, 'a handshake must fail once the gateway has no descriptor left');
  assert.ok(clients.length < 64, `${clients.length} connections with a limit of 64 descriptors`);
  assert.ok(clients.length > 20, `only ${clients.length} connections before failing`);
  // More attempts keep failing (refused or timed out) as long as nobody leaves.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(connect(gw.url, { timeoutMs: 1000, perMessageDeflate: false }));
  }
  // Every existing connection still echoes.
  await Promise.all(clients.map(async (c, i) => {
    await c.send(`still here ${i}`);
    assert.equal(await c.nextMessage(), `still here ${i}`);
  }));
  assert.equal(gw.exitInfo(), null, 'the gateway is still running');
  assert.match(gw.out.stderr, /accept failed: Too many open files/);

  // Five clients leave: new handshakes succeed again.
  const leaving = clients.splice(0, 5);
  await Promise.all(leaving.map((c) => c.close(1000)));
  const recovered = await waitUntil(async () => {
    try {
      return await connect(gw.url, { timeoutMs: 1500, perMessageDeflate: false });
    } catch {
      return null;
    }
  }, { timeoutMs: 20_000, intervalMs: 100, what: 'a handshake to succeed after clients left' });
  clients.push(recovered);
  await recovered.send('recovered');
  assert.equal(await recovered.nextMessage(), 'recovered');
  await Promise.all(clients.slice(0, 10).map(async (c, i) => {
    await c.send(`after ${i}`);
    assert.equal(await c.nextMessage(), `after ${i}`);
  }));
  // Clean shutdown still works in this state.
  gw.proc.kill('SIGTERM');
  const { code } = await gw.exited;
  assert.equal(code, 0);
  for (const c of clients) assert.equal((await c.closed).code, 1001);
});

test('fd limit exhausted with an HTTP backend: no crash; existing clients get a route response or "Internal server error"; full service once clients leave', async (t) => {
  const be = await startBackend(t);
  const gw = await startLimitedGateway(t, 64, gatewayConfig(be));
  const clients = [];
  t.after(() => { for (const c of clients) c.ws.terminate(); });
  let failure = null;
  for (let i = 0; i < 100 && !failure; i++) {
    try {
      clients.push(await connect(gw.url, { timeoutMs: 1500, perMessageDeflate: false }));
    } catch (err) {
      failure = err;
    }
  }
  assert.ok(failure, 'a handshake must fail once the gateway has no descriptor left');
  // With no descriptor left for a new backend connection, a message gets its route response (on
  // a pooled connection) or the Internal server error frame; never silence, never a crash.
  await Promise.all(clients.map(async (c, i) => {
    await c.send(`m${i}`);
    const answer = await c.nextMessage(15_000);
    if (answer !== `m${i}`) assert.match(answer, /^\{"message": "Internal server error", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/);
  }));
  assert.equal(gw.exitInfo(), null);
  const leaving = clients.splice(0, 10);
  await Promise.all(leaving.map((c) => c.close(1000)));
  const recovered = await waitUntil(async () => {
    try {
      return await connect(gw.url, { timeoutMs: 1500, perMessageDeflate: false });
    } catch {
      return null;
    }
  }, { timeoutMs: 20_000, intervalMs: 100, what: 'a handshake to succeed after clients left' });
  clients.push(recovered);
  await recovered.send('recovered');
  assert.equal(await recovered.nextMessage(), 'recovered');
  gw.proc.kill('SIGTERM');
  assert.equal((await gw.exited).code, 0);
});

// ---------------------------------------------------------------------------------------------
// SIGTERM under load

test('SIGTERM under load: 50 clients in message loops through an HTTP backend -> exit 0, every client closed 1001, one $disconnect per CONNECT', async (t) => {
  const be = await startBackend(t);
  be.handler = (event) => (type(event) === 'MESSAGE'
    ? { body: { statusCode: 200, body: event.body }, delayMs: Math.floor(Math.random() * 10) }
    : { body: { statusCode: 200 } });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const N = 50;
  const PIPELINED = 10;  // these send bursts without waiting; they may be mid-backpressure
  const clients = [];
  for (let i = 0; i < N; i += 10) clients.push(...await Promise.all(Array.from({ length: 10 }, () => connect(gw.url))));
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'CONNECT').length === N);

  const rounds = new Array(N).fill(0);
  const loopErrors = [];
  const loops = clients.map(async (c, i) => {
    const pipelined = i >= N - PIPELINED;
    try {
      for (let k = 0; !c.closeInfo; k++) {
        if (pipelined) {
          for (let j = 0; j < 20; j++) c.ws.send(`c${i} k${k} j${j}`);
          await waitUntil(() => c.messages.length >= (k + 1) * 20 || c.closeInfo, { timeoutMs: 20_000 });
        } else {
          await c.send(`c${i} k${k}`);
          const m = await c.nextMessage(20_000);
          assert.equal(m, `c${i} k${k}`);
        }
        rounds[i]++;
      }
    } catch (err) {
      if (!c.closeInfo && !/closed|not open|CLOSING|CLOSED/.test(err.message)) loopErrors.push(`client ${i}: ${err.message}`);
    }
  });
  await waitUntil(() => rounds.every((r) => r >= 3), { timeoutMs: 30_000, what: 'every client to be busy' });

  const code = await gw.stop('SIGTERM', 30_000);
  assert.equal(code, 0, 'exit code after SIGTERM');
  const closes = await Promise.all(clients.map((c) => c.closed));
  await Promise.all(loops);
  assert.deepEqual(loopErrors, []);
  const tally = {};
  for (const [i, cl] of closes.entries()) {
    tally[cl.code] = (tally[cl.code] ?? 0) + 1;
    if (i < N - PIPELINED) assert.deepEqual(cl, { code: 1001, reason: 'Going away' }, `client ${i} (request/response loop)`);
    else assert.ok(cl.code === 1001 || cl.code === 1006, `client ${i} (pipelined) closed with ${cl.code}`);
  }
  t.diagnostic(`close codes: ${JSON.stringify(tally)}; rounds per client ${Math.min(...rounds)}..${Math.max(...rounds)}`);

  const connectIds = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId).sort();
  const disconnects = be.eventsOfType('DISCONNECT');
  assert.deepEqual(disconnects.map((e) => e.requestContext.connectionId).sort(), connectIds, 'exactly one DISCONNECT per CONNECT');
  for (const d of disconnects) assert.equal(d.requestContext.disconnectStatusCode, 1001);
});

test('SIGTERM with message calls held in the backend: clients closed 1001, one $disconnect each, exit 0 without waiting for the held calls', async (t) => {
  const be = await startBackend(t);
  const hold = deferred();
  t.after(() => hold.resolve());
  be.handler = (event) => (type(event) === 'MESSAGE' ? hold.promise.then(() => ({ body: { statusCode: 200, body: 'late' } })) : { body: { statusCode: 200 } });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const clients = await Promise.all(Array.from({ length: 5 }, () => connect(gw.url)));
  for (const c of clients) for (let i = 0; i < 3; i++) await c.send(`held ${i}`);
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'MESSAGE').length === 15);
  assert.equal(await gw.stop('SIGTERM', 30_000), 0);
  for (const c of clients) assert.deepEqual(await c.closed, { code: 1001, reason: 'Going away' });
  const connectIds = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId).sort();
  assert.deepEqual(be.eventsOfType('DISCONNECT').map((e) => e.requestContext.connectionId).sort(), connectIds);
});

test('SIGTERM while $connect is waiting on the backend: that handshake gets 503, its $disconnect runs once (1001); open clients close 1001; exit 0', async (t) => {
  const be = await startBackend(t);
  const gate = deferred();
  t.after(() => gate.resolve());
  let held = 0;
  be.handler = (event) => {
    if (type(event) === 'CONNECT' && event.queryStringParameters?.hold) {
      held++;
      return gate.promise.then(() => ({ body: { statusCode: 200 } }));
    }
    return defaultHandler(event);
  };
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const open = await connect(gw.url);
  const pending = connectRejected(`${gw.url}?hold=1`, { timeoutMs: 20_000 });
  await waitUntil(() => held === 1, { what: 'the held $connect' });
  const heldId = be.events.find((e) => type(e) === 'CONNECT' && e.queryStringParameters?.hold).requestContext.connectionId;
  gw.proc.kill('SIGTERM');
  // Open clients are told at once, while the held handshake is still waiting.
  assert.deepEqual(await open.closed, { code: 1001, reason: 'Going away' });
  gate.resolve();
  const r = await pending;
  assert.equal(r.status, 503);
  assert.deepEqual(JSON.parse(r.body), { message: 'Service Unavailable' });
  await gw.exited;
  assert.deepEqual(gw.exitInfo(), { code: 0, signal: null }, `exit after SIGTERM; stderr: ${gw.stderr.slice(-300)}`);
  const dHeld = be.eventsFor(heldId, 'DISCONNECT');
  assert.equal(dHeld.length, 1, 'its $connect completed, so it gets its $disconnect');
  assert.equal(dHeld[0].requestContext.disconnectStatusCode, 1001);
  assert.equal(be.eventsOfType('DISCONNECT').length, 2);
});

test('SIGTERM with a client that never answers the close frame: its socket is dropped at half drain_timeout_ms, $disconnect 1001, exit 0; others close 1001', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { shutdown: { drain_timeout_ms: 2000 } }) });
  const deaf = await RawWsClient.connect(gw);
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'CONNECT').length === 1);
  const deafId = be.eventsOfType('CONNECT')[0].requestContext.connectionId;
  deaf.pause();  // reads nothing, so never answers the close frame
  const polite = await Promise.all(Array.from({ length: 5 }, () => connect(gw.url)));
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'CONNECT').length === 6);
  assert.equal(await gw.stop('SIGTERM', 30_000), 0);
  for (const c of polite) assert.deepEqual(await c.closed, { code: 1001, reason: 'Going away' });
  // The deaf client finds the close frame in its buffer, then the end of the connection.
  deaf.resume();
  await waitUntil(() => deaf.ended, { what: 'the deaf client to be disconnected' });
  assert.equal(deaf.closeFrame?.code, 1001);
  const d = be.eventsFor(deafId, 'DISCONNECT');
  assert.equal(d.length, 1);
  assert.equal(d[0].requestContext.disconnectStatusCode, 1001);
  assert.equal(be.eventsOfType('DISCONNECT').length, 6);
});
