// Broadcast latency client for bench/broadcast.sh: N WebSocket subscribers on one channel, then one
// publish; the time from writing the publish request to the LAST subscriber's receipt.
//
//   node bench/broadcast_client.mjs --peer wsgate|nchan|pushpin --ws URL --publish URL --n N [options]
//
//   --peer P          how to publish: wsgate (SigV4-signed POST {stage}/@channels/{name}), nchan
//                     (POST /pub?id=...), pushpin (POST /publish/ with one ws-message item)
//   --ws URL          subscriber URL (every connection joins the channel on connect)
//   --publish URL     publish URL (wsgate: http://H:P/dev/@channels/bench)
//   --n N             subscribers (default 1000)
//   --handshakes H    upgrades in flight while connecting (default 64)
//   --reps R          measured publishes (default 5), after warm-up publishes that also prove every
//                     subscriber is in the channel
//   --connect-backend PORT   wsgate: serve the $connect integration on 127.0.0.1:PORT, answering
//                     {"statusCode":200,"headers":{"X-Wsgate-Channels":"bench"}}
//   --members-url URL wsgate: GET (signed) to check memberCount = N before measuring
//   --access-key, --secret-key, --region   SigV4 (defaults: the gateway's local development pair)
//   --timeout S       seconds for the ramp and for each publish's deliveries (default 60)
//
// All times come from one clock in this process (performance.now()). Last stdout line: JSON with
// every repetition and the medians (last_ms, p50_ms, publish_ms: the publish call's own answer).
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

import { SignatureV4 } from '@smithy/signature-v4';
import WebSocket from 'ws';

const opt = {
  peer: 'wsgate', ws: '', publish: '', n: 1000, handshakes: 64, reps: 5, connectBackend: 0, membersUrl: '',
  accessKey: 'AKIAWSGATELOCAL00001', secretKey: 'wsgate-local-secret-key-not-for-production', region: 'us-east-1', timeout: 60,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (!(k in opt)) { console.error(`unknown option ${argv[i]}`); process.exit(2); }
  const v = argv[++i];
  opt[k] = typeof opt[k] === 'number' ? Number(v) : v;
}
if (!opt.ws || !opt.publish || !['wsgate', 'nchan', 'pushpin'].includes(opt.peer)) {
  console.error('need --peer wsgate|nchan|pushpin, --ws and --publish');
  process.exit(2);
}

const log = (...a) => console.log(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, d = 2) => (x === null || x === undefined ? null : Number(x.toFixed(d)));

// Loopback drops are real on a small VM: a server writing thousands of frames at once can overflow
// the kernel's per-CPU backlog (net.core.netdev_max_backlog), and the lost segments come back only
// after a retransmission timeout (200 ms and more). A repetition during which the host retransmitted
// is flagged (the counter is host-wide: other traffic counts too).
function tcpRetransmits() {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('RetransSegs')]);
  } catch {
    return NaN;
  }
}

// ---- $connect integration (wsgate) ----
let backend = null;
if (opt.connectBackend) {
  const answer = JSON.stringify({ statusCode: 200, headers: { 'X-Wsgate-Channels': 'bench' } });
  backend = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  await new Promise((resolve, reject) => {
    backend.once('error', reject);
    backend.listen(opt.connectBackend, '127.0.0.1', resolve);
  });
}

// ---- HTTP ----
class Sha256 {
  constructor(secret) { this.h = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256'); }
  update(d) { this.h.update(d); }
  async digest() { return new Uint8Array(this.h.digest()); }
}
const signer = new SignatureV4({
  credentials: { accessKeyId: opt.accessKey, secretAccessKey: opt.secretKey }, region: opt.region, service: 'execute-api', sha256: Sha256,
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// Builds the request (signing included) before the clock starts; returns a function that sends it.
async function prepare(method, url, body) {
  const u = new URL(url);
  const buf = body === undefined ? undefined : Buffer.from(body);
  let headers = { host: u.host };
  if (buf) headers['content-length'] = String(buf.length);
  if (opt.peer === 'wsgate') {
    const query = Object.fromEntries(u.searchParams);
    headers = (await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, query, headers, body: buf })).headers;
  }
  if (opt.peer === 'pushpin' && buf) headers['content-type'] = 'application/json';
  return () => new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() }));
    });
    req.on('error', reject);
    req.setTimeout(opt.timeout * 1000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end(buf);
  });
}

function publishBody(msg) {
  if (opt.peer === 'pushpin') return JSON.stringify({ items: [{ channel: 'bench', formats: { 'ws-message': { content: msg } } }] });
  return msg;
}

// ---- Subscribers ----
const sockets = [];
let current = null;   // {tag, t: Float64Array, got}
let warmSeen = null;  // Uint8Array: subscriber i has seen a warm-up message
let opened = 0;
let failed = 0;
let closedEarly = 0;
const failures = new Map();

function onMessage(i, data) {
  const at = performance.now();
  const s = data.toString();
  if (current && s === current.tag) {
    if (current.t[i] === 0) { current.t[i] = at; current.got++; } else current.dup++;
  } else if (warmSeen && s.startsWith('warm-')) {
    if (!warmSeen[i]) { warmSeen[i] = 1; warmSeen.count++; }
  }
}

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(opt.ws, { perMessageDeflate: false, handshakeTimeout: opt.timeout * 1000 });
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      if (ok) opened++; else { failed++; failures.set(why, (failures.get(why) ?? 0) + 1); }
      resolve();
    };
    ws.on('open', () => finish(true));
    ws.on('message', (d) => onMessage(i, d));
    ws.on('unexpected-response', (req, res) => { finish(false, `HTTP ${res.statusCode}`); req.destroy(); });
    ws.on('error', (e) => finish(false, e.code ?? e.message));
    ws.on('close', () => { if (done) closedEarly++; finish(false, 'closed'); });
    sockets[i] = ws;
  });
}

const rampStart = performance.now();
{
  let next = 0;
  const worker = async () => { while (next < opt.n) await open(next++); };
  await Promise.all(Array.from({ length: Math.min(opt.handshakes, opt.n) }, worker));
}
const rampMs = performance.now() - rampStart;
log(`${opt.peer}: ${opened}/${opt.n} subscribers open in ${(rampMs / 1000).toFixed(1)} s${failed ? `; failed ${JSON.stringify(Object.fromEntries(failures))}` : ''}`);

async function finishAndExit(result, code) {
  for (const ws of sockets) ws?.terminate();
  backend?.close();
  agent.destroy();
  console.log(JSON.stringify(result));
  process.exit(code);
}

const result = { peer: opt.peer, n: opt.n, opened, failed, ramp_s: round(rampMs / 1000, 1), reps: [] };
if (opened === 0) await finishAndExit({ ...result, ok: false, error: 'no subscriber connected' }, 1);

// ---- Membership check (wsgate) and warm-up: every open subscriber must get a warm-up message ----
if (opt.membersUrl) {
  const deadline = Date.now() + opt.timeout * 1000;
  for (;;) {
    const r = await (await prepare('GET', opt.membersUrl))();
    const count = r.status === 200 ? JSON.parse(r.body).memberCount : -1;
    if (count === opened) break;
    if (Date.now() > deadline) await finishAndExit({ ...result, ok: false, error: `memberCount ${count} (${r.status}), expected ${opened}` }, 1);
    await sleep(100);
  }
}
warmSeen = new Uint8Array(opt.n);
warmSeen.count = 0;
for (let w = 0; w < 10 && warmSeen.count < opened; w++) {
  const r = await (await prepare('POST', opt.publish, publishBody(`warm-${w}`)))();
  if (r.status < 200 || r.status > 299) log(`warm-up publish answered ${r.status}: ${r.body.slice(0, 200)}`);
  const until = Date.now() + Math.min(opt.timeout, 10) * 1000;
  while (warmSeen.count < opened && Date.now() < until) await sleep(20);
}
const warmCount = warmSeen.count;
warmSeen = null;
result.warm_subscribers = warmCount;
if (warmCount < opened) log(`only ${warmCount} of ${opened} subscribers received a warm-up publish`);
await sleep(500);

// ---- Measured publishes ----
for (let rep = 0; rep < opt.reps; rep++) {
  const tag = `bench-${rep}-${crypto.randomBytes(4).toString('hex')}`;
  const send = await prepare('POST', opt.publish, publishBody(tag));
  current = { tag, t: new Float64Array(opt.n), got: 0, dup: 0 };
  const retransBefore = tcpRetransmits();
  const t0 = performance.now();
  const answered = send();
  const expect = warmCount;
  const until = Date.now() + opt.timeout * 1000;
  while (current.got < expect && Date.now() < until) await sleep(1);
  const r = await answered;
  await sleep(200);  // stragglers and duplicates
  const retrans = tcpRetransmits() - retransBefore;
  const lat = [];
  let last = 0;
  for (let i = 0; i < opt.n; i++) {
    if (current.t[i] > 0) {
      const d = current.t[i] - t0;
      lat.push(d);
      if (d > last) last = d;
    }
  }
  lat.sort((a, b) => a - b);
  const rec = {
    status: r.status,
    received: current.got,
    duplicates: current.dup,
    last_ms: round(last),
    p50_ms: round(lat[Math.floor(lat.length / 2)] ?? null),
    first_ms: round(lat[0] ?? null),
    publish_ms: round(r.at - t0),
    answer: r.body.length <= 200 ? r.body.trim() : `${r.body.length} bytes`,
    tcp_retransmits: Number.isFinite(retrans) ? retrans : null,
  };
  result.reps.push(rec);
  log(`  rep ${rep + 1}: last delivery ${rec.last_ms} ms, p50 ${rec.p50_ms} ms, publish answered in ${rec.publish_ms} ms (HTTP ${r.status}), received ${rec.received}/${expect}${rec.duplicates ? `, ${rec.duplicates} duplicates` : ''}${rec.tcp_retransmits ? `; ${rec.tcp_retransmits} TCP retransmits on the host meanwhile` : ''}`);
  current = null;
  await sleep(300);
}

const complete = result.reps.filter((r) => r.received === warmCount && r.status >= 200 && r.status <= 299);
result.median_last_ms = round(median(complete.map((r) => r.last_ms)));
result.median_p50_ms = round(median(complete.map((r) => r.p50_ms)));
result.median_publish_ms = round(median(complete.map((r) => r.publish_ms)));
result.complete_reps = complete.length;
result.reps_with_retransmits = result.reps.filter((r) => r.tcp_retransmits > 0).length;
result.ok = complete.length > 0 && warmCount === opt.n;
await finishAndExit(result, result.ok ? 0 : 1);
