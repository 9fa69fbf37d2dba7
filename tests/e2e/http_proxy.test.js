// HTTP_PROXY integrations: the raw message is the request body, request parameters map context
// values to headers and query parameters, the backend's body is the route response; and a route's
// own timeout_ms overriding its integration's.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { AWS_ID, sleep } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect, connectRejected } from './lib/ws.js';

// A plain HTTP backend: records requests; answers `pong:<body>` (or what `answer` says).
async function rawBackend(t) {
  const requests = [];
  const be = { requests, answer: (r) => ({ status: 200, body: `pong:${r.body}` }) };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const r = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(r);
      const a = be.answer(r);
      if (a.delayMs) await sleep(a.delayMs);
      res.statusCode = a.status ?? 200;
      res.end(a.body ?? '');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  be.url = `http://127.0.0.1:${server.address().port}`;
  return be;
}

function proxyConfig(be, extra = {}) {
  return {
    threads: 2,
    integrations: {
      raw: {
        type: 'http_proxy',
        url: `${be.url}/msg?fixed=1`,
        method: 'PUT',
        request_parameters: {
          'integration.request.header.ConnectionId': 'context.connectionId',
          'integration.request.header.X-Route': 'context.routeKey',
          'integration.request.header.X-Event': 'context.eventType',
          'integration.request.header.X-Static': "'hello'",
          'integration.request.header.X-Token': 'route.request.header.Auth',
          'integration.request.querystring.stage': 'context.stage',
        },
        ...extra,
      },
    },
    routes: {
      $connect: { integration: 'raw' },
      $default: { integration: 'raw', route_response: true },
      oneway: { integration: 'raw' },
      slow: { integration: 'raw', route_response: true, timeout_ms: 300 },
    },
  };
}

test('HTTP_PROXY: raw body out, backend body back; context values mapped; client headers never forwarded', async (t) => {
  const be = await rawBackend(t);
  const gw = await startGateway(t, { config: proxyConfig(be) });
  const c = await connect(gw.url, { headers: { Auth: 'tok-1', 'X-Secret': 'do-not-forward' } });
  await c.send('plain text, not JSON');
  assert.equal(await c.nextMessage(), 'pong:plain text, not JSON');

  const [conn, msg] = be.requests;
  assert.equal(conn.headers['x-event'], 'CONNECT');
  assert.equal(conn.headers['x-route'], '$connect');
  assert.equal(conn.headers['x-token'], 'tok-1', 'route.request.header.Auth is readable on $connect');
  assert.match(conn.headers.connectionid, AWS_ID);

  assert.equal(msg.method, 'PUT');
  assert.equal(msg.url, '/msg?fixed=1&stage=dev');
  assert.equal(msg.body, 'plain text, not JSON');
  assert.equal(msg.headers.connectionid, conn.headers.connectionid);
  assert.equal(msg.headers['x-route'], '$default');
  assert.equal(msg.headers['x-event'], 'MESSAGE');
  assert.equal(msg.headers['x-static'], 'hello');
  assert.equal(msg.headers['x-token'], undefined, 'request headers exist only on $connect');
  for (const h of ['x-secret', 'upgrade', 'sec-websocket-key', 'auth']) {
    assert.equal(msg.headers[h], undefined, `${h} must not be forwarded`);
    assert.equal(conn.headers[h], undefined, `${h} must not be forwarded on $connect`);
  }
  assert.notEqual(msg.headers.connection?.toLowerCase(), 'upgrade');
});

test('HTTP_PROXY: one-way routes drop the body; $connect status decides the handshake', async (t) => {
  const be = await rawBackend(t);
  const gw = await startGateway(t, { config: proxyConfig(be) });
  const c = await connect(gw.url);
  await c.send('{"action":"oneway"}');
  await c.send('after');
  assert.equal(await c.nextMessage(), 'pong:after', 'the one-way answer must not arrive');
  be.answer = (r) => (r.headers['x-event'] === 'CONNECT' ? { status: 403, body: 'no' } : { body: 'x' });
  assert.equal((await connectRejected(gw.url)).status, 403);
});

test('route timeout_ms overrides the integration: a slow backend gets "Endpoint request timed out"', async (t) => {
  const be = await rawBackend(t);
  be.answer = (r) => (r.body.includes('"slow"') ? { delayMs: 2000, body: 'late' } : { body: `pong:${r.body}` });
  const gw = await startGateway(t, { config: proxyConfig(be) });
  const c = await connect(gw.url);
  await c.send('{"action":"slow"}');
  const frame = JSON.parse(await c.nextMessage());
  assert.equal(frame.message, 'Endpoint request timed out');
  // Other routes keep the integration's 29 s default and answer normally.
  await c.send('fast');
  assert.equal(await c.nextMessage(), 'pong:fast');
});

test('HTTP_PROXY config: hop-by-hop targets and unknown sources are startup errors naming the key', async (t) => {
  const { runGateway } = await import('./lib/gateway.js');
  const be = { url: 'http://127.0.0.1:9' };
  const bad = proxyConfig(be);
  bad.integrations.raw.request_parameters = { 'integration.request.header.Upgrade': 'context.connectionId' };
  const r = await runGateway({ config: bad });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /integrations\.raw\.request_parameters\.integration\.request\.header\.Upgrade/);
  const bad2 = proxyConfig(be);
  bad2.integrations.raw.request_parameters = { 'integration.request.header.X': 'stageVariables.x' };
  assert.equal((await runGateway({ config: bad2 })).code, 2);
});
