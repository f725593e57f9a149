import type { Logger } from "pino";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { RouteAction, RouteSpecSchema } from "../../proto/gen/warren/v1/proxy_pb.ts";
import type { Store } from "../store/index.ts";
import { newId } from "../store/ids.ts";
import { POLICY_HMAC_KEY } from "../store/secret-columns.ts";
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
      tls_min_version: "1.2",
      http2: 0,
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

/** The built-in proof-of-work page; {{{challenge}}} is Warren's form and script. */
export const CHALLENGE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>One moment…</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1d21;background:#fff}@media(prefers-color-scheme:dark){body{color:#e6e8eb;background:#121418}}h1{font-size:1.4rem}</style></head>
<body><main><h1>Checking your browser before {{host}}</h1>{{{challenge}}}<p><small>Request {{request_id}}</small></p></main></body>
</html>
`;

/** The built-in waiting room page: the place in line, refreshed by a meta refresh (no script). */
export const WAITING_ROOM_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">{{{refresh}}}<title>You are in line</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1d21;background:#fff}@media(prefers-color-scheme:dark){body{color:#e6e8eb;background:#121418}}h1{font-size:1.4rem}strong{font-size:1.6rem}</style></head>
<body><main><h1>{{host}} is busy: you are in line</h1><p role="status">Your place in line: position <strong>{{position}}</strong>.</p><p>This page refreshes itself every {{retry_after}} seconds and lets you in when it is your turn. Keep it open: leaving loses your place.</p><p><small>Request {{request_id}}</small></p></main></body>
</html>
`;

const BUILT_IN_TEMPLATES: readonly { readonly name: string; readonly kind: TemplateKind; readonly kindName: string; readonly body: string; readonly since: string }[] = [
  { name: "blocked", kind: TemplateKind.GENERIC_BODY, kindName: "generic_body", body: BLOCKED_PAGE, since: SEEDED_TEMPLATES },
  { name: "challenge", kind: TemplateKind.CHALLENGE_PAGE, kindName: "challenge_page", body: CHALLENGE_PAGE, since: "seeded_templates_v2" },
  { name: "waiting room", kind: TemplateKind.WAITING_ROOM_PAGE, kindName: "waiting_room_page", body: WAITING_ROOM_PAGE, since: "seeded_templates_waiting_room" },
];

/** Templates every installation starts with (built in: editable, not deletable); each once only. */
export function seedTemplates(store: Store, log: Logger): void {
  const p = store.proxy;
  for (const t of BUILT_IN_TEMPLATES) {
    if (p.meta(t.since)) continue;
    const now = Date.now();
    p.transaction(() => {
      const spec = templateSpec(store.policy.templateByName(t.name) ? `${t.name} (built in)` : t.name, t.kind, "text/html; charset=utf-8", t.body);
      store.policy.insertTemplate({ id: newId("tpl"), name: spec.name, kind: t.kindName, spec: templateSpecToJson(spec), built_in: 1, created_at: now, updated_at: now });
      p.setMeta(t.since, String(now));
    });
    log.info({ template: t.name }, "seeded a built-in response template");
  }
}


/**
 * The key that signs challenge tokens and pass cookies: 32 random bytes made on first use and kept
 * in the database (sealed like every secret, see store/secret-columns.ts), so passes survive a restart.
 */
export function policyKey(store: Store): Buffer {
  const p = store.proxy;
  const stored = p.secretMeta(POLICY_HMAC_KEY);
  if (stored) return Buffer.from(stored, "base64");
  const key = randomBytes(32);
  p.setSecretMeta(POLICY_HMAC_KEY, key.toString("base64"));
  return key;
}
