// Coalesced flights without sockets: fake upstream controllers and recording response chains, so
// the memory bounds (join window, lag detach, upstream pause) are checked byte by byte.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { Flight, Flights, type Release, type Waiter } from "../../../proxy/cache/flight.ts";
import { Downstream } from "../../../proxy/cache/downstream.ts";

class FakeUpstream implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  pauses = 0;
  abort(r: Error): void {
    this.aborted = true;
    this.reason = r;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
}

/** A response chain that records what it gets; `slow` pauses after every chunk until resumed. */
function chain(slow = false) {
  const rec = { status: 0, chunks: [] as Buffer[], ended: false, error: undefined as Error | undefined, slow };
  let settle!: () => void;
  const over = new Promise<void>((r) => (settle = r));
  const down = new Downstream({
    onResponseStart: (_c, s) => void (rec.status = s),
    onResponseData: (c, chunk) => {
      rec.chunks.push(chunk);
      if (rec.slow) c.pause();
    },
    onResponseEnd: () => {
      rec.ended = true;
      settle();
    },
    onResponseError: (_c, e) => {
      rec.error = e;
      settle();
    },
  });
  return { down, rec, over, body: () => Buffer.concat(rec.chunks) };
}

const LIMITS = { maxWaiters: 3, waitMs: 30_000, joinBytes: 100, lagBytes: 300 };

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i) & 255;
  return b;
}

describe("coalesced flights", () => {
  it("waiters get the head at start and then every chunk as it arrives", () => {
    const flights = new Flights(LIMITS);
    const f = flights.lead("k");
    const a = chain();
    const b = chain();
    const started: string[] = [];
    const waiter = (name: string, c: ReturnType<typeof chain>): Waiter => ({
      started: (fl) => {
        started.push(name);
        c.down.start(fl.status, fl.headers);
        fl.subscribe(c.down);
      },
      released: () => assert.fail("not released"),
    });
    assert.equal(f.wait(waiter("a", a)), true);
    assert.equal(f.wait(waiter("b", b)), true);
    const up = new FakeUpstream();
    f.start(200, { "content-length": "20" }, up, () => undefined);
    assert.deepEqual(started, ["a", "b"]);
    f.push(bytes(10, 0));
    assert.equal(a.body().length, 10, "bytes reach a waiter before the body is complete");
    f.push(bytes(10, 10));
    f.finish();
    assert.deepEqual(a.body(), bytes(20, 0));
    assert.deepEqual(b.body(), bytes(20, 0));
    assert.ok(a.rec.ended && b.rec.ended, "both ended");
    assert.equal(a.rec.status, 200);
    assert.equal(flights.get("k"), undefined);
  });

  it("takes at most maxWaiters, and releases them (retry or upstream) when the response is not shared", () => {
    const f = new Flights(LIMITS).lead("k");
    const got: Release[] = [];
    const w: Waiter = { started: () => assert.fail("no head"), released: (o) => void got.push(o) };
    assert.equal(f.wait(w), true);
    assert.equal(f.wait(w), true);
    assert.equal(f.wait(w), true);
    assert.equal(f.wait(w), false);
    f.release("retry");
    assert.deepEqual(got, ["retry", "retry", "retry"]);
    assert.equal(f.wait(w), false);
  });

  it("waiters stop waiting after waitMs and go upstream", async () => {
    const f = new Flights({ ...LIMITS, waitMs: 20 }).lead("k");
    const outcome = await new Promise<Release>((resolve) => f.wait({ started: () => assert.fail("no head"), released: resolve }));
    assert.equal(outcome, "upstream");
  });

  it("nobody joins past joinBytes, and chunks everyone has passed are dropped", () => {
    const f = new Flights(LIMITS).lead("k");
    const up = new FakeUpstream();
    f.start(200, {}, up, () => undefined);
    const a = chain();
    a.down.start(200, {});
    f.subscribe(a.down);
    for (let i = 0; i < 5; i++) f.push(bytes(30, i * 30));
    const late = chain();
    late.down.start(200, {});
    assert.equal(f.subscribe(late.down), undefined);
    assert.equal(f.wait({ started: () => assert.fail("late"), released: () => assert.fail("late") }), false);
    assert.equal(f.buffered, 0, "the only subscriber has everything: nothing is kept");
    assert.equal(a.body().length, 150);
  });

  it("the upstream pauses while every subscriber is paused, and runs at the fastest one's pace", () => {
    const f = new Flights(LIMITS).lead("k");
    const up = new FakeUpstream();
    f.start(200, {}, up, () => undefined);
    const slow = chain(true);
    slow.down.start(200, {});
    f.subscribe(slow.down);
    f.push(bytes(10, 0));
    assert.equal(up.paused, true, "the only subscriber is paused");
    slow.down.resume();
    assert.equal(up.paused, false);
  });

  it("a subscriber lagging more than lagBytes behind a faster one is detached, memory stays bounded, and it reads the rest back from the store", async () => {
    const f = new Flights(LIMITS).lead("k");
    const up = new FakeUpstream();
    const whole = bytes(2000, 7);
    f.start(200, {}, up, () => Readable.from([whole]));
    const fast = chain();
    const slow = chain(true);
    for (const c of [fast, slow]) {
      c.down.start(200, {});
      f.subscribe(c.down);
    }
    let maxBuffered = 0;
    for (let off = 0; off < whole.length; off += 50) {
      f.push(whole.subarray(off, off + 50));
      maxBuffered = Math.max(maxBuffered, f.buffered);
      assert.equal(up.paused, false, "a slow client does not hold back the fast one");
    }
    assert.ok(maxBuffered <= LIMITS.lagBytes + 50, `held ${maxBuffered} bytes`);
    assert.equal(slow.body().length, 50, "the slow one got its first chunk, then fell behind");
    f.finish();
    assert.deepEqual(fast.body(), whole);
    slow.rec.slow = false;
    slow.down.resume();
    await slow.over;
    assert.equal(slow.rec.error, undefined);
    assert.deepEqual(slow.body(), whole);
  });

  it("a detached subscriber whose response was not stored is cut short", () => {
    const f = new Flights(LIMITS).lead("k");
    f.start(200, {}, new FakeUpstream(), () => undefined);
    const fast = chain();
    const slow = chain(true);
    for (const c of [fast, slow]) {
      c.down.start(200, {});
      f.subscribe(c.down);
    }
    for (let i = 0; i < 10; i++) f.push(bytes(50, i));
    f.finish();
    assert.ok(fast.rec.ended, "the fast one ended");
    assert.ok(slow.rec.error !== undefined, "the slow one failed");
  });

  it("when every subscriber is gone the upstream is aborted; an upstream error fails everyone", () => {
    const flights = new Flights(LIMITS);
    const f = flights.lead("k");
    const up = new FakeUpstream();
    f.start(200, {}, up, () => undefined);
    const a = chain();
    a.down.start(200, {});
    f.subscribe(a.down);
    a.down.abort(new Error("client gone"));
    assert.equal(up.aborted, true);
    assert.equal(a.rec.error?.message, "client gone");

    const g: Flight = flights.lead("k2");
    g.start(200, {}, new FakeUpstream(), () => undefined);
    const b = chain();
    b.down.start(200, {});
    g.subscribe(b.down);
    g.push(bytes(10, 0));
    g.fail(new Error("reset"));
    assert.equal(b.rec.error?.message, "reset");
    assert.equal(flights.get("k2"), undefined);
  });
});
