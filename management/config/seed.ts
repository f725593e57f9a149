import type { Logger } from "pino";
import { create } from "@bufbuild/protobuf";
import { RouteAction, RouteSpecSchema } from "../../proto/gen/warren/v1/proxy_pb.ts";
import type { Store } from "../store/index.ts";
import { newId } from "../store/ids.ts";
import { routeSpecToJson } from "./validate-route.ts";

const SEEDED = "seeded_public_listener";

const WELCOME = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Warren</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}</style></head>
<body><h1>Warren is running</h1><p>This is the default route of the public HTTP listener. Add routes through the management API or UI.</p></body></html>
`;

/** A fresh database gets one HTTP listener with a default route serving a welcome page; once only. */
export function seedPublicListener(store: Store, port: number, log: Logger): void {
  const p = store.proxy;
  if (p.meta(SEEDED)) return;
  const now = Date.now();
  p.transaction(() => {
    const listenerId = newId("lsn");
    p.insertListener({
      id: listenerId,
      name: "public-http",
      bind_address: "",
      port,
      protocol: "http",
      enabled: 1,
      accept_proxy_protocol: 0,
      tls_cert_pem: "",
      tls_key_pem: "",
      created_at: now,
      updated_at: now,
    });
    const spec = create(RouteSpecSchema, {
      listenerId,
      name: "welcome",
      priority: 1000,
      isDefault: true,
      pathPrefix: "/",
      action: RouteAction.STATIC,
      staticResponse: {
        status: 200,
        headers: [
          { name: "content-type", value: "text/html; charset=utf-8" },
          { name: "x-content-type-options", value: "nosniff" },
          { name: "cache-control", value: "no-store" },
        ],
        body: WELCOME,
      },
    });
    p.insertRoute({ id: newId("rte"), listener_id: listenerId, name: "welcome", priority: 1000, is_default: 1, spec: routeSpecToJson(spec), created_at: now, updated_at: now });
    p.setMeta(SEEDED, String(now));
  });
  log.info({ port }, "seeded the public HTTP listener with a welcome page");
}
