// The route editor's form model (management/ui/src/lib/route-form.ts): spec → form → spec keeps
// everything (target ids, stored secrets), new routes and targets get the right defaults, text
// fields parse, and server errors land on the field the form shows them under.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, equals, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BalancePolicy, HashOn, RedirectMode, RouteAction, RouteSpecSchema, TargetKind } from "../../../proto/gen/warren/v1/proxy_pb.ts";
import { FormError, formToRouteSpec, newTarget, routeToForm, splitList, targetsSummary } from "../../../management/ui/src/lib/route-form.ts";
import { messageFor, problemOf } from "../../../management/ui/src/lib/errors.ts";

const full = () =>
  create(RouteSpecSchema, {
    listenerId: "lst_1",
    name: "everything",
    priority: -5,
    hosts: ["app.test", "*.example.org"],
    pathPrefix: "/api",
    methods: ["GET", "POST"],
    isDefault: true,
    action: RouteAction.FORWARD,
    options: {
      preserveHost: true,
      stripPathPrefix: true,
      addRequestHeaders: [{ name: "X-Req", value: "1" }],
      removeRequestHeaders: ["x-drop", "x-drop-2"],
      addResponseHeaders: [{ name: "X-Res", value: "a b" }],
      removeResponseHeaders: ["server"],
      connectTimeoutMs: 1500,
      responseHeaderTimeoutMs: 30000,
      maxBodyBytes: 0n,
      allowEncodedSeparators: true,
      httpsRedirect: true,
      hstsMaxAgeSeconds: 31536000,
      addVia: true,
      upgradeProtocols: ["h2c", "tls/1.2"],
    },
    targets: [
      {
        id: "tgt_a",
        name: "one",
        priorityGroup: 2,
        weight: 30,
        enabled: false,
        kind: TargetKind.DIRECT,
        url: "https://10.0.0.1:8443/base",
        tlsSkipVerify: true,
        headers: [
          { name: "Authorization", value: "", sensitive: true, valueSet: true },
          { name: "X-Plain", value: "p", sensitive: false },
        ],
      },
      { id: "tgt_b", enabled: true, kind: TargetKind.AGENT, url: "http://127.0.0.1:9000", agentSelector: { "warren.io/agent-id": "agt_1", pool: "web" } },
    ],
    loadBalancing: { policy: BalancePolicy.CONSISTENT_HASH, hashOn: HashOn.HEADER, hashKey: "x-user" },
    healthCheck: { enabled: true, method: "HEAD", path: "/healthz", intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 3, unhealthyThreshold: 4, expectedStatuses: [200, 204] },
    passiveHealth: { enabled: true, cooldownMs: 10000 },
  });

describe("route form: round trip", () => {
  it("keeps every field of a forward route with every option", () => {
    const spec = full();
    const back = formToRouteSpec(routeToForm(spec, [{ id: "lst_other" }]));
    // valueSet is the server's to say; what goes back is the empty value + sensitive (keep the secret).
    spec.targets[0]!.headers[0]!.valueSet = false;
    assert.deepEqual(toJson(RouteSpecSchema, back), toJson(RouteSpecSchema, spec));
    assert.ok(equals(RouteSpecSchema, back, spec));
    assert.equal(back.targets[0]!.id, "tgt_a");
    assert.equal(back.targets[1]!.id, "tgt_b");
  });

  it("keeps a redirect and a static route (and sends no targets with them)", () => {
    const redirect = create(RouteSpecSchema, {
      listenerId: "l",
      pathPrefix: "/old",
      action: RouteAction.REDIRECT,
      options: {},
      redirect: { status: 301, mode: RedirectMode.SAME_HOST_PATH, location: "/new", keepQuery: false, keepPathBelowPrefix: true },
    });
    const r = formToRouteSpec(routeToForm(redirect));
    assert.deepEqual(toJson(RouteSpecSchema, r), toJson(RouteSpecSchema, redirect));
    const stat = create(RouteSpecSchema, {
      listenerId: "l",
      pathPrefix: "/",
      action: RouteAction.STATIC,
      options: {},
      staticResponse: { status: 418, headers: [{ name: "content-type", value: "text/plain" }], body: "teapot\n" },
    });
    const s = formToRouteSpec(routeToForm(stat));
    assert.deepEqual(toJson(RouteSpecSchema, s), toJson(RouteSpecSchema, stat));
    const form = routeToForm(full());
    form.action = RouteAction.STATIC;
    const switched = formToRouteSpec(form);
    assert.deepEqual(switched.targets, []);
    assert.equal(switched.loadBalancing, undefined);
    assert.equal(switched.staticResponse?.status, 200);
  });

  it("keeps max body bytes unset apart from 0 (unlimited)", () => {
    const f = routeToForm(undefined, [{ id: "l" }]);
    assert.equal(f.options.maxBodyBytes, "");
    assert.equal(formToRouteSpec(f).options?.maxBodyBytes, undefined);
    f.options.maxBodyBytes = "0";
    assert.equal(formToRouteSpec(f).options?.maxBodyBytes, 0n);
    f.options.maxBodyBytes = "1048576";
    assert.equal(formToRouteSpec(f).options?.maxBodyBytes, 1048576n);
  });
});

describe("route form: defaults", () => {
  it("a new route forwards on the first listener to one enabled direct target", () => {
    const f = routeToForm(undefined, [{ id: "lst_a" }, { id: "lst_b" }]);
    assert.equal(f.listenerId, "lst_a");
    assert.equal(f.action, RouteAction.FORWARD);
    assert.equal(f.pathPrefix, "/");
    assert.equal(f.targets.length, 1);
    assert.deepEqual(f.targets[0], newTarget());
    assert.equal(f.targets[0]!.enabled, true);
    assert.equal(f.targets[0]!.kind, TargetKind.DIRECT);
    assert.equal(f.redirect.status, "308");
    assert.equal(f.staticResponse.status, "200");
    f.targets[0]!.url = "http://127.0.0.1:1";
    const spec = formToRouteSpec(f);
    assert.equal(spec.targets[0]!.enabled, true, "sent explicitly enabled");
    assert.equal(spec.targets[0]!.id, "");
    assert.equal(spec.targets[0]!.weight, 0);
  });

  it("a stored target without `enabled` shows as enabled", () => {
    const f = routeToForm(create(RouteSpecSchema, { listenerId: "l", action: RouteAction.FORWARD, targets: [{ id: "t", kind: TargetKind.DIRECT, url: "http://x:1" }] }));
    assert.equal(f.targets[0]!.enabled, true);
  });

  it("a new agent target starts with no selector; direct targets never send one", () => {
    const t = newTarget(TargetKind.AGENT);
    assert.deepEqual(t.selector, []);
    assert.equal(t.enabled, true);
    const f = routeToForm(undefined, [{ id: "l" }]);
    f.targets[0]!.selector = [{ key: "pool", value: "web" }];
    assert.deepEqual(formToRouteSpec(f).targets[0]!.agentSelector, {}, "kind direct: the selector rows are ignored");
  });
});

describe("route form: parsing", () => {
  it("hosts and methods: commas, spaces or lines; methods upper-cased", () => {
    assert.deepEqual(splitList(" a.test,b.test\n\n*.c.test ,  "), ["a.test", "b.test", "*.c.test"]);
    const f = routeToForm(undefined, [{ id: "l" }]);
    f.hosts = "app.test,\nwww.app.test";
    f.methods = "get, post\nPUT";
    f.targets[0]!.url = "http://127.0.0.1:1";
    const s = formToRouteSpec(f);
    assert.deepEqual(s.hosts, ["app.test", "www.app.test"]);
    assert.deepEqual(s.methods, ["GET", "POST", "PUT"]);
    assert.equal(routeToForm(s).hosts, "app.test, www.app.test");
  });

  it("numbers: empty is the default, a non-number is an error on that field", () => {
    const f = routeToForm(undefined, [{ id: "l" }]);
    f.targets[0]!.url = "http://127.0.0.1:1";
    f.priority = "-10";
    f.targets[0]!.weight = "7";
    assert.equal(formToRouteSpec(f).priority, -10);
    assert.equal(formToRouteSpec(f).targets[0]!.weight, 7);
    const cases: [(g: typeof f) => void, string][] = [
      [(g) => (g.priority = "high"), "priority"],
      [(g) => (g.targets[0]!.weight = "1.5"), "targets[0].weight"],
      [(g) => (g.targets[0]!.priorityGroup = "-1"), "targets[0].priority_group"],
      [(g) => (g.options.connectTimeoutMs = "5s"), "options.connect_timeout_ms"],
      [(g) => (g.options.maxBodyBytes = "100MiB"), "options.max_body_bytes"],
      [(g) => (g.healthCheck.intervalMs = "x"), "health_check.interval_ms"],
      [(g) => (g.healthCheck.expectedStatuses = "200, ok"), "health_check.expected_statuses[1]"],
      [(g) => (g.passiveHealth.cooldownMs = "soon"), "passive_health.cooldown_ms"],
    ];
    for (const [breakIt, field] of cases) {
      const g = structuredClone(f);
      breakIt(g);
      assert.throws(
        () => formToRouteSpec(g),
        (e: unknown) => e instanceof FormError && e.problem.field === field && e.problem.code === "invalid_argument",
        field,
      );
    }
    f.healthCheck.expectedStatuses = "200 204,301";
    assert.deepEqual(formToRouteSpec(f).healthCheck?.expectedStatuses, [200, 204, 301]);
  });

  it("agent selectors: rows to a map, blank keys dropped, values trimmed", () => {
    const f = routeToForm(undefined, [{ id: "l" }]);
    f.targets = [{ ...newTarget(TargetKind.AGENT), url: "http://127.0.0.1:80", selector: [{ key: "warren.io/agent-id", value: "agt_9" }, { key: " pool ", value: " web " }, { key: "", value: "" }] }];
    const s = formToRouteSpec(f);
    assert.deepEqual(s.targets[0]!.agentSelector, { "warren.io/agent-id": "agt_9", pool: "web" });
    assert.deepEqual(routeToForm(s).targets[0]!.selector, [
      { key: "warren.io/agent-id", value: "agt_9" },
      { key: "pool", value: "web" },
    ]);
  });

  it("sensitive headers: a stored one stays empty (keep), a new value replaces it, blank rows go", () => {
    const f = routeToForm(full());
    const row = f.targets[0]!.headers[0]!;
    assert.deepEqual(row, { name: "Authorization", value: "", sensitive: true, valueSet: true });
    assert.deepEqual(formToRouteSpec(f).targets[0]!.headers[0], { $typeName: "warren.v1.TargetHeader", name: "Authorization", value: "", sensitive: true, valueSet: false });
    row.value = "Bearer new";
    assert.equal(formToRouteSpec(f).targets[0]!.headers[0]!.value, "Bearer new");
    f.targets[0]!.headers.push({ name: "", value: "", sensitive: false, valueSet: false });
    assert.equal(formToRouteSpec(f).targets[0]!.headers.length, 2);
  });

  it("summarizes targets for the list", () => {
    assert.equal(targetsSummary(full()), "2 targets (1 direct, 1 agent), 1 disabled");
    assert.equal(targetsSummary(create(RouteSpecSchema, { action: RouteAction.STATIC })), "—");
  });
});

describe("route form: server errors name form fields", () => {
  const err = (msg: string) => problemOf(new ConnectError(msg, Code.InvalidArgument));
  it("maps spec.* field errors to the inputs' fields", () => {
    const url = err("spec.targets[0].url: must be an absolute http:// or https:// URL");
    assert.equal(url.field, "targets[0].url");
    assert.equal(messageFor(url, "targets[0].url"), "must be an absolute http:// or https:// URL");
    assert.equal(messageFor(url, "targets[0]"), "must be an absolute http:// or https:// URL", "the target row collects it");
    assert.equal(messageFor(url, "targets[1].url"), undefined);
    assert.equal(messageFor(url, "targets[0].name"), undefined);

    const host = err("spec.hosts[1]: is not a valid host name");
    assert.equal(messageFor(host, "hosts"), "is not a valid host name");

    const hash = err("spec.load_balancing.hash_on: is required for consistent hashing");
    assert.equal(messageFor(hash, "load_balancing.hash_on"), "is required for consistent hashing");

    const sel = err('spec.targets[1].agent_selector["bad key"]: is not a valid label key');
    assert.equal(messageFor(sel, "targets[1].agent_selector"), "is not a valid label key");

    const all = err("spec.targets: every target is disabled: enable at least one (a route with none would answer 503 to every request)");
    assert.equal(all.field, "targets");
    assert.match(messageFor(all, "targets") ?? "", /^every target is disabled/);
  });
});
