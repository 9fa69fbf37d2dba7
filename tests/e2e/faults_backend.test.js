// Fault injection on the HTTP integration: a backend that refuses connections, hangs past
// timeout_ms, answers garbage or more than 8 MiB, cuts its answer short, or is slower than the
// pool. Each fault has one defined answer (an AWS error frame on message routes, 502/504 on
// $connect), the faulty client's socket stays usable, the pool recovers, and a bystander client
// on a healthy integration keeps getting its echoes during and after the fault.
// docs/faults.md lists every fault with its answer and the test that proves it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { AWS_ID, closedPort, deferred, sleep, startBackend, waitUntil } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { startBystander } from './lib/bystander.js';
import { connect, connectRejected } from './lib/ws.js';

const SETTLE_MS = 300;
const MAX_ANSWER = 8 << 20;  // the gateway's limit on one backend answer
const type = (e) => e?.requestContext?.eventType;

// ---------------------------------------------------------------------------------------------
// A backend that misbehaves on request. The fault is chosen per event: for a MESSAGE by the
// `fault` field of the client's JSON body, for a CONNECT by the `fault` query parameter; no fault
// (or 'ok') answers like a healthy echo backend.
//
//   ok       {"statusCode":200,"body":<message body>}
//   hang     never answers (until the test ends or the gateway gives up)
//   garbage  200, a body that is not JSON
//   huge     200, Content-Length 9 MiB (a valid Lambda-proxy JSON, just too big)
//   huge-chunked  the same 9 MiB, chunked (no Content-Length: the limit is hit while reading)
//   cut      200 with Content-Length 1000, 10 bytes of body, then the socket is destroyed
//   reset    the socket is destroyed as soon as the request has been read (no answer byte)
async function startFaultServer(t) {
  const fs = {
    events: [],
    inflight: 0,
    maxInflight: 0,
    held: new Set(),   // responses of 'hang' requests not yet given up by the gateway
    gates: [],         // optional deferreds: 'gate' requests wait for the next one
    eventsOfType(ty) { return this.events.filter((e) => type(e) === ty); },
  };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let event;
      try { event = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { event = undefined; }
      fs.events.push(event);
      let fault = 'ok';
      let delayMs = 0;
      if (type(event) === 'CONNECT') fault = event.queryStringParameters?.fault ?? 'ok';
      if (type(event) === 'MESSAGE') {
        try {
          const b = JSON.parse(event.body);
          fault = b.fault ?? 'ok';
          delayMs = b.delayMs ?? 0;
        } catch { /* plain text: ok */ }
      }
      fs.inflight++;
      fs.maxInflight = Math.max(fs.maxInflight, fs.inflight);
      res.on('close', () => { fs.inflight--; fs.held.delete(res); });
      if (delayMs) await sleep(delayMs);
      if (res.destroyed) return;
      const proxy = type(event) === 'MESSAGE' ? { statusCode: 200, body: event.body } : { statusCode: 200 };
      switch (fault) {
        case 'ok':
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(proxy));
          break;
        case 'hang':
          fs.held.add(res);
          break;
        case 'gate': {
          const d = deferred();
          fs.gates.push(d);
          await d.promise;
          if (!res.destroyed) res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(proxy));
          break;
        }
        case 'garbage':
          res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html> not JSON {');
          break;
        case 'huge': {
          const body = Buffer.from(JSON.stringify({ statusCode: 200, body: 'x'.repeat(MAX_ANSWER + (1 << 20)) }));
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
          res.end(body);
          break;
        }
        case 'huge-chunked': {
          res.writeHead(200, { 'Content-Type': 'application/json' });  // no length: chunked
          res.write('{"statusCode":200,"body":"');
          const chunk = 'y'.repeat(64 * 1024);
          for (let sent = 0; sent < MAX_ANSWER + (1 << 20) && !res.destroyed; sent += chunk.length) {
            if (!res.write(chunk)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
          }
          if (!res.destroyed) res.end('"}');
          break;
        }
        case 'cut':
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
          res.write('{"statusCod', () => res.socket?.destroy());
          break;
        case 'reset':
          res.socket?.destroy();
          break;
        default:
          res.writeHead(500).end(`unknown fault ${fault}`);
      }
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  fs.port = server.address().port;
  fs.url = `http://127.0.0.1:${fs.port}/fault`;
  let closed = false;
  // Stops listening and drops every connection: from now on the port refuses connections.
  fs.close = async () => {
    if (closed) return;
    closed = true;
    for (const g of fs.gates) g.resolve();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(() => resolve()));
  };
  t.after(() => fs.close());
  return fs;
}

// ---------------------------------------------------------------------------------------------
// Gateway: $connect/$disconnect/$default on a healthy recording backend (`good`), and routes
// `fault` (the fault server) and `refused` (a closed port), both two-way.
async function startFaultGateway(t, { faultTimeoutMs = 1000, faultIntegration = {}, connectOnFault = false, extraRoutes = {} } = {}) {
  const good = await startBackend(t);
  const fault = await startFaultServer(t);
  const refusedPort = await closedPort();
  const config = {
    threads: 2,
    integrations: {
      good: { type: 'http', url: good.url },
      faulty: { type: 'http', url: fault.url, timeout_ms: faultTimeoutMs, ...faultIntegration },
      refused: { type: 'http', url: `http://127.0.0.1:${refusedPort}/nobody-home`, timeout_ms: 5000 },
    },
    routes: {
      $connect: { integration: connectOnFault ? 'faulty' : 'good' },
      $disconnect: { integration: 'good' },
      $default: { integration: 'good', route_response: true },
      fault: { integration: 'faulty', route_response: true },
      refused: { integration: 'refused', route_response: true },
      ...extraRoutes,
    },
  };
  const gw = await startGateway(t, { config });
  return { gw, good, fault };
}

// Opens a client and finds its connectionId in the CONNECT events of `recorder` (good or fault).
async function openClient(gw, recorder, url = gw.url) {
  const before = new Set(recorder.events.filter((e) => type(e) === 'CONNECT').map((e) => e.requestContext.connectionId));
  const c = await connect(url);
  const ev = await waitUntil(() => recorder.events.find((e) => type(e) === 'CONNECT' && !before.has(e.requestContext.connectionId)),
    { what: 'the new CONNECT event' });
  c.id = ev.requestContext.connectionId;
  return c;
}

// Opened one after the other, so that each finds its own CONNECT event.
async function openMany(gw, recorder, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await openClient(gw, recorder));
  return out;
}


const ERROR_FRAME = /^\{"message": "([^"]+)", "connectionId":"([A-Za-z0-9_-]{15}=)", "requestId":"([A-Za-z0-9_-]{15}=)"\}$/;
function assertErrorFrame(frame, message, connectionId) {
  const m = ERROR_FRAME.exec(frame);
  assert.ok(m, `not an AWS error frame: ${frame.slice(0, 200)}`);
  assert.equal(m[1], message, `error frame: ${frame}`);
  assert.equal(m[2], connectionId);
  assert.match(m[3], AWS_ID);
  return { requestId: m[3] };
}

// The faulty client is still served: the healthy route answers, and the fault server answers a
// normal request again (its pool replaced whatever connection the fault broke).
async function assertRecovered(c, tag) {
  await c.send(`after ${tag}`);
  assert.equal(await c.nextMessage(), `after ${tag}`);
  const ok = JSON.stringify({ action: 'fault', fault: 'ok', tag });
  await c.send(ok);
  assert.equal(await c.nextMessage(), ok, 'the faulty integration serves again after the fault');
}

// ---------------------------------------------------------------------------------------------
// Message routes

const messageFaults = [
  { fault: 'garbage', answer: 'Internal server error' },
  { fault: 'huge', answer: 'Internal server error' },
  { fault: 'huge-chunked', answer: 'Internal server error' },
  { fault: 'cut', answer: 'Internal server error' },
  { fault: 'reset', answer: 'Internal server error' },
  { fault: 'hang', answer: 'Endpoint request timed out' },
];

for (const { fault, answer } of messageFaults) {
  test(`message route, backend fault '${fault}': "${answer}" frame with the request's ids; socket stays open; bystander unaffected`, async (t) => {
    const { gw, good, fault: fs } = await startFaultGateway(t, { faultTimeoutMs: fault === 'hang' ? 500 : 10_000 });
    const bystander = await openClient(gw, good);
    const c = await openClient(gw, good);
    const by = startBystander(bystander);
    await by.progress();

    // Three faulty messages in a row: each gets its own error frame.
    const requestIds = [];
    for (let i = 0; i < 3; i++) {
      await c.send(JSON.stringify({ action: 'fault', fault, i }));
      const frame = await c.nextMessage(15_000);
      const { requestId } = assertErrorFrame(frame, answer, c.id);
      // The requestId is the one of the event the backend received (the fault happened there).
      const ev = fs.eventsOfType('MESSAGE').find((e) => e.requestContext.requestId === requestId);
      assert.ok(ev, `no MESSAGE event with requestId ${requestId} reached the backend`);
      assert.equal(JSON.parse(ev.body).i, i);
      requestIds.push(requestId);
      await by.progress(1);
    }
    assert.equal(new Set(requestIds).size, 3);
    await assertRecovered(c, fault);
    await by.progress();
    const rounds = await by.stop();
    t.diagnostic(`bystander: ${rounds} echoes during the fault`);
    assert.equal(c.closeInfo, null, 'the faulty client must stay connected');
    assert.equal(bystander.closeInfo, null);
    assert.equal(gw.exitInfo(), null, 'the gateway is still running');
    await bystander.close(1000);
    await c.close(1000);
  });
}

test('message route, backend refuses connections (closed port): "Internal server error" at once; bystander unaffected', async (t) => {
  const { gw, good } = await startFaultGateway(t);
  const bystander = await openClient(gw, good);
  const c = await openClient(gw, good);
  const by = startBystander(bystander);
  await by.progress();
  for (let i = 0; i < 5; i++) {
    await c.send(JSON.stringify({ action: 'refused', i }));
    assertErrorFrame(await c.nextMessage(), 'Internal server error', c.id);
  }
  // 20 at once (several calls in flight per connection): 20 error frames, nothing else.
  await Promise.all(Array.from({ length: 20 }, (_, i) => c.send(JSON.stringify({ action: 'refused', burst: i }))));
  const ids = new Set();
  for (let i = 0; i < 20; i++) ids.add(assertErrorFrame(await c.nextMessage(), 'Internal server error', c.id).requestId);
  assert.equal(ids.size, 20, 'one error frame per message, each with its own requestId');
  await c.send('still here');
  assert.equal(await c.nextMessage(), 'still here');
  await by.progress();
  await by.stop();
  await bystander.close(1000);
  await c.close(1000);
});

test('message route, the backend process dies mid-run: calls in flight and new calls get "Internal server error"; healthy routes keep working', async (t) => {
  const { gw, good, fault: fs } = await startFaultGateway(t, { faultTimeoutMs: 10_000 });
  const bystander = await openClient(gw, good);
  const c = await openClient(gw, good);
  const by = startBystander(bystander);
  // Warm the pool, then hold 3 calls in the backend and kill it.
  await c.send(JSON.stringify({ action: 'fault', fault: 'ok' }));
  await c.nextMessage();
  for (let i = 0; i < 3; i++) await c.send(JSON.stringify({ action: 'fault', fault: 'hang', i }));
  await waitUntil(() => fs.held.size === 3, { what: '3 calls held by the backend' });
  await fs.close();  // connections reset, port closed
  for (let i = 0; i < 3; i++) assertErrorFrame(await c.nextMessage(), 'Internal server error', c.id);
  await c.send(JSON.stringify({ action: 'fault', fault: 'ok', after: true }));
  assertErrorFrame(await c.nextMessage(), 'Internal server error', c.id);
  await c.send('echo still works');
  assert.equal(await c.nextMessage(), 'echo still works');
  await by.progress();
  await by.stop();
  await bystander.close(1000);
  await c.close(1000);
});

// ---------------------------------------------------------------------------------------------
// $connect

const connectFaults = [
  { fault: 'garbage', status: 502, body: { message: 'Internal server error' } },
  { fault: 'huge', status: 502, body: { message: 'Internal server error' } },
  { fault: 'cut', status: 502, body: { message: 'Internal server error' } },
  { fault: 'reset', status: 502, body: { message: 'Internal server error' } },
  { fault: 'hang', status: 504, body: { message: 'Endpoint request timed out' } },
];

for (const { fault, status, body } of connectFaults) {
  test(`$connect, backend fault '${fault}': handshake ${status} ${JSON.stringify(body)}; no $disconnect; bystander unaffected`, async (t) => {
    const { gw, good, fault: fs } = await startFaultGateway(t, { connectOnFault: true, faultTimeoutMs: fault === 'hang' ? 500 : 10_000 });
    const bystander = await openClient(gw, fs);
    const by = startBystander(bystander);
    await by.progress();
    for (let i = 0; i < 2; i++) {
      const before = fs.eventsOfType('CONNECT').length;
      const r = await connectRejected(`${gw.url}?fault=${fault}&i=${i}`, { timeoutMs: 15_000 });
      assert.equal(r.status, status, `handshake status for '${fault}'`);
      assert.deepEqual(JSON.parse(r.body), body);
      assert.equal(r.headers['content-type'], 'application/json');
      // Once; twice for 'reset' if the pooled connection was a reused one (the request is sent once
      // more on a fresh connection when the backend closes a reused one without answering a byte).
      const calls = fs.eventsOfType('CONNECT').length - before;
      if (fault === 'reset') assert.ok(calls === 1 || calls === 2, `$connect called ${calls} times`);
      else assert.equal(calls, 1, '$connect was called once');
      await by.progress(1);
    }
    // A healthy handshake right after works (the pool replaced the broken connection).
    const later = await openClient(gw, fs);
    await later.send('hello');
    assert.equal(await later.nextMessage(), 'hello');
    await by.progress();
    await by.stop();
    // A refused handshake is never followed by $disconnect.
    await sleep(SETTLE_MS);
    assert.deepEqual(good.eventsOfType('DISCONNECT'), [], 'no $disconnect for a refused handshake');
    await later.close(1000);
    await bystander.close(1000);
    await good.waitFor((ev) => ev.filter((e) => type(e) === 'DISCONNECT').length === 2);
    assert.deepEqual(good.eventsOfType('DISCONNECT').map((e) => e.requestContext.connectionId).sort(), [bystander.id, later.id].sort());
  });
}

test('$connect, backend refuses connections (stopped after the bystander connected): handshake 502; bystander unaffected', async (t) => {
  const { gw, good, fault: fs } = await startFaultGateway(t, { connectOnFault: true });
  const bystander = await openClient(gw, fs);
  const by = startBystander(bystander);
  await by.progress();
  await fs.close();  // the $connect backend is gone: its port refuses connections now
  for (let i = 0; i < 3; i++) {
    const r = await connectRejected(gw.url);
    assert.equal(r.status, 502);
    assert.deepEqual(JSON.parse(r.body), { message: 'Internal server error' });
    await by.progress(1);
  }
  await by.progress();
  await by.stop();
  await sleep(SETTLE_MS);
  assert.deepEqual(good.eventsOfType('DISCONNECT'), [], 'no $disconnect for a refused handshake');
  await bystander.close(1000);
});

// ---------------------------------------------------------------------------------------------
// Pool saturation

test('pool saturation: max_connections 2, 50 messages from 5 clients to a slow backend -> all 50 answered, none lost, never more than 2 in flight', async (t) => {
  const { gw, good, fault: fs } = await startFaultGateway(t, {
    faultTimeoutMs: 60_000,
    faultIntegration: { max_connections: 2 },
  });
  const bystander = await openClient(gw, good);
  const by = startBystander(bystander);
  const clients = await openMany(gw, good, 5);
  const sent = clients.map(() => []);
  await Promise.all(clients.map(async (c, ci) => {
    for (let i = 0; i < 10; i++) {
      const text = JSON.stringify({ action: 'fault', fault: 'ok', delayMs: 40, client: ci, i });
      sent[ci].push(text);
      await c.send(text);
    }
  }));
  // Each client gets exactly its own 10 answers (in any order: up to 16 calls per connection run
  // at once), no error frame among them.
  await Promise.all(clients.map(async (c, ci) => {
    const got = [];
    for (let i = 0; i < 10; i++) got.push(await c.nextMessage(30_000));
    assert.deepEqual(got.slice().sort(), sent[ci].slice().sort(), `client ${ci}`);
  }));
  await sleep(SETTLE_MS);
  for (const c of clients) assert.deepEqual(c.unread(), [], 'nothing more than the 50 answers');
  assert.equal(fs.eventsOfType('MESSAGE').length, 50, 'each message reached the backend once');
  assert.ok(fs.maxInflight <= 2, `the backend saw ${fs.maxInflight} concurrent calls with max_connections 2`);
  assert.equal(fs.maxInflight, 2, 'both pool connections were used');
  await by.progress();
  await by.stop();
  await Promise.all([...clients, bystander].map((c) => c.close(1000)));
});

test('pool saturation with max_queued 0 and a hanging backend: the overflow gets "Internal server error" while the pool is still busy; nothing is sent for it', async (t) => {
  const { gw, good, fault: fs } = await startFaultGateway(t, {
    faultTimeoutMs: 60_000,  // the held calls will not time out during the test
    faultIntegration: { max_connections: 2, max_queued: 0 },
  });
  const bystander = await openClient(gw, good);
  const by = startBystander(bystander);
  const holder = await openClient(gw, good);
  await holder.send(JSON.stringify({ action: 'fault', fault: 'gate', n: 1 }));
  await holder.send(JSON.stringify({ action: 'fault', fault: 'gate', n: 2 }));
  await waitUntil(() => fs.gates.length === 2, { what: 'both pool connections held' });

  const clients = await openMany(gw, good, 5);
  await Promise.all(clients.map((c, ci) => Promise.all(
    Array.from({ length: 4 }, (_, i) => c.send(JSON.stringify({ action: 'fault', fault: 'ok', client: ci, i }))))));
  // 20 overflow calls: 20 "Internal server error" frames (a timeout would say "Endpoint request
  // timed out", and could not happen before 60 s), while both held calls are still unanswered.
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < 4; i++) assertErrorFrame(await c.nextMessage(15_000), 'Internal server error', c.id);
  }));
  assert.equal(fs.gates.length, 2);
  assert.equal(fs.inflight, 2, 'the held calls are still in the backend');
  assert.equal(fs.eventsOfType('MESSAGE').length, 2, 'an overflow call is refused without being sent');
  assert.deepEqual(holder.unread(), []);
  await by.progress();

  // Release the pool: the held calls are answered, and the integration takes new calls again.
  for (const g of fs.gates) g.resolve();
  const answers = [await holder.nextMessage(), await holder.nextMessage()].map((m) => JSON.parse(m).n).sort();
  assert.deepEqual(answers, [1, 2]);
  const ok = JSON.stringify({ action: 'fault', fault: 'ok', again: true });
  await clients[0].send(ok);
  assert.equal(await clients[0].nextMessage(), ok);
  await by.progress();
  await by.stop();
  await Promise.all([...clients, holder, bystander].map((c) => c.close(1000)));
});
