// A fake HTTP integration backend: records every Lambda-proxy event the gateway POSTs and answers
// with whatever the current handler says.
//
//   const be = await startBackend(t);
//   be.url                                  // 'http://127.0.0.1:PORT/events'
//   be.handler = (event, rec) => ({ status: 200, body: { statusCode: 200, body: 'hi' }, delayMs: 0 });
//     - status: HTTP status (default 200)
//     - body:   object -> JSON.stringify'd; string -> sent as is; undefined -> empty body
//     - headers: extra HTTP response headers
//     - delayMs: wait before answering
//     - the handler may return a Promise (hold the answer until the test resolves it)
//   be.events                               // parsed events, in arrival order
//   be.records                              // {seq, method, url, headers, raw, event, receivedAt}
//   await be.waitFor(() => be.events.length >= 2)
//   await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT')
import { readFileSync } from 'node:fs';
import http from 'node:http';

export const defaultHandler = (event) => {
  const type = event?.requestContext?.eventType;
  if (type === 'MESSAGE') return { status: 200, body: { statusCode: 200, body: event.body } };
  return { status: 200, body: { statusCode: 200 } };
};

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `predicate` until it returns a truthy value; resolves with that value.
export async function waitUntil(predicate, { timeoutMs = 10_000, intervalMs = 10, what } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what ?? predicate.toString()}`);
    }
    await sleep(intervalMs);
  }
}

// Waits until `file` (an access log, say) holds at least `count` non-empty lines; resolves with
// them all.
export function waitForLines(file, count, what = `${count} lines in ${file}`) {
  return waitUntil(() => {
    try {
      const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      return lines.length >= count && lines;
    } catch { return false; }
  }, { what });
}

export async function startBackend(t, { path = '/events' } = {}) {
  const records = [];
  const timers = new Set();
  let seq = 0;
  const be = {
    records,
    handler: defaultHandler,
    errors: [],
    get events() { return records.map((r) => r.event); },
    eventsOfType(type) { return this.events.filter((e) => e?.requestContext?.eventType === type); },
    eventsFor(connectionId, type) {
      return this.events.filter((e) => e?.requestContext?.connectionId === connectionId &&
        (type === undefined || e.requestContext.eventType === type));
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return waitUntil(() => predicate(this.events), { timeoutMs, what: `backend condition ${predicate.toString()}` });
    },
    // Resolves with the first recorded event matching `predicate` (already recorded or future).
    waitForEvent(predicate, timeoutMs = 10_000) {
      return waitUntil(() => this.events.find(predicate), { timeoutMs, what: `backend event ${predicate.toString()}` });
    },
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let event;
      try { event = JSON.parse(raw); } catch { event = undefined; }
      const rec = { seq: seq++, method: req.method, url: req.url, headers: req.headers, raw, event, receivedAt: Date.now() };
      records.push(rec);
      let answer;
      try {
        answer = (await be.handler(event, rec)) ?? {};
      } catch (err) {
        be.errors.push(err);
        answer = { status: 599, body: `handler threw: ${err.message}` };
      }
      if (answer.delayMs) {
        await new Promise((resolve) => {
          const timer = setTimeout(() => { timers.delete(timer); resolve(); }, answer.delayMs);
          timers.add(timer);
        });
      }
      if (res.destroyed) return;
      const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json', ...(answer.headers ?? {}) });
      res.end(body);
    });
  });
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  be.port = server.address().port;
  be.url = `http://127.0.0.1:${be.port}${path}`;
  be.close = async () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(() => resolve()));
  };
  if (t) t.after(() => be.close());
  return be;
}

// A port nothing listens on (bound then released; good enough for "connection refused").
export async function closedPort() {
  const srv = http.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// Helper for tests that must hold an answer: `const gate = deferred(); be.handler = () => gate.promise`.
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * A gateway config (object, written as JSON = YAML) whose integration `backend` is this backend.
 * routes default to $connect/$disconnect one-way and $default two-way, all on `backend`.
 */
export function gatewayConfig(be, { routes, timeoutMs, api, stages, connection, shutdown, threads = 2 } = {}) {
  const cfg = {
    threads,
    integrations: { backend: { type: 'http', url: be.url } },
    routes: routes ?? {
      $connect: { integration: 'backend' },
      $disconnect: { integration: 'backend' },
      $default: { integration: 'backend', route_response: true },
    },
  };
  if (timeoutMs !== undefined) cfg.integrations.backend.timeout_ms = timeoutMs;
  if (api) cfg.api = api;
  if (stages) cfg.stages = stages;
  if (connection) cfg.connection = connection;
  if (shutdown) cfg.shutdown = shutdown;
  return cfg;
}

// connectionId / requestId / messageId format: 15 base64url characters and '='.
export const AWS_ID = /^[A-Za-z0-9_-]{15}=$/;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// requestTime format: CLF 'dd/Mon/yyyy:HH:MM:SS +0000' (UTC).
export function clfTime(epochMs) {
  const d = new Date(epochMs);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
