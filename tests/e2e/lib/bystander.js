// A bystander: a client that keeps exchanging numbered messages with an echoing route while a
// fault is injected elsewhere, proving the gateway keeps serving everyone else.
import assert from 'node:assert/strict';

import { waitUntil } from './backend.js';

// A bystander that sends numbered messages to the healthy $default route one after the other and
// checks every echo, until stopped. stop() resolves with how many round trips it made.
export function startBystander(c, label = 'bystander') {
  let running = true;
  let count = 0;
  let error = null;
  const done = (async () => {
    while (running) {
      const text = `${label} ${count}`;
      await c.send(text);
      assert.equal(await c.nextMessage(15_000), text, `${label}: wrong echo`);
      count++;
    }
    return count;
  })();
  done.catch((err) => { error = err; });
  return {
    get count() { return count; },
    // Waits for at least `n` more round trips (proves the bystander is being served right now).
    async progress(n = 3) {
      const target = count + n;
      await waitUntil(() => count >= target || error, { timeoutMs: 20_000, what: `${label}: ${n} more round trips` });
      if (error) throw error;
    },
    async stop() { running = false; return done; },
  };
}
