// Cluster mode: several wsgate nodes sharing one real redis-server (Debian's redis-server on a free
// loopback port, tests/e2e/lib/redis.js). Management calls on any node reach connections held by
// another (JS SDK and boto3, in order, exactly once; 429/504 from the owner); a node killed with
// SIGKILL has its connections reaped (one $disconnect each, 1006); a Redis restart is survived; a
// SIGTERM'd node leaves nothing behind in Redis; a node cut off from Redis (a TCP proxy in front
// of it, lib/redis.js startRedisProxy) is reaped once and closes its clients when it returns;
// config errors; no connection gets a second $disconnect after an outage or a stall.
//
// Timings are small (heartbeat 100 ms, node TTL 500 ms, forward timeout 1 s); waits scale by 5
// when WSGATE_E2E_SLOW is set (sanitizer builds).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import { sleep, startBackend, waitUntil } from './lib/backend.js';
import { runGateway, startGateway } from './lib/gateway.js';
import {
  DeleteConnectionCommand, GetConnectionCommand, NEVER_EXISTED, PostToConnectionCommand, RawWsClient, mgmtConfig,
  openClient, runBoto3, sdkClient, sdkError,
} from './lib/mgmt.js';
import { startRedis, startRedisProxy } from './lib/redis.js';

const SLOW = process.env.WSGATE_E2E_SLOW ? 5 : 1;
const scaled = (ms) => ms * SLOW;

const HEARTBEAT_MS = 100;
const NODE_TTL_MS = 500;
const FORWARD_TIMEOUT_MS = 1_000;
// How long after a SIGKILL the survivors may take to run $disconnect for the dead node's
// connections: its liveness key expires (TTL), the next heartbeat notices, plus slack for the
// DISCONNECT events themselves.
const REAP_BOUND_MS = NODE_TTL_MS + HEARTBEAT_MS + scaled(1_500);

const post = (sdk, id, data) => sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
const get = (sdk, id) => sdk.send(new GetConnectionCommand({ ConnectionId: id }));
const del = (sdk, id) => sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));

// `redis`: the server, or a proxy in front of it (anything with a `url`); `gatewayOpts` go to
// mgmtConfig (connection limits...).
function clusterConfig(be, redis, nodeId, extra = {}, gatewayOpts = {}) {
  const cfg = mgmtConfig(be, gatewayOpts);
  cfg.cluster = {
    redis: redis.url,
    node_id: nodeId,
    heartbeat_ms: HEARTBEAT_MS,
    node_ttl_ms: NODE_TTL_MS,
    forward_timeout_ms: scaled(FORWARD_TIMEOUT_MS),
    ...extra,
  };
  return cfg;
}

// Starts one node, reads its full node id ("<node_id>#<incarnation>") from its log and waits until
// it is connected to Redis.
async function startNode(t, be, redis, name, extra, gatewayOpts) {
  const gw = await startGateway(t, { config: clusterConfig(be, redis, name, extra, gatewayOpts) });
  gw.name = name;
  gw.nodeId = await waitUntil(() => /cluster: node (\S+) using redis:\/\//.exec(gw.stderr)?.[1],
    { timeoutMs: scaled(5_000), what: `node ${name} to log its cluster node id` });
  assert.match(gw.nodeId, new RegExp(`^${name}#[A-Za-z0-9_-]{8}$`), `node id of ${name}`);
  // The banner comes before the Redis connections are up; a node forwards nothing until both are.
  await waitUntil(() => gw.stderr.includes('redis[commands] connected') && gw.stderr.includes('redis[bus] connected'),
    { timeoutMs: scaled(5_000), what: `node ${name} to connect to Redis` });
  gw.sdk = sdkClient(gw, { maxAttempts: 1 });
  return gw;
}

// `links`: names of nodes that reach Redis through their own proxy (startRedisProxy), so a test
// can cut that node off alone; node.link is the proxy.
async function startCluster(t, names, { prefix, extra = {}, gatewayOpts, links = [] } = {}) {
  const redis = await startRedis(t);
  const be = await startBackend(t);
  const clusterExtra = { ...extra, ...(prefix ? { key_prefix: prefix } : {}) };
  const nodes = [];
  for (const name of names) {
    const link = links.includes(name) ? await startRedisProxy(t, redis) : null;
    const gw = await startNode(t, be, link ?? redis, name, clusterExtra, gatewayOpts);
    gw.link = link;
    nodes.push(gw);
  }
  return { redis, be, nodes };
}

// Waits until GetConnection for `id` answers 200 through `gw` (for a remote node: once the
// registration reached Redis). `retry`: the error names that mean "not yet"; any other fails.
async function waitReachable(gw, id, { timeoutMs = scaled(5_000), retry = ['GoneException'] } = {}) {
  const seen = new Map();
  await waitUntil(async () => {
    try {
      await get(gw.sdk, id);
      return true;
    } catch (err) {
      if (!retry.includes(err.name)) throw err;
      seen.set(err.name, (seen.get(err.name) ?? 0) + 1);
      return false;
    }
  }, { timeoutMs, intervalMs: 10, what: `GetConnection ${id} through node ${gw.name} -> 200` }).catch((err) => {
    throw new Error(`${err.message} (answers meanwhile: ${JSON.stringify(Object.fromEntries(seen))})`);
  });
}

// Opens a client on `gw` (one at a time: openClient matches the newest CONNECT event) and waits
// until every node in `all` can reach it.
async function openOn(gw, be, all, userAgent) {
  const c = await openClient(gw, be, { userAgent });
  c.node = gw;
  for (const other of all) await waitReachable(other, c.id);
  return c;
}

function texts(c) {
  return c.messages.map((m) => (m.isBinary ? `<binary ${m.data.length}>` : m.data));
}

// Posts a marker through `gw`, waits for it and returns everything `c` received before it that it
// had not read yet (proves nothing else arrived).
async function drainUntilMarker(c, gw, marker = `marker-${Math.random().toString(36).slice(2)}`) {
  await post(gw.sdk, c.id, marker);
  await waitUntil(() => c.messages.slice(c.read).some((m) => m.data === marker) || c.closeInfo,
    { timeoutMs: scaled(10_000), what: `marker ${marker} on ${c.id}` });
  const rest = texts(c).slice(c.read);
  const at = rest.indexOf(marker);
  assert.ok(at >= 0, `marker ${marker} never arrived on ${c.id} (closed: ${JSON.stringify(c.closeInfo)})`);
  c.read += at + 1;
  return rest.slice(0, at);
}

// SIGSTOP, then waits until every thread of the process is stopped: kill() returns before that,
// and until one of its threads takes the signal the others run on (and could still answer).
async function freeze(gw) {
  gw.proc.kill('SIGSTOP');
  const pid = gw.proc.pid;
  await waitUntil(() => {
    let tasks;
    try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return false; }
    return tasks.every((tid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return /^\S+ \(.*\) [Tt] /s.test(stat);  // state after "pid (comm) "
      } catch {
        return true;  // the thread is gone
      }
    });
  }, { timeoutMs: scaled(5_000), intervalMs: 2, what: `every thread of node ${gw.name} (pid ${pid}) to stop` });
}

function assertAlive(gw) {
  assert.equal(gw.exitInfo(), null, `node ${gw.name} exited: ${JSON.stringify(gw.exitInfo())}\n${gw.stderr}`);
}

function disconnects(be, id) {
  return be.eventsFor(id, 'DISCONNECT');
}

// The keys Redis holds that belong to `nodeId` (its own keys, its entry in the node set, the
// connection records naming it).
async function keysOfNode(redis, prefix, nodeId) {
  const found = [];
  for (const k of await redis.keys(`${prefix}*`)) {
    if (k.endsWith(`:${nodeId}`)) found.push(k);
    else if (k.startsWith(`${prefix}conn:`)) {
      const owner = await redis.command('HGET', k, 'node');
      if (owner === nodeId) found.push(`${k} (node=${owner})`);
    }
  }
  const members = await redis.command('SMEMBERS', `${prefix}nodes`);
  if (Array.isArray(members) && members.includes(nodeId)) found.push(`${prefix}nodes member ${nodeId}`);
  return found;
}

// ---------------------------------------------------------------------------------------------

test('3 nodes: JS SDK and boto3 posts through every node arrive exactly once and in order; GetConnection and DeleteConnection across nodes; unknown id -> GoneException', async (t) => {
  const { redis, be, nodes } = await startCluster(t, ['a', 'b', 'c']);
  const clients = [];
  for (const gw of nodes) {
    for (let i = 0; i < 3; i++) clients.push(await openOn(gw, be, nodes, `cluster-e2e/${gw.name}-${i}`));
  }
  assert.equal(new Set(clients.map((c) => c.id)).size, 9);
  // Every connection is registered in Redis under its owner.
  for (const c of clients) {
    assert.equal(await redis.command('HGET', `wsgate:conn:${c.id}`, 'node'), c.node.nodeId, `owner of ${c.id} in Redis`);
    assert.equal(await redis.command('SISMEMBER', `wsgate:conns:${c.node.nodeId}`, c.id), 1);
  }

  // Each connection gets PER_NODE numbered messages through node a, then b, then c (sequential per
  // connection, all connections at once).
  const PER_NODE = 5;
  const expected = new Map(clients.map((c) => [c.id, []]));
  await Promise.all(clients.map(async (c) => {
    for (const gw of nodes) {
      for (let k = 1; k <= PER_NODE; k++) {
        const text = `${c.id} via ${gw.name} #${k}`;
        const r = await post(gw.sdk, c.id, text);
        assert.equal(r.$metadata.httpStatusCode, 200, `post ${text}`);
        expected.get(c.id).push(text);
      }
    }
  }));
  // Then boto3 through node b: two per connection, in one process, in list order.
  const calls = [];
  for (let k = 1; k <= 2; k++) {
    for (const c of clients) calls.push({ op: 'post', id: c.id, text: `${c.id} boto3 via b #${k}` });
  }
  const results = await runBoto3(nodes[1], calls, { maxAttempts: 1 });
  assert.deepEqual(results.map((r) => [r.ok, r.status]), calls.map(() => [true, 200]), JSON.stringify(results.filter((r) => !r.ok)));
  for (const call of calls) expected.get(call.id).push(call.text);

  for (const c of clients) {
    const got = await drainUntilMarker(c, c.node);
    assert.deepEqual(got, expected.get(c.id), `messages of ${c.id} (on ${c.node.name}): every one exactly once, in order`);
  }

  // GetConnection through every node returns the same, correct answer.
  for (const c of clients) {
    const connectedAt = c.connectEvent.requestContext.connectedAt;
    for (const gw of nodes) {
      const r = await get(gw.sdk, c.id);
      assert.equal(r.$metadata.httpStatusCode, 200);
      assert.ok(r.ConnectedAt instanceof Date, `ConnectedAt of ${c.id} via ${gw.name}`);
      assert.equal(r.ConnectedAt.getTime(), connectedAt, `connectedAt of ${c.id} via ${gw.name}`);
      assert.ok(r.LastActiveAt instanceof Date && r.LastActiveAt.getTime() >= connectedAt, `lastActiveAt of ${c.id} via ${gw.name}`);
      assert.deepEqual(r.Identity, { SourceIp: '127.0.0.1', UserAgent: c.userAgent }, `identity of ${c.id} via ${gw.name}`);
    }
  }
  // ... and so does boto3 through a node that does not hold the connection.
  const [g] = await runBoto3(nodes[2], [{ op: 'get', id: clients[0].id }], { maxAttempts: 1 });
  assert.equal(g.ok, true, JSON.stringify(g));
  assert.equal(Date.parse(g.response.ConnectedAt), clients[0].connectEvent.requestContext.connectedAt);
  assert.deepEqual(g.response.Identity, { SourceIp: '127.0.0.1', UserAgent: clients[0].userAgent });

  // DeleteConnection through a node that does not hold it: 204, closed with 1000, one $disconnect.
  const victim = clients[0];  // on node a
  assert.equal(victim.node.name, 'a');
  const d = await del(nodes[1].sdk, victim.id);
  assert.equal(d.$metadata.httpStatusCode, 204);
  const closed = await Promise.race([victim.closed, sleep(scaled(5_000)).then(() => null)]);
  assert.ok(closed, 'the client was not closed after DeleteConnection through another node');
  assert.equal(closed.code, 1000);
  const disc = await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === victim.id, scaled(5_000));
  assert.equal(disc.requestContext.disconnectStatusCode, 1000);
  assert.equal(disc.requestContext.disconnectReason, 'Connection Closed Normally');
  for (const gw of nodes) {
    const err = await sdkError(post(gw.sdk, victim.id, 'after delete'));
    assert.equal(err.name, 'GoneException', `post after delete via ${gw.name}: ${err.name} ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, 410);
  }
  await sleep(scaled(300));
  assert.equal(disconnects(be, victim.id).length, 1, 'exactly one $disconnect for the deleted connection');
  assert.equal(await redis.command('EXISTS', `wsgate:conn:${victim.id}`), 0, 'its record left Redis');

  // A never-existing id: GoneException through every node, for every operation.
  for (const gw of nodes) {
    for (const [what, call] of [['post', () => post(gw.sdk, NEVER_EXISTED, 'x')], ['get', () => get(gw.sdk, NEVER_EXISTED)], ['delete', () => del(gw.sdk, NEVER_EXISTED)]]) {
      const err = await sdkError(call());
      assert.equal(err.name, 'GoneException', `${what} of an unknown id via ${gw.name}: ${err.name} ${err.message}`);
      assert.equal(err.$metadata.httpStatusCode, 410);
    }
  }

  // Nobody else was disconnected; every node is still up.
  for (const c of clients.slice(1)) assert.equal(disconnects(be, c.id).length, 0, `no $disconnect for ${c.id}`);
  for (const c of clients.slice(1)) assert.equal(c.closeInfo, null, `${c.id} still open`);
  nodes.forEach(assertAlive);
  for (const c of clients.slice(1)) c.terminate();
});

test('kill -9 of a node: its clients see the drop, one $disconnect (1006) per connection from a survivor, then 410; the other nodes keep working', async (t) => {
  const { redis, be, nodes } = await startCluster(t, ['a', 'b', 'c']);
  const [a, b, c] = nodes;
  const survivors = [];
  const doomed = [];
  for (const gw of nodes) {
    for (let i = 0; i < 3; i++) {
      const cl = await openOn(gw, be, nodes, `cluster-kill/${gw.name}-${i}`);
      (gw === c ? doomed : survivors).push(cl);
    }
  }
  const connectEvents = new Map(doomed.map((cl) => [cl.id, cl.connectEvent]));

  const killedAt = Date.now();
  c.proc.kill('SIGKILL');
  await c.exited;

  // The dead node's clients see their TCP connection drop.
  for (const cl of doomed) {
    const info = await Promise.race([cl.closed, sleep(scaled(5_000)).then(() => null)]);
    assert.ok(info, `client ${cl.id} of the killed node saw no close`);
    assert.equal(info.code, 1006, `client ${cl.id}: close code`);
  }

  // Clients on the survivors keep working meanwhile: echo through $default, posts across nodes.
  for (const cl of survivors) {
    await cl.send(`ping ${cl.id}`);
    assert.equal(await cl.nextMessage(scaled(5_000)), `ping ${cl.id}`);
    const other = cl.node === a ? b : a;
    await post(other.sdk, cl.id, `after the kill via ${other.name}`);
    assert.equal(await cl.nextMessage(scaled(5_000)), `after the kill via ${other.name}`);
  }

  // One DISCONNECT per dead connection, within the bound.
  await waitUntil(() => doomed.every((cl) => disconnects(be, cl.id).length > 0),
    { timeoutMs: REAP_BOUND_MS + scaled(2_000), intervalMs: 10, what: 'a $disconnect for every connection of the killed node' })
    .catch((err) => {
      const missing = doomed.filter((cl) => disconnects(be, cl.id).length === 0).map((cl) => cl.id);
      throw new Error(`${err.message}; missing: ${missing.join(', ')}; a: ${a.stderr}\nb: ${b.stderr}`);
    });
  const lastAt = Math.max(...doomed.map((cl) => be.records.find((r) => r.event?.requestContext?.eventType === 'DISCONNECT' && r.event.requestContext.connectionId === cl.id).receivedAt));
  // The documented bound plus the same scheduling slack as the wait above: on a loaded 2-core
  // machine a survivor's heartbeat can run late, and this is a bound, not a speed test.
  assert.ok(lastAt - killedAt <= REAP_BOUND_MS + scaled(2_000),
    `the last $disconnect came ${lastAt - killedAt} ms after the kill (bound ${REAP_BOUND_MS} ms + slack)`);

  for (const cl of doomed) {
    const [ev] = disconnects(be, cl.id);
    const rc = ev.requestContext;
    const con = connectEvents.get(cl.id).requestContext;
    assert.equal(rc.eventType, 'DISCONNECT');
    assert.equal(rc.routeKey, '$disconnect');
    assert.equal(rc.connectionId, cl.id);
    assert.equal(rc.stage, 'dev');
    assert.equal(rc.disconnectStatusCode, 1006, `disconnectStatusCode of ${cl.id}`);
    assert.equal(rc.disconnectReason, 'Connection closed abnormally');
    assert.equal(rc.connectedAt, con.connectedAt, 'connectedAt repeats the $connect one');
    assert.equal(rc.apiId, con.apiId);
    assert.equal(rc.domainName, con.domainName);
    assert.equal(rc.identity?.sourceIp, '127.0.0.1');
    assert.equal(rc.identity?.userAgent, cl.userAgent);
  }

  // Through the surviving nodes, the dead node's connections are gone.
  for (const cl of doomed) {
    for (const gw of [a, b]) {
      const err = await sdkError(post(gw.sdk, cl.id, 'to a dead node'));
      assert.equal(err.name, 'GoneException', `post to ${cl.id} via ${gw.name}: ${err.name} ${err.message}`);
    }
  }

  // No duplicates later on (several more heartbeats and TTLs), and no one else disconnected.
  await sleep(scaled(3 * NODE_TTL_MS + 5 * HEARTBEAT_MS));
  for (const cl of doomed) assert.equal(disconnects(be, cl.id).length, 1, `exactly one $disconnect for ${cl.id}`);
  for (const cl of survivors) assert.equal(disconnects(be, cl.id).length, 0, `no $disconnect for surviving ${cl.id}`);
  assert.equal(be.eventsOfType('DISCONNECT').length, doomed.length);
  // Exactly one survivor logged the reaping.
  const reapers = [a, b].filter((gw) => gw.stderr.includes(`node ${c.nodeId} reaped`));
  assert.equal(reapers.length, 1, `one node reaps the dead one; a:\n${a.stderr}\nb:\n${b.stderr}`);
  // Redis forgot the dead node.
  assert.deepEqual(await keysOfNode(redis, 'wsgate:', c.nodeId),
    [`wsgate:reaped:${c.nodeId}`], 'only the reaped marker set of the dead node remains');
  for (const cl of survivors) assert.equal(cl.closeInfo, null);
  [a, b].forEach(assertAlive);
  for (const cl of survivors) cl.terminate();
});

test('Redis restart: local posts keep working, remote ones answer 503 ServiceUnavailableException; once Redis is back every node registers again and remote posts work', async (t) => {
  const { redis, be, nodes } = await startCluster(t, ['a', 'b']);
  const [a, b] = nodes;
  const onA = await openOn(a, be, nodes, 'cluster-redis/a');
  const onB = await openOn(b, be, nodes, 'cluster-redis/b');

  await redis.stop();
  // Local: unaffected.
  assert.equal((await post(a.sdk, onA.id, 'local while redis is down')).$metadata.httpStatusCode, 200);
  assert.equal(await onA.nextMessage(scaled(5_000)), 'local while redis is down');
  assert.equal((await get(b.sdk, onB.id)).Identity.UserAgent, 'cluster-redis/b');
  // Remote: 503, nothing delivered, and quickly (no hanging on the forward timeout).
  for (const [gw, cl] of [[a, onB], [b, onA]]) {
    const started = Date.now();
    const err = await sdkError(post(gw.sdk, cl.id, 'must not arrive'));
    assert.equal(err.name, 'ServiceUnavailableException', `remote post via ${gw.name}: ${err.name} ${err.message}`);
    assert.equal(err.$metadata.httpStatusCode, 503);
    assert.ok(Date.now() - started < scaled(2_000), `503 took ${Date.now() - started} ms`);
  }
  // A client connecting during the outage is accepted (it registers once Redis is back).
  const late = await openClient(b, be, { userAgent: 'cluster-redis/late' });
  await sleep(scaled(300));
  nodes.forEach(assertAlive);

  await redis.start();  // empty: nothing was saved
  const back = Date.now();
  const bound = scaled(5_000);  // reconnect backoff is at most 2 s
  for (const [gw, cl] of [[a, onB], [b, onA], [a, late]]) {
    // 503 while a node is still reconnecting, 410 until the owner registered the connection again.
    await waitReachable(gw, cl.id, { timeoutMs: bound, retry: ['ServiceUnavailableException', 'GoneException'] });
  }
  const took = Date.now() - back;
  for (const [gw, cl] of [[a, onB], [b, onA], [a, late]]) {
    const text = `remote via ${gw.name} after the restart`;
    assert.equal((await post(gw.sdk, cl.id, text)).$metadata.httpStatusCode, 200);
  }
  // Every client got exactly what was posted to it; the refused posts never arrived.
  assert.deepEqual(await drainUntilMarker(onA, a), ['remote via b after the restart']);
  assert.deepEqual(await drainUntilMarker(onB, b), ['remote via a after the restart']);
  assert.deepEqual(await drainUntilMarker(late, b), ['remote via a after the restart']);

  // Redis holds both nodes and all three connections again.
  for (const gw of nodes) assert.equal(await redis.command('EXISTS', `wsgate:node:${gw.nodeId}`), 1, `liveness of ${gw.name}`);
  assert.deepEqual((await redis.command('SMEMBERS', 'wsgate:nodes')).sort(), nodes.map((gw) => gw.nodeId).sort());
  for (const [cl, gw] of [[onA, a], [onB, b], [late, b]]) {
    assert.equal(await redis.command('HGET', `wsgate:conn:${cl.id}`, 'node'), gw.nodeId, `record of ${cl.id}`);
  }
  // No one was reaped or disconnected along the way, and no gateway died.
  await sleep(scaled(2 * NODE_TTL_MS));
  assert.equal(be.eventsOfType('DISCONNECT').length, 0, JSON.stringify(be.eventsOfType('DISCONNECT').map((e) => e.requestContext)));
  for (const cl of [onA, onB, late]) assert.equal(cl.closeInfo, null, `${cl.id} still open`);
  nodes.forEach(assertAlive);
  t.diagnostic(`remote posts worked again ${took} ms after Redis came back`);
  for (const cl of [onA, onB, late]) cl.terminate();
});

test('SIGTERM of a node: exit 0, its clients get 1001 and one $disconnect each from it, and Redis keeps nothing of it', async (t) => {
  const prefix = 'e2e-leave:';
  const { redis, be, nodes } = await startCluster(t, ['a', 'b'], { prefix });
  const [a, b] = nodes;
  const onA = await openOn(a, be, nodes, 'cluster-term/a');
  const onB = [];
  for (let i = 0; i < 3; i++) onB.push(await openOn(b, be, nodes, `cluster-term/b-${i}`));
  // The configured prefix is used for every key.
  const all = await redis.keys('*');
  assert.ok(all.length > 0 && all.every((k) => k.startsWith(prefix)), `keys outside the prefix: ${all}`);
  assert.ok((await keysOfNode(redis, prefix, b.nodeId)).length >= 5, 'b is registered before it leaves');

  const code = await b.stop('SIGTERM');
  assert.equal(code, 0, `exit code of b; stderr:\n${b.stderr}`);
  for (const cl of onB) {
    const info = await Promise.race([cl.closed, sleep(scaled(2_000)).then(() => null)]);
    assert.ok(info, `${cl.id} was not closed`);
    assert.equal(info.code, 1001, `close code of ${cl.id}`);
    const ds = disconnects(be, cl.id);
    assert.equal(ds.length, 1, `one $disconnect for ${cl.id} by the time b exited`);
    assert.equal(ds[0].requestContext.disconnectStatusCode, 1001, 'sent by b itself (a reaper would say 1006)');
  }
  assert.deepEqual(await keysOfNode(redis, prefix, b.nodeId), [], 'Redis still holds keys of the node that left');

  // Nobody reaps it later, and a is unaffected.
  await sleep(scaled(NODE_TTL_MS + 5 * HEARTBEAT_MS));
  for (const cl of onB) assert.equal(disconnects(be, cl.id).length, 1, `still one $disconnect for ${cl.id}`);
  assert.ok(!a.stderr.includes('reaped'), `a reaped the node that left:\n${a.stderr}`);
  assert.equal(disconnects(be, onA.id).length, 0);
  assert.equal(await redis.command('EXISTS', `${prefix}node:${a.nodeId}`), 1);
  assert.equal(await redis.command('HGET', `${prefix}conn:${onA.id}`, 'node'), a.nodeId);
  await post(a.sdk, onA.id, 'a is fine');
  assert.equal(await onA.nextMessage(scaled(5_000)), 'a is fine');
  const err = await sdkError(post(a.sdk, onB[0].id, 'to the node that left'));
  assert.equal(err.name, 'GoneException', `${err.name} ${err.message}`);
  assertAlive(a);
  onA.terminate();
});

function assertConfigError(r, key) {
  assert.equal(r.signal, null, `wsgate did not exit by itself (killed by ${r.signal}); stderr=${r.stderr}`);
  assert.equal(r.code, 2, `exit code; stderr=${r.stderr}`);
  assert.ok(r.stderr.includes(key), `stderr does not name ${key}: ${JSON.stringify(r.stderr)}`);
  assert.ok(!r.stdout.includes('listening on'), `it started anyway: ${r.stdout}`);
}

test('config errors in the cluster section exit 2 naming the key', async () => {
  const cases = [
    [{ cluster: { redis: 'rediss://x:1' } }, [], 'cluster.redis'],
    [{ cluster: { redis: 'http://x' } }, [], 'cluster.redis'],
    [{ cluster: { redis: 'redis://127.0.0.1:6379', bogus: 1 } }, [], 'cluster.bogus'],
    [{ cluster: { node_id: 'a' } }, [], 'cluster.redis'],
    [{ cluster: { redis: 'redis://127.0.0.1:6379', node_id: 'has space' } }, [], 'cluster.node_id'],
    [{ cluster: { redis: 'redis://127.0.0.1:6379', heartbeat_ms: 300, node_ttl_ms: 500 } }, [], 'cluster.node_ttl_ms'],
    [undefined, ['--redis', 'rediss://127.0.0.1:6379'], 'cluster.redis'],
    [undefined, ['--redis', 'http://127.0.0.1:6379'], 'cluster.redis'],
  ];
  for (const [config, args, key] of cases) {
    const r = await runGateway({ config, args });
    assertConfigError(r, key);
  }
  const r = await runGateway({ config: { cluster: { redis: 'rediss://x:1' } } });
  assert.match(r.stderr, /rediss/, 'the message says what is wrong with the URL');
});

test('order under concurrency: 200 sequential posts through a non-owner node arrive in order, exactly once, while two other streams post to the same connection', async (t) => {
  const { be, nodes } = await startCluster(t, ['a', 'b', 'c']);
  const [a, b, c] = nodes;
  const cl = await openOn(a, be, nodes, 'cluster-order/a');
  const N = 200;
  const stream = async (gw, tag, n) => {
    for (let i = 0; i < n; i++) {
      const r = await post(gw.sdk, cl.id, `${tag} ${i}`);
      assert.equal(r.$metadata.httpStatusCode, 200, `${tag} ${i}`);
    }
  };
  await Promise.all([stream(b, 'b', N), stream(c, 'c', 50), stream(a, 'a', 50)]);
  const got = await drainUntilMarker(cl, a);
  const of = (tag) => got.filter((m) => m.startsWith(`${tag} `));
  assert.deepEqual(of('b'), Array.from({ length: N }, (_, i) => `b ${i}`), 'the 200 posts through b: in order, exactly once');
  assert.deepEqual(of('c'), Array.from({ length: 50 }, (_, i) => `c ${i}`), 'the posts through c');
  assert.deepEqual(of('a'), Array.from({ length: 50 }, (_, i) => `a ${i}`), 'the local posts');
  assert.equal(got.length, N + 100, 'nothing else arrived');
  nodes.forEach(assertAlive);
  cl.terminate();
});

test('the owner does not answer in time (SIGSTOP): 504 GatewayTimeoutException after forward_timeout_ms, and the owner drops the request unperformed when it resumes', async (t) => {
  // A node TTL well above the forward timeout, so the stopped owner still counts as alive.
  const { be, nodes } = await startCluster(t, ['a', 'b'], { extra: { node_ttl_ms: scaled(5_000), forward_timeout_ms: scaled(400) } });
  const [a, b] = nodes;
  const cl = await openOn(b, be, nodes, 'cluster-timeout/b');
  let err;
  let took;
  try {
    await freeze(b);
    const started = Date.now();
    err = await sdkError(post(a.sdk, cl.id, 'must never be delivered'));
    took = Date.now() - started;
  } finally {
    b.proc.kill('SIGCONT');
  }
  assert.equal(err.name, 'GatewayTimeoutException', `${err.name} ${err.message}`);
  assert.equal(err.$metadata.httpStatusCode, 504);
  assert.ok(took >= scaled(400) - 20 && took < scaled(400) + scaled(1_500), `answered after ${took} ms (forward timeout ${scaled(400)} ms)`);
  // Resumed, b reads the late request and drops it: the next message is the marker.
  assert.deepEqual(await drainUntilMarker(cl, a), [], 'the timed-out POST was delivered after all');
  await waitUntil(() => b.stderr.includes('arrived after its deadline'), { timeoutMs: scaled(2_000), what: 'b to log the dropped request' });
  assert.equal(cl.closeInfo, null);
  nodes.forEach(assertAlive);
  cl.terminate();
});

test('a client that stops reading, held by another node: 429 LimitExceededException through the forwarding node; only the 200s are delivered, in order', async (t) => {
  const MSG_BYTES = 48 * 1024;
  const { be, nodes } = await startCluster(t, ['a', 'b'], { gatewayOpts: { connection: { send_queue_max_bytes: 65536 } } });
  const [a, b] = nodes;
  const slow = await RawWsClient.connect(a, { userAgent: 'cluster-slow/1' });
  const id = (await be.waitForEvent((e) => e.requestContext.eventType === 'CONNECT')).requestContext.connectionId;
  await waitReachable(b, id);
  slow.pause();
  const delivered = [];
  let refused = null;
  for (let seq = 0; seq < 2_000 && !refused; seq++) {
    const head = Buffer.from(`#${String(seq).padStart(6, '0')}:`);
    const data = Buffer.concat([head, Buffer.alloc(MSG_BYTES - head.length, 0x61 + (seq % 26))]);
    try {
      await post(b.sdk, id, data);
      delivered.push(data);
    } catch (err) {
      refused = err;
    }
  }
  assert.ok(refused, 'no POST was refused although the client reads nothing');
  assert.equal(refused.name, 'LimitExceededException', `${refused.name} ${refused.message}`);
  assert.equal(refused.$metadata.httpStatusCode, 429);
  slow.resume();
  await slow.waitMessages(delivered.length, scaled(30_000));
  await sleep(scaled(300));
  assert.equal(slow.messages.length, delivered.length, 'a refused (429) POST must never be delivered');
  for (let i = 0; i < delivered.length; i++) {
    assert.ok(slow.messages[i].data.equals(delivered[i]), `message ${i} differs`);
  }
  nodes.forEach(assertAlive);
  slow.close();
});

test('a node cut off from Redis (Redis keeps its data) longer than the node TTL: reaped once (1006); when its link returns it closes those clients (1001) without a second $disconnect', async (t) => {
  const { redis, be, nodes } = await startCluster(t, ['a', 'b'], { links: ['a'] });
  const [a, b] = nodes;
  const onA = [await openOn(a, be, nodes, 'cluster-cut/a-0'), await openOn(a, be, nodes, 'cluster-cut/a-1')];
  const onB = await openOn(b, be, nodes, 'cluster-cut/b');

  const cutAt = Date.now();
  await a.link.cut();
  await waitUntil(() => onA.every((cl) => disconnects(be, cl.id).length > 0),
    { timeoutMs: REAP_BOUND_MS + scaled(2_000), what: "b to reap a's connections" });
  assert.ok(Date.now() - cutAt <= REAP_BOUND_MS + scaled(2_000), `reaped ${Date.now() - cutAt} ms after the cut`);
  for (const cl of onA) {
    assert.equal(disconnects(be, cl.id)[0].requestContext.disconnectStatusCode, 1006);
    // Cut off, a cannot know yet: its clients are still connected and local posts still work.
    assert.equal(cl.closeInfo, null);
  }
  // Through b the reaped connections are gone.
  for (const cl of onA) {
    const err = await sdkError(post(b.sdk, cl.id, 'reaped'));
    assert.equal(err.name, 'GoneException', `${err.name} ${err.message}`);
  }

  await a.link.restore();
  for (const cl of onA) {
    const info = await Promise.race([cl.closed, sleep(scaled(5_000)).then(() => null)]);
    assert.ok(info, `${cl.id} was still open after a's link returned`);
    assert.equal(info.code, 1001, `close code of ${cl.id}`);
  }
  // a is a member again: it registers, can be reached, and reaches b.
  await waitUntil(async () => (await redis.command('EXISTS', `wsgate:node:${a.nodeId}`)) === 1, { timeoutMs: scaled(5_000), what: 'a to register again' });
  const fresh = await openOn(a, be, nodes, 'cluster-cut/a-fresh');
  await post(b.sdk, fresh.id, 'to a again');
  assert.deepEqual(await drainUntilMarker(fresh, a), ['to a again']);
  await post(a.sdk, onB.id, 'to b from a');
  assert.deepEqual(await drainUntilMarker(onB, b), ['to b from a']);
  await sleep(scaled(2 * NODE_TTL_MS));
  for (const cl of onA) assert.equal(disconnects(be, cl.id).length, 1, `exactly one $disconnect for ${cl.id}`);
  assert.equal(disconnects(be, onB.id).length, 0);
  assert.equal(disconnects(be, fresh.id).length, 0);
  nodes.forEach(assertAlive);
  fresh.terminate();
  onB.terminate();
});

// A connection that ends while its node's link to Redis is down: the removal that failed is sent
// again after the reconnect, so when that node later dies the survivor does not reap a stale record
// (which would be a second $disconnect, 1006 after the node's own 1005).
test('a connection that ends while its node is cut off from Redis is not reaped again when that node dies later', async (t) => {
  const { redis, be, nodes } = await startCluster(t, ['a', 'b'], { links: ['a'], extra: { node_ttl_ms: scaled(1_500) } });
  const [a, b] = nodes;
  const gone = await openOn(a, be, nodes, 'cluster-stale/gone');
  const stays = await openOn(a, be, nodes, 'cluster-stale/stays');

  await a.link.cut();  // shorter than the node TTL: nobody reaps a
  await gone.close();
  await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === gone.id, scaled(5_000));
  await a.link.restore();
  await waitReachable(b, stays.id, { retry: ['GoneException', 'ServiceUnavailableException'] });
  await sleep(scaled(300));
  assert.equal(disconnects(be, gone.id).length, 1);
  const stale = await redis.command('HGET', `wsgate:conn:${gone.id}`, 'node');
  const member = await redis.command('SISMEMBER', `wsgate:conns:${a.nodeId}`, gone.id);

  a.proc.kill('SIGKILL');
  await waitUntil(() => disconnects(be, stays.id).length > 0, { timeoutMs: scaled(1_500) + REAP_BOUND_MS + scaled(2_000), what: 'the reaping of a' });
  await sleep(scaled(500));
  assert.equal(disconnects(be, stays.id).length, 1);
  assert.deepEqual(disconnects(be, gone.id).map((e) => e.requestContext.disconnectStatusCode), [1005],
    `the connection that ended during the outage got a second $disconnect from the reaper (its record survived: conn.node=${stale}, member of conns=${member})`);
});

// A node that stalls (SIGSTOP here; a VM pause or CPU starvation alike) longer than node_ttl_ms
// while its Redis connection stays open is reaped; its next heartbeat finds its liveness key had
// expired, and it closes the reaped clients without running $disconnect a second time.
test('a node that stalls longer than the node TTL is reaped; when it resumes it closes the reaped clients without a second $disconnect', async (t) => {
  const { be, nodes } = await startCluster(t, ['a', 'b']);
  const [a, b] = nodes;
  const cl = await openOn(a, be, nodes, 'cluster-stall/a');
  try {
    await freeze(a);
    await waitUntil(() => disconnects(be, cl.id).length > 0, { timeoutMs: REAP_BOUND_MS + scaled(2_000), what: 'b to reap the stalled node' });
  } finally {
    a.proc.kill('SIGCONT');
  }
  assert.equal(disconnects(be, cl.id)[0].requestContext.disconnectStatusCode, 1006);
  const info = await Promise.race([cl.closed, sleep(scaled(3_000)).then(() => null)]);
  cl.terminate();
  await sleep(scaled(500));
  assert.equal(disconnects(be, cl.id).length, 1, `$disconnect ran ${disconnects(be, cl.id).length} times for ${cl.id}`);
  assert.ok(info, 'the reaped client was still open 3 s after its node resumed');
  assert.equal(info.code, 1001);
  [a, b].forEach(assertAlive);
});
