// @connections management API driven by real boto3 (Debian's python3-boto3 1.26 through
// tests/e2e/clients/boto3_call.py). Modeled exceptions are caught by class in the driver
// (client.exceptions.GoneException, ...), so "caughtAs" proves boto3 mapped the response.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sleep } from './lib/backend.js';
import {
  NEVER_EXISTED, UNKNOWN_KEY, WRONG_SECRET, asciiPayload, nextRaw, openClient, receivedBeforeMarker, runBoto3,
  startMgmt,
} from './lib/mgmt.js';

function assertModeled(r, name, status, what = name) {
  assert.equal(r.ok, false, `${what}: expected ${name}, got ${JSON.stringify(r)}`);
  assert.equal(r.error, name, `${what}: ${JSON.stringify(r)}`);
  assert.equal(r.caughtAs, name, `${what}: must be raised as client.exceptions.${name}`);
  assert.equal(r.isModeled, true);
  assert.equal(r.status, status, what);
  assert.ok(r.message, `${what}: a message`);
}

function assertClientError(r, code, status, what = code) {
  assert.equal(r.ok, false, `${what}: expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.error, code, what);
  assert.equal(r.caughtAs, 'ClientError', what);
  assert.equal(r.status, status, what);
}

const boto3Marker = (gw, id) => async (mk) => {
  const [r] = await runBoto3(gw, [{ op: 'post', id, text: mk }]);
  assert.equal(r.ok, true, JSON.stringify(r));
};

test('boto3 post_to_connection: text, 64 KiB and exactly 131072 bytes delivered intact; 131073 -> PayloadTooLargeException, nothing delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const big = asciiPayload(65536, 21);
  const max = asciiPayload(131072, 22);
  const results = await runBoto3(gw, [
    { op: 'post', id: c.id, text: 'hello from boto3 \u00e9' },
    { op: 'post', id: c.id, b64: big.toString('base64') },
    { op: 'post', id: c.id, b64: max.toString('base64') },
    { op: 'post', id: c.id, size: 131073, fill: 'z' },
    { op: 'post', id: c.id, text: 'after the refused one' },
  ]);
  assert.deepEqual(results.slice(0, 3).map((r) => [r.ok, r.status]), [[true, 200], [true, 200], [true, 200]], JSON.stringify(results.slice(0, 3)));
  assertModeled(results[3], 'PayloadTooLargeException', 413);
  assert.equal(results[4].ok, true);

  let m = await nextRaw(c);
  assert.equal(m.isBinary, false);
  assert.equal(m.data, 'hello from boto3 \u00e9');
  m = await nextRaw(c);
  assert.equal(m.isBinary, false);
  assert.equal(m.data.length, 65536);
  assert.ok(m.data === big.toString('latin1'), '64 KiB content differs');
  m = await nextRaw(c);
  assert.equal(m.data.length, 131072);
  assert.ok(m.data === max.toString('latin1'), '128 KiB content differs');
  m = await nextRaw(c);
  assert.equal(m.data, 'after the refused one', 'the 131073-byte POST must not be delivered');
  await c.close();
});

test('boto3 get_connection: dates parse, lastActiveAt >= connectedAt, identity = 127.0.0.1 + the client User-Agent', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'mgmt-boto3-e2e/3.0 (get)' });
  const [r] = await runBoto3(gw, [{ op: 'get', id: c.id }]);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.status, 200);
  const connectedAt = Date.parse(r.response.ConnectedAt);
  const lastActiveAt = Date.parse(r.response.LastActiveAt);
  assert.ok(Number.isFinite(connectedAt), `ConnectedAt ${r.response.ConnectedAt}`);
  assert.ok(Number.isFinite(lastActiveAt), `LastActiveAt ${r.response.LastActiveAt}`);
  assert.match(r.response.ConnectedAt, /\+00:00$/, 'boto3 parsed a UTC timestamp');
  assert.ok(lastActiveAt >= connectedAt);
  assert.equal(connectedAt, c.connectEvent.requestContext.connectedAt);
  assert.deepEqual(r.response.Identity, { SourceIp: '127.0.0.1', UserAgent: 'mgmt-boto3-e2e/3.0 (get)' });
  await c.close();
});

test('boto3 delete_connection: 204, close 1000, one $disconnect 1000 "Connection Closed Normally"; then post/get/delete -> GoneException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const [r] = await runBoto3(gw, [{ op: 'delete', id: c.id }]);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.status, 204);
  assert.equal((await c.closed).code, 1000);
  const disc = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === c.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  assert.equal(disc.requestContext.disconnectReason, 'Connection Closed Normally');

  const after = await runBoto3(gw, [
    { op: 'post', id: c.id, text: 'late' }, { op: 'get', id: c.id }, { op: 'delete', id: c.id },
  ]);
  assertModeled(after[0], 'GoneException', 410, 'post after delete');
  assertModeled(after[1], 'GoneException', 410, 'get after delete');
  assertModeled(after[2], 'GoneException', 410, 'delete after delete');
  await sleep(200);
  assert.equal(be.eventsFor(c.id, 'DISCONNECT').length, 1);
});

test('boto3: never-existing id -> GoneException; wrong secret -> InvalidSignatureException, nothing delivered; unknown key -> UnrecognizedClientException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const [[gone, goneGet], [badSig, badSigGet], [unknown]] = await Promise.all([
    runBoto3(gw, [{ op: 'post', id: NEVER_EXISTED, text: 'x' }, { op: 'get', id: NEVER_EXISTED }]),
    runBoto3(gw, [{ op: 'post', id: c.id, text: 'must not arrive' }, { op: 'get', id: c.id }], { creds: WRONG_SECRET }),
    runBoto3(gw, [{ op: 'post', id: c.id, text: 'must not arrive either' }], { creds: UNKNOWN_KEY }),
  ]);
  assertModeled(gone, 'GoneException', 410, 'post to a never-existing id');
  assertModeled(goneGet, 'GoneException', 410, 'get of a never-existing id');
  assertClientError(badSig, 'InvalidSignatureException', 403, 'wrong secret');
  assert.match(badSig.message, /The Canonical String for this request should have been/);
  assertClientError(badSigGet, 'InvalidSignatureException', 403, 'wrong secret (get)');
  assertClientError(unknown, 'UnrecognizedClientException', 403, 'unknown key');
  assert.deepEqual(await receivedBeforeMarker(c, boto3Marker(gw, c.id)), []);
  await c.close();
});
