// The rate-limit editor's form model (management/ui/src/lib/rate-limit-form.ts): spec → form → spec
// keeps everything, key parts parse into rows and back, the window converts exactly, only the token
// bucket sends a burst, only the chosen body source is sent, the list's summaries and the store panel.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { GetRateLimitStoreStatusResponseSchema, RateLimitAlgorithm, RateLimitRuleSchema, RateLimitRuleSpecSchema, StoreFailMode } from "../../../proto/gen/warren/v1/policy_pb.ts";
import {
  FormError,
  formatKeyPart,
  formToRateLimitSpec,
  keyPartsListMessage,
  keyPartsSummary,
  keyPartsToRows,
  limitSummary,
  parseKeyPart,
  rateLimitSpecWith,
  rateLimitToForm,
  rowsToKeyParts,
  storeStatusView,
  windowText,
  windowToForm,
  windowToMs,
} from "../../../management/ui/src/lib/rate-limit-form.ts";
import { messageFor, problemOf } from "../../../management/ui/src/lib/errors.ts";
import { Code, ConnectError } from "@connectrpc/connect";

/** A spec as the server stores it (defaults filled in). */
const stored = () =>
  create(RateLimitRuleSpecSchema, {
    name: "api per key",
    priority: -2,
    enabled: false,
    scope: { hosts: ["api.test", "*.example.org"], pathPrefixes: ["/v1"], methods: ["POST", "PUT"] },
    when: 'headers["x-tier"].exists(v, v == "free")',
    keyParts: ["client_ip", "header:X-Api-Key", "cookie:sid", "query:token", "host", "method", "path"],
    algorithm: RateLimitAlgorithm.TOKEN_BUCKET,
    limit: 100,
    windowMs: 3_600_000,
    burst: 250,
    failMode: StoreFailMode.CLOSED,
    headersOnAllowed: true,
    response: { status: 503, templateId: "tpl_1", body: "", contentType: "", headers: [{ name: "x-why", value: "slow down" }] },
  });

describe("key parts", () => {
  it("parses each kind, with the name after the first colon", () => {
    assert.deepEqual(parseKeyPart("client_ip"), { kind: "client_ip", name: "" });
    assert.deepEqual(parseKeyPart(" path "), { kind: "path", name: "" });
    assert.deepEqual(parseKeyPart("header:X-Api-Key"), { kind: "header", name: "X-Api-Key" });
    assert.deepEqual(parseKeyPart("query:a:b"), { kind: "query", name: "a:b" });
    assert.deepEqual(parseKeyPart("cookie:"), { kind: "cookie", name: "" });
    assert.equal(parseKeyPart("ip"), undefined);
    assert.equal(parseKeyPart("body:x"), undefined);
  });
  it("formats rows back: a name only for header, cookie and query, trimmed", () => {
    assert.equal(formatKeyPart({ kind: "header", name: " x-api-key " }), "header:x-api-key");
    assert.equal(formatKeyPart({ kind: "host", name: "left over" }), "host", "a kind without a name drops a leftover name");
    assert.equal(formatKeyPart({ kind: "query", name: "" }), "query:", "an empty name is sent as is: the server names the row");
    const parts = ["client_ip", "header:x", "cookie:sid", "query:q", "host", "method", "path"];
    assert.deepEqual(rowsToKeyParts(keyPartsToRows(parts)), parts);
  });
  it("starts a new rule with one client_ip row, and summarizes", () => {
    assert.deepEqual(keyPartsToRows([]), [{ kind: "client_ip", name: "" }]);
    assert.deepEqual(keyPartsToRows(undefined), [{ kind: "client_ip", name: "" }]);
    assert.equal(keyPartsSummary([]), "client_ip");
    assert.equal(keyPartsSummary(["client_ip", "header:x-api-key"]), "client_ip + header:x-api-key");
  });
  it("puts a row's server error under the row and an index past the rows under the list", () => {
    const err = (raw: string) => problemOf(new ConnectError(raw, Code.InvalidArgument));
    const row2 = err('spec.key_parts[2]: "bad name" is not a valid header name');
    assert.equal(messageFor(row2, "key_parts[2]"), '"bad name" is not a valid header name');
    assert.equal(messageFor(row2, "key_parts[1]"), undefined);
    assert.equal(keyPartsListMessage(row2, 3), undefined, "row 2 exists: the row shows it");
    const tooMany = err("spec.key_parts[8]: at most 8 key parts are allowed");
    assert.equal(keyPartsListMessage(tooMany, 8), "at most 8 key parts are allowed");
    assert.equal(keyPartsListMessage(err("spec.key_parts: a per-request budget has no key"), 1), "a per-request budget has no key");
    assert.equal(keyPartsListMessage(err("spec.limit: must be 1–1000000000 requests per window"), 1), undefined);
    assert.equal(keyPartsListMessage(undefined, 1), undefined);
  });
});

describe("window", () => {
  it("shows the largest unit the window is a whole number of", () => {
    assert.deepEqual(windowToForm(60_000), { value: "1", unit: "min" });
    assert.deepEqual(windowToForm(7_200_000), { value: "2", unit: "h" });
    assert.deepEqual(windowToForm(90_000), { value: "90", unit: "s" });
    assert.deepEqual(windowToForm(1500), { value: "1500", unit: "ms" });
    assert.deepEqual(windowToForm(0), { value: "", unit: "min" }, "0 = the server's default, shown empty");
  });
  it("converts to ms exactly; empty is 0; not a whole number is refused under window_ms", () => {
    assert.equal(windowToMs("1", "min"), 60_000);
    assert.equal(windowToMs("90", "s"), 90_000);
    assert.equal(windowToMs("24", "h"), 86_400_000);
    assert.equal(windowToMs("1500", "ms"), 1500);
    assert.equal(windowToMs("", "h"), 0);
    assert.throws(() => windowToMs("1.5", "min"), (e: unknown) => e instanceof FormError && e.problem.field === "window_ms");
    assert.throws(() => windowToMs("2000000", "h"), (e: unknown) => e instanceof FormError && e.problem.field === "window_ms");
  });
  it("writes windows and limits as the list shows them", () => {
    assert.equal(windowText(60_000), "1 min");
    assert.equal(windowText(0), "1 min", "0 = the default minute");
    assert.equal(windowText(1500), "1500 ms");
    assert.equal(limitSummary(create(RateLimitRuleSpecSchema, { limit: 100, windowMs: 60_000, algorithm: RateLimitAlgorithm.FIXED_WINDOW })), "100 / 1 min");
    assert.equal(limitSummary(create(RateLimitRuleSpecSchema, { limit: 10, windowMs: 1000, algorithm: RateLimitAlgorithm.TOKEN_BUCKET, burst: 50 })), "10 / 1 s, burst 50");
    assert.equal(limitSummary(create(RateLimitRuleSpecSchema, { limit: 10, windowMs: 1000, algorithm: RateLimitAlgorithm.TOKEN_BUCKET })), "10 / 1 s, burst 10", "burst 0 = the limit");
  });
});

describe("rate-limit rule form", () => {
  it("round-trips a stored rule with every field", () => {
    const spec = stored();
    const f = rateLimitToForm(spec);
    assert.deepEqual([f.priority, f.enabled, f.hosts, f.methods, f.limit, f.windowValue, f.windowUnit, f.burst, f.status, f.bodySource], ["-2", false, "api.test, *.example.org", "POST, PUT", "100", "1", "h", "250", "503", "template"]);
    assert.deepEqual(formToRateLimitSpec(f), spec);
    const inline = create(RateLimitRuleSpecSchema, { name: "i", enabled: true, scope: {}, keyParts: ["client_ip"], algorithm: RateLimitAlgorithm.SLIDING_WINDOW, limit: 5, windowMs: 1500, response: { status: 429, body: "too many", contentType: "text/plain" } });
    assert.equal(rateLimitToForm(inline).bodySource, "inline");
    assert.deepEqual(formToRateLimitSpec(rateLimitToForm(inline)), inline);
  });

  it("defaults a new rule: fixed window, fail open, 429, one client_ip key part", () => {
    const f = rateLimitToForm(undefined);
    assert.deepEqual([f.enabled, f.algorithm, f.failMode, f.status, f.bodySource, f.windowValue, f.windowUnit], [true, RateLimitAlgorithm.FIXED_WINDOW, StoreFailMode.OPEN, "", "default", "", "min"]);
    assert.deepEqual(f.keyParts, [{ kind: "client_ip", name: "" }]);
    f.name = "n";
    f.limit = "2";
    const s = formToRateLimitSpec(f);
    assert.deepEqual([s.limit, s.windowMs, s.burst, s.response?.status, s.keyParts], [2, 0, 0, 0, ["client_ip"]], "empty fields send 0: the server's defaults");
  });

  it("sends a burst only for the token bucket", () => {
    const f = rateLimitToForm(stored());
    f.algorithm = RateLimitAlgorithm.SLIDING_WINDOW;
    assert.equal(formToRateLimitSpec(f).burst, 0, "a leftover burst is not sent for a window algorithm");
    f.algorithm = RateLimitAlgorithm.TOKEN_BUCKET;
    assert.equal(formToRateLimitSpec(f).burst, 250);
    f.burst = "";
    assert.equal(formToRateLimitSpec(f).burst, 0);
  });

  it("sends only the chosen body source, trims header names, drops empty header rows, upper-cases methods", () => {
    const f = rateLimitToForm(stored());
    f.bodySource = "inline";
    f.body = "slow down";
    f.contentType = " text/plain ";
    f.methods = "get post";
    f.headers = [{ name: " x-a ", value: "1" }, { name: "", value: "" }];
    const s = formToRateLimitSpec(f);
    assert.deepEqual([s.response?.templateId, s.response?.body, s.response?.contentType], ["", "slow down", "text/plain"]);
    assert.deepEqual(s.response?.headers.map((h) => [h.name, h.value]), [["x-a", "1"]]);
    assert.deepEqual(s.scope?.methods, ["GET", "POST"]);
    f.bodySource = "default";
    const d = formToRateLimitSpec(f);
    assert.deepEqual([d.response?.templateId, d.response?.body, d.response?.contentType], ["", "", ""]);
  });

  it("refuses a non-number under its field and lets the server judge a zero limit", () => {
    const f = rateLimitToForm(undefined);
    f.limit = "ten";
    assert.throws(() => formToRateLimitSpec(f), (e: unknown) => e instanceof FormError && e.problem.field === "limit");
    f.limit = "0";
    assert.equal(formToRateLimitSpec(f).limit, 0);
    f.status = "4x9";
    assert.throws(() => formToRateLimitSpec(f), (e: unknown) => e instanceof FormError && e.problem.field === "response.status");
  });

  it("toggles and moves with the whole spec, without touching the original", () => {
    const rule = create(RateLimitRuleSchema, { id: "rl_1", spec: stored() });
    const on = rateLimitSpecWith(rule, { enabled: true });
    assert.equal(on.enabled, true);
    assert.equal(rule.spec?.enabled, false);
    assert.deepEqual({ ...on, enabled: false }, rule.spec);
    assert.equal(rateLimitSpecWith(rule, { priority: 7 }).priority, 7);
  });
});

describe("store status panel", () => {
  it("says memory, healthy Redis, and warns for unreachable Redis", () => {
    const mem = storeStatusView(create(GetRateLimitStoreStatusResponseSchema, { kind: "memory", healthy: true }));
    assert.deepEqual(mem, { tone: "ok", headline: "Counters in memory (this gateway only)", warning: "", fallback: "" });
    const ok = storeStatusView(create(GetRateLimitStoreStatusResponseSchema, { kind: "redis", target: "redis://cache:6379", healthy: true, fallbackDecisions: 1n }));
    assert.equal(ok.tone, "ok");
    assert.equal(ok.headline, "Redis at redis://cache:6379 — healthy");
    assert.equal(ok.fallback, "1 decision made without it");
    assert.equal(ok.warning, "");
    const down = storeStatusView(create(GetRateLimitStoreStatusResponseSchema, { kind: "redis", target: "redis://cache:6379", healthy: false, lastError: "connect ECONNREFUSED", fallbackDecisions: 12n }), 2);
    assert.equal(down.tone, "bad");
    assert.equal(down.headline, "Redis at redis://cache:6379 — unreachable: connect ECONNREFUSED");
    assert.equal(down.fallback, "12 decisions made without it");
    assert.match(down.warning, /falling back to memory/);
    assert.match(down.warning, /2 fail-closed rules refuse requests/);
    assert.match(storeStatusView(create(GetRateLimitStoreStatusResponseSchema, { kind: "redis", target: "redis://c:1", healthy: false })).warning, /Fail-closed rules refuse requests/);
  });
});
