// A real browser as the WebSocket client: Debian's Chromium (/usr/bin/chromium), headless, driven by
// npm playwright-core (no browser download). A page served from 127.0.0.1 opens
// `new WebSocket('ws://127.0.0.1:PORT/dev?tag=...')`; the $connect backend records the connection id
// (found by the tag) and can select a subprotocol; the management API is called with the JS SDK,
// signed with the local key pair.
//
// If Chromium or playwright-core is missing the tests fail (they are not skipped): install
// `chromium` (Debian) and `npm ci`.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import {
  DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand, asciiPayload, sdkClient, waitUntil,
} from './lib/mgmt.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium's own connections are refused on the test
// machines (no network) and it stalls; QUIC and GPU are off for the same reason.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LOCAL_CREDS = Object.freeze({ accessKeyId: 'AKIAWSGATELOCAL00001', secretAccessKey: 'wsgate-local-secret-key-not-for-production' });
const REGION = 'us-east-1';

// The page: a registry of sockets the tests drive through page.evaluate().
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>wsgate browser e2e</title></head>
<body><script>
window.sockets = {};
// Opens a socket; resolves when it opens or closes, whichever comes first.
window.openSocket = (name, url, protocols) => new Promise((resolve) => {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const rec = { ws, messages: [], close: null, errors: 0 };
  window.sockets[name] = rec;
  ws.onmessage = (e) => rec.messages.push(typeof e.data === 'string' ? { text: e.data } : { binary: true, type: String(e.data) });
  ws.onerror = () => { rec.errors++; };
  ws.onopen = () => resolve({ open: true, protocol: ws.protocol, extensions: ws.extensions });
  ws.onclose = (e) => {
    rec.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
    resolve({ open: false, close: rec.close, errors: rec.errors });
  };
});
window.state = (name) => {
  const r = window.sockets[name];
  return { readyState: r.ws.readyState, messages: r.messages.length, close: r.close, errors: r.errors };
};
</script></body></html>`;

let context;
let page0Url;
let pageServer;
let userDataDir;

before(async () => {
  pageServer = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  page0Url = `http://127.0.0.1:${pageServer.address().port}/`;
  userDataDir = mkdtempSync(path.join(tmpdir(), 'wsgate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
});

after(async () => {
  await context?.close().catch(() => {});
  pageServer?.closeAllConnections?.();
  await new Promise((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/**
 * A gateway whose $connect (and $disconnect) go to a recording backend and whose $default is the
 * built-in echo; management signed with the local key pair. The backend selects `myprotocol` when
 * the client offers it.
 */
async function startStack(t) {
  const be = await startBackend(t);
  be.handler = (event) => {
    if (event?.requestContext?.eventType !== 'CONNECT') return { body: { statusCode: 200 } };
    const offered = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'sec-websocket-protocol')?.[1] ?? '';
    const protocols = offered.split(',').map((s) => s.trim());
    const answer = { statusCode: 200 };
    if (protocols.includes('myprotocol')) answer.headers = { 'Sec-WebSocket-Protocol': 'myprotocol' };
    return { body: answer };
  };
  const gw = await startGateway(t, {
    config: {
      threads: 2,
      integrations: { backend: { type: 'http', url: be.url } },
      routes: {
        $connect: { integration: 'backend' },
        $disconnect: { integration: 'backend' },
        $default: { integration: 'echo', route_response: true },
      },
      management: {
        auth: 'sigv4',
        region: REGION,
        credentials: [{ access_key_id: LOCAL_CREDS.accessKeyId, secret_access_key: LOCAL_CREDS.secretAccessKey }],
      },
    },
  });
  const sdk = sdkClient(gw, { creds: LOCAL_CREDS, maxAttempts: 1 });
  return { be, gw, sdk };
}

async function newPage(t) {
  const page = await context.newPage();
  t.after(() => page.close().catch(() => {}));
  page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
  await page.goto(page0Url);
  return page;
}

/** Opens a socket named `name` in the page; resolves with its open result and the connection id. */
async function openInPage(page, { gw, be, sdk }, name, protocols) {
  const tag = crypto.randomUUID();
  const url = `${gw.url}?tag=${tag}`;
  const result = await page.evaluate(([n, u, p]) => window.openSocket(n, u, p ?? undefined), [name, url, protocols ?? null]);
  const ev = await be.waitForEvent((e) => e?.requestContext?.eventType === 'CONNECT' && e.queryStringParameters?.tag === tag);
  const id = ev.requestContext.connectionId;
  if (result.open) {
    // The page sees 'open' as soon as the 101 arrives; the registry may learn the id a moment later.
    await waitUntil(async () => {
      try {
        await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
        return true;
      } catch (err) {
        if (err.name !== 'GoneException') throw err;
        return false;
      }
    }, { timeoutMs: 5_000, intervalMs: 5, what: `GetConnection ${id} -> 200` });
  }
  return { ...result, id, connectEvent: ev };
}

/** Waits until socket `name` has received `count` messages; returns them all. */
async function messages(page, name, count, timeoutMs = 10_000) {
  await page.waitForFunction(([n, c]) => window.sockets[n].messages.length >= c || window.sockets[n].close !== null,
    [name, count], { timeout: timeoutMs, polling: 10 });
  const got = await page.evaluate((n) => window.sockets[n].messages, name);
  assert.ok(got.length >= count, `socket ${name}: ${got.length} of ${count} messages before close ${JSON.stringify(await page.evaluate((n) => window.state(n), name))}`);
  return got;
}

async function closed(page, name, timeoutMs = 10_000) {
  await page.waitForFunction((n) => window.sockets[n].close !== null, name, { timeout: timeoutMs, polling: 10 });
  return page.evaluate((n) => window.sockets[n].close, name);
}

test('Chromium: text echo (ASCII, multi-byte UTF-8, 100 KB), no extension negotiated, clean close 1000', async (t) => {
  const stack = await startStack(t);
  const page = await newPage(t);
  const r = await openInPage(page, stack, 'a');
  assert.equal(r.open, true, `socket opened: ${JSON.stringify(r)}`);
  assert.equal(r.protocol, '', 'no subprotocol offered, none selected');
  assert.equal(r.extensions, '', 'Chromium offers permessage-deflate; the gateway negotiates no extension (as on AWS)');
  assert.match(r.connectEvent.headers['User-Agent'] ?? '', /Chrome\/\d+/, 'the $connect event carries the browser User-Agent');
  assert.equal(r.connectEvent.headers.Origin, page0Url.replace(/\/$/, ''), 'Origin header of the page');

  // The largest single frame the default (AWS) frame limit accepts: browsers never fragment.
  const big = asciiPayload(32_768, 3).toString('latin1');
  const sent = ['hello from chromium', 'κόσμε 中文 𝄞 😀 \u0000 end', big, ''];
  await page.evaluate(([n, msgs]) => { for (const m of msgs) window.sockets[n].ws.send(m); }, ['a', sent]);
  const got = await messages(page, 'a', sent.length);
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    assert.equal(got[i].binary, undefined, `message ${i} arrived as text`);
    assert.ok(got[i].text === sent[i], `message ${i} echoed intact (${got[i].text?.length} vs ${sent[i].length} chars)`);
  }

  await page.evaluate((n) => window.sockets[n].ws.close(1000, 'page done'), 'a');
  const c = await closed(page, 'a');
  // RFC 6455 §5.5.1: the answering close typically echoes the status code; echoing the reason is optional.
  assert.equal(c.code, 1000, `the server echoes the close code: ${JSON.stringify(c)}`);
  assert.equal(c.wasClean, true);
  const disc = await stack.be.waitForEvent((e) => e?.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === r.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  assert.equal(disc.requestContext.disconnectReason, 'page done');
});

test('Chromium: PostToConnection (JS SDK) delivers text and a 64 KiB message (two 32 KiB frames, reassembled)', async (t) => {
  const stack = await startStack(t);
  const page = await newPage(t);
  const r = await openInPage(page, stack, 'p');
  assert.equal(r.open, true, JSON.stringify(r));

  const hello = 'pushed by the backend \u2713';
  const big = asciiPayload(65536, 9).toString('latin1');
  let res = await stack.sdk.send(new PostToConnectionCommand({ ConnectionId: r.id, Data: hello }));
  assert.equal(res.$metadata.httpStatusCode, 200);
  res = await stack.sdk.send(new PostToConnectionCommand({ ConnectionId: r.id, Data: big }));
  assert.equal(res.$metadata.httpStatusCode, 200);
  const got = await messages(page, 'p', 2);
  assert.equal(got[0].text, hello);
  assert.equal(got[1].text?.length, 65536, 'one 65536-character text message');
  assert.ok(got[1].text === big, '64 KiB content intact');

  // The echo still works on the same socket afterwards.
  await page.evaluate((n) => window.sockets[n].ws.send('after the pushes'), 'p');
  assert.equal((await messages(page, 'p', 3))[2].text, 'after the pushes');
  const state = await page.evaluate((n) => window.state(n), 'p');
  assert.equal(state.readyState, 1, 'still OPEN');
  assert.equal(state.errors, 0);
});

test('Chromium: subprotocol — page offers [chat1, myprotocol], $connect selects myprotocol -> ws.protocol === "myprotocol"', async (t) => {
  const stack = await startStack(t);
  const page = await newPage(t);
  const r = await openInPage(page, stack, 's', ['chat1', 'myprotocol']);
  assert.equal(r.open, true, JSON.stringify(r));
  assert.equal(r.protocol, 'myprotocol');
  const offered = Object.entries(r.connectEvent.headers).find(([k]) => k.toLowerCase() === 'sec-websocket-protocol')?.[1];
  assert.equal(offered, 'chat1, myprotocol', 'the $connect event shows what the browser offered');
  await page.evaluate((n) => window.sockets[n].ws.send('with a subprotocol'), 's');
  assert.equal((await messages(page, 's', 1))[0].text, 'with a subprotocol');
});

test('Chromium: page offers [chat1] and $connect selects none -> the browser fails the handshake (as against AWS)', async (t) => {
  // AWS does not echo a subprotocol by itself; neither does wsgate. Browsers then refuse the
  // connection ("Sent non-empty 'Sec-WebSocket-Protocol' header but no response was received").
  const stack = await startStack(t);
  const page = await newPage(t);
  const r = await openInPage(page, stack, 'n', ['chat1']);
  assert.equal(r.open, false, `the browser must not open the socket: ${JSON.stringify(r)}`);
  assert.equal(r.close.code, 1006);
  assert.equal(r.errors, 1, 'onerror fired once');
  // The gateway had accepted: it sees the browser drop the TCP connection.
  const disc = await stack.be.waitForEvent((e) => e?.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === r.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1006);
});

test('Chromium: DeleteConnection -> the page\'s onclose sees code 1000 (clean); $disconnect gets 1000', async (t) => {
  const stack = await startStack(t);
  const page = await newPage(t);
  const r = await openInPage(page, stack, 'd');
  const other = await openInPage(page, stack, 'o');
  assert.equal(r.open && other.open, true);
  const res = await stack.sdk.send(new DeleteConnectionCommand({ ConnectionId: r.id }));
  assert.equal(res.$metadata.httpStatusCode, 204);
  const c = await closed(page, 'd');
  assert.equal(c.code, 1000, `onclose code (reason ${JSON.stringify(c.reason)})`);
  assert.equal(c.wasClean, true);
  const disc = await stack.be.waitForEvent((e) => e?.requestContext?.eventType === 'DISCONNECT' && e.requestContext.connectionId === r.id);
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  // The other socket of the same page is untouched.
  await page.evaluate((n) => window.sockets[n].ws.send('other still open'), 'o');
  assert.equal((await messages(page, 'o', 1))[0].text, 'other still open');
});

// A browser sends every message as one frame, so AWS's 32 KB frame quota (the default) is the
// limit a browser meets: 32768 characters are echoed, 32769 close the socket with 1009.
test('Chromium: a binary message -> onclose 1003; a text over the 32 KiB frame limit -> onclose 1009 "Message too big"', async (t) => {
  const stack = await startStack(t);
  const page = await newPage(t);
  const b = await openInPage(page, stack, 'bin');
  const big = await openInPage(page, stack, 'big');
  assert.equal(b.open && big.open, true);
  await page.evaluate((n) => window.sockets[n].ws.send(new Uint8Array([1, 2, 3])), 'bin');
  const cb = await closed(page, 'bin');
  assert.equal(cb.code, 1003, JSON.stringify(cb));
  assert.equal(cb.reason, 'Binary frames are not supported');
  assert.equal(cb.wasClean, true);

  await page.evaluate((n) => window.sockets[n].ws.send('x'.repeat(32768)), 'big');
  assert.equal((await messages(page, 'big', 1))[0].text.length, 32768, 'exactly 32 KiB is echoed');
  await page.evaluate((n) => window.sockets[n].ws.send('y'.repeat(32769)), 'big');
  const cg = await closed(page, 'big');
  assert.equal(cg.code, 1009, JSON.stringify(cg));
  assert.equal(cg.reason, 'Message too big');
});
