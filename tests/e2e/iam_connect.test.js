// AWS_IAM on $connect: the upgrade request is SigV4-signed for execute-api, with headers or as a
// presigned URL (what browsers use), verified with the management API's verifier.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { SignatureV4 } from '@smithy/signature-v4';

import { startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { CREDS, WRONG_SECRET } from './lib/mgmt.js';
import { connect, connectRejected } from './lib/ws.js';

// The signer's hash: node's crypto (HMAC when given a key).
class Sha256 {
  constructor(secret) { this.h = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256'); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

function signer(creds) {
  return new SignatureV4({ credentials: creds, region: 'us-east-1', service: 'execute-api', sha256: Sha256 });
}

function upgradeRequest(port, query = {}) {
  return { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port, path: '/dev', query, headers: { host: `127.0.0.1:${port}` } };
}

async function stack(t) {
  const be = await startBackend(t);
  const gw = await startGateway(t, {
    config: {
      threads: 2,
      integrations: { backend: { type: 'http', url: be.url } },
      routes: {
        $connect: { integration: 'backend', authorization_type: 'AWS_IAM' },
        $default: { integration: 'echo', route_response: true },
      },
      management: { region: 'us-east-1', credentials: [{ access_key_id: CREDS.accessKeyId, secret_access_key: CREDS.secretAccessKey }] },
    },
  });
  return { be, gw };
}

test('AWS_IAM: an unsigned upgrade is refused with 403 and $connect does not run', async (t) => {
  const { be, gw } = await stack(t);
  const r = await connectRejected(gw.url);
  assert.equal(r.status, 403);
  assert.match(r.body, /Missing Authentication Token/);
  assert.equal(be.events.length, 0);
});

test('AWS_IAM: a header-signed upgrade connects; identity.accessKey is set; a wrong secret gets 403', async (t) => {
  const { be, gw } = await stack(t);
  const signed = await signer(CREDS).sign(upgradeRequest(gw.port));
  const headers = { ...signed.headers };
  delete headers.host;  // ws sends the same Host itself
  const c = await connect(gw.url, { headers });
  await c.send('iam');
  assert.equal(await c.nextMessage(), 'iam');
  assert.equal(be.eventsOfType('CONNECT')[0].requestContext.identity.accessKey, CREDS.accessKeyId);

  const bad = await signer(WRONG_SECRET).sign(upgradeRequest(gw.port));
  const badHeaders = { ...bad.headers };
  delete badHeaders.host;
  const r = await connectRejected(gw.url, { headers: badHeaders });
  assert.equal(r.status, 403);
  assert.match(r.body, /signature we calculated does not match/);
});

test('AWS_IAM: a presigned URL (X-Amz-* query) connects; an expired one gets 403', async (t) => {
  const { gw } = await stack(t);
  const presigned = await signer(CREDS).presign(upgradeRequest(gw.port), { expiresIn: 60 });
  const url = `${gw.url}?${new URLSearchParams(presigned.query).toString()}`;
  const c = await connect(url);
  await c.send('presigned');
  assert.equal(await c.nextMessage(), 'presigned');

  const old = await signer(CREDS).presign(upgradeRequest(gw.port), { expiresIn: 1, signingDate: new Date(Date.now() - 120_000) });
  const r = await connectRejected(`${gw.url}?${new URLSearchParams(old.query).toString()}`);
  assert.equal(r.status, 403);
  assert.match(r.body, /expired/i);
});
