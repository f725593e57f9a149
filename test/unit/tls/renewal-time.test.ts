// nextRenewalAt / retryAfterFailure: the renewal scheduler's clock decisions (DESIGN.md §6).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { nextRenewalAt, retryAfterFailure } from "../../../management/tls/renewal-time.ts";

const DAY = 86_400_000;
const notBefore = new Date("2026-01-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 90 * DAY);

describe("nextRenewalAt", () => {
  it("without ARI renews at two thirds of the lifetime", () => {
    const at = nextRenewalAt({ notBefore, notAfter, now: notBefore, random: () => 0.5 });
    assert.equal(at.toISOString(), new Date(notBefore.getTime() + 60 * DAY).toISOString());
    const short = nextRenewalAt({ notBefore, notAfter: new Date(notBefore.getTime() + 45 * DAY), now: notBefore, random: () => 0 });
    assert.equal(short.getTime(), notBefore.getTime() + 30 * DAY);
  });

  it("with ARI picks a uniformly random time inside the window", () => {
    const ari = { start: new Date(notBefore.getTime() + 50 * DAY), end: new Date(notBefore.getTime() + 52 * DAY) };
    assert.equal(nextRenewalAt({ notBefore, notAfter, ari, now: notBefore, random: () => 0 }).getTime(), ari.start.getTime());
    assert.equal(nextRenewalAt({ notBefore, notAfter, ari, now: notBefore, random: () => 0.5 }).getTime(), ari.start.getTime() + DAY);
    const last = nextRenewalAt({ notBefore, notAfter, ari, now: notBefore, random: () => 0.999999 }).getTime();
    assert.ok(last < ari.end.getTime() && last > ari.start.getTime() + 1.99 * DAY);
  });

  it("a window already past means now; a window under way picks from what is left", () => {
    const ari = { start: new Date(notBefore.getTime() + 10 * DAY), end: new Date(notBefore.getTime() + 11 * DAY) };
    const now = new Date(notBefore.getTime() + 20 * DAY);
    assert.equal(nextRenewalAt({ notBefore, notAfter, ari, now, random: () => 0.7 }).getTime(), now.getTime());
    const midway = new Date(notBefore.getTime() + 10.5 * DAY);
    const at = nextRenewalAt({ notBefore, notAfter, ari, now: midway, random: () => 0 }).getTime();
    assert.equal(at, midway.getTime());
    const end = nextRenewalAt({ notBefore, notAfter, ari, now: midway, random: () => 0.5 }).getTime();
    assert.equal(end, midway.getTime() + 0.25 * DAY);
  });

  it("an empty or inverted ARI window falls back to two thirds", () => {
    const ari = { start: new Date(notBefore.getTime() + 5 * DAY), end: new Date(notBefore.getTime() + 5 * DAY) };
    assert.equal(nextRenewalAt({ notBefore, notAfter, ari, now: notBefore, random: () => 0 }).getTime(), notBefore.getTime() + 60 * DAY);
  });
});

describe("retryAfterFailure", () => {
  const now = new Date("2026-03-01T00:00:00Z");
  const hours = (failures: number) => (retryAfterFailure(failures, now).getTime() - now.getTime()) / 3_600_000;

  it("starts at an hour and doubles", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(hours), [1, 2, 4, 8, 16]);
  });

  it("is capped at 24 hours, even for absurd counts", () => {
    assert.equal(hours(6), 24);
    assert.equal(hours(100), 24);
    assert.equal(hours(5000), 24);
  });

  it("treats 0 or negative as the first failure", () => {
    assert.equal(hours(0), 1);
    assert.equal(hours(-3), 1);
  });
});
