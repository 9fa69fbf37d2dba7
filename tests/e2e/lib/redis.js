// A real redis-server (Debian's /usr/bin/redis-server) for the cluster tests, on a free loopback
// port, without persistence.
//
//   const redis = await startRedis(t);       // t: node:test context (stopped after the test) or null
//   redis.port, redis.url                    // 'redis://127.0.0.1:PORT'
//   await redis.command('KEYS', 'wsgate:*')  // -> parsed RESP reply (string | number | null | array | RedisError)
//   await redis.stop();                      // SIGTERM, then SIGKILL after a grace period
//   await redis.start();                     // again, on the same port (empty: nothing was saved)
//   await redis.kill();                      // SIGKILL at once
//
// Commands go over a fresh TCP connection each time (a tiny RESP client below), so a restarted
// server needs no reconnect logic here. Every server still running when the test file ends (or
// the process exits) is killed.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after } from 'node:test';

export const REDIS_SERVER = process.env.WSGATE_REDIS_SERVER || '/usr/bin/redis-server';

const live = new Set();  // child processes still running

function killLeftovers() {
  for (const proc of live) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
after(killLeftovers);
process.on('exit', killLeftovers);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A port that was free a moment ago (bound to port 0, then released).
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---- A minimal RESP2 client -----------------------------------------------------------------

export class RedisError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RedisError';
  }
}

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

// Parses one reply at `off`; returns {value, next} or null when `buf` holds only part of it.
// Bulk strings are decoded as UTF-8 (keys and values in these tests are text).
function parseReply(buf, off = 0) {
  if (off >= buf.length) return null;
  const eol = buf.indexOf('\r\n', off);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return { value: line, next };
    case '-': return { value: new RedisError(line), next };
    case ':': return { value: Number(line), next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const out = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (!r) return null;
        out.push(r.value);
        at = r.next;
      }
      return { value: out, next: at };
    }
    default:
      throw new RedisError(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Sends one command to host:port on a new connection and resolves with its reply. A Redis error
 * reply resolves as a RedisError value (not thrown); a network failure or timeout rejects.
 */
export function redisCommand(port, args, { host = '127.0.0.1', timeoutMs = 5_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err); else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try { r = parseReply(buf); } catch (err) { finish(err); return; }
      if (r) finish(null, r.value);
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`redis ${args[0]}: connection closed before a reply`)));
  });
}

// ---- The server -------------------------------------------------------------------------------

function spawnServer(port) {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--dir', '/tmp',        // nothing is written (no RDB, no AOF), but the default would be the cwd
    '--loglevel', 'verbose',  // client connects and disconnects too
    '--logfile', '',        // stdout
  ];
  const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const out = { log: '' };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out.log += d; });
  proc.stderr.on('data', (d) => { out.log += d; });
  const exited = new Promise((resolve) => {
    proc.on('error', (err) => { live.delete(proc); out.log += `\n[spawn error] ${err.message}`; resolve({ code: null, signal: null, error: err }); });
    proc.on('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); });
  });
  return { proc, out, exited };
}

// Resolves once the server answers PING with PONG; rejects if it exits first or takes too long.
// The server that answers must be ours (its INFO names our pid), not one that held the port.
async function waitReady(port, proc, exited, out, timeoutMs) {
  let exitInfo = null;
  exited.then((i) => { exitInfo = i; });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo) return { ok: false, exitInfo };
    try {
      const pong = await redisCommand(port, ['PING'], { timeoutMs: 1_000 });
      if (pong === 'PONG') {
        const info = await redisCommand(port, ['INFO', 'server'], { timeoutMs: 1_000 });
        const pid = /process_id:(\d+)/.exec(String(info))?.[1];
        if (Number(pid) === proc.pid) return { ok: true };
      }
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms; log:\n${out.log}`);
    }
    await sleep(20);
  }
}

/**
 * Starts redis-server on a free loopback port (retrying with another port if the one picked was
 * taken meanwhile). With a test context, the server is killed after the test and its log printed
 * if the test failed.
 */
export async function startRedis(t, { startTimeoutMs = 10_000 } = {}) {
  let current = null;  // {proc, out, exited}
  let log = '';

  const redis = {
    port: 0,
    get url() { return `redis://127.0.0.1:${this.port}`; },
    get log() { return log + (current ? current.out.log : ''); },
    get pid() { return current?.proc.pid; },
    get running() { return current !== null; },

    // Starts the server on redis.port (which must be set) and waits for PONG. Returns false if the
    // server exited at once (the port is taken), true when ready.
    async _startOn(port) {
      const s = spawnServer(port);
      current = s;
      const ready = await waitReady(port, s.proc, s.exited, s.out, startTimeoutMs).catch((err) => {
        s.proc.kill('SIGKILL');
        throw err;
      });
      if (!ready.ok) {
        log += s.out.log;
        current = null;
        return false;
      }
      s.exited.then(() => { if (current === s) { log += s.out.log; current = null; } });
      return true;
    },

    // (Re)starts on the same port; retries a few times if the port is still held (TIME_WAIT is
    // not a problem for a listener, but a slow previous exit could be).
    async start() {
      if (current) throw new Error('redis-server is already running');
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        if (await this._startOn(this.port)) return this;
        if (Date.now() > deadline) throw new Error(`redis-server could not start again on port ${this.port}; log:\n${this.log}`);
        await sleep(100);
      }
    },

    // SIGTERM, then SIGKILL after graceMs. Resolves once the process is gone.
    async stop({ graceMs = 3_000 } = {}) {
      const s = current;
      if (!s) return;
      s.proc.kill('SIGTERM');
      const timer = setTimeout(() => s.proc.kill('SIGKILL'), graceMs);
      await s.exited;
      clearTimeout(timer);
      if (current === s) { log += s.out.log; current = null; }
    },

    async kill() {
      const s = current;
      if (!s) return;
      s.proc.kill('SIGKILL');
      await s.exited;
      if (current === s) { log += s.out.log; current = null; }
    },

    command(...args) {
      return redisCommand(this.port, args.flat());
    },

    // Every key matching `pattern`, through SCAN (sorted).
    async keys(pattern = '*') {
      const out = [];
      let cursor = '0';
      for (let i = 0; i < 10_000; i++) {
        const r = await this.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000');
        if (r instanceof RedisError) throw r;
        cursor = r[0];
        out.push(...r[1]);
        if (cursor === '0') return [...new Set(out)].sort();
      }
      throw new Error('SCAN did not finish');
    },
  };

  for (let attempt = 0; ; attempt++) {
    redis.port = await freePort();
    if (await redis._startOn(redis.port)) break;
    if (attempt >= 5) throw new Error(`redis-server would not start; log:\n${redis.log}`);
  }

  if (t) {
    t.after(async () => {
      if (t.passed === false) {
        process.stderr.write(`\n--- redis-server log (${t.name}; port ${redis.port}) ---\n${redis.log}\n--- end ---\n`);
      }
      await redis.kill();
    });
  }
  return redis;
}

// ---- A TCP proxy in front of Redis, to cut one node off (a network partition) -----------------

/**
 * Listens on a free loopback port and forwards every connection to `redis` (looked up on each
 * connect, so a restarted server is reached too). cut(): closes every forwarded connection, and
 * until restore() closes each new one as soon as it is accepted (the node sees the connection
 * drop at once). The listener stays open all along, so no other process can take its port.
 *
 *   const link = await startRedisProxy(t, redis);  // link.url for the node's cluster.redis
 *   await link.cut(); ...; await link.restore();
 */
export async function startRedisProxy(t, redis) {
  const pairs = new Set();
  const proxy = {
    port: 0,
    isCut: false,
    accepted: 0,  // connections accepted so far
    refused: 0,   // ... of which closed at once because the link was cut
    get url() { return `redis://127.0.0.1:${this.port}`; },

    async cut() {
      this.isCut = true;
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },

    async restore() { this.isCut = false; },

    async close() {
      await this.cut();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  const server = net.createServer((client) => {
    proxy.accepted++;
    if (proxy.isCut) {
      proxy.refused++;
      client.on('error', () => {});
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: redis.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  proxy.port = server.address().port;
  if (t) t.after(() => proxy.close());
  return proxy;
}
