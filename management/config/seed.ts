import type { Logger } from "pino";
import { create } from "@bufbuild/protobuf";
import { RouteAction, RouteSpecSchema } from "../../proto/gen/warren/v1/proxy_pb.ts";
import type { Store } from "../store/index.ts";
import { newId } from "../store/ids.ts";
import { routeSpecToJson } from "./validate-route.ts";
import { TemplateKind } from "../../proto/gen/warren/v1/policy_pb.ts";
import { templateSpec, templateSpecToJson } from "./validate-policy.ts";

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

const SEEDED_TEMPLATES = "seeded_templates_v1";

/** The built-in block page: small, accessible, no external assets; operators may edit it. */
export const BLOCKED_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{status}} {{status_text}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1d21;background:#fff}@media(prefers-color-scheme:dark){body{color:#e6e8eb;background:#121418}}h1{font-size:1.4rem}code{font-size:.9em}</style></head>
<body><main><h1>{{status}} {{status_text}}</h1><p>{{message}}</p><p>If you think this is a mistake, contact the site's operator and quote request <code>{{request_id}}</code>.</p></main></body>
</html>
`;

/** Templates every installation starts with (built in: editable, not deletable); once only. */
export function seedTemplates(store: Store, log: Logger): void {
  const p = store.proxy;
  if (p.meta(SEEDED_TEMPLATES)) return;
  const now = Date.now();
  p.transaction(() => {
    const spec = templateSpec("blocked", TemplateKind.GENERIC_BODY, "text/html; charset=utf-8", BLOCKED_PAGE);
    store.policy.insertTemplate({ id: newId("tpl"), name: spec.name, kind: "generic_body", spec: templateSpecToJson(spec), built_in: 1, created_at: now, updated_at: now });
    p.setMeta(SEEDED_TEMPLATES, String(now));
  });
  log.info("seeded the built-in response templates");
}
