// What the client gets back for a message: route responses and the error frames.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AWS_ID, deferred, gatewayConfig, startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect } from './lib/ws.js';

const isMessage = (e) => e?.requestContext?.eventType === 'MESSAGE';
const action = (e) => {
  try { return JSON.parse(e.body).action; } catch { return undefined; }
};

// Parses an AWS error frame (exact spacing) and returns {message, connectionId, requestId}.
function parseErrorFrame(frame) {
  const m = /^\{"message": "([^"]+)", "connectionId":"([^"]*)", "requestId":"([^"]*)"\}$/.exec(frame);
  assert.ok(m, `not an AWS error frame (exact format expected): ${JSON.stringify(frame)}`);
  return { message: m[1], connectionId: m[2], requestId: m[3] };
}

const errorFrame = (message, connectionId, requestId) =>
  `{"message": "${message}", "connectionId":"${connectionId}", "requestId":"${requestId}"}`;

// Backend: MESSAGE answers depend on the action; `ok` (and anything unknown) answers "ok:<body>".
async function scriptedBackend(t, script = {}) {
  const be = await startBackend(t);
  be.handler = (e) => {
    if (!isMessage(e)) return { body: { statusCode: 200 } };
    const a = action(e);
    if (script[a]) return script[a](e);
    return { body: { statusCode: 200, body: `ok:${e.body}` } };
  };
  return be;
}

async function connectionIdOf(be) {
  const ev = await be.waitForEvent((e) => e?.requestContext?.eventType === 'CONNECT');
  return ev.requestContext.connectionId;
}

// One more request/answer on the same socket: proves it is still open and that nothing else came first.
async function assertStillServing(c, text = '{"action":"ok"}') {
  await c.send(text);
  assert.equal(await c.nextMessage(), `ok:${text}`);
  assert.equal(c.closeInfo, null);
}

test('no matching route and no $default: Forbidden error frame, socket stays open', async (t) => {
  const be = await scriptedBackend(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      routes: { $connect: { integration: 'backend' }, ok: { integration: 'backend', route_response: true } },
    }),
  });
  const c = await connect(gw.url);
  const connectionId = await connectionIdOf(be);

  const requestIds = [];
  for (const text of ['{"action":"nope"}', 'not json', '{"other":1}']) {
    await c.send(text);
    const frame = await c.nextMessage();
    const f = parseErrorFrame(frame);
    assert.equal(f.message, 'Forbidden');
    assert.equal(f.connectionId, connectionId);
    assert.match(f.requestId, AWS_ID);
    assert.equal(frame, errorFrame('Forbidden', connectionId, f.requestId));
    requestIds.push(f.requestId);
  }
  assert.equal(new Set(requestIds).size, 3, 'each Forbidden frame has its own requestId');
  await assertStillServing(c);
  // Unroutable messages never reach the integration.
  assert.deepEqual(be.eventsOfType('MESSAGE').map((e) => e.body), ['{"action":"ok"}']);
  await c.close(1000);
});

const failures = [
  ['backend HTTP 500', () => ({ status: 500, body: { statusCode: 200, body: 'should not be sent' } })],
  ['a non-JSON 200 body', () => ({ status: 200, body: 'not json' })],
  ['a JSON body without statusCode', () => ({ status: 200, body: { body: 'x' } })],
];
for (const [what, answer] of failures) {
  test(`integration failure on a message (${what}): Internal server error frame, socket stays open`, async (t) => {
    const be = await scriptedBackend(t, { crash: answer });
    const gw = await startGateway(t, { config: gatewayConfig(be) });
    const c = await connect(gw.url);
    const connectionId = await connectionIdOf(be);

    await c.send('{"action":"crash"}');
    const frame = await c.nextMessage();
    const ev = be.eventsOfType('MESSAGE').find((e) => action(e) === 'crash');
    assert.ok(ev, 'the integration was called');
    // The requestId in the frame is the one of the failed request.
    assert.equal(frame, errorFrame('Internal server error', connectionId, ev.requestContext.requestId));
    await assertStillServing(c);
    await c.close(1000);
  });
}

test('integration failure on a one-way route still sends Internal server error', async (t) => {
  const be = await scriptedBackend(t, { crash: () => ({ status: 500, body: 'boom' }) });
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      routes: {
        $connect: { integration: 'backend' },
        crash: { integration: 'backend' },
        $default: { integration: 'backend', route_response: true },
      },
    }),
  });
  const c = await connect(gw.url);
  const connectionId = await connectionIdOf(be);
  await c.send('{"action":"crash"}');
  const frame = await c.nextMessage();
  const ev = be.eventsOfType('MESSAGE').find((e) => action(e) === 'crash');
  assert.equal(ev.requestContext.routeKey, 'crash');
  assert.equal(frame, errorFrame('Internal server error', connectionId, ev.requestContext.requestId));
  await assertStillServing(c);
  await c.close(1000);
});

test('integration slower than timeout_ms: Endpoint request timed out frame, late answer dropped', async (t) => {
  const slowAnswered = deferred();
  const be = await scriptedBackend(t, {
    slow: () => {
      // Answer well after the 300 ms timeout, then tell the test the late answer went out.
      setTimeout(() => slowAnswered.resolve(), 1600);
      return { delayMs: 1500, body: { statusCode: 200, body: 'too late' } };
    },
  });
  const gw = await startGateway(t, { config: gatewayConfig(be, { timeoutMs: 300 }) });
  const c = await connect(gw.url);
  const connectionId = await connectionIdOf(be);

  await c.send('{"action":"slow"}');
  const frame = await c.nextMessage();
  const ev = be.eventsOfType('MESSAGE').find((e) => action(e) === 'slow');
  assert.equal(frame, errorFrame('Endpoint request timed out', connectionId, ev.requestContext.requestId));
  await assertStillServing(c);
  // After the backend finally answered, the late body must not reach the client.
  await slowAnswered.promise;
  await assertStillServing(c, '{"action":"ok","n":2}');
  await c.close(1000);
});

test('route response: the body is sent back as one text frame, also with statusCode 500', async (t) => {
  const be = await scriptedBackend(t, {
    fail500: () => ({ body: { statusCode: 500, body: '{"error":"backend says 500"}' } }),
    created: () => ({ body: { statusCode: 201, body: 'created \u2713', headers: { 'X-Ignored': '1' } } }),
  });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);
  await c.send('{"action":"fail500"}');
  assert.equal(await c.nextMessage(), '{"error":"backend says 500"}');
  await c.send('{"action":"created"}');
  assert.equal(await c.nextMessage(), 'created \u2713');
  await assertStillServing(c);
  await c.close(1000);
});

test('route without route_response: the body is dropped', async (t) => {
  const be = await scriptedBackend(t, {
    leave: () => ({ body: { statusCode: 200, body: 'must not be sent (leave)' } }),
  });
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      routes: {
        $connect: { integration: 'backend' },
        leave: { integration: 'backend' },
        ok: { integration: 'backend', route_response: true },
      },
    }),
  });
  const c = await connect(gw.url);
  await c.send('{"action":"leave"}');
  await be.waitForEvent((e) => isMessage(e) && action(e) === 'leave');
  // The next answer on the socket is the one for the later message, not the dropped body.
  await assertStillServing(c);
  await c.send('{"action":"leave","n":2}');
  await be.waitForEvent((e) => isMessage(e) && e.body === '{"action":"leave","n":2}');
  await assertStillServing(c, '{"action":"ok","n":3}');
  assert.deepEqual(c.messages.map((m) => m.data), ['ok:{"action":"ok"}', 'ok:{"action":"ok","n":3}']);
  await c.close(1000);
});

test('route response without a body (or an empty 2xx answer) sends nothing', async (t) => {
  const be = await scriptedBackend(t, {
    nobody: () => ({ body: { statusCode: 200 } }),
    nullbody: () => ({ body: { statusCode: 200, body: null } }),
    empty: () => ({ status: 200 }),
  });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);
  for (const a of ['nobody', 'nullbody', 'empty']) {
    const text = `{"action":"${a}"}`;
    await c.send(text);
    await be.waitForEvent((e) => isMessage(e) && e.body === text);
    await assertStillServing(c, `{"action":"ok","after":"${a}"}`);
  }
  assert.equal(c.messages.length, 3);
  await c.close(1000);
});

test('a 64 KiB route response comes back as one message', async (t) => {
  const big = Array.from({ length: 65536 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  const be = await scriptedBackend(t, { big: () => ({ body: { statusCode: 200, body: big } }) });
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);
  await c.send('{"action":"big"}');
  const got = await c.nextMessage();
  assert.equal(got.length, 65536);
  assert.ok(got === big, 'the 64 KiB body differs');
  await assertStillServing(c);
  await c.close(1000);
});
