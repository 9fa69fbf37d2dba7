// @connections management API over raw HTTP (node:http): unsigned requests, stage-less and
// unknown-stage paths, and the headers every answer carries (x-amzn-RequestId, an accurate Date).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DeleteConnectionCommand, GetConnectionCommand, NEVER_EXISTED, PostToConnectionCommand, openClient, rawRequest,
  receivedBeforeMarker, runBoto3, sdkClient, sdkError, startMgmt,
} from './lib/mgmt.js';

function assertCommonHeaders(r, what) {
  assert.match(r.headers['x-amzn-requestid'] ?? '', /^\S{8,}$/, `${what}: x-amzn-RequestId`);
  const date = Date.parse(r.headers.date ?? '');
  assert.ok(Number.isFinite(date), `${what}: Date header ${JSON.stringify(r.headers.date)}`);
  assert.ok(Math.abs(Date.now() - date) < 60_000, `${what}: Date ${r.headers.date} is within a minute of now`);
  assert.match(r.headers.date, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/, `${what}: IMF-fixdate`);
}

function assertAwsError(r, status, type, what) {
  assert.equal(r.status, status, `${what}: status (body ${r.body})`);
  assert.equal(r.headers['x-amzn-errortype'], type, `${what}: x-amzn-ErrorType`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, `${what}: Content-Type`);
  const body = JSON.parse(r.body);
  assert.equal(typeof body.message, 'string', `${what}: {"message": "..."}`);
  assert.ok(body.message.length > 0, `${what}: non-empty message`);
  assertCommonHeaders(r, what);
  return body;
}

test('raw HTTP: unsigned POST/GET/DELETE -> 403 MissingAuthenticationTokenException {"message":"Missing Authentication Token"}, nothing delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const enc = encodeURIComponent(c.id);
  for (const [method, body] of [['POST', 'unsigned'], ['GET', undefined], ['DELETE', undefined], ['POST', '']]) {
    const headers = body === undefined ? {} : { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };
    const r = await rawRequest(gw.httpBase, `/dev/@connections/${enc}`, { method, headers, body });
    const parsed = assertAwsError(r, 403, 'MissingAuthenticationTokenException', `unsigned ${method}`);
    assert.deepEqual(parsed, { message: 'Missing Authentication Token' });
  }
  // %40connections is the same resource.
  const r = await rawRequest(gw.httpBase, `/dev/%40connections/${enc}`, { method: 'POST', headers: { 'Content-Length': 1 }, body: 'x' });
  assertAwsError(r, 403, 'MissingAuthenticationTokenException', 'unsigned POST to %40connections');
  // An Authorization header that is not SigV4 at all is no signature either.
  const basic = await rawRequest(gw.httpBase, `/dev/@connections/${enc}`, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
  assert.equal(basic.status, 403, basic.body);
  assertCommonHeaders(basic, 'Basic auth');

  const sdk = sdkClient(gw, { maxAttempts: 1 });
  assert.deepEqual(await receivedBeforeMarker(c, (mk) => sdk.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: mk }))), []);
  assert.equal(c.closeInfo, null, 'the unsigned DELETE did not close the connection');
  await c.close();
});

test('raw HTTP: /@connections/{id} (no stage) and /nostage/@connections/{id} -> 403 ForbiddenException {"message":"Forbidden"}', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const enc = encodeURIComponent(c.id);
  for (const p of [`/@connections/${enc}`, `/nostage/@connections/${enc}`, `/%40connections/${enc}`]) {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const body = method === 'POST' ? 'x' : undefined;
      const r = await rawRequest(gw.httpBase, p, { method, body, headers: body ? { 'Content-Length': 1 } : {} });
      assert.deepEqual(assertAwsError(r, 403, 'ForbiddenException', `${method} ${p}`), { message: 'Forbidden' });
    }
  }
  assert.equal(c.closeInfo, null);
  await c.close();
});

test('signed requests to a stage-less or unknown-stage endpoint -> ForbiddenException (JS SDK err.name, boto3 class)', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  for (const endpoint of [gw.httpBase, `${gw.httpBase}/nostage`]) {
    const sdk = sdkClient(gw, { endpoint, maxAttempts: 1 });
    for (const [what, cmd] of [['post', new PostToConnectionCommand({ ConnectionId: c.id, Data: 'x' })],
      ['get', new GetConnectionCommand({ ConnectionId: c.id })], ['delete', new DeleteConnectionCommand({ ConnectionId: c.id })]]) {
      const err = await sdkError(sdk.send(cmd));
      assert.equal(err.name, 'ForbiddenException', `${what} via ${endpoint}: ${err.name} ${err.message}`);
      assert.equal(err.$metadata.httpStatusCode, 403);
    }
  }
  const [a, b] = await Promise.all([
    runBoto3(gw, [{ op: 'post', id: c.id, text: 'x' }], { endpoint: gw.httpBase }),
    runBoto3(gw, [{ op: 'get', id: c.id }], { endpoint: `${gw.httpBase}/nostage` }),
  ]);
  for (const r of [a[0], b[0]]) {
    assert.equal(r.caughtAs, 'ForbiddenException', JSON.stringify(r));
    assert.equal(r.status, 403);
  }
  const ok = sdkClient(gw, { maxAttempts: 1 });
  assert.deepEqual(await receivedBeforeMarker(c, (mk) => ok.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: mk }))), []);
  assert.equal(c.closeInfo, null);
  await c.close();
});

test('every answer (200, 204, 410, 413) carries x-amzn-RequestId (unique) and an accurate Date; errors are JSON with x-amzn-ErrorType', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'headers/1' });
  const seen = [];
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  // Record the raw HTTP response of every call (deserialize step, before parsing).
  sdk.middlewareStack.add((next) => async (args) => {
    try {
      const out = await next(args);
      seen.push({ status: out.response.statusCode, headers: out.response.headers });
      return out;
    } catch (err) {
      if (err.$response) seen.push({ status: err.$response.statusCode, headers: err.$response.headers });
      throw err;
    }
  }, { step: 'deserialize', name: 'recordResponses', priority: 'high' });
  await sdk.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: 'x' }));
  await sdk.send(new GetConnectionCommand({ ConnectionId: c.id }));
  const tooBig = await sdkError(sdk.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: Buffer.alloc(131073, 0x61) })));
  const gone = await sdkError(sdk.send(new GetConnectionCommand({ ConnectionId: NEVER_EXISTED })));
  // The texts (AWS's own are undocumented; these are its model's, docs/compatibility.md).
  assert.equal(tooBig.name, 'PayloadTooLargeException');
  assert.equal(tooBig.message, 'The data has exceeded the maximum size allowed (131072 bytes); the request carried 131073 bytes.');
  assert.equal(gone.name, 'GoneException');
  assert.equal(gone.message, 'The connection with the provided id no longer exists.');
  await sdk.send(new DeleteConnectionCommand({ ConnectionId: c.id }));
  assert.deepEqual(seen.map((s) => s.status), [200, 200, 413, 410, 204]);
  for (const s of seen) assertCommonHeaders({ headers: s.headers }, `status ${s.status}`);
  for (const s of seen.filter((x) => x.status >= 400)) {
    assert.match(s.headers['content-type'] ?? '', /^application\/json/, `status ${s.status}: Content-Type`);
    assert.ok(s.headers['x-amzn-errortype'], `status ${s.status}: x-amzn-ErrorType`);
  }
  assert.match(seen[1].headers['content-type'] ?? '', /^application\/json/, 'GetConnection answers JSON');
  const ids = seen.map((s) => s.headers['x-amzn-requestid']);
  assert.equal(new Set(ids).size, ids.length, `request ids are unique: ${ids}`);

  // The raw 403s carry them as well (checked in the tests above).
});

test('raw HTTP GetConnection body: exactly connectedAt / identity{sourceIp,userAgent} / lastActiveAt, RFC 3339 with milliseconds and Z', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'body-shape/1' });
  let body;
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  sdk.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    const chunks = [];
    for await (const chunk of out.response.body) chunks.push(Buffer.from(chunk));
    body = Buffer.concat(chunks).toString('utf8');
    const { Readable } = await import('node:stream');
    out.response.body = Readable.from([Buffer.from(body)]);
    return out;
  }, { step: 'deserialize', name: 'captureBody', priority: 'low' });  // inside the deserializer: sees the raw body
  const r = await sdk.send(new GetConnectionCommand({ ConnectionId: c.id }));
  const j = JSON.parse(body);
  assert.deepEqual(Object.keys(j).sort(), ['connectedAt', 'identity', 'lastActiveAt']);
  assert.deepEqual(j.identity, { sourceIp: '127.0.0.1', userAgent: 'body-shape/1' });
  for (const k of ['connectedAt', 'lastActiveAt']) {
    assert.match(j[k], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, `${k}: ${j[k]}`);
  }
  assert.equal(r.ConnectedAt.toISOString(), j.connectedAt);
  await c.close();
});
