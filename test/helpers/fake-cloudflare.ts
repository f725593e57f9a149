// A local stand-in for Cloudflare's DNS API (v4), for DNS-01 tests: Warren's real Cloudflare provider
// talks to it over HTTP, and it puts the TXT records into pebble-challtestsrv's DNS, which Pebble then
// really resolves. `publish = false` accepts the records but never publishes them (a zone that is not
// the one the name lives in): validation then fails at the CA.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Pebble } from "./pebble.ts";

export interface FakeCloudflare {
  /** e.g. http://127.0.0.1:1234/client/v4 — the provider's api_base_url. */
  readonly baseUrl: string;
  readonly zoneId: string;
  readonly token: string;
  /** Every request, "METHOD /path". */
  readonly calls: string[];
  /** TXT records currently held, by record id. */
  readonly records: Map<string, { name: string; content: string; ttl: number }>;
  publish: boolean;
  close(): Promise<void>;
}

export async function startFakeCloudflare(pebble: Pebble, o: { zoneId?: string; token?: string } = {}): Promise<FakeCloudflare> {
  const zoneId = o.zoneId ?? "zone123";
  const token = o.token ?? "cf-token";
  const calls: string[] = [];
  const records = new Map<string, { name: string; content: string; ttl: number }>();
  let nextId = 1;
  const state = { publish: true };
  const server = http.createServer(async (req, res) => {
    let raw = "";
    for await (const c of req) raw += String(c);
    calls.push(`${req.method} ${req.url}`);
    const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${token}`) return reply(403, { success: false, errors: [{ code: 10000, message: "Authentication error" }] });
    if (req.method === "POST" && req.url === `/client/v4/zones/${zoneId}/dns_records`) {
      const rec = JSON.parse(raw) as { type: string; name: string; content: string; ttl: number };
      if (rec.type !== "TXT") return reply(400, { success: false, errors: [{ code: 9000, message: `unexpected type ${rec.type}` }] });
      const id = `rec${nextId++}`;
      records.set(id, rec);
      if (state.publish) await pebble.setTxt(rec.name, rec.content);
      return reply(200, { success: true, errors: [], result: { id, ...rec } });
    }
    const m = new RegExp(`^/client/v4/zones/${zoneId}/dns_records/(\\w+)$`).exec(req.url ?? "");
    if (req.method === "DELETE" && m && records.has(m[1]!)) {
      const rec = records.get(m[1]!)!;
      records.delete(m[1]!);
      await pebble.clearTxt(rec.name);
      return reply(200, { success: true, errors: [], result: { id: m[1] } });
    }
    return reply(404, { success: false, errors: [{ code: 7003, message: "Could not route" }] });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/client/v4`,
    zoneId,
    token,
    calls,
    records,
    get publish() {
      return state.publish;
    },
    set publish(v: boolean) {
      state.publish = v;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
