import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket, bucketFor } from "../../../proxy/shaping/byte-bucket.ts";
import { ShaperBuckets } from "../../../proxy/shaping/bucket-registry.ts";
import { Pacer } from "../../../proxy/shaping/pacer.ts";
import type { ShapingState } from "../../../proxy/shaping/types.ts";
import { shaperRule } from "../../helpers/shaper-rule.ts";

describe("TokenBucket", () => {
  it("starts full: the capacity passes at once, then bytes wait for the rate", () => {
    const b = new TokenBucket(1000, 500, 0);
    assert.equal(b.take(500, 0), 0);
    assert.equal(b.take(100, 0), 100, "100 bytes at 1000 B/s");
    // The next take queues behind the debt: 100 more owed, 200 ms after the bucket emptied.
    assert.equal(b.take(100, 0), 200);
  });

  it("refills with time, up to the capacity only", () => {
    const b = new TokenBucket(1000, 500, 0);
    b.take(500, 0);
    assert.equal(b.take(250, 250), 0, "250 ms refilled 250 bytes");
    assert.equal(b.full(10_000), true);
    assert.equal(b.take(500, 10_000), 0);
    assert.equal(b.take(1, 10_000), 1, "never more than the capacity banked");
  });

  it("lets a chunk larger than the capacity through whole, into debt, keeping the average rate", () => {
    const b = new TokenBucket(1000, 100, 0);
    assert.equal(b.take(1000, 0), 900, "the debt is paid at the rate");
    // Sending at each due time: 10 chunks of 1000 bytes take 10 s minus the 100-byte burst.
    let now = 900;
    for (let i = 0; i < 9; i++) now += b.take(1000, now);
    assert.equal(now, 9900);
  });

  it("shares the rate between concurrent takers", () => {
    const b = new TokenBucket(1000, 1, 0);
    b.take(1, 0);
    const first = b.take(500, 0);
    const second = b.take(500, 0);
    assert.equal(first, 500);
    assert.equal(second, 1000, "the second waits for both");
  });

  it("burst 0 means one second of the rate; rate 0 means not shaped", () => {
    assert.equal(bucketFor(2048, 0, 0)!.capacity, 2048);
    assert.equal(bucketFor(2048, 64, 0)!.capacity, 64);
    assert.equal(bucketFor(0, 64, 0), undefined);
  });
});

describe("Pacer", () => {
  const state = (exempt: number): ShapingState => {
    const rule = shaperRule({ id: "s", downloadBytesPerSecond: 1000, burstBytes: 100, responseExemptBytes: exempt });
    return { rule, upload: undefined, download: new TokenBucket(1000, 100, performance.now()), shapedBytesIn: 0, shapedBytesOut: 0, exemptBytesIn: 0, exemptBytesOut: 0 };
  };

  it("passes the exempt bytes first, then counts only bytes that waited", () => {
    const s = state(300);
    const p = new Pacer(s, s.download!, "out");
    assert.equal(p.delay(200), 0);
    assert.equal(p.delay(150), 0, "100 exempt + 50 from the burst");
    assert.equal(s.exemptBytesOut, 300);
    assert.equal(s.shapedBytesOut, 0);
    assert.ok(p.delay(100) > 0, "past the burst, bytes wait");
    assert.equal(s.shapedBytesOut, 100);
  });
});

describe("ShaperBuckets", () => {
  it("shares per_key buckets by key and gives per_request rules fresh ones", () => {
    const reg = new ShaperBuckets();
    const keyed = shaperRule({ id: "k", downloadBytesPerSecond: 1000 });
    const a = reg.acquire(keyed, () => "x", 0);
    const b = reg.acquire(keyed, () => "x", 0);
    const c = reg.acquire(keyed, () => "y", 0);
    assert.equal(a.download, b.download);
    assert.notEqual(a.download, c.download);
    const per = shaperRule({ id: "p", budget: "per_request", downloadBytesPerSecond: 1000 });
    assert.notEqual(reg.acquire(per, () => "x", 0).download, reg.acquire(per, () => "x", 0).download);
    assert.equal(reg.size(per), 0);
  });

  it("keeps at most maxKeys per rule, evicting the least recently used", () => {
    const reg = new ShaperBuckets(3);
    const r = shaperRule({ id: "k", downloadBytesPerSecond: 1000 });
    const first = reg.acquire(r, () => "k0", 0).download;
    for (let i = 1; i < 3; i++) reg.acquire(r, () => `k${i}`, 0);
    reg.acquire(r, () => "k0", 0); // k0 used again: k1 is now the oldest
    reg.acquire(r, () => "k3", 0);
    assert.equal(reg.size(r), 3);
    assert.equal(reg.acquire(r, () => "k0", 0).download, first, "k0 survived");
  });

  it("expires a released bucket once it is full again or idle, never one in use", () => {
    const reg = new ShaperBuckets(10, 60_000);
    const r = shaperRule({ id: "k", downloadBytesPerSecond: 1000, burstBytes: 1000 });
    const lease = reg.acquire(r, () => "a", 0);
    lease.download!.take(1000, 0);
    // Full again at 1 s, but still in use: kept.
    reg.acquire(r, () => "b", 5000).release();
    assert.equal(reg.acquire(r, () => "a", 5000).download, lease.download);
    lease.release();
  });

  it("drops a full, released bucket on the next request", () => {
    const reg = new ShaperBuckets(10, 60_000);
    const r = shaperRule({ id: "k", downloadBytesPerSecond: 1000, burstBytes: 1000 });
    const lease = reg.acquire(r, () => "a", 0);
    lease.download!.take(1000, 0);
    lease.release();
    reg.acquire(r, () => "b", performance.now() + 2000).release();
    assert.equal(reg.size(r), 1, "only b is left");
  });

  it("starts afresh when a rule is edited (new fingerprint) or deleted", () => {
    const reg = new ShaperBuckets();
    const r1 = shaperRule({ id: "k", downloadBytesPerSecond: 1000 });
    const before = reg.acquire(r1, () => "a", 0).download;
    const r2 = shaperRule({ id: "k", downloadBytesPerSecond: 2000 });
    reg.retain([r2]);
    assert.equal(reg.size(r1), 0);
    assert.notEqual(reg.acquire(r2, () => "a", 0).download, before);
    reg.retain([]);
    assert.equal(reg.size(r2), 0);
  });
});
