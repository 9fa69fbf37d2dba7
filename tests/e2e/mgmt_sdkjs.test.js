// @connections management API driven by the real AWS SDK for JavaScript v3
// (@aws-sdk/client-apigatewaymanagementapi): Post/Get/Delete, the modeled errors, SigV4 failures,
// session tokens, trailing-slash endpoints, %40connections, clock skew, binary data, lastActiveAt.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { deferred, sleep } from './lib/backend.js';
import {
  CREDS, DeleteConnectionCommand, GetConnectionCommand, NEVER_EXISTED, PostToConnectionCommand, RawWsClient,
  TEMP_CREDS, UNKNOWN_KEY, WRONG_SECRET, asciiPayload, nextRaw, openClient, receivedBeforeMarker, sdkClient,
  sdkError, startMgmt, waitPostable,
} from './lib/mgmt.js';
import { startConnect } from './lib/ws.js';

const post = (sdk, id, data) => sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
const get = (sdk, id) => sdk.send(new GetConnectionCommand({ ConnectionId: id }));
const del = (sdk, id) => sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));

function assertSdkError(err, name, status, what = name) {
  assert.equal(err.name, name, `${what}: err.name (message: ${err.message})`);
  assert.equal(err.$metadata?.httpStatusCode, status, `${what}: status`);
  assert.ok(err.message && err.message !== 'UnknownError', `${what}: a non-empty message, got ${JSON.stringify(err.message)}`);
  assert.match(err.$metadata?.requestId ?? '', /\S/, `${what}: x-amzn-RequestId`);
}

test('JS SDK PostToConnection: text, 64 KiB and exactly 131072 bytes arrive intact as text; 131073 -> PayloadTooLargeException, nothing delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const sdk = sdkClient(gw, { maxAttempts: 1 });

  const r = await post(sdk, c.id, 'hello from the JS SDK \u2713');
  assert.equal(r.$metadata.httpStatusCode, 200);
  let m = await nextRaw(c);
  assert.equal(m.isBinary, false, 'a UTF-8 POST body arrives as a text message');
  assert.equal(m.data, 'hello from the JS SDK \u2713');

  const big = asciiPayload(65536, 7);
  assert.equal((await post(sdk, c.id, big)).$metadata.httpStatusCode, 200);
  m = await nextRaw(c);
  assert.equal(m.isBinary, false);
  assert.equal(m.data.length, 65536);
  assert.ok(m.data === big.toString('latin1'), '64 KiB content differs');

  const max = asciiPayload(131072, 11);
  assert.equal((await post(sdk, c.id, max)).$metadata.httpStatusCode, 200, '131072 bytes is the model maximum and must be accepted');
  m = await nextRaw(c);
  assert.equal(m.data.length, 131072);
  assert.ok(m.data === max.toString('latin1'), '128 KiB content differs');

  const err = await sdkError(post(sdk, c.id, asciiPayload(131073, 13)));
  assertSdkError(err, 'PayloadTooLargeException', 413);
  assert.equal(err.constructor.name, 'PayloadTooLargeException');

  // Nothing from the refused POST reached the client: the next message is the marker.
  const before = await receivedBeforeMarker(c, (mk) => post(sdk, c.id, mk));
  assert.deepEqual(before, []);
  await c.close();
});

test('JS SDK GetConnection: RFC 3339 timestamps, lastActiveAt >= connectedAt, identity = source IP + the client User-Agent', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'mgmt-sdkjs-e2e/2.5 (get-connection test)' });
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const r = await get(sdk, c.id);
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.ok(r.ConnectedAt instanceof Date && !Number.isNaN(r.ConnectedAt.getTime()), `ConnectedAt: ${r.ConnectedAt}`);
  assert.ok(r.LastActiveAt instanceof Date && !Number.isNaN(r.LastActiveAt.getTime()), `LastActiveAt: ${r.LastActiveAt}`);
  assert.ok(r.LastActiveAt.getTime() >= r.ConnectedAt.getTime(), 'lastActiveAt >= connectedAt');
  // Same connection, same instant as the $connect event's requestContext.connectedAt (epoch ms).
  assert.equal(r.ConnectedAt.getTime(), c.connectEvent.requestContext.connectedAt);
  assert.ok(Math.abs(Date.now() - r.ConnectedAt.getTime()) < 60_000, 'connectedAt is about now');
  assert.deepEqual(r.Identity, { SourceIp: '127.0.0.1', UserAgent: 'mgmt-sdkjs-e2e/2.5 (get-connection test)' });
  await c.close();
});

test('JS SDK DeleteConnection: 204, client closed with 1000, one $disconnect 1000 "Connection Closed Normally"; then Post/Get/Delete -> GoneException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const other = await openClient(gw, be);
  const sdk = sdkClient(gw, { maxAttempts: 1 });

  const r = await del(sdk, c.id);
  assert.equal(r.$metadata.httpStatusCode, 204);
  const closed = await c.closed;
  assert.equal(closed.code, 1000);
  const disc = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === c.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  assert.equal(disc.requestContext.disconnectReason, 'Connection Closed Normally');

  for (const [what, call] of [['post', () => post(sdk, c.id, 'late')], ['get', () => get(sdk, c.id)], ['delete', () => del(sdk, c.id)]]) {
    const err = await sdkError(call());
    assertSdkError(err, 'GoneException', 410, `${what} after delete`);
    assert.equal(err.constructor.name, 'GoneException');
  }
  await sleep(200);
  assert.equal(be.eventsFor(c.id, 'DISCONNECT').length, 1, 'exactly one $disconnect');
  // The other connection is untouched.
  await post(sdk, other.id, 'still here');
  assert.equal(await other.nextMessage(), 'still here');
  await other.close();
});

test('JS SDK: a never-existing id -> GoneException for Post, Get and Delete', async (t) => {
  const { gw } = await startMgmt(t);
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  for (const [what, call] of [['post', () => post(sdk, NEVER_EXISTED, 'x')], ['get', () => get(sdk, NEVER_EXISTED)], ['delete', () => del(sdk, NEVER_EXISTED)]]) {
    assertSdkError(await sdkError(call()), 'GoneException', 410, what);
  }
});

test('JS SDK: wrong secret -> 403 InvalidSignatureException (canonical string in the message), nothing delivered; unknown key -> UnrecognizedClientException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const bad = sdkClient(gw, { creds: WRONG_SECRET, maxAttempts: 1 });
  let err = await sdkError(post(bad, c.id, 'must not arrive'));
  assertSdkError(err, 'InvalidSignatureException', 403, 'wrong secret');
  assert.match(err.message, /The Canonical String for this request should have been/);
  assert.match(err.message, /%40connections/, 'the canonical string shows the double-encoded path');
  err = await sdkError(get(bad, c.id));
  assertSdkError(err, 'InvalidSignatureException', 403, 'wrong secret (get)');
  err = await sdkError(del(bad, c.id));
  assertSdkError(err, 'InvalidSignatureException', 403, 'wrong secret (delete)');

  const unknown = sdkClient(gw, { creds: UNKNOWN_KEY, maxAttempts: 1 });
  err = await sdkError(post(unknown, c.id, 'must not arrive either'));
  assertSdkError(err, 'UnrecognizedClientException', 403, 'unknown key');
  assert.match(err.message, /security token included in the request is invalid/);

  const good = sdkClient(gw, { maxAttempts: 1 });
  assert.deepEqual(await receivedBeforeMarker(c, (mk) => post(good, c.id, mk)), [], 'refused posts delivered nothing');
  assert.equal(c.closeInfo, null, 'the failed delete did not close the connection');
  await c.close();
});

test('JS SDK with session-token credentials: works; a wrong or missing token -> 403', async (t) => {
  const { gw, be } = await startMgmt(t, { credentials: [CREDS, TEMP_CREDS] });
  const c = await openClient(gw, be, { userAgent: 'temp-creds/1' });
  const sdk = sdkClient(gw, { creds: TEMP_CREDS, maxAttempts: 1 });
  assert.equal((await post(sdk, c.id, 'with a token')).$metadata.httpStatusCode, 200);
  assert.equal(await c.nextMessage(), 'with a token');
  assert.equal((await get(sdk, c.id)).Identity.UserAgent, 'temp-creds/1');

  const wrongToken = sdkClient(gw, { creds: { ...TEMP_CREDS, sessionToken: `${TEMP_CREDS.sessionToken}x` }, maxAttempts: 1 });
  let err = await sdkError(post(wrongToken, c.id, 'wrong token'));
  assertSdkError(err, 'UnrecognizedClientException', 403, 'wrong session token');
  const noToken = sdkClient(gw, { creds: { accessKeyId: TEMP_CREDS.accessKeyId, secretAccessKey: TEMP_CREDS.secretAccessKey }, maxAttempts: 1 });
  err = await sdkError(post(noToken, c.id, 'no token'));
  assert.equal(err.$metadata?.httpStatusCode, 403, `missing token: ${err.name} ${err.message}`);

  assert.deepEqual(await receivedBeforeMarker(c, (mk) => post(sdk, c.id, mk)), []);
  await c.close();
});

test('JS SDK GetConnection: lastActiveAt moves forward when the client sends a message and when a POST is delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const first = await get(sdk, c.id);

  await sleep(30);
  await c.send('activity');
  await be.waitForEvent((e) => e.requestContext.eventType === 'MESSAGE' && e.requestContext.connectionId === c.id);
  assert.equal(await c.nextMessage(), 'activity');  // the $default echo
  const second = await get(sdk, c.id);
  assert.equal(second.ConnectedAt.getTime(), first.ConnectedAt.getTime(), 'connectedAt never changes');
  assert.ok(second.LastActiveAt.getTime() > first.LastActiveAt.getTime(),
    `an inbound message moves lastActiveAt: ${first.LastActiveAt.toISOString()} -> ${second.LastActiveAt.toISOString()}`);

  await sleep(30);
  await post(sdk, c.id, 'outbound');
  assert.equal(await c.nextMessage(), 'outbound');
  const third = await get(sdk, c.id);
  assert.ok(third.LastActiveAt.getTime() > second.LastActiveAt.getTime(),
    `a delivered POST moves lastActiveAt: ${second.LastActiveAt.toISOString()} -> ${third.LastActiveAt.toISOString()}`);
  await c.close();
});

test('JS SDK: non-UTF-8 Data arrives as one binary message with the exact bytes', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  await post(sdk, c.id, Buffer.from([0xff, 0xfe, 0x00]));
  let m = await nextRaw(c);
  assert.equal(m.isBinary, true, 'invalid UTF-8 must be sent as a binary frame');
  assert.deepEqual([...m.data], [0xff, 0xfe, 0x00]);
  // Invalid UTF-8 further in (a truncated 3-byte sequence at the end) is binary as well.
  const tail = Buffer.concat([Buffer.from('abc'), Buffer.from([0xe2, 0x82])]);
  await post(sdk, c.id, tail);
  m = await nextRaw(c);
  assert.equal(m.isBinary, true);
  assert.deepEqual(m.data, tail);
  // Valid multi-byte UTF-8 stays text.
  await post(sdk, c.id, Buffer.from('\u20ac\u{1F600}', 'utf8'));
  m = await nextRaw(c);
  assert.equal(m.isBinary, false);
  assert.equal(m.data, '\u20ac\u{1F600}');
  await c.close();
});

test('JS SDK with a trailing-slash endpoint ("/dev/" -> /dev//@connections/...): Post, Get and Delete work', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'slash/1' });
  const paths = [];
  const sdk = sdkClient(gw, { endpoint: `${gw.httpBase}/dev/`, maxAttempts: 1 });
  sdk.middlewareStack.add((next) => async (args) => { paths.push(args.request.path); return next(args); },
    { step: 'finalizeRequest', priority: 'low', name: 'recordPath' });
  assert.equal((await post(sdk, c.id, 'via //')).$metadata.httpStatusCode, 200);
  assert.equal(await c.nextMessage(), 'via //');
  assert.equal((await get(sdk, c.id)).Identity.UserAgent, 'slash/1');
  assert.equal((await del(sdk, c.id)).$metadata.httpStatusCode, 204);
  assert.equal((await c.closed).code, 1000);
  assert.ok(paths.every((p) => p.startsWith('/dev//@connections/')), `the SDK sent ${JSON.stringify(paths)}`);
});

test('JS SDK with the path rewritten to %40connections before signing: 200 and delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'pct40/1' });
  const paths = [];
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  sdk.middlewareStack.add((next) => async (args) => {
    args.request.path = args.request.path.replace('/@connections/', '/%40connections/');
    return next(args);
  }, { step: 'build', name: 'percent40' });
  sdk.middlewareStack.add((next) => async (args) => { paths.push(args.request.path); return next(args); },
    { step: 'finalizeRequest', priority: 'low', name: 'recordPath' });
  assert.equal((await post(sdk, c.id, 'via %40')).$metadata.httpStatusCode, 200);
  assert.equal(await c.nextMessage(), 'via %40');
  assert.equal((await get(sdk, c.id)).Identity.UserAgent, 'pct40/1');
  assert.ok(paths.length === 2 && paths.every((p) => p.startsWith('/dev/%40connections/')), `sent ${JSON.stringify(paths)}`);
  await c.close();
});

test('JS SDK: the connection id is percent-decoded exactly once ("X%3D" as an id is not "X=")', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  // The SDK encodes the label: "...%3D" goes on the wire as "...%253D"; decoded once it is
  // "...%3D", which is not the id "...=" (a second decode would wrongly find the connection).
  const encodedTwice = `${c.id.slice(0, -1)}%3D`;
  assertSdkError(await sdkError(post(sdk, encodedTwice, 'double-decoded')), 'GoneException', 410, 'post to "X%3D"');
  assertSdkError(await sdkError(get(sdk, encodedTwice)), 'GoneException', 410, 'get of "X%3D"');
  assert.deepEqual(await receivedBeforeMarker(c, (mk) => post(sdk, c.id, mk)), []);
  await c.close();
});

test('JS SDK clock 10 min behind: maxAttempts 1 -> InvalidSignatureException "Signature expired"; default retries correct the clock from Date and deliver once', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const skewed = sdkClient(gw, { maxAttempts: 1, systemClockOffset: -10 * 60_000 });
  const err = await sdkError(post(skewed, c.id, 'stale'));
  assertSdkError(err, 'InvalidSignatureException', 403, 'expired signature');
  assert.match(err.message, /Signature expired/);

  // The SDK treats InvalidSignatureException as clock skew, reads the server's Date and retries.
  const retrying = sdkClient(gw, { systemClockOffset: -10 * 60_000 });
  const r = await post(retrying, c.id, 'after clock correction');
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.ok(r.$metadata.attempts >= 2, `attempts: ${r.$metadata.attempts}`);
  assert.ok(Math.abs(retrying.config.systemClockOffset) < 60_000, `corrected offset: ${retrying.config.systemClockOffset}`);
  const good = sdkClient(gw, { maxAttempts: 1 });
  const before = await receivedBeforeMarker(c, (mk) => post(good, c.id, mk));
  assert.deepEqual(before.map((m) => m.data), ['after clock correction'], 'the stale POST was not delivered, the corrected one exactly once');
  await c.close();
});

test('JS SDK while $connect is still running: Post/Get/Delete -> GoneException; after $connect succeeds the same id works', async (t) => {
  const { gw, be } = await startMgmt(t);
  const gate = deferred();
  be.handler = (event) => (event.requestContext.eventType === 'CONNECT' ? gate.promise : { status: 200, body: { statusCode: 200 } });
  const raw = RawWsClient.connect(gw, { userAgent: 'slow-connect/1' });
  raw.catch(() => {});
  const ev = await be.waitForEvent((e) => e.requestContext.eventType === 'CONNECT');
  const id = ev.requestContext.connectionId;
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  assertSdkError(await sdkError(post(sdk, id, 'too early')), 'GoneException', 410, 'post during $connect');
  assertSdkError(await sdkError(get(sdk, id)), 'GoneException', 410, 'get during $connect');
  assertSdkError(await sdkError(del(sdk, id)), 'GoneException', 410, 'delete during $connect');
  gate.resolve({ status: 200, body: { statusCode: 200 } });
  const client = await raw;
  await waitPostable(gw, id);  // see the dedicated race test below
  assert.equal((await post(sdk, id, 'now')).$metadata.httpStatusCode, 200);
  await client.waitMessages(1);
  assert.deepEqual(client.messages.map((m) => m.data.toString()), ['now'], 'only the POST made after $connect arrives');
  assert.equal((await get(sdk, id)).Identity.UserAgent, 'slow-connect/1');
  client.close();
});

test('JS SDK: a 64 KiB POST is sent as a fragmented text message of <= 32 KiB frames; small POSTs are one frame', async (t) => {
  const { gw, be } = await startMgmt(t);
  const raw = await RawWsClient.connect(gw);
  const ev = await be.waitForEvent((e) => e.requestContext.eventType === 'CONNECT');
  await waitPostable(gw, ev.requestContext.connectionId);
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const payload = asciiPayload(65536, 3);
  await post(sdk, ev.requestContext.connectionId, 'small');
  await post(sdk, ev.requestContext.connectionId, payload);
  await post(sdk, ev.requestContext.connectionId, Buffer.from([0x80, 0x81]));
  await raw.waitMessages(3);
  const [small, big, bin] = raw.messages;
  assert.equal(small.opcode, 1);
  assert.equal(small.frames, 1);
  assert.equal(small.data.toString(), 'small');
  assert.equal(big.opcode, 1, 'text message');
  assert.ok(big.data.equals(payload), '64 KiB reassembled content differs');
  assert.ok(big.frames >= 2, `64 KiB must be fragmented, got ${big.frames} frame(s)`);
  const dataFrames = raw.frames.filter((f) => f.opcode <= 2);
  assert.ok(dataFrames.every((f) => f.length <= 32 * 1024), `frame sizes: ${dataFrames.map((f) => f.length)}`);
  assert.ok(dataFrames.every((f) => f.rsv === 0 && !f.masked), 'server frames are unmasked and have no RSV bits');
  assert.equal(bin.opcode, 2);
  assert.deepEqual([...bin.data], [0x80, 0x81]);
  raw.close();
});

test('a connection is postable as soon as the client has the 101: POST sent on the upgrade event never gets GoneException (200 tries)', async (t) => {
  // The race this guards: the gateway writes the 101, then registers the connection; a POST in
  // between is answered 410 although the client is connected. Each try is a fresh connection.
  const { gw, be } = await startMgmt(t, { threads: 4 });
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const failures = [];
  for (let i = 0; i < 200; i++) {
    const before = be.eventsOfType('CONNECT').length;
    const c = startConnect(gw.url, { headers: { 'User-Agent': 'race/1' } });
    const result = await new Promise((resolve) => {
      c.ws.once('upgrade', () => {
        // $connect has answered before the 101, so its event is recorded by now.
        const ev = be.eventsOfType('CONNECT')[before];
        const id = ev?.requestContext?.connectionId;
        sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: `try ${i}` }))
          .then(() => resolve({ ok: true }), (err) => resolve({ ok: false, id, err }));
      });
      c.openPromise.catch((err) => resolve({ ok: false, err }));
    });
    if (!result.ok) failures.push(`try ${i} (${result.id}): ${result.err.name} ${result.err.$metadata?.httpStatusCode ?? ''} ${result.err.message}`);
    else assert.equal(await c.nextMessage(), `try ${i}`);
    await c.terminate();
  }
  assert.deepEqual(failures, [], `${failures.length} of 200 POSTs right after the 101 failed`);
});
