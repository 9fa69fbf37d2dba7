// $connect authorization: a Lambda REQUEST authorizer reached over HTTP, and API keys.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { AWS_ID, startBackend, waitForLines } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect, connectRejected } from './lib/ws.js';

const API_KEY = 'k3y-0123456789abcdefghij';

function policy(effect, resource = 'arn:aws:execute-api:us-east-1:123456789012:authapi/dev/$connect') {
  return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] };
}

async function stack(t, { authorizer = {}, routes, apiKeys, extra = {} } = {}) {
  const be = await startBackend(t);
  const authz = await startBackend(t, { path: '/authorize' });
  const config = {
    threads: 2,
    api: { id: 'authapi' },
    integrations: { backend: { type: 'http', url: be.url }, auth: { type: 'http', url: authz.url } },
    routes: routes ?? {
      $connect: { integration: 'backend' },
      $disconnect: { integration: 'backend' },
      $default: { integration: 'backend', route_response: true },
    },
    authorizer: { integration: 'auth', identity_source: 'route.request.header.Auth', ...authorizer },
  };
  if (apiKeys) config.api_keys = apiKeys;
  Object.assign(config, extra);
  const gw = await startGateway(t, { config });
  return { be, authz, gw };
}

test('authorizer: a missing identity source is refused with 401 without calling the authorizer or $connect', async (t) => {
  const { be, authz, gw } = await stack(t);
  const r = await connectRejected(gw.url);
  assert.equal(r.status, 401);
  const empty = await connectRejected(gw.url, { headers: { Auth: '' } });
  assert.equal(empty.status, 401);
  assert.equal(authz.events.length, 0);
  assert.equal(be.events.length, 0);
});

test('authorizer: Allow with context -> connected; principalId and context on CONNECT, MESSAGE and DISCONNECT', async (t) => {
  const { be, authz, gw } = await stack(t);
  authz.handler = () => ({ body: { principalId: 'user-42', policyDocument: policy('Allow'), context: { tenant: 't1', level: 3, admin: false } } });
  const c = await connect(gw.url + '?room=7', { headers: { Auth: 'token-abc', 'User-Agent': 'authz-test' } });
  await c.send('hi');
  assert.equal(await c.nextMessage(), 'hi');
  await c.close(1000);
  await be.waitFor((ev) => ev.some((e) => e.requestContext.eventType === 'DISCONNECT'));

  const [ae] = authz.events;
  assert.equal(ae.type, 'REQUEST');
  assert.match(ae.methodArn, /^arn:aws:execute-api:us-east-1:123456789012:authapi\/dev\/\$connect$/);
  assert.equal(ae.headers.Auth, 'token-abc');
  assert.ok(Object.keys(ae.headers).some((k) => k.toLowerCase() === 'upgrade'), 'the authorizer sees Upgrade');
  assert.deepEqual(ae.queryStringParameters, { room: '7' });
  assert.deepEqual(ae.stageVariables, {});
  assert.equal(ae.requestContext.routeKey, '$connect');
  assert.match(ae.requestContext.connectionId, AWS_ID);

  const expected = { principalId: 'user-42', tenant: 't1', level: 3, admin: false };
  for (const type of ['CONNECT', 'MESSAGE', 'DISCONNECT']) {
    const [e] = be.eventsOfType(type);
    assert.deepEqual(e.requestContext.authorizer, expected, `${type} authorizer`);
    assert.equal(e.requestContext.connectionId, ae.requestContext.connectionId);
  }
});

test('authorizer: $context.authorizer.principalId and .<key> in the access log on every event', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-authz-log-'));
  const file = path.join(dir, 'access.log');
  const format = '{"e":"$context.eventType","p":"$context.authorizer.principalId","t":"$context.authorizer.tenant",'
    + '"l":"$context.authorizer.level","a":"$context.authorizer.admin","x":"$context.authorizer.missing"}';
  const { be, authz, gw } = await stack(t, { extra: { access_log: { destination: file, format } } });
  authz.handler = () => ({ body: { principalId: 'user-42', policyDocument: policy('Allow'), context: { tenant: 't"1', level: 3, admin: false } } });
  const c = await connect(gw.url, { headers: { Auth: 'token-abc' } });
  await c.send('hi');
  assert.equal(await c.nextMessage(), 'hi');
  await c.close(1000);
  await be.waitFor((ev) => ev.some((e) => e.requestContext.eventType === 'DISCONNECT'));
  const lines = await waitForLines(file, 3);
  const entries = lines.map((l) => JSON.parse(l));
  assert.deepEqual(entries.map((e) => e.e), ['CONNECT', 'MESSAGE', 'DISCONNECT']);
  for (const e of entries) {
    assert.equal(e.p, 'user-42', JSON.stringify(e));
    assert.equal(e.t, 't"1');  // JSON-escaped by the template, so it parses back
    assert.equal(e.l, '3');
    assert.equal(e.a, 'false');
    assert.equal(e.x, '-');
  }
});

test('authorizer: Deny -> 403, "Unauthorized" -> 401, malformed answer or failure -> 500; $connect never runs', async (t) => {
  const { be, authz, gw } = await stack(t);
  const cases = [
    [() => ({ body: { principalId: 'u', policyDocument: policy('Deny') } }), 403],
    [() => ({ body: { principalId: 'u', policyDocument: policy('Allow', 'arn:aws:execute-api:us-east-1:123456789012:other/dev/$connect') } }), 403],
    [() => ({ status: 401, body: { message: 'Unauthorized' } }), 401],
    [() => ({ body: { errorMessage: 'Unauthorized' } }), 401],
    [() => ({ body: { statusCode: 401 } }), 500],
    [() => ({ body: 'not json' }), 500],
    [() => ({ status: 500 }), 500],
  ];
  for (const [handler, status] of cases) {
    authz.handler = handler;
    const r = await connectRejected(gw.url, { headers: { Auth: 'x' } });
    assert.equal(r.status, status, `handler ${handler} -> ${r.status}`);
  }
  assert.equal(be.events.length, 0, '$connect must not run when the authorizer does not allow');
});

test('API keys: $connect with api_key_required needs a configured x-api-key; identity.apiKey is set', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: {
      threads: 2,
      integrations: { backend: { type: 'http', url: be.url } },
      routes: {
        $connect: { integration: 'backend', api_key_required: true },
        $default: { integration: 'backend', route_response: true },
      },
      api_keys: [API_KEY],
    },
  });
  assert.equal((await connectRejected(gw.url)).status, 403);
  assert.equal((await connectRejected(gw.url, { headers: { 'x-api-key': 'wrong-key-000000000000000' } })).status, 403);
  assert.equal(be.events.length, 0);
  const c = await connect(gw.url, { headers: { 'x-api-key': API_KEY } });
  await c.send('m');
  assert.equal(await c.nextMessage(), 'm');
  assert.equal(be.eventsOfType('CONNECT')[0].requestContext.identity.apiKey, API_KEY);
  assert.equal(be.eventsOfType('MESSAGE')[0].requestContext.identity.apiKey, API_KEY);
});
