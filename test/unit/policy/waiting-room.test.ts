// The waiting room's queue, admissions, cookies and automatic activation, on a fake clock.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readSession, signSession, newSessionId, WaitingRoom, WaitingRooms, type RoomDecision, type WaitingRoomConfig } from "../../../proxy/policy/waiting-room.ts";

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const base: WaitingRoomConfig = { maxAdmitted: 2, admissionTtlMs: 10_000, queueTimeoutMs: 6_000, pollIntervalS: 2, maxQueued: 3, automatic: undefined };

function room(cfg: Partial<WaitingRoomConfig> = {}, c = clock(), log?: { info(o: object, m: string): void }) {
  return { c, r: new WaitingRoom("waf_a", "busy", "fp1", { ...base, ...cfg }, c.now, log) };
}

const sessionOf = (d: RoomDecision): string => {
  assert.ok(d.kind === "admitted" || d.kind === "queued", d.kind);
  return d.session;
};

describe("waiting room", () => {
  it("admits up to max_admitted at once, then queues the rest in arrival order (FIFO)", () => {
    const { r } = room({ maxQueued: 10 });
    const a = r.enter(undefined);
    const b = r.enter(undefined);
    assert.deepEqual([a.kind, b.kind], ["admitted", "admitted"]);
    assert.ok(a.kind === "admitted" && a.newSession);
    const queued = [r.enter(undefined), r.enter(undefined), r.enter(undefined)];
    assert.deepEqual(
      queued.map((d) => (d.kind === "queued" ? d.position : d.kind)),
      [1, 2, 3],
    );
    assert.equal(r.admittedCount, 2, "max admitted respected");
    // Reloading keeps the place.
    assert.deepEqual(r.enter(sessionOf(queued[1]!)), { kind: "queued", session: sessionOf(queued[1]!), newSession: false, position: 2 });
  });

  it("lets an admitted session's requests through and refreshes its admission with each one", () => {
    const { r, c } = room();
    const a = sessionOf(r.enter(undefined));
    sessionOf(r.enter(undefined));
    const q = sessionOf(r.enter(undefined));
    for (let i = 0; i < 5; i++) {
      c.advance(5_000); // less than the TTL each time, 25 s in all
      assert.deepEqual(r.enter(a), { kind: "admitted", session: a, newSession: false });
    }
    // The other admitted session went quiet: its place went to the head of the queue.
    assert.equal(r.enter(q).kind, "admitted");
  });

  it("frees the place of an expired admission and admits the head of the queue, then the next", () => {
    const { r, c } = room({ maxQueued: 10 });
    const a = sessionOf(r.enter(undefined));
    c.advance(1_000);
    const b = sessionOf(r.enter(undefined));
    const q1 = sessionOf(r.enter(undefined));
    const q2 = sessionOf(r.enter(undefined));
    c.advance(5_000);
    // Both queued sessions keep polling; b keeps going; a stops.
    r.enter(q1);
    r.enter(q2);
    r.enter(b);
    c.advance(4_500); // a's admission (t+10 s) has expired; b's (t+16 s) has not
    assert.deepEqual(r.enter(q2), { kind: "queued", session: q2, newSession: false, position: 1 });
    assert.equal(r.enter(q1).kind, "admitted");
    assert.equal(r.enter(a).kind, "queued", "an expired session starts at the back");
    assert.equal(r.admittedCount, 2);
    c.advance(5_000);
    r.enter(q2);
    c.advance(5_000);
    r.enter(q2);
    c.advance(2_000); // b expired (last seen 6 s in), q1 too
    assert.equal(r.enter(q2).kind, "admitted");
  });

  it("drops a queued session that stops polling after queue_timeout; the others move up", () => {
    const { r, c } = room({ maxQueued: 10 });
    r.enter(undefined);
    r.enter(undefined);
    const gone = sessionOf(r.enter(undefined));
    const stays = sessionOf(r.enter(undefined));
    c.advance(4_000);
    assert.equal(r.enter(stays).kind, "queued");
    c.advance(2_500); // `gone` last seen 6.5 s ago, `stays` 2.5 s ago
    assert.deepEqual(r.enter(stays), { kind: "queued", session: stays, newSession: false, position: 1 });
    assert.equal(r.queuedCount, 1);
    const back = r.enter(gone);
    assert.ok(back.kind === "queued" && back.position === 2 && !back.newSession, "a dropped session rejoins at the back");
    assert.deepEqual(r.status(stays), { position: 1, admitted: false, retryAfterS: 2 });
  });

  it("refuses new arrivals beyond max_queued, but not those already queued", () => {
    const { r } = room({ maxQueued: 3 });
    r.enter(undefined);
    r.enter(undefined);
    const q = [1, 2, 3].map(() => sessionOf(r.enter(undefined)));
    assert.deepEqual(r.enter(undefined), { kind: "full" });
    assert.equal(r.enter(q[2]).kind, "queued");
    assert.equal(r.queuedCount, 3);
  });

  it("status: position, admitted, retry_after; a poll keeps the place", () => {
    const { r, c } = room();
    const a = sessionOf(r.enter(undefined));
    r.enter(undefined);
    const q = sessionOf(r.enter(undefined));
    assert.deepEqual(r.status(a), { position: 0, admitted: true, retryAfterS: 2 });
    assert.deepEqual(r.status(undefined), { position: 0, admitted: false, retryAfterS: 2 });
    for (let i = 0; i < 2; i++) {
      c.advance(4_000);
      assert.equal(r.status(q).position, 1, "status polls (past queue_timeout in all) keep a queued session");
    }
    c.advance(2_000);
    // Both admissions (10 s TTL) have expired by now: the head goes in on the next look.
    assert.deepEqual(r.status(q), { position: 0, admitted: true, retryAfterS: 2 });
  });

  it("treats forged cookies and cookies for another rule, fingerprint or host as no cookie", () => {
    const key = randomBytes(32);
    const s = newSessionId();
    const v = signSession(key, "waf_a", "fp1", "app.test", s);
    assert.equal(readSession(key, v, "waf_a", "fp1", "app.test"), s);
    assert.equal(readSession(key, v, "waf_b", "fp1", "app.test"), undefined, "another rule");
    assert.equal(readSession(key, v, "waf_a", "fp2", "app.test"), undefined, "the rule changed");
    assert.equal(readSession(key, v, "waf_a", "fp1", "other.test"), undefined, "another host");
    assert.equal(readSession(randomBytes(32), v, "waf_a", "fp1", "app.test"), undefined, "another key");
    const other = newSessionId();
    assert.equal(readSession(key, `${other}${v.slice(22)}`, "waf_a", "fp1", "app.test"), undefined, "another session id with this mac");
    for (const bad of [undefined, "", ".", s, `${s}.`, `${s}.AAAA`, "x".repeat(200)]) assert.equal(readSession(key, bad, "waf_a", "fp1", "app.test"), undefined, String(bad));
  });

  it("automatic: on after min_active over the rps threshold, off after quiet under it, with log lines", () => {
    const logs: [object, string][] = [];
    const { r, c } = room({ maxAdmitted: 1, automatic: { activeRequests: 0, requestsPerSecond: 5, minActiveMs: 1_000, quietMs: 2_000 } }, clock(), { info: (o, m) => logs.push([o, m]) });
    // Under the threshold: everyone goes on, nothing is kept.
    for (let i = 0; i < 5; i++) assert.equal(r.enter(undefined).kind, "inactive");
    assert.equal(r.isActive, false);
    // Over it (10 requests a second) for less than min_active: still off.
    for (let i = 0; i < 9; i++) {
      c.advance(100);
      assert.equal(r.enter(undefined).kind, "inactive");
    }
    for (let i = 0; i < 3; i++) {
      c.advance(100);
      r.enter(undefined);
    }
    assert.equal(r.isActive, true, "on after a second over the threshold");
    assert.equal(logs[0]![1], "waiting room on");
    assert.equal(r.enter(undefined).kind, "queued");
    // Under it (one request a second): stays on for the quiet period, then off.
    c.advance(1_000);
    assert.equal(r.enter(undefined).kind, "queued");
    c.advance(1_000);
    r.tick();
    assert.equal(r.isActive, true);
    c.advance(1_100);
    r.tick(); // the periodic sweep turns it off without a request
    assert.equal(r.isActive, false);
    assert.equal(logs[1]![1], "waiting room off");
    assert.deepEqual([r.queuedCount, r.admittedCount], [0, 0], "an inactive room keeps nothing");
    assert.equal(r.enter(undefined).kind, "inactive");
  });

  it("automatic: on when requests in flight stay above active_requests_threshold", () => {
    const { r, c } = room({ automatic: { activeRequests: 3, requestsPerSecond: 0, minActiveMs: 0, quietMs: 1_000 } });
    for (let i = 0; i < 4; i++) {
      assert.equal(r.enter(undefined).kind, "inactive");
      r.began();
    }
    c.advance(5_000);
    assert.equal(r.enter(undefined).kind, "admitted", "on at once (min_active 0): the first arrivals take the places");
    for (let i = 0; i < 4; i++) r.ended();
    r.tick(); // the quiet period starts when the sweep first sees the load under
    assert.equal(r.isActive, true);
    c.advance(1_000);
    r.tick();
    assert.equal(r.isActive, false);
  });

  it("keeps a room while the rule's fingerprint is the same; a changed or deleted rule drops it", () => {
    const c = clock();
    const rooms = new WaitingRooms(undefined, c.now);
    try {
      const rule = { id: "waf_a", name: "busy", fingerprint: "fp1" };
      const a = rooms.room(rule, base);
      a.enter(undefined);
      assert.equal(rooms.room(rule, base), a);
      rooms.retain([rule, { id: "waf_b", name: "x", fingerprint: "f" }]);
      assert.equal(rooms.room(rule, base), a);
      const changed = { ...rule, fingerprint: "fp2" };
      rooms.retain([changed]);
      assert.equal(rooms.size, 0);
      assert.notEqual(rooms.room(changed, base), a);
      assert.equal(rooms.room(changed, base).admittedCount, 0);
      rooms.retain([]);
      assert.equal(rooms.size, 0);
    } finally {
      rooms.close();
    }
  });

  it("memory is bounded by max_queued + max_admitted; positions stay cheap with a long queue", (t) => {
    const { r, c } = room({ maxAdmitted: 100, maxQueued: 10_000, admissionTtlMs: 1_000, queueTimeoutMs: 60_000 });
    const ids: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const d = r.enter(undefined);
      if (d.kind === "queued") ids.push(d.session);
    }
    assert.deepEqual([r.admittedCount, r.queuedCount], [100, 10_000]);
    c.advance(1_000); // every admission expires: the next 100 go in
    const t0 = performance.now();
    for (const id of ids) r.enter(id);
    const ms = performance.now() - t0;
    assert.deepEqual([r.admittedCount, r.queuedCount], [100, 9_900]);
    assert.equal(r.status(ids[9_999]).position, 9_900);
    t.diagnostic(`10,000 polls after 100 admissions: ${ms.toFixed(1)} ms`);
    assert.ok(ms < 500, `10,000 polls took ${ms} ms`);
  });
});
