// $disconnect: once per connection that completed $connect, with the close status and AWS's fixed headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AWS_ID, clfTime, deferred, gatewayConfig, sleep, startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect } from './lib/ws.js';

const SETTLE_MS = 300;
const type = (e) => e?.requestContext?.eventType;

// Opens a client and returns it with its CONNECT event.
async function open(gw, be, options = { headers: { 'User-Agent': 'wsgate-e2e/1.0' } }) {
  const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
  const c = await connect(gw.url, options);
  const connectEv = await be.waitForEvent((e) => type(e) === 'CONNECT' && !before.has(e.requestContext.connectionId));
  c.id = connectEv.requestContext.connectionId;
  return { c, connectEv };
}

// Waits for the connection's DISCONNECT, lets the gateway settle, and checks there is exactly one.
async function theDisconnect(be, connectionId) {
  await be.waitForEvent((e) => type(e) === 'DISCONNECT' && e.requestContext.connectionId === connectionId);
  await sleep(SETTLE_MS);
  const all = be.eventsFor(connectionId, 'DISCONNECT');
  assert.equal(all.length, 1, `expected exactly one DISCONNECT for ${connectionId}, got ${all.length}`);
  return all[0];
}

function assertDisconnectEvent(ev, connectEv, { host, code, reason }) {
  assert.deepEqual(Object.keys(ev).sort(), ['headers', 'isBase64Encoded', 'multiValueHeaders', 'requestContext']);
  assert.deepEqual(ev.headers, { Host: host, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
  assert.deepEqual(ev.multiValueHeaders, { Host: [host], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] });
  assert.equal(ev.isBase64Encoded, false);
  const rc = ev.requestContext;
  const crc = connectEv.requestContext;
  assert.deepEqual(Object.keys(rc).sort(), [
    'apiId', 'connectedAt', 'connectionId', 'disconnectReason', 'disconnectStatusCode', 'domainName', 'eventType',
    'extendedRequestId', 'identity', 'messageDirection', 'requestId', 'requestTime', 'requestTimeEpoch', 'routeKey', 'stage',
  ]);
  assert.equal(rc.routeKey, '$disconnect');
  assert.equal(rc.eventType, 'DISCONNECT');
  assert.equal(rc.disconnectStatusCode, code);
  if (reason instanceof RegExp) assert.match(rc.disconnectReason, reason);
  else assert.equal(rc.disconnectReason, reason);
  assert.equal(rc.connectionId, crc.connectionId);
  assert.equal(rc.connectedAt, crc.connectedAt);
  assert.match(rc.requestId, AWS_ID);
  assert.equal(rc.extendedRequestId, rc.requestId);
  assert.notEqual(rc.requestId, crc.requestId);
  assert.equal(rc.messageDirection, 'IN');
  assert.equal(rc.stage, crc.stage);
  assert.equal(rc.apiId, crc.apiId);
  assert.equal(rc.domainName, crc.domainName);
  assert.deepEqual(rc.identity, crc.identity);
  assert.ok(Number.isInteger(rc.requestTimeEpoch));
  assert.ok(rc.requestTimeEpoch >= crc.requestTimeEpoch);
  assert.equal(rc.requestTime, clfTime(rc.requestTimeEpoch));
}

test('client close 1000 "bye": one DISCONNECT with 1000/"bye" and the fixed header set', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { api: { id: 'discapi' } }) });
  const { c, connectEv } = await open(gw, be);
  await c.send('hello');
  assert.equal(await c.nextMessage(), 'hello');
  const closed = await c.close(1000, 'bye');
  assert.equal(closed.code, 1000);
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 1000, reason: 'bye' });
  assert.equal(ev.requestContext.apiId, 'discapi');
  assert.deepEqual(ev.requestContext.identity, { sourceIp: '127.0.0.1', userAgent: 'wsgate-e2e/1.0' });
  assert.deepEqual(be.eventsFor(c.id).map(type), ['CONNECT', 'MESSAGE', 'DISCONNECT']);
});

test('client close with a custom code and reason is reported as sent', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be);
  await c.close(4321, 'custom reason \u2713');
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 4321, reason: 'custom reason \u2713' });
});

test('client close frame without status: 1005 "Client-side close frame status not set"', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be);
  await c.close();  // ws.close() with no arguments sends a close frame with no payload
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, {
    host: `127.0.0.1:${gw.port}`, code: 1005, reason: 'Client-side close frame status not set',
  });
});

test('network drop (no close frame): 1006', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be);
  await c.terminate();
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 1006, reason: /.*/ });
});

test('socket destroyed mid-stream: 1006, exactly once', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be, {});
  await c.send('x');
  assert.equal(await c.nextMessage(), 'x');
  c.ws._socket.destroy();
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 1006, reason: /.*/ });
});

test('DISCONNECT with api.domain_name: domainName is the configured name', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { api: { domain_name: 'ws.example.com' } }) });
  const { c, connectEv } = await open(gw, be);
  await c.close(1000, 'bye');
  const ev = await theDisconnect(be, c.id);
  assert.equal(ev.requestContext.domainName, 'ws.example.com');
  // Host: the client's Host header or the configured name (which one is a clone choice).
  const host = ev.headers.Host;
  assert.ok([`127.0.0.1:${gw.port}`, 'ws.example.com'].includes(host), `unexpected DISCONNECT Host ${host}`);
  assertDisconnectEvent(ev, connectEv, { host, code: 1000, reason: 'bye' });
});

test('server close on a binary frame (1003): client sees 1003, exactly one DISCONNECT', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be);
  await c.send(Buffer.from([1, 2, 3]), { binary: true });
  const closed = await c.closed;
  assert.equal(closed.code, 1003);
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 1003, reason: /.*/ });
  assert.equal(be.eventsFor(c.id, 'MESSAGE').length, 0, 'a binary frame never reaches an integration');
});

test('close while integration calls are in flight: exactly one DISCONNECT', async (t) => {
  const be = await startBackend(t);
  const gate = deferred();
  be.handler = (e) => (type(e) === 'MESSAGE' ? gate.promise : { body: { statusCode: 200 } });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const { c, connectEv } = await open(gw, be);
  for (let i = 0; i < 3; i++) await c.send(`held ${i}`);
  await be.waitFor((events) => events.filter((e) => type(e) === 'MESSAGE').length === 3);
  await c.close(1000, 'bye');
  const ev = await theDisconnect(be, c.id);
  assertDisconnectEvent(ev, connectEv, { host: `127.0.0.1:${gw.port}`, code: 1000, reason: 'bye' });
  gate.resolve({ body: { statusCode: 200, body: 'late' } });
  await sleep(SETTLE_MS);
  assert.equal(be.eventsFor(c.id, 'DISCONNECT').length, 1);
});

test('many connections closed in different ways: exactly one DISCONNECT each', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const clients = [];
  for (let i = 0; i < 12; i++) clients.push((await open(gw, be)).c);
  await Promise.all(clients.map((c, i) => {
    if (i % 3 === 0) return c.close(1000, `bye ${i}`);
    if (i % 3 === 1) return c.close();
    return c.terminate();
  }));
  await be.waitFor((events) => events.filter((e) => type(e) === 'DISCONNECT').length >= clients.length);
  await sleep(SETTLE_MS);
  const disconnects = be.eventsOfType('DISCONNECT');
  assert.equal(disconnects.length, clients.length);
  const expected = clients.map((c, i) => [c.id, i % 3 === 0 ? 1000 : i % 3 === 1 ? 1005 : 1006]).sort();
  const got = disconnects.map((e) => [e.requestContext.connectionId, e.requestContext.disconnectStatusCode]).sort();
  assert.deepEqual(got, expected);
});
