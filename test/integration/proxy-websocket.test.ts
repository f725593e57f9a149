import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "undici";
import { publicListener, type JsonApi, type LogLine, type WarrenProcess } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { withWarren } from "../helpers/with-warren.ts";
import { startWebSocketEcho } from "../helpers/origins.ts";

/** Opens a WebSocket, sends each message and collects the echoes. */
async function echo(url: string, messages: string[]): Promise<string[]> {
  const ws = new WebSocket(url);
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => {
      for (const m of messages) ws.send(m);
    };
    ws.onmessage = (ev) => {
      got.push(String(ev.data));
      if (got.length === messages.length) {
        ws.close();
        resolve();
      }
    };
    ws.onerror = (e) => reject(new Error(`websocket error: ${String((e as { message?: string }).message ?? e.type)}`));
  });
  return got;
}

describe("WebSocket upgrades through the proxy (issue 4 acceptance 4)", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let port: number;
  let listenerId: string;
  let origin: Awaited<ReturnType<typeof startWebSocketEcho>>;

  before(async () => {
    ({ w, api, admin: c } = warren);
    ({ id: listenerId, port } = await publicListener(api, c));
    origin = await startWebSocketEcho();
  });
  after(() => origin.close());

  it("echoes through a direct target", async () => {
    const r = await api.call(
      "ProxyService/CreateRoute",
      { spec: { listenerId, pathPrefix: "/ws-direct", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] } },
      c,
    );
    assert.equal(r.status, 200, r.text);
    const msgs = ["hello", "x".repeat(5000), "third"];
    assert.deepEqual(await echo(`ws://127.0.0.1:${port}/ws-direct/chat`, msgs), msgs);
  });

  it("echoes through an agent target", async () => {
    const a = await createAgent(api, c, { name: "ws-agent" });
    const r = await api.call(
      "ProxyService/CreateRoute",
      {
        spec: {
          listenerId,
          pathPrefix: "/ws-agent",
          action: "ROUTE_ACTION_FORWARD",
          targets: [{ kind: "TARGET_KIND_AGENT", url: origin.url, agentSelector: { "warren.io/agent-id": a.id }, enabled: true }],
        },
      },
      c,
    );
    assert.equal(r.status, 200, r.text);
    warren.agent(a);
    await w.waitForLog((l: LogLine) => l.msg === "agent online" && l.agentId === a.id);
    const msgs = ["through", "the", "tunnel"];
    assert.deepEqual(await echo(`ws://127.0.0.1:${port}/ws-agent/chat`, msgs), msgs);
  });
});
