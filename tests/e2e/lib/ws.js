// WebSocket client helpers around npm `ws`.
//
//   const c = await connect(url, { protocols, headers });   // resolves on 'open'
//   c.send('x'); const text = await c.nextMessage();        // messages are queued, never lost
//   const { code, reason } = await c.closed;                // resolves on 'close'
//   const r = await connectRejected(url);                   // handshake refused: {status, headers, body}
import { after } from 'node:test';
import WebSocket from 'ws';

export { WebSocket };

const openClients = new Set();

// Kills every client still open (call from an after hook if a test may leave some behind).
export function terminateAll() {
  for (const c of openClients) c.ws.terminate();
  openClients.clear();
}
after(terminateAll);

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];      // every message received, in order: {data: string, isBinary}
    this.waiters = [];
    this.read = 0;           // index of the next message nextMessage() returns
    this.opened = false;
    this.upgradeResponse = null;
    this.closeInfo = null;
    openClients.add(this);
    ws.on('upgrade', (res) => { this.upgradeResponse = res; });
    ws.on('open', () => { this.opened = true; });
    ws.on('message', (data, isBinary) => {
      this.messages.push({ data: isBinary ? data : data.toString('utf8'), isBinary });
      this._wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        openClients.delete(this);
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this._wake();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (err) => { this.error = err; });
  }

  _wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  get protocol() { return this.ws.protocol; }

  send(data, options) {
    return new Promise((resolve, reject) => {
      this.ws.send(data, options ?? {}, (err) => (err ? reject(err) : resolve()));
    });
  }

  // Next unread text message; rejects after timeoutMs or when the socket closes first.
  async nextMessage(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.messages.length) {
      if (this.closeInfo) {
        throw new Error(`socket closed (${this.closeInfo.code} ${JSON.stringify(this.closeInfo.reason)}) while waiting for message #${this.read + 1}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message #${this.read + 1} within ${timeoutMs} ms (received so far: ${JSON.stringify(this.messages.map((m) => m.data))})`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    const m = this.messages[this.read++];
    if (m.isBinary) throw new Error(`expected a text message, got binary (${m.data.length} bytes)`);
    return m.data;
  }

  // Messages received but not yet returned by nextMessage().
  unread() { return this.messages.slice(this.read).map((m) => m.data); }

  close(code, reason) {
    if (code === undefined) this.ws.close(); else this.ws.close(code, reason);
    return this.closed;
  }

  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

// Starts a handshake and returns the Client at once (before 'open'); `c.openPromise` settles later.
export function startConnect(url, { protocols, headers, timeoutMs = 10_000, ...options } = {}) {
  const ws = new WebSocket(url, protocols ?? [], { headers, perMessageDeflate: true, handshakeTimeout: timeoutMs, ...options });
  const client = new Client(ws);
  client.openPromise = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      reject(new Error(`Unexpected server response: ${res.statusCode}`));
      req.destroy();
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed (${code}) before open`)));
  });
  client.openPromise.catch(() => {});
  return client;
}

export async function connect(url, options) {
  return startConnect(url, options).openPromise;
}

/**
 * Expects the handshake to be refused with an HTTP response. Resolves {status, headers, body};
 * rejects if the connection opens (the socket is then closed) or fails without an HTTP response.
 */
export function connectRejected(url, { protocols, headers, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols ?? [], { headers, handshakeTimeout: timeoutMs });
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
      res.on('error', reject);
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error(`expected the handshake to be refused, but the connection opened (protocol ${JSON.stringify(ws.protocol)})`));
    });
    ws.on('error', (err) => reject(err));
  });
}

// Opens `n` clients in parallel.
export function connectMany(url, n, options) {
  return Promise.all(Array.from({ length: n }, () => connect(url, options)));
}
