// Items 6, 7, 8 and 13: upstream failures get their real codes; when the one retry has nowhere
// else to go the first attempt's error is the answer; the warn line carries the cause; agent
// targets honour the route's connect timeout; Warren's timers fire when they are due.
import { after, before, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { freePort } from "../helpers/agent-process.ts";
import { request } from "undici";
import { Harness, capturingLogger, type InProcessAgent } from "./harness.ts";
import { startRawOrigin, type RawOrigin } from "../helpers/raw-origin.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const AGENT = "agt_cccccccccccccccc";

function errorOf(body: string): string {
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

describe("upstream failures (items 6, 7, 8, 13)", () => {
  let h: Harness;
  let lines: Record<string, unknown>[];
  let agent: InProcessAgent;
  let hang: net.Server;
  let reset: RawOrigin;
  let garbage: RawOrigin;
  let slow: RawOrigin;
  let silent: RawOrigin;
  const hangingSockets = new Set<net.Socket>();

  before(async () => {
    const dead = await freePort();
    // Accepts TCP and never speaks: a TLS handshake to it never completes (a connect-phase hang).
    hang = net.createServer((s) => {
      hangingSockets.add(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
    const hangPort = (hang.address() as net.AddressInfo).port;
    reset = await startRawOrigin((_h, s) => s.resetAndDestroy());
    garbage = await startRawOrigin((_h, s) => s.end("SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n"));
    slow = await startRawOrigin((head, s) => {
      if (head.includes("/late-head")) return; // the test kills the agent before anything is sent
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
      s.write("x".repeat(1000)); // and then nothing: the test kills the agent mid-body
    });
    silent = await startRawOrigin(() => {}); // reads the request, never answers
    const direct = (url: string) => [{ kind: TargetKind.DIRECT, url, enabled: true }];
    const viaAgent = (url: string) => [{ kind: TargetKind.AGENT, url, agentSelector: { site: "x" }, enabled: true }];
    const c = capturingLogger();
    lines = c.lines;
    h = await Harness.start({
      log: c.log,
      agents: [{ id: AGENT, labels: { site: "x" } }],
      listeners: [
        {
          routes: [
            { pathPrefix: "/refused", action: RouteAction.FORWARD, passiveHealth: { enabled: true }, targets: direct(`http://127.0.0.1:${dead}`) },
            { pathPrefix: "/refused-again", action: RouteAction.FORWARD, targets: direct(`http://127.0.0.1:${dead}`) },
            { pathPrefix: "/connect-timeout", action: RouteAction.FORWARD, options: { connectTimeoutMs: 300 }, targets: direct(`https://127.0.0.1:${hangPort}`) },
            { pathPrefix: "/header-timeout", action: RouteAction.FORWARD, options: { responseHeaderTimeoutMs: 3_000 }, targets: direct(silent.url) },
            { pathPrefix: "/garbage", action: RouteAction.FORWARD, targets: direct(garbage.url) },
            { pathPrefix: "/agent-denied", action: RouteAction.FORWARD, targets: viaAgent("http://10.255.0.1:80") },
            { pathPrefix: "/agent-dial-failed", action: RouteAction.FORWARD, targets: viaAgent(`http://127.0.0.1:${dead}`) },
            { pathPrefix: "/agent-connect-timeout", action: RouteAction.FORWARD, options: { connectTimeoutMs: 300 }, targets: viaAgent("http://10.255.0.2:80") },
            { pathPrefix: "/agent-reset", action: RouteAction.FORWARD, targets: viaAgent(reset.url) },
            { pathPrefix: "/agent-slow", action: RouteAction.FORWARD, targets: viaAgent(slow.url) },
          ],
        },
      ],
    });
    agent = await h.connectAgent(AGENT, {
      // 10.255.0.1 is refused by the agent's allowlist; a connection to 10.255.0.2 never completes.
      check: async (address) => {
        if (address.startsWith("10.255.0.1:")) return { ok: false, kind: "agent_denied", message: "not allowed" };
        const [host, port] = address.split(":");
        return { ok: true, target: { kind: "ip", host: host!, family: "ipv4", port: Number(port) }, addresses: [{ address: host!, family: "ipv4" }] };
      },
      connect: (opts) => ((opts as net.TcpNetConnectOpts).host === "10.255.0.2" ? new net.Socket() : net.connect(opts)),
    });
  });
  after(async () => {
    await h.close();
    for (const s of hangingSockets) s.destroy();
    hang.close();
    await Promise.all([reset.close(), garbage.close(), slow.close(), silent.close()]);
  });

  const get = (path: string) => request(`${h.url()}${path}`, { headers: { accept: "application/json" } });

  it("answers the first attempt's error when the retry finds no other target (item 6)", async () => {
    const refused = await get("/refused/x");
    assert.equal(refused.statusCode, 502);
    assert.equal(errorOf(await refused.body.text()), "upstream_connect_failed", "not 503: the retry had nowhere to go");
    const timeout = await get("/connect-timeout/x");
    assert.equal(timeout.statusCode, 504);
    assert.equal(errorOf(await timeout.body.text()), "upstream_timeout");
    const denied = await get("/agent-denied/x");
    assert.equal(denied.statusCode, 502);
    assert.equal(errorOf(await denied.body.text()), "agent_denied");
    const dial = await get("/agent-dial-failed/x");
    assert.equal(dial.statusCode, 502);
    assert.equal(errorOf(await dial.body.text()), "agent_dial_failed");
  });

  it("reports an origin reset through an agent as upstream_reset, a non-HTTP answer as upstream_bad_response (item 7)", async () => {
    const r = await get("/agent-reset/x");
    assert.equal(r.statusCode, 502);
    assert.equal(errorOf(await r.body.text()), "upstream_reset");
    const g = await get("/garbage/x");
    assert.equal(g.statusCode, 502);
    assert.equal(errorOf(await g.body.text()), "upstream_bad_response");
  });

  it("logs a failed request's warn line with its cause (item 8)", async () => {
    const n = h.events.length;
    const r = await get("/refused-again/x");
    await r.body.text();
    await h.waitForEvents(n + 1);
    const line = lines.findLast((l) => l.msg === "request failed" && l.requestId === h.events.at(-1)!.requestId) as { code: string; cause: { message: string; code: string } } | undefined;
    assert.ok(line, "a warn line for the request");
    assert.equal(line.code, "upstream_connect_failed");
    assert.equal(line.cause.code, "ECONNREFUSED");
    assert.match(line.cause.message, /ECONNREFUSED/);
  });

  it("honours the route's connect timeout through an agent (item 13)", { timeout: 3_000 }, async () => {
    const started = performance.now();
    const r = await get("/agent-connect-timeout/x");
    assert.equal(r.statusCode, 504);
    assert.equal(errorOf(await r.body.text()), "agent_dial_timeout");
    assert.ok(performance.now() - started >= 300, "not before its time");
    assert.equal(agent.opens.at(-1)!.dialTimeoutMs, 300, "the agent is told the route's connect timeout");
  });

  // Warren's timer is a (mocked) setTimeout: ticking the clock by exactly the setting fires it at
  // once. undici's own header timer runs on its one-second "fast timer" wheel in real time and would
  // answer only ~3 s later: past this test's own timeout, so the test fails if that is what answers.
  it("fires the response-header timeout when it is due, not at undici's next one-second tick (item 13)", { timeout: 1_000 }, async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const seen = silent.heads.length;
      const pending = get("/header-timeout/x");
      while (silent.heads.length === seen) await new Promise<void>((r) => setImmediate(r));
      // Exactly the setting: undici's own timer (1 s resolution) would not have fired yet.
      mock.timers.tick(3_000);
      const r = await pending;
      assert.equal(r.statusCode, 504);
      assert.equal(errorOf(await r.body.text()), "upstream_timeout");
    } finally {
      mock.timers.reset();
    }
  });

  it("reports an agent that goes away mid-response as agent_disconnected (item 7)", async () => {
    const n = h.events.length;
    const r = await request(`${h.url()}/agent-slow/x`);
    assert.equal(r.statusCode, 200);
    const body = r.body.text().catch((e: Error) => e);
    while (slow.heads.length === 0) await new Promise<void>((r2) => setImmediate(r2));
    agent.kill();
    assert.ok((await body) instanceof Error, "the response is cut short");
    await h.waitForEvents(n + 1);
    assert.equal(h.events.at(-1)!.errorKind, "agent_disconnected");
  });

  it("never answers internal_error for any of these", () => {
    assert.equal(h.events.filter((e) => e.errorKind === "internal_error").length, 0);
  });
});
