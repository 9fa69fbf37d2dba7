// Connection limits and timers: idle timeout, maximum duration, maximum connections, server pings,
// binary frames delivered base64 when enabled. AWS's values are the defaults; these tests shrink
// them so they run in seconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gatewayConfig, sleep, startBackend, waitUntil } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect, connectRejected, startConnect } from './lib/ws.js';

const disconnectsOf = (be, id) => be.eventsFor(id, 'DISCONNECT');
const connectionIdOf = (be, index = 0) => be.eventsOfType('CONNECT')[index].requestContext.connectionId;

test('idle timeout: no data either way -> close 1001 "Going away" and one $disconnect; pings do not count', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { connection: { idle_timeout_ms: 600 } }) });
  const c = await connect(gw.url);
  const id = connectionIdOf(be);
  // Control frames are not activity (as on AWS): keep pinging, the connection still times out.
  const pinger = setInterval(() => { try { c.ws.ping('keep'); } catch { /* closed */ } }, 100);
  t.after(() => clearInterval(pinger));
  const closed = await c.closed;
  clearInterval(pinger);
  assert.equal(closed.code, 1001);
  assert.equal(closed.reason, 'Going away');
  const [d] = await be.waitFor(() => disconnectsOf(be, id).length === 1 && disconnectsOf(be, id));
  assert.equal(d.requestContext.disconnectStatusCode, 1001);
  assert.equal(d.requestContext.disconnectReason, 'Going away');
  await sleep(200);
  assert.equal(disconnectsOf(be, id).length, 1);
});

test('idle timeout: data in either direction keeps the connection open', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { connection: { idle_timeout_ms: 1500 } }) });
  const c = await connect(gw.url);
  // Inbound messages (each also answered by the two-way route) for well over the idle timeout.
  for (let i = 0; i < 30; i++) {
    await c.send(`tick ${i}`);
    assert.equal(await c.nextMessage(), `tick ${i}`);
    await sleep(100);
  }
  assert.equal(c.closeInfo, null, 'closed although data kept flowing');
  // Then silence: the timeout still applies.
  assert.equal((await c.closed).code, 1001);
});

test('maximum duration: closed with 1001 even while active', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, { connection: { idle_timeout_ms: 0, max_duration_ms: 1000 } }),
  });
  const c = await connect(gw.url);
  const id = connectionIdOf(be);
  const chatter = setInterval(() => { c.send('still here').catch(() => {}); }, 50);
  t.after(() => clearInterval(chatter));
  const closed = await c.closed;
  clearInterval(chatter);
  assert.equal(closed.code, 1001);
  const [d] = await be.waitFor(() => disconnectsOf(be, id).length === 1 && disconnectsOf(be, id));
  assert.equal(d.requestContext.disconnectStatusCode, 1001);
});

test('max_connections: the next handshake gets 429 without calling $connect; existing clients are served', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { connection: { max_connections: 2 } }) });
  const a = await connect(gw.url);
  const b = await connect(gw.url);
  await be.waitFor((ev) => ev.filter((e) => e.requestContext.eventType === 'CONNECT').length === 2);
  const refused = await connectRejected(gw.url);
  assert.equal(refused.status, 429);
  assert.equal(be.eventsOfType('CONNECT').length, 2, '$connect must not run for a refused handshake');
  await a.send('a');
  assert.equal(await a.nextMessage(), 'a');
  await b.close(1000);
  // A slot is free again once b is gone.
  const c = await (async () => {
    for (let i = 0; i < 50; i++) {
      try { return await connect(gw.url); } catch { await sleep(50); }
    }
    throw new Error('no slot after a close');
  })();
  await c.send('c');
  assert.equal(await c.nextMessage(), 'c');
});

test('server pings (ping_interval_ms): a peer that answers stays connected while idle; one that does not is dropped', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, { connection: { idle_timeout_ms: 0, ping_interval_ms: 200 } }),
  });
  const alive = await connect(gw.url);
  let pings = 0;
  alive.ws.on('ping', () => { pings++; });
  const dead = startConnect(gw.url, { autoPong: false });
  await dead.openPromise;
  const deadClosed = await dead.closed;
  assert.notEqual(deadClosed.code, 1000);
  await be.waitFor((ev) => ev.some((e) => e.requestContext.eventType === 'DISCONNECT'));
  // The answering client keeps being pinged, and stays connected across several intervals.
  await waitUntil(() => pings >= 4, { what: 'four pings to the answering client' });
  assert.equal(alive.closeInfo, null, 'the answering client was dropped');
  await alive.send('x');
  assert.equal(await alive.nextMessage(), 'x');
});

test('binary_frames: deliver -> $default gets the bytes base64-encoded with isBase64Encoded true', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => ({ body: { statusCode: 200, body: e.requestContext.eventType === 'MESSAGE' ? `got ${e.body}` : undefined } });
  const gw = await startGateway(t, { config: gatewayConfig(be, { connection: { binary_frames: 'deliver' } }) });
  const c = await connect(gw.url);
  const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);
  await c.send(bytes, { binary: true });
  assert.equal(await c.nextMessage(), `got ${bytes.toString('base64')}`);
  const [m] = be.eventsOfType('MESSAGE');
  assert.equal(m.isBase64Encoded, true);
  assert.equal(m.body, bytes.toString('base64'));
  assert.equal(m.requestContext.routeKey, '$default');
});
