// Plain HTTP on the WebSocket port, unknown stages, connection id format and uniqueness.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { AWS_ID, gatewayConfig, startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect, connectRejected } from './lib/ws.js';

function httpRequest(url, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end();
  });
}

function assertForbidden(r, what) {
  assert.equal(r.status, 403, what);
  assert.equal(r.body, '{"message":"Forbidden"}', what);
  assert.equal(r.headers['x-amzn-errortype'], 'ForbiddenException', what);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, what);
}

test('plain HTTP GET on the stage URL answers 426', async (t) => {
  const gw = await startGateway(t, { config: { stages: ['dev', 'prod'], routes: { $default: { integration: 'echo', route_response: true } } } });
  for (const path of ['/dev', '/prod', '/dev?x=1']) {
    const r = await httpRequest(`${gw.httpBase}${path}`);
    assert.equal(r.status, 426, path);
  }
});

test('GET on an unknown stage path answers 403 {"message":"Forbidden"} with x-amzn-ErrorType', async (t) => {
  const gw = await startGateway(t, {});
  for (const path of ['/nope', '/', '/prod', '/nope?x=1']) {
    assertForbidden(await httpRequest(`${gw.httpBase}${path}`), `GET ${path}`);
  }
});

test('WebSocket upgrade to an unknown stage is refused with 403 {"message":"Forbidden"}', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  for (const path of ['/nope', '/', '/prod']) {
    assertForbidden(await connectRejected(`${gw.wsBase}${path}`), `upgrade ${path}`);
  }
  // The stage check comes first: $connect is never called for an unknown stage.
  assert.equal(be.events.length, 0);
  // And the real stage still works.
  const c = await connect(gw.url);
  await c.send('hi');
  assert.equal(await c.nextMessage(), 'hi');
  await c.close(1000);
});

test('200 connections: every connectionId matches ^[A-Za-z0-9_-]{15}=$ and all are distinct', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { routes: { $connect: { integration: 'backend' } } }) });
  const clients = [];
  for (let batch = 0; batch < 4; batch++) {
    clients.push(...await Promise.all(Array.from({ length: 50 }, () => connect(gw.url))));
  }
  assert.equal(clients.length, 200);
  const ids = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId);
  assert.equal(ids.length, 200);
  for (const id of ids) assert.match(id, AWS_ID);
  assert.equal(new Set(ids).size, 200, 'connection ids repeat');
  const requestIds = be.eventsOfType('CONNECT').map((e) => e.requestContext.requestId);
  for (const id of requestIds) assert.match(id, AWS_ID);
  assert.equal(new Set([...ids, ...requestIds]).size, 400, 'request ids repeat or collide with connection ids');
  await Promise.all(clients.map((c) => c.close(1000)));
});
