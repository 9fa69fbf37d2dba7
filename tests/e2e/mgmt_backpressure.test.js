// A client that stops reading fills its send queue: PostToConnection answers 429
// LimitExceededException and must not deliver that message; everything that got 200 arrives
// exactly once, in order, when the client reads again. Other connections are unaffected.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sleep } from './lib/backend.js';
import {
  PostToConnectionCommand, RawWsClient, openClient, runBoto3, sdkClient, sdkError, startMgmt, waitPostable,
} from './lib/mgmt.js';

const MSG_BYTES = 48 * 1024;  // below send_queue_max_bytes, so one message always fits an empty queue
const MAX_POSTS = 2000;

function numbered(seq) {
  const head = Buffer.from(`#${String(seq).padStart(6, '0')}:`);
  return Buffer.concat([head, Buffer.alloc(MSG_BYTES - head.length, 0x61 + (seq % 26))]);
}

// POSTs numbered messages (maxAttempts 1) until one is refused; records the accepted ones in
// `state.delivered` and resolves with the error. The kernel's socket buffers may still grow a
// little after a 429 (autotuning), so callers refill right before each check.
async function fillUntilRefused(sdk, id, state) {
  while (state.seq < MAX_POSTS) {
    const data = numbered(state.seq++);
    try {
      const r = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
      assert.equal(r.$metadata.httpStatusCode, 200);
      state.delivered.push(data);
    } catch (err) {
      return err;
    }
  }
  assert.fail(`no 429 within ${MAX_POSTS} POSTs to a client that does not read`);
}

async function assertDeliveredExactly(slow, delivered) {
  slow.resume();
  await slow.waitMessages(delivered.length, 30_000);
  await sleep(300);
  assert.equal(slow.messages.length, delivered.length, 'a refused (429) POST must never be delivered');
  for (let i = 0; i < delivered.length; i++) {
    if (!slow.messages[i].data.equals(delivered[i])) {
      assert.fail(`message ${i} differs: got ${slow.messages[i].data.subarray(0, 12)}… (${slow.messages[i].data.length} B), expected ${delivered[i].subarray(0, 12)}…`);
    }
  }
}

test('slow client: POSTs get 429 LimitExceededException once its queue is full; only the 200s are delivered, in order; others unaffected', async (t) => {
  const { gw, be } = await startMgmt(t, { connection: { send_queue_max_bytes: 65536 } });
  const slow = await RawWsClient.connect(gw, { userAgent: 'slow-reader/1' });
  const slowId = (await be.waitForEvent((e) => e.requestContext.eventType === 'CONNECT')).requestContext.connectionId;
  await waitPostable(gw, slowId);
  const normal = await openClient(gw, be, { userAgent: 'normal-reader/1' });
  slow.pause();  // stop reading: the kernel buffers, then the gateway's queue, fill up

  const sdk = sdkClient(gw, { maxAttempts: 1 });
  const state = { seq: 0, delivered: [] };
  const started = Date.now();
  const limited = await fillUntilRefused(sdk, slowId, state);
  const elapsed = Date.now() - started;
  t.diagnostic(`${state.delivered.length} POSTs of ${MSG_BYTES} bytes accepted before the first 429 (${elapsed} ms, ${(state.seq / (elapsed / 1000)).toFixed(0)} POST/s)`);
  assert.equal(limited.name, 'LimitExceededException', `${limited.name}: ${limited.message}`);
  assert.equal(limited.$metadata.httpStatusCode, 429);
  assert.equal(limited.constructor.name, 'LimitExceededException');
  assert.equal(limited.message, 'The client is sending more than the allowed number of requests per unit of time or the '
    + 'WebSocket client side buffer is full.');
  assert.ok(limited.message && limited.message !== 'UnknownError', `message: ${limited.message}`);

  // boto3 raises client.exceptions.LimitExceededException (max_attempts 1: no retry).
  let botoRefused = null;
  for (let round = 0; round < 5 && !botoRefused; round++) {
    if (round > 0) await fillUntilRefused(sdk, slowId, state);
    // Full-size messages: the queue is counted in bytes, a small message could still fit.
    const fill = `boto3 ${round}|`;
    const more = await runBoto3(gw, [{ op: 'post', id: slowId, size: MSG_BYTES, fill }], { maxAttempts: 1 });
    if (more[0].ok) state.delivered.push(Buffer.from(fill.repeat(MSG_BYTES).slice(0, MSG_BYTES)));
    else botoRefused = more[0];
  }
  assert.ok(botoRefused, 'boto3 never saw the full queue');
  assert.equal(botoRefused.caughtAs, 'LimitExceededException', JSON.stringify(botoRefused));
  assert.equal(botoRefused.status, 429);
  assert.equal(botoRefused.retryAttempts, 0, 'max_attempts 1: no retry');

  // Meanwhile the other connection works normally.
  for (let i = 0; i < 5; i++) {
    await sdk.send(new PostToConnectionCommand({ ConnectionId: normal.id, Data: `normal ${i}` }));
    assert.equal(await normal.nextMessage(), `normal ${i}`);
  }
  await normal.send('ping through $default');
  assert.equal(await normal.nextMessage(), 'ping through $default');

  // Read again: exactly the accepted messages arrive, in order, and nothing else.
  await assertDeliveredExactly(slow, state.delivered);
  // And once drained the queue accepts again.
  await sdk.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: 'after draining' }));
  await slow.waitMessages(state.delivered.length + 1);
  assert.equal(slow.messages.at(-1).data.toString(), 'after draining');
  slow.close();
  await normal.close();
});

test('JS SDK default retries: a 429 is retried (3 attempts in all) and nothing refused is delivered', async (t) => {
  const { gw, be } = await startMgmt(t, { connection: { send_queue_max_bytes: 65536 } });
  const slow = await RawWsClient.connect(gw);
  const slowId = (await be.waitForEvent((e) => e.requestContext.eventType === 'CONNECT')).requestContext.connectionId;
  await waitPostable(gw, slowId);
  slow.pause();
  const once = sdkClient(gw, { maxAttempts: 1 });
  const retrying = sdkClient(gw);  // standard retry strategy, 3 attempts
  const state = { seq: 0, delivered: [] };
  let refused = null;
  for (let round = 0; round < 5 && !refused; round++) {
    assert.equal((await fillUntilRefused(once, slowId, state)).name, 'LimitExceededException');
    const data = numbered(900_000 + round);  // full size: a small message could still fit the byte-counted queue
    try {
      await retrying.send(new PostToConnectionCommand({ ConnectionId: slowId, Data: data }));
      state.delivered.push(data);  // a retry found room: delivered once
    } catch (err) {
      refused = err;
    }
  }
  assert.ok(refused, 'the retrying client never saw the full queue');
  assert.equal(refused.name, 'LimitExceededException');
  assert.equal(refused.$metadata.attempts, 3, 'LimitExceededException is retryable (throttling) for the JS SDK');
  await assertDeliveredExactly(slow, state.delivered);
  slow.close();
});
