// TLS: wss:// and https:// (the management API) on the TLS listener, next to the plain one, with a
// self-signed certificate made here by the openssl CLI. Real clients only: npm `ws` with `ca`, the
// JS SDK v3 trusting the certificate through NODE_EXTRA_CA_CERTS (in a child process: node reads it
// at startup) or an https agent, boto3 with verify=, and raw sockets for what must be refused.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import { DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

import { sleep, startBackend, waitUntil } from './lib/backend.js';
import { runGateway, startGateway } from './lib/gateway.js';
import { CREDS, REGION, mgmtConfig, runBoto3, sdkClient } from './lib/mgmt.js';
import { connect, startConnect } from './lib/ws.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_CHILD = path.resolve(here, 'clients/sdkjs_call.mjs');

// ---------------------------------------------------------------------------------------------
// The certificate: self-signed, for 127.0.0.1 and localhost; also a key that belongs to nothing.

const certDir = mkdtempSync(path.join(tmpdir(), 'wsgate-tls-'));
after(() => rmSync(certDir, { recursive: true, force: true }));
const CERT = path.join(certDir, 'cert.pem');
const KEY = path.join(certDir, 'key.pem');
const OTHER_KEY = path.join(certDir, 'other-key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-keyout', KEY, '-out', CERT, '-days', '2', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', OTHER_KEY],
  { stdio: 'pipe' });
const CERT_PEM = readFileSync(CERT, 'utf8');
const CERT_FINGERPRINT = new crypto.X509Certificate(CERT_PEM).fingerprint256;

function tlsSection(extra = {}) {
  return { listen: '127.0.0.1:0', cert_file: CERT, key_file: KEY, ...extra };
}

const ECHO_ROUTES = { $default: { integration: 'echo', route_response: true } };

/** Starts a gateway with `cfg` (which must have a tls section) and adds gw.tlsPort, gw.wssUrl, gw.httpsBase. */
async function startTls(t, cfg) {
  const gw = await startGateway(t, { config: cfg });
  const m = await waitUntil(() => /wss:\/\/127\.0\.0\.1:(\d+)\/dev\n/.exec(gw.stdout), { what: 'the wss:// line of the banner' });
  gw.tlsPort = Number(m[1]);
  gw.wssUrl = `wss://127.0.0.1:${gw.tlsPort}/dev`;
  gw.httpsBase = `https://127.0.0.1:${gw.tlsPort}`;
  return gw;
}

// ---------------------------------------------------------------------------------------------
// Metrics on the admin port

async function metric(gw, name) {
  const m = gw.stdout.match(/Admin:\s+http:\/\/([\d.]+):(\d+)\/metrics/);
  assert.ok(m, `no admin URL in the banner:\n${gw.stdout}`);
  const text = await (await fetch(`http://${m[1]}:${m[2]}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Raw TLS handshakes and raw bytes

/** One TLS handshake with these tls.connect options: {ok, protocol} or {ok: false, error}. */
function handshake(port, options) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: CERT_PEM, ...options });
    s.setTimeout(10_000, () => s.destroy(new Error('handshake timed out')));
    s.once('secureConnect', () => {
      const protocol = s.getProtocol();
      s.end();
      resolve({ ok: true, protocol });
    });
    s.once('error', (error) => resolve({ ok: false, error }));
  });
}

/** Sends `bytes` on a fresh TCP connection; resolves {received, closedAfterMs} when the server closes it. */
function sendRaw(port, bytes, { timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks = [];
    const s = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`the server kept the connection open for ${timeoutMs} ms`)); }, timeoutMs);
    s.on('connect', () => { if (bytes.length) s.write(bytes); });
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => {});  // a reset is a close too
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closedAfterMs: Date.now() - started });
    });
  });
}

async function echoes(client, text) {
  await client.send(text);
  assert.equal(await client.nextMessage(), text);
}

// ---------------------------------------------------------------------------------------------
// Clients of the management API over https

function runSdkChild(gw, calls, { extraCaCerts } = {}) {
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCaCerts) env.NODE_EXTRA_CA_CERTS = extraCaCerts;
  const request = { endpoint: `${gw.httpsBase}/dev`, region: REGION, accessKeyId: CREDS.accessKeyId, secretAccessKey: CREDS.secretAccessKey, calls };
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SDK_CHILD], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`SDK child exited ${code}\nstdout: ${out}\nstderr: ${err}`));
      try { resolve(JSON.parse(out).results); } catch { reject(new Error(`SDK child printed no JSON: ${out}\nstderr: ${err}`)); }
    });
    proc.stdin.end(JSON.stringify(request));
  });
}

/** Connects over wss:// and resolves the client with c.id, c.connectEvent from the backend. */
async function openTlsClient(gw, be, options = {}) {
  const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
  // The connection is registered before its 101 is written, so it is postable once open.
  const c = await connect(gw.wssUrl, { ca: CERT_PEM, ...options });
  const ev = await be.waitForEvent((e) => e?.requestContext?.eventType === 'CONNECT' && !before.has(e.requestContext.connectionId));
  c.id = ev.requestContext.connectionId;
  c.connectEvent = ev;
  return c;
}

async function openPlainClient(gw, be) {
  const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
  const c = await connect(gw.url);
  const ev = await be.waitForEvent((e) => e?.requestContext?.eventType === 'CONNECT' && !before.has(e.requestContext.connectionId));
  c.id = ev.requestContext.connectionId;
  return c;
}

// ---------------------------------------------------------------------------------------------

test('wss:// and ws:// side by side: echo on both at once, the configured certificate is served, the banner names wss:// and https://', async (t) => {
  const gw = await startTls(t, { tls: tlsSection(), routes: ECHO_ROUTES, connection: { max_frame_bytes: 131072 } });
  assert.ok(gw.stdout.includes(`  WebSocket:      wss://127.0.0.1:${gw.tlsPort}/dev\n`), gw.stdout);
  assert.ok(gw.stdout.includes(`  Management API: https://127.0.0.1:${gw.tlsPort}/dev/@connections/{connectionId}\n`), gw.stdout);
  assert.ok(gw.stdout.includes(`  WebSocket:      ws://127.0.0.1:${gw.port}/dev\n`), gw.stdout);
  assert.match(gw.stdout, new RegExp(`  TLS: +127\\.0\\.0\\.1:${gw.tlsPort}, TLS 1\\.2 and later, certificate ${CERT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  assert.notEqual(gw.tlsPort, gw.port);

  const secure = await connect(gw.wssUrl, { ca: CERT_PEM });
  const plain = await connect(gw.url);
  const sock = secure.ws._socket;
  assert.ok(sock instanceof tls.TLSSocket, 'the wss client runs over TLS');
  assert.equal(sock.getProtocol(), 'TLSv1.3');
  assert.equal(sock.getPeerCertificate().fingerprint256, CERT_FINGERPRINT, 'the gateway serves the configured certificate');
  assert.ok(!(plain.ws._socket instanceof tls.TLSSocket));

  // Interleaved traffic on both listeners.
  for (let i = 0; i < 20; i++) {
    await Promise.all([echoes(secure, `{"n":${i},"over":"wss"}`), echoes(plain, `{"n":${i},"over":"ws"}`)]);
  }
  // Large messages cross many TLS records both ways; the answer is fragmented into 32 KiB frames.
  const big = crypto.randomBytes(60_000).toString('base64');  // 80000 characters
  await echoes(secure, big);
  await echoes(plain, big);

  // Each port speaks only its own protocol.
  await assert.rejects(connect(`ws://127.0.0.1:${gw.tlsPort}/dev`), 'plain ws:// to the TLS port');
  await assert.rejects(connect(`wss://127.0.0.1:${gw.port}/dev`, { ca: CERT_PEM }), 'wss:// to the plain port');
  // A client that does not trust the certificate refuses it (so the check above was real).
  await assert.rejects(connect(gw.wssUrl), (err) => /self[- ]signed/i.test(`${err.code} ${err.message}`));

  await echoes(secure, 'still here');
  await secure.close(1000);
  await plain.close(1000);
});

test('wss:// with a backend: CONNECT says https on the TLS port, requestContext as on ws://; close codes reach $disconnect; DeleteConnection over https closes with 1000', async (t) => {
  const be = await startBackend(t);
  const cfg = mgmtConfig(be);
  cfg.tls = tlsSection();
  const gw = await startTls(t, cfg);

  const c = await openTlsClient(gw, be, { headers: { 'User-Agent': 'tls-e2e/1.0' } });
  const rc = c.connectEvent.requestContext;
  assert.equal(rc.domainName, `127.0.0.1:${gw.tlsPort}`, 'domainName is the Host header the client sent');
  assert.equal(rc.stage, 'dev');
  assert.equal(rc.identity.sourceIp, '127.0.0.1');
  assert.equal(rc.identity.userAgent, 'tls-e2e/1.0');
  assert.equal(c.connectEvent.headers['X-Forwarded-Proto'], 'https');
  assert.equal(c.connectEvent.headers['X-Forwarded-Port'], String(gw.tlsPort));
  assert.equal(c.connectEvent.headers.Host, `127.0.0.1:${gw.tlsPort}`);

  // The same client over ws:// differs only where the transport shows.
  const p = await openPlainClient(gw, be);
  const pev = be.eventsFor(p.id, 'CONNECT')[0];
  assert.equal(pev.headers['X-Forwarded-Proto'], 'http');
  assert.deepEqual(Object.keys(pev.requestContext).sort(), Object.keys(rc).sort());

  await c.send('{"action":"hello"}');
  assert.equal(await c.nextMessage(), '{"action":"hello"}');
  const msg = await be.waitForEvent((e) => e.requestContext.eventType === 'MESSAGE' && e.requestContext.connectionId === c.id);
  assert.equal(msg.requestContext.domainName, `127.0.0.1:${gw.tlsPort}`);

  // Client-initiated closing handshake over TLS, promptly (no waiting on a timeout).
  const started = Date.now();
  const closed = await c.close(4001, 'bye over tls');
  assert.equal(closed.code, 4001);
  assert.ok(Date.now() - started < 3000, `closing took ${Date.now() - started} ms`);
  const d = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === c.id);
  assert.equal(d.requestContext.disconnectStatusCode, 4001);
  assert.equal(d.requestContext.disconnectReason, 'bye over tls');

  // Server-initiated close, asked for over https by the in-process SDK (an https agent with `ca`).
  const c2 = await openTlsClient(gw, be);
  const sdk = sdkClient(gw, { endpoint: `${gw.httpsBase}/dev`, maxAttempts: 1, requestHandler: { httpsAgent: new https.Agent({ ca: CERT_PEM }) } });
  const r = await sdk.send(new PostToConnectionCommand({ ConnectionId: c2.id, Data: Buffer.from('pushed over https') }));
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.equal(await c2.nextMessage(), 'pushed over https');
  const del = await sdk.send(new DeleteConnectionCommand({ ConnectionId: c2.id }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  assert.deepEqual(await c2.closed, { code: 1000, reason: 'Connection Closed Normally' });
  const d2 = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === c2.id);
  assert.equal(d2.requestContext.disconnectStatusCode, 1000);
  sdk.destroy();
  await p.close(1000);
});

test('management API over https: the JS SDK with NODE_EXTRA_CA_CERTS (child process), boto3 with verify=; both refuse the certificate without them', async (t) => {
  const be = await startBackend(t);
  const cfg = mgmtConfig(be);
  cfg.tls = tlsSection();
  const gw = await startTls(t, cfg);
  const secure = await openTlsClient(gw, be);
  const plain = await openPlainClient(gw, be);

  // JS SDK v3 in a node process started with NODE_EXTRA_CA_CERTS.
  let r = await runSdkChild(gw, [
    { op: 'post', id: secure.id, text: 'sdk child -> wss' },
    { op: 'post', id: plain.id, text: 'sdk child -> ws' },
    { op: 'get', id: secure.id },
  ], { extraCaCerts: CERT });
  assert.deepEqual(r.map((x) => [x.ok, x.status]), [[true, 200], [true, 200], [true, 200]], JSON.stringify(r));
  assert.equal(r[2].response.Identity.SourceIp, '127.0.0.1');
  assert.equal(await secure.nextMessage(), 'sdk child -> wss');
  assert.equal(await plain.nextMessage(), 'sdk child -> ws');

  // The same child without it does not trust the certificate; nothing is delivered.
  r = await runSdkChild(gw, [{ op: 'post', id: secure.id, text: 'must not arrive' }]);
  assert.equal(r[0].ok, false);
  assert.match(`${r[0].code} ${r[0].message}`, /SELF_SIGNED|self[- ]signed|UNABLE_TO_VERIFY/i, JSON.stringify(r[0]));

  // boto3 with verify= the certificate file.
  let b = await runBoto3(gw, [
    { op: 'post', id: secure.id, text: 'boto3 -> wss' },
    { op: 'get', id: plain.id },
  ], { endpoint: `${gw.httpsBase}/dev`, verify: CERT, maxAttempts: 1 });
  assert.deepEqual(b.map((x) => [x.ok, x.status]), [[true, 200], [true, 200]], JSON.stringify(b));
  assert.equal(await secure.nextMessage(), 'boto3 -> wss');
  assert.ok(b[1].response.ConnectedAt, JSON.stringify(b[1]));

  // boto3 with its default trust store refuses it.
  b = await runBoto3(gw, [{ op: 'post', id: secure.id, text: 'must not arrive either' }], { endpoint: `${gw.httpsBase}/dev`, maxAttempts: 1 });
  assert.equal(b[0].ok, false);
  assert.equal(b[0].error, 'SSLError', JSON.stringify(b[0]));

  // A wrong signature over https is refused as on the plain port (the API is the same handler).
  const wrong = sdkClient(gw, {
    endpoint: `${gw.httpsBase}/dev`, maxAttempts: 1, creds: { accessKeyId: CREDS.accessKeyId, secretAccessKey: 'wrong-secret-0000000000000000000000000' },
    requestHandler: { httpsAgent: new https.Agent({ ca: CERT_PEM }) },
  });
  await assert.rejects(wrong.send(new GetConnectionCommand({ ConnectionId: secure.id })), (err) => err.name === 'ForbiddenException' || err.$metadata?.httpStatusCode === 403);
  wrong.destroy();

  // Only the three deliveries above arrived.
  const marker = `marker-${crypto.randomUUID()}`;
  r = await runSdkChild(gw, [{ op: 'post', id: secure.id, text: marker }], { extraCaCerts: CERT });
  assert.equal(r[0].ok, true, JSON.stringify(r));
  assert.equal(await secure.nextMessage(), marker);
  await secure.close(1000);
  await plain.close(1000);
});

test('TLS 1.1 and older are refused and counted; 1.2 and 1.3 are accepted; min_version "1.3" refuses 1.2', async (t) => {
  const gw = await startTls(t, { tls: tlsSection(), routes: ECHO_ROUTES, admin: { listen: '127.0.0.1:0' } });
  assert.equal(await metric(gw, 'wsgate_tls_handshake_failures_total'), 0);

  // Old versions need OpenSSL's security level 0 on the client side to be offered at all.
  const old = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
  // Control: the same client options reach a TLS 1.2 handshake when 1.2 is allowed.
  const control = await handshake(gw.tlsPort, { ...old, maxVersion: 'TLSv1.2' });
  assert.deepEqual([control.ok, control.protocol], [true, 'TLSv1.2'], String(control.error));
  assert.equal(await metric(gw, 'wsgate_tls_handshake_failures_total'), 0);

  const r11 = await handshake(gw.tlsPort, old);
  assert.equal(r11.ok, false, `TLS 1.1 was accepted (${r11.protocol})`);
  assert.match(`${r11.error.code} ${r11.error.message}`, /protocol[ _]version|unsupported protocol/i);
  // The server saw the attempt and refused it (not a client that gave up before sending).
  await waitUntil(async () => (await metric(gw, 'wsgate_tls_handshake_failures_total')) === 1, { what: 'one counted handshake failure' });
  const r10 = await handshake(gw.tlsPort, { ...old, maxVersion: 'TLSv1' });
  assert.equal(r10.ok, false, `TLS 1.0 was accepted (${r10.protocol})`);
  await waitUntil(async () => (await metric(gw, 'wsgate_tls_handshake_failures_total')) === 2, { what: 'two counted handshake failures' });

  const r12 = await handshake(gw.tlsPort, { maxVersion: 'TLSv1.2' });
  assert.deepEqual([r12.ok, r12.protocol], [true, 'TLSv1.2']);
  const r13 = await handshake(gw.tlsPort, { minVersion: 'TLSv1.3' });
  assert.deepEqual([r13.ok, r13.protocol], [true, 'TLSv1.3']);
  // wss:// over TLS 1.2 works end to end too.
  const c12 = await connect(gw.wssUrl, { ca: CERT_PEM, maxVersion: 'TLSv1.2' });
  assert.equal(c12.ws._socket.getProtocol(), 'TLSv1.2');
  await echoes(c12, 'over 1.2');
  await c12.close(1000);

  const gw13 = await startTls(t, { tls: tlsSection({ min_version: '1.3' }), routes: ECHO_ROUTES, admin: { listen: '127.0.0.1:0' } });
  assert.match(gw13.stdout, /TLS: .*, TLS 1\.3, certificate /);
  const refused = await handshake(gw13.tlsPort, { maxVersion: 'TLSv1.2' });
  assert.equal(refused.ok, false, `TLS 1.2 was accepted with min_version 1.3 (${refused.protocol})`);
  await waitUntil(async () => (await metric(gw13, 'wsgate_tls_handshake_failures_total')) === 1, { what: 'the refused 1.2 handshake counted' });
  const ok13 = await handshake(gw13.tlsPort, {});
  assert.deepEqual([ok13.ok, ok13.protocol], [true, 'TLSv1.3']);
});

test('garbage, plain HTTP and silence on the TLS port only lose their own socket; a wss client keeps talking meanwhile', async (t) => {
  const gw = await startTls(t, {
    tls: tlsSection(), routes: ECHO_ROUTES, admin: { listen: '127.0.0.1:0' }, log_level: 'debug',
    connection: { handshake_timeout_ms: 1000 },
  });
  const secure = await connect(gw.wssUrl, { ca: CERT_PEM });
  await echoes(secure, 'before');

  // Random bytes: not a TLS record.
  const garbage = await sendRaw(gw.tlsPort, crypto.randomBytes(4096));
  assert.ok(!garbage.received.toString('latin1').includes('HTTP/'), 'no HTTP answer to garbage');
  await echoes(secure, 'after garbage');

  // A plain HTTP request (upgrade and management alike): no HTTP answer, the socket is closed.
  const get = await sendRaw(gw.tlsPort, Buffer.from(`GET /dev HTTP/1.1\r\nHost: 127.0.0.1:${gw.tlsPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
  assert.ok(!get.received.toString('latin1').includes('HTTP/1.1'), `answered plain HTTP: ${get.received.toString('latin1')}`);
  const post = await sendRaw(gw.tlsPort, Buffer.from(`POST /dev/@connections/AAAAAAAAAAAAAAA= HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi`));
  assert.ok(!post.received.toString('latin1').includes('HTTP/1.1'));
  await assert.rejects(connect(`ws://127.0.0.1:${gw.tlsPort}/dev`));
  await echoes(secure, 'after plain http');

  // A client that connects and says nothing is dropped after connection.handshake_timeout_ms.
  const silent = await sendRaw(gw.tlsPort, Buffer.alloc(0));
  assert.ok(silent.closedAfterMs >= 800 && silent.closedAfterMs < 5000, `silent client closed after ${silent.closedAfterMs} ms`);

  // Many bad connections at once while the good client keeps going.
  const storm = Array.from({ length: 30 }, (_, i) => sendRaw(gw.tlsPort, i % 2 ? crypto.randomBytes(512) : Buffer.from('GET / HTTP/1.0\r\n\r\n')));
  for (let i = 0; i < 10; i++) await echoes(secure, `during the storm ${i}`);
  await Promise.all(storm);
  await echoes(secure, 'after the storm');

  const failures = await metric(gw, 'wsgate_tls_handshake_failures_total');
  assert.ok(failures >= 34, `handshake failures counted: ${failures}`);
  assert.match(gw.stderr, / debug TLS handshake failed from 127\.0\.0\.1:\d+: /);
  // New wss clients are still welcome.
  const again = await connect(gw.wssUrl, { ca: CERT_PEM });
  await echoes(again, 'new client');
  await again.close(1000);
  await secure.close(1000);
});

test('over TLS: a frame over the limit closes with 1009 "Message too big"; SIGTERM closes wss clients with 1001 and exits 0', async (t) => {
  const be = await startBackend(t);
  const cfg = mgmtConfig(be);
  cfg.tls = tlsSection();
  const gw = await startTls(t, cfg);

  const big = await openTlsClient(gw, be);
  big.send('x'.repeat(40_000)).catch(() => {});
  assert.deepEqual(await big.closed, { code: 1009, reason: 'Message too big' });
  const d = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === big.id);
  assert.equal(d.requestContext.disconnectStatusCode, 1009);

  const a = await openTlsClient(gw, be);
  const b = await openTlsClient(gw, be);
  const p = await openPlainClient(gw, be);
  const code = await gw.stop('SIGTERM');
  assert.equal(code, 0, gw.stderr);
  for (const c of [a, b, p]) assert.deepEqual(await c.closed, { code: 1001, reason: 'Going away' });
  for (const c of [a, b]) {
    const ev = be.eventsFor(c.id, 'DISCONNECT');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].requestContext.disconnectStatusCode, 1001);
  }
});

function assertConfigError(r, key, pattern) {
  assert.equal(r.signal, null, `wsgate did not exit by itself (killed by ${r.signal}); stderr=${r.stderr}`);
  assert.equal(r.code, 2, `exit code; stderr=${r.stderr}`);
  assert.ok(r.stderr.startsWith(`config: ${key}: `), `stderr does not start with the key ${key}: ${JSON.stringify(r.stderr)}`);
  if (pattern) assert.match(r.stderr, pattern);
  assert.ok(!r.stdout.includes('listening on'), `it started anyway: ${r.stdout}`);
}

test('startup: a missing certificate, a key of another certificate, bad tls keys -> exit 2 naming the key, nothing listens', async () => {
  const missing = path.join(certDir, 'no-such-cert.pem');
  assertConfigError(await runGateway({ config: { tls: tlsSection({ cert_file: missing }) } }), 'tls.cert_file',
    new RegExp(`cannot read '${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': No such file or directory`));
  assertConfigError(await runGateway({ config: { tls: tlsSection({ key_file: path.join(certDir, 'nope.key') }) } }), 'tls.key_file', /cannot read/);
  assertConfigError(await runGateway({ config: { tls: tlsSection({ key_file: OTHER_KEY }) } }), 'tls.key_file',
    /does not match the certificate in tls\.cert_file/);
  assertConfigError(await runGateway({ config: { tls: tlsSection({ cert_file: KEY }) } }), 'tls.cert_file', /no PEM certificate/);
  assertConfigError(await runGateway({ config: { tls: tlsSection({ ciphers: 'HIGH' }) } }), 'tls.ciphers', /unknown key/);
  assertConfigError(await runGateway({ config: { tls: tlsSection({ min_version: '1.1' }) } }), 'tls.min_version', /expected 1\.2 or 1\.3/);
  assertConfigError(await runGateway({ config: { tls: { listen: '127.0.0.1:0', key_file: KEY } } }), 'tls.cert_file', /required/);
});

test('without a tls section nothing listens for TLS and the banner has no wss:// line', async (t) => {
  const gw = await startGateway(t, { config: { routes: ECHO_ROUTES } });
  await sleep(100);
  assert.ok(!gw.stdout.includes('wss://'), gw.stdout);
  assert.ok(!gw.stdout.includes('https://'), gw.stdout);
  const c = await connect(gw.url);
  await echoes(c, 'plain only');
  await c.close(1000);
});

// A client that starts a TLS handshake by hand and never finishes it.
test('a half-sent ClientHello is dropped after connection.handshake_timeout_ms', async (t) => {
  const gw = await startTls(t, { tls: tlsSection(), routes: ECHO_ROUTES, connection: { handshake_timeout_ms: 500 } });
  // The first bytes of a TLS record header announcing a 512-byte handshake message, then nothing.
  const r = await sendRaw(gw.tlsPort, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  assert.ok(r.closedAfterMs >= 400 && r.closedAfterMs < 5000, `closed after ${r.closedAfterMs} ms`);
  const c = startConnect(gw.wssUrl, { ca: CERT_PEM });
  await c.openPromise;
  await echoes(c, 'fine');
  await c.close(1000);
});
