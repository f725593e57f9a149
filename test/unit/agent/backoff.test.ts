import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff, backoffDelay } from "../../../agent/backoff.ts";

describe("reconnect backoff", () => {
  it("doubles from 1 s to 30 s without jitter at the midpoint", () => {
    const mid = () => 0.5;
    assert.deepEqual(
      Array.from({ length: 8 }, (_, i) => backoffDelay(i, { random: mid })),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
    );
  });

  it("applies ±20 % jitter and never exceeds 30 s", () => {
    assert.equal(backoffDelay(0, { random: () => 0 }), 800);
    assert.equal(backoffDelay(0, { random: () => 0.999999 }), 1200);
    assert.equal(backoffDelay(3, { random: () => 0 }), 6400);
    assert.equal(backoffDelay(3, { random: () => 0.999999 }), 9600);
    assert.equal(backoffDelay(10, { random: () => 0 }), 24000);
    assert.equal(backoffDelay(10, { random: () => 0.999999 }), 30000);
    assert.equal(backoffDelay(1e6, { random: () => 0.5 }), 30000);
    for (let i = 0; i < 1000; i++) {
      const attempt = i % 8;
      const d = backoffDelay(attempt);
      const base = Math.min(30000, 1000 * 2 ** attempt);
      assert.ok(d >= base * 0.8 - 1 && d <= Math.min(30000, base * 1.2 + 1), `attempt ${attempt}: ${d}`);
    }
  });

  it("restarts the schedule after a connection that was up for 20 s", () => {
    const b = new Backoff({ random: () => 0.5 });
    assert.deepEqual([b.next(), b.next(), b.next()], [1000, 2000, 4000]);
    b.connectionEnded(19_999);
    assert.equal(b.next(), 8000);
    b.connectionEnded(20_000);
    assert.equal(b.next(), 1000);
    b.next();
    b.reset();
    assert.equal(b.next(), 1000);
  });
});
