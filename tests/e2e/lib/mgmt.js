// Shared helpers for the @connections management API tests (tests/e2e/mgmt_*.test.js): a gateway
// + backend with SigV4 credentials, the three real clients (JS SDK v3, boto3 through
// clients/boto3_call.py, AWS CLI v2), raw HTTP, and a raw WebSocket client that sees frames.
//
//   const { gw, be } = await startMgmt(t);                 // credentials: CREDS (+ extra ones)
//   const c = await openClient(gw, be, { userAgent: 'x/1' }); // c.id = connectionId from $connect
//   const sdk = sdkClient(gw, { maxAttempts: 1 });
//   const r = await runBoto3(gw, [{ op: 'post', id, text: 'hi' }]);   // -> [{ok...}|{error...}]
//   const r = await runAws(gw, ['post-to-connection', ...]);           // -> {code, stdout, stderr}
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

import { gatewayConfig, sleep, startBackend, waitUntil } from './backend.js';
import { startGateway } from './gateway.js';
import { connect } from './ws.js';

export { DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand, ApiGatewayManagementApiClient };

// The SDK warns once per process that future versions need node >= 22; keep test output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BOTO3_DRIVER = path.resolve(here, '../clients/boto3_call.py');
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const AWS_CLI = '/usr/bin/aws';

// The credentials every management test signs with (the AWS documentation's example pair).
export const CREDS = Object.freeze({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' });
// A temporary-credential triple (configured with its session token).
export const TEMP_CREDS = Object.freeze({
  accessKeyId: 'ASIAWSGATETEMP000001',
  secretAccessKey: 'tEmPoRaRySeCrEtKeY/for+wsgate+e2e+0000000',
  sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDFakeSessionTokenForWsgateE2eTestsOnly+/=',
});
export const WRONG_SECRET = Object.freeze({ accessKeyId: CREDS.accessKeyId, secretAccessKey: 'not-the-right-secret-key-0000000000000000' });
export const UNKNOWN_KEY = Object.freeze({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: CREDS.secretAccessKey });
export const NEVER_EXISTED = 'AAAAAAAAAAAAAAA=';
export const REGION = 'us-east-1';

const tempDirs = new Set();
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
});
export function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'wsgate-mgmt-'));
  tempDirs.add(dir);
  return dir;
}

function toConfigCred(c) {
  const out = { access_key_id: c.accessKeyId, secret_access_key: c.secretAccessKey };
  if (c.sessionToken) out.session_token = c.sessionToken;
  return out;
}

/** Gateway config with a backend and the management block (SigV4, us-east-1, CREDS + `credentials`). */
export function mgmtConfig(be, { credentials = [CREDS], ...opts } = {}) {
  const cfg = gatewayConfig(be, opts);
  cfg.management = { auth: 'sigv4', region: REGION, credentials: credentials.map(toConfigCred) };
  return cfg;
}

/** Starts the lib backend (recording events) and a gateway with mgmtConfig(be, opts). */
export async function startMgmt(t, opts = {}) {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: mgmtConfig(be, opts) });
  return { be, gw, endpoint: `${gw.httpBase}/dev` };
}

/**
 * Opens a WebSocket client with an explicit User-Agent and resolves it with `c.id` = the
 * connectionId of its $connect event and `c.connectEvent` (settle: also waitPostable()).
 */
export async function openClient(gw, be, { userAgent = 'wsgate-mgmt-e2e/1.0', headers = {}, settle = true, ...options } = {}) {
  const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
  const c = await connect(gw.url, { headers: { 'User-Agent': userAgent, ...headers }, ...options });
  const ev = await be.waitForEvent((e) => e?.requestContext?.eventType === 'CONNECT' && !before.has(e.requestContext.connectionId));
  c.id = ev.requestContext.connectionId;
  c.connectEvent = ev;
  c.userAgent = userAgent;
  if (settle) await waitPostable(gw, c.id);
  return c;
}

/**
 * Waits until GetConnection answers 200 for `id`. The gateway registers a connection only after
 * it has written the 101, so a client may see 'open' a moment before the management API knows
 * it (a 410 race; mgmt_sdkjs.test.js has a dedicated test). Tests about other things wait here
 * so that race cannot make them flaky.
 */
export async function waitPostable(gw, id, timeoutMs = 5_000) {
  const sdk = sdkClient(gw, { maxAttempts: 1 });
  await waitUntil(async () => {
    try {
      await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
      return true;
    } catch (err) {
      if (err.name !== 'GoneException') throw err;
      return false;
    }
  }, { timeoutMs, intervalMs: 5, what: `GetConnection ${id} -> 200` });
}

/** Next unread message of any kind: {data: string|Buffer, isBinary}. */
export async function nextRaw(c, timeoutMs = 10_000) {
  await waitUntil(() => c.messages.length > c.read || c.closeInfo, { timeoutMs, what: `message #${c.read + 1}` });
  if (c.messages.length <= c.read) throw new Error(`socket closed (${c.closeInfo.code}) while waiting for message #${c.read + 1}`);
  return c.messages[c.read++];
}

/** Sends a marker through the API and returns what the client had received before it (proves "nothing else arrived"). */
export async function receivedBeforeMarker(c, postMarker, marker = `marker-${crypto.randomUUID()}`) {
  await postMarker(marker);
  const got = [];
  for (;;) {
    const m = await nextRaw(c);
    if (!m.isBinary && m.data === marker) return got;
    got.push(m);
  }
}

// ---------------------------------------------------------------------------------------------
// JS SDK v3

export function sdkClient(gw, { creds = CREDS, endpoint, stage = 'dev', maxAttempts, region = REGION, ...rest } = {}) {
  const client = new ApiGatewayManagementApiClient({
    endpoint: endpoint ?? `${gw.httpBase}/${stage}`,
    region,
    credentials: { ...creds },
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...rest,
  });
  return client;
}

/** Runs `promise`; resolves with the SDK error it rejected with (fails if it resolved). */
export async function sdkError(promise) {
  try {
    const r = await promise;
    throw Object.assign(new Error(`expected an error, got success: ${JSON.stringify(r?.$metadata)}`), { notAnError: true });
  } catch (err) {
    if (err.notAnError) throw err;
    return err;
  }
}

// ---------------------------------------------------------------------------------------------
// boto3 (Debian's python3-boto3, through tests/e2e/clients/boto3_call.py)

function cleanEnv(extra = {}) {
  const home = tempDir();
  return {
    PATH: '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  };
}

function run(cmd, args, { env, input, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    proc.stdout.on('data', (d) => out.push(d));
    proc.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    proc.stdin.on('error', () => {});
    proc.stdin.end(input ?? '');
  });
}

/**
 * Runs a batch of calls in one boto3 process. Each call: {op: 'post'|'get'|'delete', id,
 * text?|b64?|size?+fill?}. Resolves with the driver's result list (one entry per call).
 * verify: for an https:// endpoint, the CA bundle file boto3 checks the certificate against.
 */
export async function runBoto3(gw, calls, { creds = CREDS, endpoint, maxAttempts, verify } = {}) {
  const request = {
    endpoint: endpoint ?? `${gw.httpBase}/dev`,
    region: REGION,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken ?? null,
    maxAttempts: maxAttempts ?? null,
    verify: verify ?? null,
    calls,
  };
  const r = await run(DEBIAN_PYTHON, [BOTO3_DRIVER], { env: cleanEnv(), input: JSON.stringify(request) });
  if (r.code !== 0) throw new Error(`boto3 driver exited ${r.code} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout).results;
  } catch {
    throw new Error(`boto3 driver printed no JSON: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

// ---------------------------------------------------------------------------------------------
// AWS CLI v2 (Debian's /usr/bin/aws)

/** Runs `aws apigatewaymanagementapi <args> --endpoint-url <endpoint>` with a clean environment. */
export function runAws(gw, args, { creds = CREDS, endpoint } = {}) {
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    ...(creds.sessionToken ? { AWS_SESSION_TOKEN: creds.sessionToken } : {}),
  });
  return run(AWS_CLI, ['apigatewaymanagementapi', ...args, '--endpoint-url', endpoint ?? `${gw.httpBase}/dev`], { env });
}

/** Writes `buf` into a temp file and returns its `fileb://` reference for the CLI. */
export function fileb(buf) {
  const file = path.join(tempDir(), 'data.bin');
  writeFileSync(file, buf);
  return `fileb://${file}`;
}

/** Asserts the CLI's error line names `code`: "An error occurred (GoneException) when calling the X operation: ...". */
export function cliErrorCode(r) {
  const m = /An error occurred \(([^)]+)\) when calling the (\w+) operation/.exec(r.stderr);
  return m ? { code: m[1], operation: m[2] } : null;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export function rawRequest(base, reqPath, { method = 'GET', headers = {}, body } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: reqPath, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${reqPath}`)));
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Data helpers

/** Deterministic pseudo-random printable ASCII (valid UTF-8) of `n` bytes. */
export function asciiPayload(n, seed = 1) {
  const buf = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[i] = 0x21 + (x % 94);
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// A raw WebSocket client (net.Socket): records every frame, can stop reading (pause) entirely.

export class RawWsClient {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = [];     // {fin, opcode, length}
    this.messages = [];   // {opcode: 1|2, data: Buffer, frames: n}
    this.partial = null;
    this.closeFrame = null;
    this.ended = false;
    socket.on('data', (d) => this._onData(d));
    socket.on('end', () => { this.ended = true; });
    socket.on('close', () => { this.ended = true; });
    socket.on('error', (e) => { this.error = e; });
  }

  static async connect(gw, { path: p = '/dev', userAgent = 'raw-ws-e2e/1.0' } = {}) {
    const socket = net.connect({ host: gw.host, port: gw.port });
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const key = crypto.randomBytes(16).toString('base64');
    socket.write(`GET ${p} HTTP/1.1\r\nHost: ${gw.host}:${gw.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: ${userAgent}\r\n\r\n`);
    let head = Buffer.alloc(0);
    const rest = await new Promise((resolve, reject) => {
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(status)) reject(new Error(`handshake refused: ${status}`));
        else resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('closed during handshake')));
    });
    const c = new RawWsClient(socket);
    if (rest.length) c._onData(rest);
    return c;
  }

  _onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (b1 & 0x80) off += 4;  // a server must not mask; tolerate it for the record
      if (this.buf.length < off + len) return;
      const payload = Buffer.from(this.buf.subarray(off, off + len));
      this.buf = this.buf.subarray(off + len);
      const frame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, length: len, masked: (b1 & 0x80) !== 0 };
      this.frames.push(frame);
      this._onFrame(frame, payload);
    }
  }

  _onFrame(frame, payload) {
    if (frame.opcode === 0x9) { this._send(0xA, payload); return; }
    if (frame.opcode === 0xA) return;
    if (frame.opcode === 0x8) {
      this.closeFrame = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') };
      return;
    }
    if (frame.opcode === 0x1 || frame.opcode === 0x2) this.partial = { opcode: frame.opcode, chunks: [payload], frames: 1 };
    else if (frame.opcode === 0x0 && this.partial) { this.partial.chunks.push(payload); this.partial.frames++; }
    if (frame.fin && this.partial) {
      this.messages.push({ opcode: this.partial.opcode, data: Buffer.concat(this.partial.chunks), frames: this.partial.frames });
      this.partial = null;
    }
  }

  _send(opcode, payload = Buffer.alloc(0)) {
    const mask = crypto.randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : (() => { const h = Buffer.alloc(10); h[0] = 0x80 | opcode; h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(len), 2); return h; })();
    const masked = Buffer.from(payload);
    for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([head, mask, masked]));
  }

  sendText(s) { this._send(0x1, Buffer.from(s, 'utf8')); }
  pause() { this.socket.pause(); }
  resume() { this.socket.resume(); }
  waitMessages(n, timeoutMs = 20_000) {
    return waitUntil(() => this.messages.length >= n, { timeoutMs, what: `${n} messages on the raw client (have ${this.messages.length})` });
  }
  close() { this.socket.destroy(); }
}

export { sleep, waitUntil };
