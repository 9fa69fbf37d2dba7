// $connect: runs before the upgrade, CONNECT event shape, handshake outcomes, subprotocols.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  AWS_ID, clfTime, closedPort, defaultHandler, deferred, gatewayConfig, sleep, startBackend,
} from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect, connectRejected, startConnect } from './lib/ws.js';

const isConnect = (e) => e?.requestContext?.eventType === 'CONNECT';

// requestContext keys, ignoring keys whose value is null (AWS sends messageId: null on some CONNECTs).
function contextKeys(rc) {
  return Object.keys(rc).filter((k) => rc[k] !== null).sort();
}

const CONNECT_CONTEXT_KEYS = [
  'apiId', 'connectedAt', 'connectionId', 'domainName', 'eventType', 'extendedRequestId', 'identity',
  'messageDirection', 'requestId', 'requestTime', 'requestTimeEpoch', 'routeKey', 'stage',
].sort();

test('$connect runs before the upgrade completes: open waits for the backend answer', async (t) => {
  const be = await startBackend(t);
  const gate = deferred();
  be.handler = (e) => (isConnect(e) ? gate.promise : defaultHandler(e));
  const gw = await startGateway(t, { config: gatewayConfig(be) });

  const c = startConnect(gw.url);
  await be.waitForEvent(isConnect);
  // The backend holds the answer: the handshake must still be pending.
  await sleep(300);
  assert.equal(c.opened, false, 'client opened before $connect answered');
  assert.equal(c.upgradeResponse, null, 'gateway sent the 101 before $connect answered');

  gate.resolve({ status: 200, body: { statusCode: 200 } });
  await c.openPromise;
  assert.equal(c.upgradeResponse.statusCode, 101);
  await c.send('after-open');
  assert.equal(await c.nextMessage(), 'after-open');
  await c.close(1000, 'done');
});

test('CONNECT event: headers, query string, requestContext field by field', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, { api: { id: 'myapi' }, stages: ['dev', 'prod'] }),
    stage: 'prod',
  });

  const before = Date.now();
  const c = await connect(`${gw.url}?token=abc&room=1&room=2`, {
    headers: { 'X-Custom-Header': 'Custom Value', 'User-Agent': 'wsgate-e2e/1.0', 'X-Multi': ['first', 'second'] },
  });
  const after = Date.now();

  const connects = be.eventsOfType('CONNECT');
  assert.equal(connects.length, 1);
  const rec = be.records.find((r) => isConnect(r.event));
  assert.equal(rec.method, 'POST');
  assert.match(rec.headers['content-type'], /^application\/json/);
  assert.equal(rec.url, '/events');

  const ev = connects[0];
  assert.deepEqual(Object.keys(ev).sort(), [
    'headers', 'isBase64Encoded', 'multiValueHeaders', 'multiValueQueryStringParameters',
    'queryStringParameters', 'requestContext',
  ]);
  assert.equal(ev.isBase64Encoded, false);
  assert.equal('body' in ev, false);

  const key = ev.headers['Sec-WebSocket-Key'];
  assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
  const host = `127.0.0.1:${gw.port}`;
  // Original casing; Connection/Upgrade/Content-Length left out; X-Forwarded-* added.
  assert.deepEqual(ev.headers, {
    'X-Custom-Header': 'Custom Value',
    'User-Agent': 'wsgate-e2e/1.0',
    'X-Multi': 'second',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    Host: host,
    'X-Forwarded-For': '127.0.0.1',
    'X-Forwarded-Port': String(gw.port),
    'X-Forwarded-Proto': 'http',
  });
  assert.deepEqual(ev.multiValueHeaders, {
    'X-Custom-Header': ['Custom Value'],
    'User-Agent': ['wsgate-e2e/1.0'],
    'X-Multi': ['first', 'second'],
    'Sec-WebSocket-Version': ['13'],
    'Sec-WebSocket-Key': [key],
    'Sec-WebSocket-Extensions': ['permessage-deflate; client_max_window_bits'],
    Host: [host],
    'X-Forwarded-For': ['127.0.0.1'],
    'X-Forwarded-Port': [String(gw.port)],
    'X-Forwarded-Proto': ['http'],
  });
  assert.deepEqual(ev.queryStringParameters, { token: 'abc', room: '2' });
  assert.deepEqual(ev.multiValueQueryStringParameters, { token: ['abc'], room: ['1', '2'] });

  const rc = ev.requestContext;
  assert.deepEqual(contextKeys(rc), CONNECT_CONTEXT_KEYS);
  assert.equal(rc.routeKey, '$connect');
  assert.equal(rc.eventType, 'CONNECT');
  assert.match(rc.requestId, AWS_ID);
  assert.equal(rc.extendedRequestId, rc.requestId);
  assert.match(rc.connectionId, AWS_ID);
  assert.notEqual(rc.connectionId, rc.requestId);
  assert.equal(rc.messageDirection, 'IN');
  assert.equal(rc.stage, 'prod');
  assert.equal(rc.apiId, 'myapi');
  assert.equal(rc.domainName, host);
  assert.deepEqual(rc.identity, { sourceIp: '127.0.0.1', userAgent: 'wsgate-e2e/1.0' });
  assert.ok(Number.isInteger(rc.connectedAt), `connectedAt ${rc.connectedAt} is not an integer (ms)`);
  assert.ok(Number.isInteger(rc.requestTimeEpoch), `requestTimeEpoch ${rc.requestTimeEpoch} is not an integer (ms)`);
  // Milliseconds since the epoch, taken during this handshake (same host clock).
  assert.ok(rc.connectedAt >= before - 1000 && rc.connectedAt <= after + 1000, `connectedAt ${rc.connectedAt} not in [${before}, ${after}]`);
  assert.ok(rc.connectedAt <= rc.requestTimeEpoch, `connectedAt ${rc.connectedAt} > requestTimeEpoch ${rc.requestTimeEpoch}`);
  assert.ok(rc.requestTimeEpoch <= after + 1000);
  assert.match(rc.requestTime, /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  assert.equal(rc.requestTime, clfTime(rc.requestTimeEpoch));
  assert.equal(rc.messageId ?? null, null);
  assert.equal(rc.disconnectStatusCode ?? null, null);

  await c.close(1000);
});

test('CONNECT event: no query keys without a query string; identity without User-Agent; api.domain_name and default apiId', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { api: { domain_name: 'ws.example.com' } }) });

  const c = await connect(gw.url);  // npm ws sends no User-Agent
  const ev = await be.waitForEvent(isConnect);
  assert.deepEqual(Object.keys(ev).sort(), ['headers', 'isBase64Encoded', 'multiValueHeaders', 'requestContext']);
  assert.equal('User-Agent' in ev.headers, false);
  assert.equal(ev.headers.Host, `127.0.0.1:${gw.port}`, 'Host header is the one the client sent');
  const rc = ev.requestContext;
  assert.deepEqual(rc.identity, { sourceIp: '127.0.0.1' });
  assert.equal(rc.domainName, 'ws.example.com');
  assert.equal(rc.apiId, 'wsgatelocal');
  assert.equal(rc.stage, 'dev');
  await c.close(1000);
});

test('stage URL with a trailing slash or a query string is accepted', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  for (const url of [`${gw.url}/`, `${gw.url}?x=1`, `${gw.url}/?x=1`]) {
    const c = await connect(url);
    await c.send('ping');
    assert.equal(await c.nextMessage(), 'ping', url);
    await c.close(1000);
  }
  const connects = be.eventsOfType('CONNECT');
  assert.equal(connects.length, 3);
  for (const e of connects) assert.equal(e.requestContext.stage, 'dev');
  assert.equal('queryStringParameters' in connects[0], false);
  assert.deepEqual(connects[1].queryStringParameters, { x: '1' });
  assert.deepEqual(connects[2].multiValueQueryStringParameters, { x: ['1'] });
});

test('$connect statusCode 200 accepts the connection', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => (isConnect(e) ? { body: { statusCode: 200, body: 'ignored' } } : defaultHandler(e));
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);
  assert.equal(c.upgradeResponse.statusCode, 101);
  await c.send('hello');
  assert.equal(await c.nextMessage(), 'hello');
  // The $connect body is not sent to the client.
  assert.deepEqual(c.unread(), []);
  await c.close(1000);
});

test('an empty 2xx answer to $connect counts as statusCode 200', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => (isConnect(e) ? { status: 200 } : defaultHandler(e));
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);
  await c.send('x');
  assert.equal(await c.nextMessage(), 'x');
  await c.close(1000);
});

for (const status of [400, 403, 500]) {
  test(`$connect statusCode ${status} fails the handshake with HTTP ${status}`, async (t) => {
    const be = await startBackend(t);
    be.handler = (e) => (isConnect(e) ? { body: { statusCode: status, body: 'nope' } } : defaultHandler(e));
    const gw = await startGateway(t, { config: gatewayConfig(be) });
    const r = await connectRejected(gw.url);
    assert.equal(r.status, status);
    // Also the error npm ws reports when nobody listens for 'unexpected-response'.
    const c = startConnect(gw.url);
    await assert.rejects(c.openPromise, { message: `Unexpected server response: ${status}` });
    assert.equal(be.eventsOfType('CONNECT').length, 2);
  });
}

const badConnectAnswers = [
  ['backend HTTP 500', { status: 500, body: { statusCode: 200 } }],
  ['a non-JSON 200 body', { status: 200, body: 'this is not json' }],
  ['a JSON 200 body without statusCode', { status: 200, body: { body: 'x' } }],
  ['a JSON array', { status: 200, body: [1, 2] }],
];
for (const [what, answer] of badConnectAnswers) {
  test(`$connect integration failure (${what}) fails the handshake with 502`, async (t) => {
    const be = await startBackend(t);
    be.handler = (e) => (isConnect(e) ? answer : defaultHandler(e));
    const gw = await startGateway(t, { config: gatewayConfig(be) });
    const r = await connectRejected(gw.url);
    assert.equal(r.status, 502);
    assert.equal(be.eventsOfType('CONNECT').length, 1);
  });
}

test('$connect backend not listening fails the handshake with 502', async (t) => {
  const port = await closedPort();
  const gw = await startGateway(t, {
    config: {
      integrations: { dead: { type: 'http', url: `http://127.0.0.1:${port}/events` } },
      routes: { $connect: { integration: 'dead' }, $default: { integration: 'echo', route_response: true } },
    },
  });
  const r = await connectRejected(gw.url);
  assert.equal(r.status, 502);
});

test('a failed $connect is never followed by $disconnect', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => {
    if (isConnect(e)) {
      const mode = e.queryStringParameters?.mode;
      if (mode === 'deny') return { body: { statusCode: 403 } };
      if (mode === 'crash') return { status: 500, body: 'boom' };
      if (mode === 'garbage') return { body: 'garbage' };
      return { body: { statusCode: 200 } };
    }
    return defaultHandler(e);
  };
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  assert.equal((await connectRejected(`${gw.url}?mode=deny`)).status, 403);
  assert.equal((await connectRejected(`${gw.url}?mode=crash`)).status, 502);
  assert.equal((await connectRejected(`${gw.url}?mode=garbage`)).status, 502);

  // A good connection afterwards: its DISCONNECT is the marker that the gateway has caught up.
  const c = await connect(`${gw.url}?mode=ok`);
  await c.close(1000, 'bye');
  const goodId = be.eventsOfType('CONNECT').find((e) => e.queryStringParameters.mode === 'ok').requestContext.connectionId;
  await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === goodId);
  await sleep(300);
  const disconnects = be.eventsOfType('DISCONNECT');
  assert.deepEqual(disconnects.map((e) => e.requestContext.connectionId), [goodId]);
  const failedIds = be.eventsOfType('CONNECT').filter((e) => e.queryStringParameters.mode !== 'ok').map((e) => e.requestContext.connectionId);
  assert.equal(failedIds.length, 3);
  for (const id of failedIds) assert.deepEqual(be.eventsFor(id).map((e) => e.requestContext.eventType), ['CONNECT']);
});

test('no $connect route: the connection is accepted without calling the backend', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, { routes: { $default: { integration: 'backend', route_response: true } } }),
  });
  const c = await connect(gw.url);
  await c.send('hello');
  assert.equal(await c.nextMessage(), 'hello');
  assert.deepEqual(be.events.map((e) => e.requestContext.eventType), ['MESSAGE']);
  await c.close(1000);
});

test('subprotocol: the one $connect returns is sent in the 101', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => (isConnect(e)
    ? { body: { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'myprotocol', 'X-Backend-Secret': 's3cr3t' }, body: 'connect body' } }
    : defaultHandler(e));
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url, { protocols: ['chat1', 'myprotocol'] });
  assert.equal(c.protocol, 'myprotocol');
  assert.equal(c.upgradeResponse.headers['sec-websocket-protocol'], 'myprotocol');
  // Only Sec-WebSocket-Protocol is passed on; other integration headers are not.
  assert.equal(c.upgradeResponse.headers['x-backend-secret'], undefined);
  const ev = be.eventsOfType('CONNECT')[0];
  assert.equal(ev.headers['Sec-WebSocket-Protocol'], 'chat1,myprotocol');
  await c.send('sub');
  assert.equal(await c.nextMessage(), 'sub');
  await c.close(1000);
});

test('subprotocol: never auto-echoed when $connect returns none', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });

  // Offered but not chosen: the 101 carries no Sec-WebSocket-Protocol, so ws (like browsers) aborts.
  const offered = startConnect(gw.url, { protocols: ['chat1', 'myprotocol'] });
  await assert.rejects(offered.openPromise, { message: 'Server sent no subprotocol' });
  assert.equal(offered.upgradeResponse.statusCode, 101);
  assert.equal(offered.upgradeResponse.headers['sec-websocket-protocol'], undefined);

  // Not offered: plain connection, protocol ''.
  const c = await connect(gw.url);
  assert.equal(c.protocol, '');
  assert.equal(c.upgradeResponse.headers['sec-websocket-protocol'], undefined);
  await c.close(1000);
});
