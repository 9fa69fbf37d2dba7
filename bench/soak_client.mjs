// Helper of bench/soak.sh: the soak test's HTTP backend and its mixed-traffic client.
//
//   node bench/soak_client.mjs backend --port-file FILE
//       Lambda-proxy backend on 127.0.0.1:0 (port written to FILE): accepts $connect, records
//       $disconnect, echoes every message (route `echo` and `$default`; `whoami` is answered with
//       the sender's connectionId). GET /stats answers its
//       counters as JSON (connects, disconnects, duplicate/unknown disconnects, still open).
//
//   node bench/soak_client.mjs client --url ws://H:P/dev --endpoint http://H:P/dev --seconds N
//       [--steady 40] [--churners 8] [--rate 10] [--posts-per-second 20] [--stats FILE]
//       Mixed traffic for N seconds, then a summary as JSON (stdout and --stats FILE):
//       - steady: connections kept open the whole run, each sending --rate echo messages per
//         second and checking every answer;
//       - churn: workers that connect, exchange 1-5 messages, then leave by a normal close, an
//         abrupt socket drop, a DeleteConnection, a binary frame (expect 1003) or a message
//         over 128 KiB (expect 1009);
//       - management: PostToConnection (JS SDK, SigV4 with the local key pair) to the steady
//         connections: small text, 64 KiB text (fragmented), binary; GetConnection now and then.
//       Every answer is checked; anything unexpected is counted in `errors` (exit code 1 if any).
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import process from 'node:process';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[++i];
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (n) => Math.floor(Math.random() * n);

// ---------------------------------------------------------------------------------------------
// Backend

function runBackend(opts) {
  const open = new Set();
  const stats = { connects: 0, disconnects: 0, duplicateDisconnects: 0, unknownDisconnects: 0, messages: 0, disconnectCodes: {} };
  const everDisconnected = new Set();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ...stats, open: open.size }));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let answer = { statusCode: 200 };
      try {
        const ev = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const rc = ev.requestContext;
        if (rc.eventType === 'CONNECT') {
          stats.connects++;
          open.add(rc.connectionId);
        } else if (rc.eventType === 'DISCONNECT') {
          stats.disconnects++;
          stats.disconnectCodes[rc.disconnectStatusCode] = (stats.disconnectCodes[rc.disconnectStatusCode] ?? 0) + 1;
          if (everDisconnected.has(rc.connectionId)) stats.duplicateDisconnects++;
          else if (!open.has(rc.connectionId)) stats.unknownDisconnects++;
          everDisconnected.add(rc.connectionId);
          open.delete(rc.connectionId);
        } else {
          stats.messages++;
          answer = { statusCode: 200, body: ev.body };
          if (ev.body.startsWith('{"action":"whoami"')) {
            answer.body = JSON.stringify({ ...JSON.parse(ev.body), id: rc.connectionId });
          }
        }
      } catch {
        answer = { statusCode: 500 };
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, '127.0.0.1', () => {
    writeFileSync(opts['port-file'], String(server.address().port));
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---------------------------------------------------------------------------------------------
// Client

async function runClient(opts) {
  const { default: WebSocket } = await import('ws');
  const sdkMod = await import('@aws-sdk/client-apigatewaymanagementapi');
  const { ApiGatewayManagementApiClient, PostToConnectionCommand, GetConnectionCommand, DeleteConnectionCommand } = sdkMod;

  const url = opts.url;
  const seconds = Number(opts.seconds ?? 60);
  const steadyN = Number(opts.steady ?? 40);
  const churners = Number(opts.churners ?? 8);
  const rate = Number(opts.rate ?? 10);
  const postsPerSecond = Number(opts['posts-per-second'] ?? 20);
  const sdk = new ApiGatewayManagementApiClient({
    endpoint: opts.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAWSGATELOCAL00001', secretAccessKey: 'wsgate-local-secret-key-not-for-production' },
    maxAttempts: 1,
  });

  const s = {
    connectionsOpened: 0, handshakeFailures: 0, echoes: 0, posts200: 0, posts429: 0, posts410: 0, postsReceived: 0,
    postBytes: 0, gets: 0, deletes: 0, closes: {}, churnCycles: 0, errors: 0, errorSamples: [],
  };
  const error = (msg) => {
    s.errors++;
    if (s.errorSamples.length < 30) s.errorSamples.push(`${new Date().toISOString()} ${msg}`);
  };
  const deadline = Date.now() + seconds * 1000;
  const running = () => Date.now() < deadline;

  // One connection; messages are matched to waiters by their `seq`, posts are counted apart.
  function open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000, maxPayload: 256 * 1024 });
      const c = { ws, waiters: new Map(), posts: 0, closed: null, id: null };
      c.closedPromise = new Promise((r) => ws.on('close', (code) => {
        c.closed = code;
        s.closes[code] = (s.closes[code] ?? 0) + 1;
        for (const w of c.waiters.values()) w.reject(new Error(`closed ${code}`));
        c.waiters.clear();
        r(code);
      }));
      ws.on('message', (data, isBinary) => {
        if (isBinary) { c.posts++; s.postsReceived++; return; }
        const text = data.toString('utf8');
        if (text.startsWith('post:')) { c.posts++; s.postsReceived++; return; }
        let msg;
        try { msg = JSON.parse(text); } catch { error(`non-JSON text: ${text.slice(0, 80)}`); return; }
        if (msg.id !== undefined) { c.id = msg.id; }
        const w = c.waiters.get(msg.seq);
        if (!w) { error(`unexpected message ${text.slice(0, 120)}`); return; }
        c.waiters.delete(msg.seq);
        w.resolve(msg);
      });
      ws.on('error', () => {});
      ws.once('open', () => { s.connectionsOpened++; resolve(c); });
      ws.once('unexpected-response', (req, res) => { req.destroy(); reject(new Error(`handshake ${res.statusCode}`)); });
      ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    });
  }
  let seq = 0;
  function roundTrip(c, pad = 0, timeoutMs = 30_000) {
    const n = seq++;
    const body = JSON.stringify({ action: Math.random() < 0.5 ? 'echo' : 'other', seq: n, pad: 'p'.repeat(pad) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { c.waiters.delete(n); reject(new Error(`no echo for seq ${n} within ${timeoutMs} ms`)); }, timeoutMs);
      c.waiters.set(n, {
        resolve: (m) => { clearTimeout(timer); if (m.pad.length !== pad) error(`echo ${n} has the wrong body`); s.echoes++; resolve(); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      c.ws.send(body);
    });
  }
  async function openRetrying() {
    for (;;) {
      try { return await open(); } catch (e) { s.handshakeFailures++; error(`handshake failed: ${e.message}`); await sleep(500); }
    }
  }

  // A client cannot see its own connectionId; the backend answers `whoami` with it.
  async function whoAmI(c) {
    const n = seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no whoami answer')), 30_000);
      c.waiters.set(n, { resolve: (m) => { clearTimeout(timer); resolve(m.id); }, reject });
      c.ws.send(JSON.stringify({ action: 'whoami', seq: n }));
    });
  }

  // Steady connections.
  const steady = [];
  for (let i = 0; i < steadyN; i++) {
    const c = await openRetrying();
    c.id = await whoAmI(c);
    c.posted = 0;
    steady.push(c);
  }
  const steadyLoops = steady.map(async (c) => {
    const period = 1000 / rate;
    while (running() && c.closed === null) {
      const t0 = Date.now();
      try { await roundTrip(c, rand(512)); } catch (e) { error(`steady: ${e.message}`); }
      const left = period - (Date.now() - t0);
      if (left > 0) await sleep(left);
    }
  });

  // Churn.
  const churnLoops = Array.from({ length: churners }, async () => {
    while (running()) {
      let c;
      try { c = await open(); } catch (e) { s.handshakeFailures++; error(`churn handshake: ${e.message}`); await sleep(200); continue; }
      try {
        const n = 1 + rand(5);
        for (let i = 0; i < n; i++) await roundTrip(c, rand(2048));
        const how = Math.random();
        if (how < 0.45) {
          c.ws.close(1000, 'bye');
          const code = await c.closedPromise;
          if (code !== 1000) error(`normal close answered ${code}`);
        } else if (how < 0.75) {
          c.ws.terminate();
          await c.closedPromise;
        } else if (how < 0.85) {
          const id = await whoAmI(c);
          await sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));
          s.deletes++;
          const code = await c.closedPromise;
          if (code !== 1000) error(`DeleteConnection closed with ${code}`);
        } else if (how < 0.93) {
          c.ws.send(crypto.randomBytes(64), { binary: true });
          const code = await c.closedPromise;
          if (code !== 1003) error(`binary frame closed with ${code}`);
        } else {
          c.ws.send('x'.repeat(200 * 1024));
          const code = await c.closedPromise;
          if (code !== 1009) error(`oversize message closed with ${code}`);
        }
        s.churnCycles++;
      } catch (e) {
        error(`churn: ${e.message}`);
        c.ws.terminate();
      }
    }
  });

  // Management traffic to the steady connections.
  const mgmtLoop = (async () => {
    const period = 1000 / postsPerSecond;
    let k = 0;
    while (running()) {
      const t0 = Date.now();
      const c = steady[rand(steady.length)];
      const kind = k % 20;
      const data = kind === 0 ? Buffer.concat([Buffer.from('post:'), Buffer.alloc(64 * 1024, 0x61)])
        : kind === 1 ? Buffer.from([0xff, 0xfe, 0x00, k & 0xff])
          : Buffer.from(`post:${k}`);
      k++;
      try {
        if (k % 50 === 0) {
          await sdk.send(new GetConnectionCommand({ ConnectionId: c.id }));
          s.gets++;
        }
        await sdk.send(new PostToConnectionCommand({ ConnectionId: c.id, Data: data }));
        s.posts200++;
        s.postBytes += data.length;
        c.posted++;
      } catch (e) {
        if (e.$metadata?.httpStatusCode === 429) s.posts429++;
        else if (e.$metadata?.httpStatusCode === 410) { s.posts410++; error(`post to a steady connection: GoneException`); }
        else error(`post: ${e.name} ${e.$metadata?.httpStatusCode ?? ''} ${e.message}`);
      }
      const left = period - (Date.now() - t0);
      if (left > 0) await sleep(left);
    }
  })();

  await Promise.all([...steadyLoops, ...churnLoops, mgmtLoop]);
  // Every accepted POST reaches its client.
  const wanted = steady.reduce((a, c) => a + c.posted, 0);
  const waitUntil = Date.now() + 15_000;
  while (steady.reduce((a, c) => a + c.posts, 0) < wanted && Date.now() < waitUntil) await sleep(100);
  for (const c of steady) {
    if (c.posts !== c.posted) error(`steady connection got ${c.posts} of ${c.posted} accepted POSTs`);
  }
  for (const c of steady) c.ws.close(1000, 'done');
  await Promise.all(steady.map((c) => c.closedPromise));
  s.steady = steadyN;
  const summary = JSON.stringify(s, null, 2);
  if (opts.stats) writeFileSync(opts.stats, summary);
  process.stdout.write(`${summary}\n`);
  process.exit(s.errors > 0 ? 1 : 0);
}

const [mode, ...rest] = process.argv.slice(2);
const opts = parseArgs(rest);
if (mode === 'backend') runBackend(opts);
else if (mode === 'client') runClient(opts).catch((e) => { console.error(e); process.exit(2); });
else {
  console.error('usage: soak_client.mjs backend --port-file FILE | client --url URL --endpoint URL --seconds N');
  process.exit(2);
}
