// What the policy integration suites share: a catch-all route on the public listener to a fresh
// origin, and WAF rules made through the API — each removed after the test that made it, so the
// next test starts from a clean config on the same `warren serve`.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { startOrigin, type Origin } from "./origins.ts";
import { publicListener } from "./warren-process.ts";
import type { WarrenFixture } from "./with-warren.ts";

export interface OriginRoute {
  readonly origin: Origin;
  readonly listener: { readonly id: string; readonly port: number };
  /** http://127.0.0.1:<public port> */
  readonly base: string;
  readonly routeId: string;
}

/** A forward route for any host and path on the public listener, to a new origin named `name`. */
export async function originRoute(t: TestContext, warren: WarrenFixture, name: string): Promise<OriginRoute> {
  const { api, admin: c } = warren;
  const origin = await startOrigin(name);
  const listener = await publicListener(api, c);
  const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: listener.id, name: "all", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url }] } }, c);
  assert.equal(r.status, 200, r.text);
  const routeId = String((r.json.route as { id: string }).id);
  t.after(async () => {
    await api.call("ProxyService/DeleteRoute", { id: routeId }, c);
    await origin.close();
  });
  return { origin, listener, base: `http://127.0.0.1:${listener.port}`, routeId };
}

/** A WAF rule from a JSON spec; returns its id. */
export async function wafRule(t: TestContext, warren: WarrenFixture, spec: Record<string, unknown>): Promise<string> {
  const r = await warren.api.call("PolicyService/CreateWafRule", { spec }, warren.admin);
  assert.equal(r.status, 200, r.text);
  const id = String((r.json.rule as { id: string }).id);
  t.after(() => warren.api.call("PolicyService/DeleteWafRule", { id }, warren.admin));
  return id;
}
