import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { request } from "undici";
import { isMsg, publicListener, type JsonApi, type WarrenProcess } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { withWarren } from "../helpers/with-warren.ts";

describe("agent targets (issue 4 acceptance 2)", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let port: number;
  let listenerId: string;
  let origin: Origin;

  before(async () => {
    ({ w, api, admin: c } = warren);
    ({ id: listenerId, port } = await publicListener(api, c));
    origin = await startOrigin("behind-agent");
  });
  after(() => origin.close());

  it("forwards through an agent, streams 50 MiB both ways, fails requests waiting on a dead agent over to another, and answers 503 with none", async () => {
    const one = await createAgent(api, c, { name: "site-1", labels: { pool: "web" } });
    const two = await createAgent(api, c, { name: "site-2", labels: { pool: "web" } });
    const r = await api.call(
      "ProxyService/CreateRoute",
      {
        spec: {
          listenerId,
          hosts: ["agent.test"],
          action: "ROUTE_ACTION_FORWARD",
          targets: [{ kind: "TARGET_KIND_AGENT", url: origin.url, agentSelector: { pool: "web" }, enabled: true }],
        },
      },
      c,
    );
    assert.equal(r.status, 200, r.text);

    const none = await request(`http://127.0.0.1:${port}/`, { headers: { host: "agent.test", accept: "application/json" } });
    assert.equal(none.statusCode, 503);
    const page = (await none.body.json()) as { error: { code: string; request_id: string } };
    assert.equal(page.error.code, "no_healthy_target");
    assert.equal(none.headers["x-request-id"], page.error.request_id);
    const logged = await w.waitForLog((l) => l.msg === "request failed" && l.requestId === page.error.request_id);
    assert.equal(logged.code, "no_healthy_target", "the request id on the error page is in the logs");

    const p1 = warren.agent(one);
    await w.waitForLog(isMsg("agent online", (l) => l.agentId === one.id));
    const ok = await request(`http://127.0.0.1:${port}/hello`, { headers: { host: "agent.test" } });
    assert.equal(ok.statusCode, 200);
    assert.equal(((await ok.body.json()) as { origin: string }).origin, "behind-agent");

    const size = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 9);
    const sent = createHash("sha256");
    for (let i = 0; i < 50; i++) sent.update(chunk);
    const up = await request(`http://127.0.0.1:${port}/upload`, {
      method: "POST",
      headers: { host: "agent.test" },
      body: Readable.from((function* () { for (let i = 0; i < 50; i++) yield chunk; })()),
    });
    const got = (await up.body.json()) as { sha256: string; bytes: number };
    assert.equal(got.bytes, size);
    assert.equal(got.sha256, sent.digest("hex"));
    const down = await request(`http://127.0.0.1:${port}/download?bytes=${size}`, { headers: { host: "agent.test" } });
    const h = createHash("sha256");
    for await (const d of down.body) h.update(d as Buffer);
    assert.equal(h.digest("hex"), down.headers["x-sha256"]);

    const p2 = warren.agent(two);
    await w.waitForLog(isMsg("agent online", (l) => l.agentId === two.id));

    // Failover for requests whose stream never opened: agent one is frozen (its tunnel stays up but
    // it answers nothing) while requests wait on it, then it dies. A fresh origin, so no pooled
    // stream to agent one can carry them.
    const fresh = await startOrigin("failover");
    try {
      const f = await api.call(
        "ProxyService/CreateRoute",
        { spec: { listenerId, hosts: ["failover.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_AGENT", url: fresh.url, agentSelector: { pool: "web" }, enabled: true }] } },
        c,
      );
      assert.equal(f.status, 200, f.text);
      process.kill(p1.child.pid!, "SIGSTOP");
      const pending = Array.from({ length: 4 }, (_, i) =>
        request(`http://127.0.0.1:${port}/f${i}`, { headers: { host: "failover.test" } }).then(async (res) => {
          await res.body.dump();
          return res.statusCode;
        }),
      );
      // Round robin: two of the four reach the origin through agent two; two wait on agent one.
      while (fresh.seen.length < 2) await new Promise<void>((res) => setImmediate(res));
      process.kill(p1.child.pid!, "SIGKILL");
      const statuses = await Promise.all(pending);
      assert.deepEqual(statuses, [200, 200, 200, 200], "the two waiting on the dead agent were retried on agent two");
      const failed = w.logs.filter((l) => l.msg === "upstream attempt failed" && l.agentId === one.id && l.code === "agent_disconnected");
      assert.equal(failed.length, 2, "each of them failed over once");
      assert.equal(fresh.seen.length, 4);
    } finally {
      await fresh.close();
    }
    await w.waitForLog(isMsg("agent offline", (l) => l.agentId === one.id));
    for (let i = 0; i < 4; i++) {
      const r2 = await request(`http://127.0.0.1:${port}/`, { headers: { host: "agent.test" } });
      assert.equal(r2.statusCode, 200, "served by the second agent");
      await r2.body.dump();
    }
    // SIGTERM: go-away. The gateway closes the agent's idle pooled streams at once, so the agent
    // finds nothing left to wait for (without that, it would wait out its 10 s grace with them open).
    await p2.stop();
    const stopped = p2.logs.find((l) => l.msg === "agent stopped");
    assert.equal(stopped?.abandonedStreams, 0, "no stream was still open when the agent stopped");
    await w.waitForLog(isMsg("agent offline", (l) => l.agentId === two.id));
    const gone = await request(`http://127.0.0.1:${port}/`, { headers: { host: "agent.test" } });
    assert.equal(gone.statusCode, 503);
    assert.match(await gone.body.text(), /no_healthy_target/);
  });
});
