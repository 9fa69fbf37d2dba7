// Route selection and the MESSAGE event.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AWS_ID, clfTime, gatewayConfig, startBackend } from './lib/backend.js';
import { startGateway } from './lib/gateway.js';
import { connect } from './lib/ws.js';

const isMessage = (e) => e?.requestContext?.eventType === 'MESSAGE';

// Backend that answers every MESSAGE with the route key the gateway selected.
async function routeReporter(t) {
  const be = await startBackend(t);
  be.handler = (e) => (isMessage(e)
    ? { body: { statusCode: 200, body: `route=${e.requestContext.routeKey}` } }
    : { body: { statusCode: 200 } });
  return be;
}

const twoWay = { integration: 'backend', route_response: true };

// Sends each text and checks the selected route, both in the answer and in the recorded event.
async function expectRoutes(c, be, cases) {
  for (const [text, route] of cases) {
    const before = be.eventsOfType('MESSAGE').length;
    await c.send(text);
    assert.equal(await c.nextMessage(), `route=${route}`, `message ${JSON.stringify(text)}`);
    const msgs = be.eventsOfType('MESSAGE');
    assert.equal(msgs.length, before + 1);
    assert.equal(msgs[before].requestContext.routeKey, route, `event routeKey for ${JSON.stringify(text)}`);
    assert.equal(msgs[before].body, text);
  }
}

test('route selection on $request.body.action: exact, case-sensitive, arrays, fallbacks to $default', async (t) => {
  const be = await routeReporter(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      routes: { join: twoWay, '[a, b]': twoWay, $default: twoWay, $connect: { integration: 'backend' } },
    }),
  });
  const c = await connect(gw.url);
  await expectRoutes(c, be, [
    ['{"action":"join"}', 'join'],
    ['{"action":"Join"}', '$default'],                 // case-sensitive
    ['{"action":"join "}', '$default'],                // exact
    ['{"other":"join"}', '$default'],                  // missing key
    ['{"action":{"x":"join"}}', '$default'],           // an object is not "join"
    ['not json at all', '$default'],                   // non-JSON
    ['{"action":"join"', '$default'],                  // truncated JSON
    ['{"action":["a","b"]}', '[a, b]'],                // arrays stringify as "[a, b]"
    ['{"service":"chat","action":"join","data":{"room":"room1234"}}', 'join'],
  ]);
  await c.close(1000);
});

test('route selection with ${request.body.service}/${request.body.action}', async (t) => {
  const be = await routeReporter(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      api: { route_selection_expression: '${request.body.service}/${request.body.action}' },
      routes: { 'chat/join': twoWay, join: twoWay, $default: twoWay },
    }),
  });
  const c = await connect(gw.url);
  await expectRoutes(c, be, [
    ['{"service":"chat","action":"join","data":{"room":"room1234"}}', 'chat/join'],
    ['{"service":"Chat","action":"join"}', '$default'],
    ['{"action":"join"}', '$default'],                 // evaluates to "/join"
    ['{"service":"chat"}', '$default'],                // evaluates to "chat/"
    ['plain text', '$default'],
  ]);
  await c.close(1000);
});

test('route selection on a nested path $request.body.a.b', async (t) => {
  const be = await routeReporter(t);
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      api: { route_selection_expression: '$request.body.a.b' },
      routes: { deep: twoWay, $default: twoWay },
    }),
  });
  const c = await connect(gw.url);
  await expectRoutes(c, be, [
    ['{"a":{"b":"deep"}}', 'deep'],
    ['{"a":{"b":"deep","c":1},"b":"x"}', 'deep'],
    ['{"a":"deep"}', '$default'],
    ['{"b":"deep"}', '$default'],
    ['{"a":{"c":"deep"}}', '$default'],
  ]);
  await c.close(1000);
});

test('MESSAGE event: fields, fresh ids per message, exact body, same connection as CONNECT', async (t) => {
  const be = await startBackend(t);
  be.handler = (e) => (isMessage(e) ? { body: { statusCode: 200, body: `ok ${e.requestContext.messageId}` } } : { body: { statusCode: 200 } });
  const gw = await startGateway(t, {
    config: gatewayConfig(be, {
      api: { id: 'msgapi' },
      routes: { $connect: { integration: 'backend' }, join: twoWay, $default: twoWay },
    }),
  });
  const c = await connect(gw.url, { headers: { 'User-Agent': 'wsgate-e2e/1.0' } });
  const texts = [
    '{"action":"join","text":"h\u00e9llo w\u00f6rld \u2713 \ud83d\ude00 \\"quoted\\" \\\\ \\n tab\\t"}',
    'unicode \u65e5\u672c\u8a9e \u0645\u0631\u062d\u0628\u0627 \ud83c\udf89 and "quotes" \\ backslash\nnewline',
  ];
  for (const text of texts) {
    await c.send(text);
    const answer = await c.nextMessage();
    assert.match(answer, /^ok [A-Za-z0-9_-]{15}=$/);
  }

  const connectEv = be.eventsOfType('CONNECT')[0];
  const msgs = be.eventsOfType('MESSAGE');
  assert.equal(msgs.length, 2);
  assert.deepEqual(msgs.map((e) => e.requestContext.routeKey), ['join', '$default']);
  for (const [i, ev] of msgs.entries()) {
    assert.deepEqual(Object.keys(ev).sort(), ['body', 'isBase64Encoded', 'requestContext']);
    assert.equal(ev.body, texts[i]);
    assert.equal(ev.isBase64Encoded, false);
    const rc = ev.requestContext;
    assert.deepEqual(Object.keys(rc).filter((k) => rc[k] !== null).sort(), [
      'apiId', 'connectedAt', 'connectionId', 'domainName', 'eventType', 'extendedRequestId', 'identity',
      'messageDirection', 'messageId', 'requestId', 'requestTime', 'requestTimeEpoch', 'routeKey', 'stage',
    ]);
    assert.equal(rc.eventType, 'MESSAGE');
    assert.match(rc.messageId, AWS_ID);
    assert.match(rc.requestId, AWS_ID);
    assert.equal(rc.extendedRequestId, rc.requestId);
    assert.notEqual(rc.messageId, rc.requestId);
    assert.equal(rc.messageDirection, 'IN');
    assert.equal(rc.stage, 'dev');
    assert.equal(rc.apiId, 'msgapi');
    assert.equal(rc.domainName, `127.0.0.1:${gw.port}`);
    assert.deepEqual(rc.identity, { sourceIp: '127.0.0.1', userAgent: 'wsgate-e2e/1.0' });
    assert.equal(rc.connectionId, connectEv.requestContext.connectionId);
    assert.equal(rc.connectedAt, connectEv.requestContext.connectedAt);
    assert.ok(Number.isInteger(rc.requestTimeEpoch));
    assert.ok(rc.requestTimeEpoch >= rc.connectedAt);
    assert.equal(rc.requestTime, clfTime(rc.requestTimeEpoch));
  }
  const ids = [connectEv.requestContext.requestId, ...msgs.flatMap((e) => [e.requestContext.requestId, e.requestContext.messageId])];
  assert.equal(new Set(ids).size, ids.length, `ids are not all distinct: ${ids}`);
  // The answers named the messageId of their own event.
  assert.deepEqual(c.messages.map((m) => m.data), msgs.map((e) => `ok ${e.requestContext.messageId}`));
  await c.close(1000);
});

test('a 100 KiB message sent as 4 fragments reaches the integration as one body', async (t) => {
  const be = await startBackend(t);  // default handler echoes the body back (two-way $default)
  const gw = await startGateway(t, { config: gatewayConfig(be) });
  const c = await connect(gw.url);

  // Four pieces of exactly 25600 UTF-8 bytes, each with multi-byte characters.
  const pieces = [0, 1, 2, 3].map((i) => {
    const head = `{piece ${i} \u00fc\u20ac\ud83d\ude00 `;
    return head + 'x'.repeat(25600 - Buffer.byteLength(head));
  });
  const text = pieces.join('');
  assert.equal(Buffer.byteLength(text), 100 * 1024);
  for (const [i, piece] of pieces.entries()) await c.send(piece, { fin: i === pieces.length - 1 });

  const echoed = await c.nextMessage();
  assert.equal(echoed.length, text.length);
  assert.ok(echoed === text, 'echoed message differs from the one sent');
  const msgs = be.eventsOfType('MESSAGE');
  assert.equal(msgs.length, 1, 'the fragments must arrive as one MESSAGE event');
  assert.equal(msgs[0].body.length, text.length);
  assert.ok(msgs[0].body === text, 'event body differs from the message sent');
  assert.equal(msgs[0].requestContext.routeKey, '$default');
  await c.close(1000);
});
