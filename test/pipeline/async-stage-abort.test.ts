// A client that leaves while an asynchronous stage waits (here a rate-limit decision from a store
// that answers later, as Redis does) must not be forwarded afterwards: its response's close has
// already fired, so a request dispatched then would hold an upstream connection for good.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import diagnostics from "node:diagnostics_channel";
import { Harness } from "./harness.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { compileKey, ScopeMatcher, type CompiledRateLimitRule, type RateLimitStore } from "../../proxy/index.ts";
import type { Decision } from "../../proxy/policy/rate-limit/store.ts";

/** A store whose every decision waits until the test releases it. */
class HeldStore implements RateLimitStore {
  readonly pending: (() => void)[] = [];
  private waiter: (() => void) | undefined;
  consume(): Promise<Decision> {
    return new Promise((resolve) => {
      this.pending.push(() => resolve({ allowed: true, limit: 10, remaining: 9, resetMs: 1000, retryAfterMs: 0, degraded: false }));
      this.waiter?.();
    });
  }
  /** Resolves once a decision is waiting. */
  waiting(): Promise<void> {
    return this.pending.length > 0 ? Promise.resolve() : new Promise((r) => (this.waiter = r));
  }
  retain(): void {}
  status() {
    return { kind: "memory" as const, healthy: true, lastError: "", fallbackDecisions: 0, target: "" };
  }
  async close(): Promise<void> {}
}

const rule: CompiledRateLimitRule = {
  id: "rl_held",
  name: "held",
  fingerprint: "f",
  namespace: "rl:f",
  scope: new ScopeMatcher({ hosts: [], pathPrefixes: [], methods: [] }),
  when: undefined,
  key: compileKey(["client_ip"]),
  limit: { algorithm: "fixed_window", limit: 10, windowMs: 60_000, burst: 0, failClosed: false },
  headersOnAllowed: false,
  response: { status: 429, headers: [], body: { kind: "error_page" } },
};

describe("a client gone while a stage waits", () => {
  let h: Harness;
  let origin: Origin;
  const store = new HeldStore();
  before(async () => {
    origin = await startOrigin("held");
    h = await Harness.start({
      listeners: [{ routes: [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] }] }],
      rateLimitRules: [rule],
      rateLimits: store,
    });
  });
  after(async () => {
    await h.close();
    await origin.close();
  });

  it("is not forwarded when the stage answers, and its event says client_aborted", async () => {
    // The gateway's side of the connection: its close is when the gateway knows the client left.
    const accepted = new Promise<net.Socket>((resolve) => {
      const channel = diagnostics.channel("net.server.socket");
      const onSocket = (m: unknown) => {
        channel.unsubscribe(onSocket);
        resolve((m as { socket: net.Socket }).socket);
      };
      channel.subscribe(onSocket);
    });
    const socket = net.connect(h.port(), "127.0.0.1");
    const serverSide = await accepted;
    socket.write("GET /gone HTTP/1.1\r\nHost: held.test\r\n\r\n");
    await store.waiting();
    const closed = new Promise<void>((r) => serverSide.once("close", () => r()));
    socket.destroy();
    await closed;
    const before = h.events.length;
    // The decision comes after the client left.
    store.pending.shift()!();
    await h.waitForEvents(before + 1);
    const e = h.events.at(-1)!;
    assert.equal(e.errorKind, "client_aborted");
    assert.equal(e.answeredBy, "rate_limit");
    assert.equal(origin.seen.length, 0, "nothing reached the origin");
    assert.equal(origin.openConnections(), 0, "no upstream connection was opened");
  });
});
