// Metrics on the admin port, access logs, and throttling (stage/route messages, new connections,
// the management API).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

import { deferred, gatewayConfig, startBackend, waitForLines, waitUntil } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { CREDS as LOCAL_CREDS, sdkClient } from './lib/mgmt.js';
import { connect, connectRejected } from './lib/ws.js';

async function adminGet(gw, p) {
  const m = gw.stdout.match(/Admin:\s+http:\/\/([\d.]+):(\d+)\/metrics/);
  assert.ok(m, `no admin URL in the banner:\n${gw.stdout}`);
  const res = await fetch(`http://${m[1]}:${m[2]}${p}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

function sample(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('admin listener: /metrics counts connects, messages and errors with AWS names; /healthz, /readyz', async (t) => {
  const be = await startBackend(t);
  const cfg = gatewayConfig(be, {
    routes: {
      $connect: { integration: 'backend' },
      $default: { integration: 'backend', route_response: true },
      fail: { integration: 'backend', route_response: true },
    },
  });
  cfg.api = { id: 'metricsapi' };
  cfg.admin = { listen: '127.0.0.1:0' };
  be.handler = (e) => (e.body && JSON.parse(e.body).action === 'fail' ? { status: 500 } : { body: { statusCode: 200, body: 'ok' } });
  const gw = await startGateway(t, { config: cfg });
  const c = await connect(gw.url);
  await c.send('{"action":"x"}');
  assert.equal(await c.nextMessage(), 'ok');
  await c.send('{"action":"fail"}');
  assert.match(await c.nextMessage(), /Internal server error/);

  const m = await adminGet(gw, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const labels = { api: 'metricsapi', stage: 'dev' };
  assert.equal(sample(m.body, 'wsgate_connect_count_total', labels), 1);
  assert.equal(sample(m.body, 'wsgate_connections_open', labels), 1);
  assert.equal(sample(m.body, 'wsgate_message_count_total', { ...labels, route: '$default' }), 1);
  assert.equal(sample(m.body, 'wsgate_message_count_total', { ...labels, route: 'fail' }), 1);
  assert.equal(sample(m.body, 'wsgate_execution_error_total', { ...labels, route: 'fail' }), 1);
  assert.ok(sample(m.body, 'wsgate_integration_latency_seconds_count', { ...labels, route: '$default' }) >= 1);
  assert.equal((await adminGet(gw, '/healthz')).status, 200);
  assert.equal((await adminGet(gw, '/readyz')).status, 200);
  assert.equal((await adminGet(gw, '/nope')).status, 404);
  // Metrics are not on the public port.
  const pub = await fetch(`${gw.httpBase}/metrics`);
  assert.equal(pub.status, 403);
  await c.close(1000);
  await waitUntil(async () => sample((await adminGet(gw, '/metrics')).body, 'wsgate_connections_open', labels) === 0);
});

test('admin listener: wsgate_backend_pool_in_use follows the backend connections lent out, per integration', async (t) => {
  const be = await startBackend(t);
  const cfg = gatewayConfig(be, {
    routes: { $default: { integration: 'backend', route_response: true }, other: { integration: 'spare', route_response: true } },
  });
  cfg.integrations.backend.max_connections = 2;
  cfg.integrations.spare = { type: 'http', url: be.url };
  cfg.admin = { listen: '127.0.0.1:0' };
  const gates = [];
  be.handler = (e) => {
    const gate = deferred();
    gates.push(gate);
    return gate.promise.then(() => ({ body: { statusCode: 200, body: `done ${e.body}` } }));
  };
  const gw = await startGateway(t, { config: cfg });
  const inUse = async (name) => sample((await adminGet(gw, '/metrics')).body, 'wsgate_backend_pool_in_use', { integration: name });
  assert.equal(await inUse('backend'), 0);
  assert.equal(await inUse('spare'), 0, 'every http integration has its series from the start');

  const c = await connect(gw.url);
  // Three calls held by the backend: two take the pool's two connections, the third waits for one.
  for (const i of [1, 2, 3]) await c.send(`m${i}`);
  await be.waitFor((events) => events.filter((e) => e.requestContext.eventType === 'MESSAGE').length === 2);
  assert.equal(await inUse('backend'), 2);
  assert.equal(await inUse('spare'), 0);
  gates[0].resolve();
  // The freed connection goes straight to the waiting call: still two in use.
  await be.waitFor((events) => events.filter((e) => e.requestContext.eventType === 'MESSAGE').length === 3);
  assert.equal(await inUse('backend'), 2);
  gates[1].resolve();
  await waitUntil(async () => (await inUse('backend')) === 1, { what: 'one backend connection in use' });
  gates[2].resolve();
  await waitUntil(async () => (await inUse('backend')) === 0, { what: 'no backend connection in use' });
  const got = [await c.nextMessage(), await c.nextMessage(), await c.nextMessage()].sort();
  assert.deepEqual(got, ['done m1', 'done m2', 'done m3']);
  await c.close(1000);
});

test('access log: one JSON line per CONNECT, MESSAGE and DISCONNECT with AWS $context values', async (t) => {
  const be = await startBackend(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-access-'));
  const file = path.join(dir, 'access.log');
  const cfg = gatewayConfig(be);
  cfg.access_log = { destination: file, format: 'default' };
  const gw = await startGateway(t, { config: cfg });
  const c = await connect(gw.url, { headers: { 'User-Agent': 'access-log-test' } });
  await c.send('hello');
  assert.equal(await c.nextMessage(), 'hello');
  await c.close(1000, 'bye');
  await be.waitFor((ev) => ev.some((e) => e.requestContext.eventType === 'DISCONNECT'));
  const lines = await waitForLines(file, 3);
  const entries = lines.map((l) => JSON.parse(l));
  const id = be.eventsOfType('CONNECT')[0].requestContext.connectionId;
  assert.deepEqual(entries.map((e) => e.eventType), ['CONNECT', 'MESSAGE', 'DISCONNECT']);
  for (const e of entries) {
    assert.equal(e.connectionId, id);
    assert.equal(e.ip, '127.0.0.1');
  }
  assert.equal(entries[0].routeKey, '$connect');
  assert.equal(entries[0].status, '200');
  assert.equal(entries[1].routeKey, '$default');
  assert.equal(entries[1].messageId, be.eventsOfType('MESSAGE')[0].requestContext.messageId);
  assert.equal(entries[1].requestId, be.eventsOfType('MESSAGE')[0].requestContext.requestId);
  assert.equal(entries[2].status, '1000');
});

test('throttling: a route over its rate gets the "Too Many Requests" frame and its integration is not called', async (t) => {
  const be = await startBackend(t);
  const cfg = gatewayConfig(be, {
    routes: { $default: { integration: 'backend', route_response: true }, slow: { integration: 'backend', route_response: true } },
  });
  cfg.throttling = { routes: { slow: { rate_limit: 1, burst_limit: 2 } } };
  const gw = await startGateway(t, { config: cfg });
  const c = await connect(gw.url);
  for (let i = 0; i < 3; i++) await c.send(`{"action":"slow","i":${i}}`);
  const got = [await c.nextMessage(), await c.nextMessage(), await c.nextMessage()];
  const throttled = got.filter((m) => m.startsWith('{"message": "Too Many Requests", "connectionId":"'));
  assert.equal(throttled.length, 1, JSON.stringify(got));
  assert.equal(be.eventsOfType('MESSAGE').length, 2);
  // Other routes draw from the (unlimited) stage default.
  for (let i = 0; i < 5; i++) {
    await c.send(`other ${i}`);
    assert.equal(await c.nextMessage(), `other ${i}`);
  }
});

test('throttling: new connections beyond the rate get 429 before $connect; management calls beyond it get 429 LimitExceededException', async (t) => {
  const be = await startBackend(t);
  const cfg = gatewayConfig(be);
  cfg.throttling = { connections: { rate_limit: 1, burst_limit: 2 }, management: { rate_limit: 1, burst_limit: 1 } };
  cfg.management = {
    region: 'us-east-1',
    credentials: [{ access_key_id: LOCAL_CREDS.accessKeyId, secret_access_key: LOCAL_CREDS.secretAccessKey }],
  };
  const gw = await startGateway(t, { config: cfg });
  const a = await connect(gw.url);
  await connect(gw.url);
  const refused = await connectRejected(gw.url);
  assert.equal(refused.status, 429);
  assert.equal(be.eventsOfType('CONNECT').length, 2);

  const id = be.eventsOfType('CONNECT')[0].requestContext.connectionId;
  const sdk = sdkClient(gw, { creds: LOCAL_CREDS, maxAttempts: 1 });
  await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'first' }));
  assert.equal(await a.nextMessage(), 'first');
  const err = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'second' })).then(() => null, (e) => e);
  assert.ok(err, 'the second POST within a second should be throttled');
  assert.equal(err.name, 'LimitExceededException');
  assert.equal(err.$metadata.httpStatusCode, 429);
});
