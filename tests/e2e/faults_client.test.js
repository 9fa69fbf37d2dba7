// Fault injection from the client side: a client that stops reading, one that vanishes in the
// middle of a message, broken handshakes (oversized headers, not HTTP, bad key, wrong version),
// thousands of clients that vanish at once, and slowloris. Each fault has one defined answer, and
// a bystander client keeps being served during and after it.
// docs/faults.md lists every fault with its answer and the test that proves it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';

import { defaultHandler, deferred, gatewayConfig, sleep, startBackend, waitUntil } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { PostToConnectionCommand, RawWsClient, openClient as openMgmtClient, sdkClient, startMgmt, waitPostable } from './lib/mgmt.js';
import { startBystander } from './lib/bystander.js';
import { connect, startConnect } from './lib/ws.js';

const SETTLE_MS = 300;
const type = (e) => e?.requestContext?.eventType;

// ---------------------------------------------------------------------------------------------
// Helpers

function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}
const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;

// Opens a client and finds its connectionId among the backend's CONNECT events.
async function open(gw, be, options) {
  const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
  const c = await connect(gw.url, options);
  const ev = await be.waitForEvent((e) => type(e) === 'CONNECT' && !before.has(e.requestContext.connectionId));
  c.id = ev.requestContext.connectionId;
  return c;
}


// One masked client frame (RFC 6455 §5.2), optionally without FIN.
function clientFrame(opcode, payload, { fin = true, announced } = {}) {
  const len = announced ?? payload.length;
  let head;
  if (len < 126) head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]);
  else if (len < 65536) head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  else { head = Buffer.alloc(10); head[0] = (fin ? 0x80 : 0) | opcode; head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(len), 2); }
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

/**
 * Opens a TCP connection, writes `bytes` and collects everything the gateway sends until it
 * closes the connection. Resolves {data: Buffer, how: 'end'|'reset'|'open'} or rejects after
 * timeoutMs (the gateway kept the connection open). With keepAlive, resolves ('open') as soon as
 * one complete HTTP response has arrived.
 */
function rawExchange(gw, bytes, { timeoutMs = 10_000, keepAlive = false } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: gw.host, port: gw.port });
    const chunks = [];
    let settled = false;
    const finish = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), how });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      s.destroy();
      reject(new Error(`the gateway kept the connection open for ${timeoutMs} ms; received ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
    }, timeoutMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => {
      chunks.push(d);
      if (keepAlive) {
        const res = parseHttpResponse(Buffer.concat(chunks));
        if (res && Buffer.byteLength(res.body, 'latin1') >= Number(res.headers['content-length'] ?? 0)) finish('open');
      }
    });
    s.on('end', () => finish('end'));
    s.on('error', (err) => finish(err.code === 'ECONNRESET' ? 'reset' : `error ${err.code}`));
    s.on('close', () => finish('end'));
  });
}

function parseHttpResponse(buf) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
  if (!m) return null;
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: text.slice(end + 4) };
}

function upgradeRequest(gw, { path = '/dev', key = crypto.randomBytes(16).toString('base64'), version = '13', extra = '' } = {}) {
  return `GET ${path} HTTP/1.1\r\nHost: ${gw.host}:${gw.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    (key === null ? '' : `Sec-WebSocket-Key: ${key}\r\n`) +
    (version === null ? '' : `Sec-WebSocket-Version: ${version}\r\n`) + extra + '\r\n';
}

function fdLimit() {
  try {
    return Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

// ---------------------------------------------------------------------------------------------
// A client that stops reading

test('client stops reading while the backend keeps posting: 429 once its queue is full, gateway RSS stays bounded over 2000 refused 64 KiB POSTs, bystander served', async (t) => {
  const { gw, be } = await startMgmt(t);  // send_queue_max_bytes: default 1 MiB
  const slow = await RawWsClient.connect(gw, { userAgent: 'stops-reading/1' });
  const slowId = (await be.waitForEvent((e) => type(e) === 'CONNECT')).requestContext.connectionId;
  await waitPostable(gw, slowId);
  const bystander = await openMgmtClient(gw, be, { userAgent: 'bystander/1' });
  slow.pause();

  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const payload = (seq) => Buffer.concat([Buffer.from(`#${String(seq).padStart(6, '0')}:`), Buffer.alloc(64 * 1024 - 8, 0x61 + (seq % 26))]);
  const rssStart = rssBytes(gw.proc.pid);
  let rssMax = rssStart;
  const sampler = setInterval(() => { try { rssMax = Math.max(rssMax, rssBytes(gw.proc.pid)); } catch { /* exited */ } }, 50);
  t.after(() => clearInterval(sampler));

  // The bystander gets POSTs and echoes throughout.
  let byRounds = 0;
  let byError = null;
  let flooding = true;
  const byLoop = (async () => {
    while (flooding) {
      await sdk.send(new PostToConnectionCommand({ ConnectionId: bystander.id, Data: `post ${byRounds}` }));
      assert.equal(await bystander.nextMessage(15_000), `post ${byRounds}`);
      await bystander.send(`echo ${byRounds}`);
      assert.equal(await bystander.nextMessage(15_000), `echo ${byRounds}`);
      byRounds++;
    }
  })();
  byLoop.catch((err) => { byError = err; });

  // Eight posters until 2000 POSTs have been refused with 429.
  let seq = 0;
  let accepted = 0;
  let refused = 0;
  const otherErrors = [];
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (refused < 2000 && otherErrors.length === 0) {
      const s = seq++;
      try {
        await sdk.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: payload(s) }));
        accepted++;
      } catch (err) {
        if (err.name === 'LimitExceededException' && err.$metadata.httpStatusCode === 429) refused++;
        else otherErrors.push(`${err.name} ${err.$metadata?.httpStatusCode}: ${err.message}`);
      }
    }
  }));
  flooding = false;
  await byLoop;
  clearInterval(sampler);
  const rssEnd = rssBytes(gw.proc.pid);
  t.diagnostic(`${accepted} POSTs accepted, ${refused} refused (429); RSS ${mb(rssStart)} -> max ${mb(rssMax)}, end ${mb(rssEnd)}; bystander ${byRounds} rounds`);
  assert.deepEqual(otherErrors, [], 'every refusal is a 429 LimitExceededException');
  assert.equal(byError, null);
  assert.ok(byRounds > 0, 'the bystander made progress during the flood');
  // 1 MiB queue + kernel buffers: only a bounded number of 64 KiB messages can be accepted.
  assert.ok(accepted < 200, `${accepted} POSTs accepted for a client that does not read`);
  // Under AddressSanitizer freed memory sits in its quarantine (256 MB by default) before reuse,
  // so the bound there is the quarantine plus the same margin.
  const boundMb = process.env.WSGATE_E2E_SLOW ? 200 + 256 : 200;
  assert.ok(rssMax < boundMb * 1048576, `gateway RSS reached ${mb(rssMax)} (bound: ${boundMb} MB)`);
  const growthMb = process.env.WSGATE_E2E_SLOW ? 100 + 256 : 100;  // ASan's quarantine, as above
  assert.ok(rssEnd - rssStart < growthMb * 1048576, `gateway RSS grew by ${mb(rssEnd - rssStart)} over 2000 refused POSTs (bound: ${growthMb} MB)`);

  // Reading again: exactly the accepted messages arrive, nothing refused.
  slow.resume();
  await slow.waitMessages(accepted, 30_000);
  await sleep(SETTLE_MS);
  assert.equal(slow.messages.length, accepted);
  await sdk.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: 'drained' }));
  await slow.waitMessages(accepted + 1);
  assert.equal(slow.messages.at(-1).data.toString(), 'drained');
  await bystander.send('after');
  assert.equal(await bystander.nextMessage(), 'after');
  slow.close();
  await bystander.close(1000);
});

// ---------------------------------------------------------------------------------------------
// A client that vanishes in the middle of a message

const midMessage = [
  ['after the first fragment of a text message', () => [clientFrame(0x1, '{"action":"par', { fin: false })]],
  ['after two fragments (first + continuation, no FIN)', () => [clientFrame(0x1, '{"action":', { fin: false }), clientFrame(0x0, '"part', { fin: false })]],
  ['inside a frame (header announces 1000 bytes, 10 sent)', () => [clientFrame(0x1, '0123456789', { announced: 1000 }).subarray(0, 8 + 10)]],
  ['inside a 120 KiB message of 30 KiB fragments (91 KiB of it sent)', () => [
    clientFrame(0x1, 'a'.repeat(30 * 1024), { fin: false }),
    clientFrame(0x0, 'b'.repeat(30 * 1024), { fin: false }),
    clientFrame(0x0, 'c'.repeat(30 * 1024), { fin: false }),
    clientFrame(0x0, 'd'.repeat(30 * 1024), { fin: true }).subarray(0, 8 + 1024),
  ]],
];

for (const [what, frames] of midMessage) {
  test(`client disconnects mid-message (${what}): exactly one $disconnect 1006, no MESSAGE; bystander unaffected`, async (t) => {
    const be = await startBackend(t);
    const gw = await startGateway(t, { config: gatewayConfig(be) });
    const bystander = await open(gw, be);
    const by = startBystander(bystander);
    const ids = [];
    // Five clients in turn, each cut at the same place.
    for (let i = 0; i < 5; i++) {
      const before = new Set(be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId));
      const raw = await RawWsClient.connect(gw);
      const id = (await be.waitForEvent((e) => type(e) === 'CONNECT' && !before.has(e.requestContext.connectionId))).requestContext.connectionId;
      ids.push(id);
      for (const f of frames()) await new Promise((resolve) => raw.socket.write(f, resolve));
      raw.socket.destroy();
    }
    await be.waitFor((ev) => ids.every((id) => ev.some((e) => type(e) === 'DISCONNECT' && e.requestContext.connectionId === id)));
    await by.progress();
    await sleep(SETTLE_MS);
    for (const id of ids) {
      const d = be.eventsFor(id, 'DISCONNECT');
      assert.equal(d.length, 1, `exactly one DISCONNECT for ${id}`);
      assert.equal(d[0].requestContext.disconnectStatusCode, 1006);
      assert.equal(d[0].requestContext.disconnectReason, 'Connection closed abnormally');
      assert.deepEqual(be.eventsFor(id, 'MESSAGE'), [], 'a partial message is never delivered');
    }
    await by.stop();
    await bystander.close(1000);
  });
}

// ---------------------------------------------------------------------------------------------
// A client that gives up while $connect is running

for (const how of ['FIN', 'RST']) {
  test(`client gives up (${how}) while $connect is still running: the gateway survives, exactly one $disconnect 1006 once $connect succeeds; bystander unaffected`, async (t) => {
    const be = await startBackend(t);
    const gates = [];
    be.handler = (event) => {
      if (type(event) === 'CONNECT' && event.queryStringParameters?.hold) {
        const d = deferred();
        gates.push(d);
        return d.promise.then(() => ({ body: { statusCode: 200 } }));
      }
      return defaultHandler(event);
    };
    t.after(() => { for (const g of gates) g.resolve(); });
    const gw = await startGateway(t, { config: gatewayConfig(be) });
    const bystander = await open(gw, be);
    const by = startBystander(bystander);
    const ids = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = net.connect({ host: gw.host, port: gw.port });
        s.on('error', () => {});
        await new Promise((resolve) => s.once('connect', resolve));
        s.write(upgradeRequest(gw, { path: `/dev?hold=${i}` }));
        const ev = await be.waitForEvent((e) => type(e) === 'CONNECT' && e.queryStringParameters?.hold === String(i));
        ids.push(ev.requestContext.connectionId);
        if (how === 'RST') s.resetAndDestroy(); else s.destroy();
        await new Promise((resolve) => s.once('close', resolve));
        await sleep(50);  // let the gateway see the FIN/RST before $connect answers
        gates[i].resolve();
        await be.waitForEvent((e) => type(e) === 'DISCONNECT' && e.requestContext.connectionId === ids[i]);
        await by.progress(1);
        assert.equal(gw.exitInfo(), null, `the gateway died: ${JSON.stringify(gw.exitInfo())}`);
      }
    } catch (err) {
      // A dead gateway shows up first as the bystander's dropped connection: say so.
      await Promise.race([gw.exited, sleep(2000)]);
      if (gw.exitInfo()) assert.fail(`the gateway died (${JSON.stringify(gw.exitInfo())}) after a client gave up during $connect; stderr: ${gw.stderr.slice(-300)}`);
      throw err;
    }
    await by.progress();
    await sleep(SETTLE_MS);
    assert.equal(gw.exitInfo(), null, `the gateway died: ${JSON.stringify(gw.exitInfo())}`);
    for (const id of ids) {
      const d = be.eventsFor(id, 'DISCONNECT');
      assert.equal(d.length, 1, `exactly one DISCONNECT for ${id}`);
      assert.equal(d[0].requestContext.disconnectStatusCode, 1006);
    }
    const later = await open(gw, be);
    await later.send('later');
    assert.equal(await later.nextMessage(), 'later');
    await by.stop();
    await later.close(1000);
    await bystander.close(1000);
  });
}

// ---------------------------------------------------------------------------------------------
// Broken handshakes: none of them reaches $connect

test('handshake faults: oversized headers -> 431; not HTTP / malformed request line -> closed; bad key -> 400; version 8 -> 426; $connect never called; bystander unaffected', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const bystander = await open(gw, be);
  const by = startBystander(bystander);
  const connectsBefore = be.eventsOfType('CONNECT').length;

  // > 16 KiB of headers: one huge header, then many small ones.
  const oversized = [
    upgradeRequest(gw, { extra: `X-Big: ${'b'.repeat(20 * 1024)}\r\n` }),
    upgradeRequest(gw, { extra: Array.from({ length: 400 }, (_, i) => `X-Many-${i}: ${'m'.repeat(40)}\r\n`).join('') }),
    `GET /dev?${'q'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
  ];
  for (const req of oversized) {
    const r = await rawExchange(gw, req);
    const res = parseHttpResponse(r.data);
    assert.ok(res, `oversized headers: expected an HTTP response, got ${JSON.stringify(r.data.toString('latin1').slice(0, 200))} (${r.how})`);
    assert.equal(res.status, 431);
    assert.equal(res.headers.connection, 'close');
    assert.deepEqual(JSON.parse(res.body), { message: 'Request Header Fields Too Large' });
    await by.progress(1);
  }

  // Not HTTP at all, or a malformed request line: the connection is closed. If anything is
  // written before, it can only be an HTTP 400.
  const garbage = [
    Buffer.from('\x00\x01garbage\r\n\r\n', 'latin1'),
    Buffer.from('GET /dev\r\n\r\n'),
    Buffer.from('GET /dev HTTP/1.1 extra\r\nHost: x\r\n\r\n'),
    Buffer.from('GET /dev HTTP/9.9\r\nHost: x\r\n\r\n'),
    Buffer.from('G\u00e9T /dev HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
    Buffer.from('GET /dev HTTP/1.1\r\nNo colon here\r\n\r\n'),
    Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + 'x'.repeat(100), 'latin1'),  // a TLS ClientHello
    crypto.randomBytes(4096),
  ];
  for (const bytes of garbage) {
    const r = await rawExchange(gw, bytes);
    if (r.data.length > 0) {
      const res = parseHttpResponse(r.data);
      assert.equal(res?.status, 400, `unexpected answer to ${JSON.stringify(bytes.toString('latin1').slice(0, 40))}: ${JSON.stringify(r.data.toString('latin1').slice(0, 200))}`);
    }
    await by.progress(1);
  }

  // Upgrades that violate RFC 6455 §4.2.1: 400 (426 for the version), before $connect; the
  // connection is closed.
  const badUpgrades = [
    [upgradeRequest(gw, { key: 'abc' }), 400],
    [upgradeRequest(gw, { key: null }), 400],
    [upgradeRequest(gw, { key: `${crypto.randomBytes(16).toString('base64').slice(0, 22)}xx` }), 400],
    [upgradeRequest(gw, { key: crypto.randomBytes(18).toString('base64') }), 400],
    [upgradeRequest(gw, { version: '8' }), 426],
    [upgradeRequest(gw, { version: null }), 426],
  ];
  for (const [req, status] of badUpgrades) {
    const r = await rawExchange(gw, req);
    const res = parseHttpResponse(r.data);
    const what = JSON.stringify(req.split('\r\n').filter((l) => /^Sec-WebSocket/.test(l)));
    assert.ok(res, `expected an HTTP ${status}, got ${JSON.stringify(r.data.toString('latin1').slice(0, 200))} for ${what}`);
    assert.equal(res.status, status, `for ${what}`);
    assert.equal(res.headers.connection, 'close');
    if (status === 426) assert.equal(res.headers['sec-websocket-version'], '13');
    await by.progress(1);
  }
  // Not a WebSocket upgrade at all (POST, HTTP/1.0): a plain HTTP request to the stage URL,
  // answered 426 Upgrade Required like any other.
  for (const req of [
    upgradeRequest(gw).replace('GET ', 'POST ').replace('\r\n\r\n', '\r\nContent-Length: 0\r\n\r\n'),
    upgradeRequest(gw).replace('HTTP/1.1', 'HTTP/1.0'),
  ]) {
    const r = await rawExchange(gw, req, { keepAlive: true });
    const res = parseHttpResponse(r.data);
    assert.equal(res?.status, 426, `for ${JSON.stringify(req.split('\r\n')[0])}: ${r.data.toString('latin1').slice(0, 100)}`);
    assert.equal(res.headers['x-amzn-errortype'], 'UpgradeRequired');
  }

  await by.progress();
  await sleep(SETTLE_MS);
  assert.equal(be.eventsOfType('CONNECT').length, connectsBefore, '$connect must never run for a broken handshake');
  // A good handshake after all that works.
  const later = await open(gw, be);
  await later.send('fine');
  assert.equal(await later.nextMessage(), 'fine');
  await by.stop();
  assert.equal(gw.exitInfo(), null);
  await later.close(1000);
  await bystander.close(1000);
});

// ---------------------------------------------------------------------------------------------
// Thousands connect and vanish at once

test('thousands of clients connect, then vanish at once: every CONNECT gets exactly one $disconnect (1006); bystander served', { timeout: 120_000 }, async (t) => {
  const limit = fdLimit();
  const N = Math.max(100, Math.min(2000, Math.floor((limit - 300) / 2)));
  if (N < 2000) t.diagnostic(`fd limit ${limit}: using ${N} clients instead of 2000`);
  const be = await startBackend(t);
  // One-way $connect/$disconnect only for the crowd; $default for the bystander.
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const bystander = await open(gw, be);
  const clients = [];
  t.after(() => { for (const c of clients) c.ws.terminate(); });
  const BATCH = 100;
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, () => startConnect(gw.url, { perMessageDeflate: false, timeoutMs: 30_000 }));
    clients.push(...batch);
    await Promise.all(batch.map((c) => c.openPromise));
  }
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'CONNECT').length === N + 1, 30_000);
  const connectIds = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId).filter((id) => id !== bystander.id);
  assert.equal(new Set(connectIds).size, N, 'distinct connection ids');

  const by = startBystander(bystander);
  await by.progress(1);
  // All at once: no close frame, the TCP connections just go away.
  for (const c of clients) c.ws.terminate();
  await be.waitFor((ev) => ev.filter((e) => type(e) === 'DISCONNECT').length >= N, 60_000);
  await by.progress();
  await sleep(SETTLE_MS);
  const disconnects = be.eventsOfType('DISCONNECT');
  const perId = new Map();
  for (const d of disconnects) perId.set(d.requestContext.connectionId, (perId.get(d.requestContext.connectionId) ?? 0) + 1);
  const twice = [...perId].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'connections with more than one DISCONNECT');
  assert.equal(disconnects.length, N, 'DISCONNECT count equals the CONNECT count');
  assert.deepEqual([...perId.keys()].sort(), connectIds.slice().sort(), 'the DISCONNECTs are for exactly the CONNECTed ids');
  const codes = new Set(disconnects.map((d) => d.requestContext.disconnectStatusCode));
  assert.deepEqual([...codes], [1006]);
  assert.equal(bystander.closeInfo, null);
  await by.stop();
  // The gateway takes new connections afterwards.
  const later = await open(gw, be);
  await later.send('later');
  assert.equal(await later.nextMessage(), 'later');
  await later.close(1000);
  await bystander.close(1000);
});

// ---------------------------------------------------------------------------------------------
// Slowloris

test('slowloris: 200 half request lines and 20 byte-a-time drippers are dropped after handshake_timeout_ms (500); others keep being served; $connect never called', async (t) => {
  const be = await startBackend(t);
  const gw = await startGateway(t, { config: gatewayConfig(be, { connection: { handshake_timeout_ms: 500 } }) });
  const bystander = await open(gw, be);
  const by = startBystander(bystander);
  const connectsBefore = be.eventsOfType('CONNECT').length;

  const slow = [];
  const drippers = new Set();
  t.after(() => { for (const s of slow) s.sock.destroy(); for (const timer of drippers) clearInterval(timer); });
  const opened = [];
  const openSlow = (drip) => {
    const sock = net.connect({ host: gw.host, port: gw.port });
    const entry = { sock, drip, closedAt: null, connectedAt: null, received: 0 };
    slow.push(entry);
    opened.push(new Promise((resolve, reject) => {
      sock.once('connect', () => {
        entry.connectedAt = Date.now();
        if (!drip) {
          sock.write('GET /dev HT');
        } else {
          // A request head that never ends, one byte every 50 ms.
          const head = `GET /dev HTTP/1.1\r\nHost: x\r\nX-Drip: ${'d'.repeat(10_000)}`;
          let i = 0;
          const timer = setInterval(() => {
            if (sock.destroyed || i >= head.length) { clearInterval(timer); drippers.delete(timer); return; }
            sock.write(head[i++]);
          }, 50);
          drippers.add(timer);
        }
        resolve();
      });
      sock.once('error', reject);
    }));
    sock.on('data', (d) => { entry.received += d.length; });
    sock.on('error', () => {});
    sock.on('close', () => { entry.closedAt = Date.now(); });
  };
  for (let i = 0; i < 200; i++) openSlow(false);
  for (let i = 0; i < 20; i++) openSlow(true);
  await Promise.all(opened);

  // While they hang on, new WebSocket clients connect and are served.
  const fresh = await Promise.all(Array.from({ length: 5 }, () => open(gw, be)));
  for (const [i, c] of fresh.entries()) {
    await c.send(`fresh ${i}`);
    assert.equal(await c.nextMessage(), `fresh ${i}`);
  }
  await by.progress();

  await waitUntil(() => slow.every((s) => s.closedAt !== null), {
    timeoutMs: 20_000,
    what: `the gateway to drop all slowloris connections (still open: ${slow.filter((s) => s.closedAt === null).length})`,
  });
  const held = slow.map((s) => s.closedAt - s.connectedAt).sort((a, b) => a - b);
  t.diagnostic(`slowloris connections held ${held[0]}..${held.at(-1)} ms (median ${held[held.length >> 1]})`);
  for (const s of slow) assert.equal(s.received, 0, 'a timed-out request head gets no answer, only a closed connection');
  await by.progress();
  await sleep(SETTLE_MS);
  assert.equal(be.eventsOfType('CONNECT').length, connectsBefore + fresh.length, '$connect ran only for the real clients');
  for (const c of fresh) assert.equal(c.closeInfo, null);
  await by.stop();
  await Promise.all([...fresh, bystander].map((c) => c.close(1000)));
});
