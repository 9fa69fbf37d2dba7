// @connections management API driven by the real AWS CLI v2 (Debian's /usr/bin/aws 2.9.19).
// The CLI starts slowly (~1 s per call), so the calls are few (12) and independent ones run in
// parallel. Ids may start with '-' (base64url), so they go as --connection-id=ID: argparse would
// take "--connection-id -abc=" for an option.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sleep } from './lib/backend.js';
import {
  NEVER_EXISTED, UNKNOWN_KEY, WRONG_SECRET, asciiPayload, cliErrorCode, fileb, nextRaw, openClient,
  receivedBeforeMarker, runAws, sdkClient, startMgmt, PostToConnectionCommand,
} from './lib/mgmt.js';

function assertCliOk(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstderr: ${r.stderr}`);
}

function assertCliError(r, code, operation, what = code) {
  assert.notEqual(r.code, 0, `${what}: the CLI must fail (stdout: ${r.stdout})`);
  const e = cliErrorCode(r);
  assert.ok(e, `${what}: no "An error occurred (...)" line in stderr: ${r.stderr}`);
  assert.equal(e.code, code, `${what}: ${r.stderr}`);
  assert.equal(e.operation, operation, what);
}

// A marker via the JS SDK (no extra CLI start) proves nothing else was delivered before it.
const sdkMarker = (gw, id) => async (mk) => {
  await sdkClient(gw, { maxAttempts: 1 }).send(new PostToConnectionCommand({ ConnectionId: id, Data: mk }));
};

test('aws apigatewaymanagementapi post-to-connection: text, 64 KiB, 131072 bytes delivered; 131073 -> PayloadTooLargeException, nothing delivered', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const big = asciiPayload(65536, 31);
  const max = asciiPayload(131072, 32);

  assertCliOk(await runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, '--cli-binary-format', 'raw-in-base64-out', '--data', 'hello from the CLI']), 'post text');
  let m = await nextRaw(c);
  assert.equal(m.isBinary, false);
  assert.equal(m.data, 'hello from the CLI');

  assertCliOk(await runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, '--data', fileb(big)]), 'post 64 KiB');
  m = await nextRaw(c);
  assert.equal(m.data.length, 65536);
  assert.ok(m.data === big.toString('latin1'), '64 KiB content differs');

  assertCliOk(await runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, '--data', fileb(max)]), 'post 131072');
  m = await nextRaw(c);
  assert.equal(m.data.length, 131072);
  assert.ok(m.data === max.toString('latin1'), '128 KiB content differs');

  const tooBig = await runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, '--data', fileb(asciiPayload(131073, 33))]);
  assertCliError(tooBig, 'PayloadTooLargeException', 'PostToConnection', 'post 131073');
  assert.deepEqual(await receivedBeforeMarker(c, sdkMarker(gw, c.id)), [], 'the 131073-byte POST must not be delivered');
  await c.close();
});

test('aws get-connection / delete-connection; afterwards post/get/delete -> GoneException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be, { userAgent: 'mgmt-awscli-e2e/1.0 (get)' });

  const g = await runAws(gw, ['get-connection', `--connection-id=${c.id}`]);
  assertCliOk(g, 'get-connection');
  const out = JSON.parse(g.stdout);
  const connectedAt = Date.parse(out.ConnectedAt);
  const lastActiveAt = Date.parse(out.LastActiveAt);
  assert.ok(Number.isFinite(connectedAt), `ConnectedAt ${out.ConnectedAt}`);
  assert.ok(Number.isFinite(lastActiveAt), `LastActiveAt ${out.LastActiveAt}`);
  assert.ok(lastActiveAt >= connectedAt);
  assert.equal(connectedAt, c.connectEvent.requestContext.connectedAt);
  assert.deepEqual(out.Identity, { SourceIp: '127.0.0.1', UserAgent: 'mgmt-awscli-e2e/1.0 (get)' });

  const d = await runAws(gw, ['delete-connection', `--connection-id=${c.id}`]);
  assertCliOk(d, 'delete-connection');
  assert.equal((await c.closed).code, 1000);
  const disc = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === c.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  assert.equal(disc.requestContext.disconnectReason, 'Connection Closed Normally');

  const [p2, g2, d2] = await Promise.all([
    runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, '--cli-binary-format', 'raw-in-base64-out', '--data', 'late']),
    runAws(gw, ['get-connection', `--connection-id=${c.id}`]),
    runAws(gw, ['delete-connection', `--connection-id=${c.id}`]),
  ]);
  assertCliError(p2, 'GoneException', 'PostToConnection', 'post after delete');
  assertCliError(g2, 'GoneException', 'GetConnection', 'get after delete');
  assertCliError(d2, 'GoneException', 'DeleteConnection', 'delete after delete');
  await sleep(200);
  assert.equal(be.eventsFor(c.id, 'DISCONNECT').length, 1);
});

test('aws CLI: never-existing id -> GoneException; wrong secret -> InvalidSignatureException, nothing delivered; unknown key -> UnrecognizedClientException', async (t) => {
  const { gw, be } = await startMgmt(t);
  const c = await openClient(gw, be);
  const text = ['--cli-binary-format', 'raw-in-base64-out', '--data'];
  const [gone, badSig, unknown] = await Promise.all([
    runAws(gw, ['post-to-connection', `--connection-id=${NEVER_EXISTED}`, ...text, 'x']),
    runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, ...text, 'must not arrive'], { creds: WRONG_SECRET }),
    runAws(gw, ['post-to-connection', `--connection-id=${c.id}`, ...text, 'must not arrive either'], { creds: UNKNOWN_KEY }),
  ]);
  assertCliError(gone, 'GoneException', 'PostToConnection', 'never-existing id');
  assertCliError(badSig, 'InvalidSignatureException', 'PostToConnection', 'wrong secret');
  assert.match(badSig.stderr, /The Canonical String for this request should have been/);
  assertCliError(unknown, 'UnrecognizedClientException', 'PostToConnection', 'unknown key');
  assert.deepEqual(await receivedBeforeMarker(c, sdkMarker(gw, c.id)), []);
  await c.close();
});
