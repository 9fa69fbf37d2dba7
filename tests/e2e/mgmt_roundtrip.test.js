// Backend-driven round trips, the AWS way: a route's HTTP backend answers by calling
// PostToConnection (JS SDK v3) with the endpoint built from the event:
// http://${requestContext.domainName}/${requestContext.stage}.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sleep } from './lib/backend.js';
import {
  CREDS, GetConnectionCommand, PostToConnectionCommand, openClient, sdkClient, startMgmt,
} from './lib/mgmt.js';

const routes = {
  $connect: { integration: 'backend' },
  $disconnect: { integration: 'backend' },
  sendmessage: { integration: 'backend' },   // one-way: the only answer is the PostToConnection
  broadcast: { integration: 'backend' },
  $default: { integration: 'backend', route_response: true },
};

// The Lambda-style handler: every reply goes through the management API, never the HTTP answer.
function installHandler(be) {
  const calls = { gone: [], errors: [] };
  const clients = new Map();  // endpoint -> SDK client
  const sdkFor = (rc) => {
    const endpoint = `http://${rc.domainName}/${rc.stage}`;
    if (!clients.has(endpoint)) clients.set(endpoint, sdkClient(null, { endpoint, creds: CREDS, maxAttempts: 1 }));
    return clients.get(endpoint);
  };
  be.handler = async (event) => {
    const rc = event.requestContext;
    if (rc.eventType !== 'MESSAGE') return { status: 200, body: { statusCode: 200 } };
    const msg = JSON.parse(event.body);
    const sdk = sdkFor(rc);
    if (rc.routeKey === 'sendmessage') {
      await sdk.send(new PostToConnectionCommand({ ConnectionId: rc.connectionId, Data: `echo:${msg.data}` }));
    } else if (rc.routeKey === 'broadcast') {
      // The chat-app pattern: one POST per known id; a GoneException means "forget this id".
      const ids = be.eventsOfType('CONNECT').map((e) => e.requestContext.connectionId);
      await Promise.all(ids.map(async (id) => {
        try {
          await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: `${rc.connectionId} says ${msg.data}` }));
        } catch (err) {
          if (err.name === 'GoneException') calls.gone.push(id);
          else calls.errors.push(`${id}: ${err.name} ${err.message}`);
        }
      }));
    } else if (rc.routeKey === 'whoami') {
      const r = await sdk.send(new GetConnectionCommand({ ConnectionId: rc.connectionId }));
      return { status: 200, body: { statusCode: 200, body: JSON.stringify({ ua: r.Identity.UserAgent }) } };
    }
    return { status: 200, body: { statusCode: 200 } };
  };
  return calls;
}

test('sendmessage route: the HTTP backend replies with PostToConnection to http://${domainName}/${stage} and the sender receives echo:<data>', async (t) => {
  const { gw, be } = await startMgmt(t, { routes });
  installHandler(be);
  const c = await openClient(gw, be);
  const other = await openClient(gw, be);
  await c.send(JSON.stringify({ action: 'sendmessage', data: 'hi' }));
  assert.equal(await c.nextMessage(), 'echo:hi');
  const ev = await be.waitForEvent((e) => e.requestContext.routeKey === 'sendmessage');
  assert.equal(ev.requestContext.domainName, `127.0.0.1:${gw.port}`, 'domainName is the Host header incl. the port');
  assert.equal(ev.requestContext.stage, 'dev');
  assert.equal(ev.requestContext.connectionId, c.id);
  await c.send(JSON.stringify({ action: 'sendmessage', data: 'second \u2713' }));
  assert.equal(await c.nextMessage(), 'echo:second \u2713');
  await sleep(200);
  assert.deepEqual(c.unread(), [], 'one-way route: only the PostToConnection reply arrives');
  assert.deepEqual(other.unread(), [], 'nothing leaks to the other connection');
  await c.close();
  await other.close();
});

test('broadcast route: the backend posts to every connection; a closed one answers GoneException, the open ones receive it', async (t) => {
  const { gw, be } = await startMgmt(t, { routes });
  const calls = installHandler(be);
  const [a, b, gone] = [await openClient(gw, be), await openClient(gw, be), await openClient(gw, be)];
  await gone.close();
  await be.waitForEvent((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === gone.id);
  await a.send(JSON.stringify({ action: 'broadcast', data: 'hello all' }));
  assert.equal(await a.nextMessage(), `${a.id} says hello all`);
  assert.equal(await b.nextMessage(), `${a.id} says hello all`);
  await be.waitFor(() => calls.gone.length + calls.errors.length >= 1);
  assert.deepEqual(calls.errors, []);
  assert.deepEqual(calls.gone, [gone.id]);
  await a.close();
  await b.close();
});

test('a route backend may call GetConnection on the sender while its message is in flight', async (t) => {
  const { gw, be } = await startMgmt(t, { routes: { ...routes, whoami: { integration: 'backend', route_response: true } } });
  installHandler(be);
  const c = await openClient(gw, be, { userAgent: 'roundtrip-ua/9' });
  await c.send(JSON.stringify({ action: 'whoami' }));
  assert.deepEqual(JSON.parse(await c.nextMessage()), { ua: 'roundtrip-ua/9' });
  await c.close();
});
