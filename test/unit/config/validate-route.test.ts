import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { RouteAction, RouteSpecSchema, TargetKind } from "../../../proto/gen/warren/v1/proxy_pb.ts";
import { routeSpecFromJson, routeSpecToJson, validateRoute } from "../../../management/config/validate-route.ts";
import { ApiError } from "../../../management/errors.ts";

const base = { listenerId: "lst_x", action: RouteAction.FORWARD };

describe("validateRoute: target enabled", () => {
  it("enables a target sent without `enabled` (the JSON a user writes by hand)", () => {
    const spec = fromJson(RouteSpecSchema, { listenerId: "lst_x", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "http://127.0.0.1:9000" }] });
    const v = validateRoute(spec);
    assert.equal(v.targets[0]!.enabled, true);
    // Stored explicitly, so reading it back cannot flip it.
    assert.equal(routeSpecFromJson(routeSpecToJson(v)).targets[0]!.enabled, true);
  });

  it("keeps an explicit false, and refuses a route whose targets are all disabled, naming spec.targets", () => {
    const one = create(RouteSpecSchema, {
      ...base,
      targets: [
        { kind: TargetKind.DIRECT, url: "http://127.0.0.1:9000", enabled: false },
        { kind: TargetKind.DIRECT, url: "http://127.0.0.1:9001" },
      ],
    });
    assert.deepEqual(
      validateRoute(one).targets.map((t) => t.enabled),
      [false, true],
    );
    const none = create(RouteSpecSchema, { ...base, targets: [{ kind: TargetKind.DIRECT, url: "http://127.0.0.1:9000", enabled: false }] });
    assert.throws(
      () => validateRoute(none),
      (e: unknown) => e instanceof ApiError && e.code === "invalid_argument" && /^spec\.targets: every target is disabled/.test(e.message),
    );
  });

  it("reads rows stored before `enabled` was optional (absent meant false) as disabled", () => {
    const legacy = JSON.stringify({ listenerId: "lst_x", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "http://a:1" }, { kind: "TARGET_KIND_DIRECT", url: "http://b:1", enabled: true }] });
    const spec = routeSpecFromJson(legacy);
    assert.deepEqual(
      spec.targets.map((t) => t.enabled),
      [false, true],
    );
    assert.equal((toJson(RouteSpecSchema, spec) as { targets: { enabled?: boolean }[] }).targets[0]!.enabled, false, "the API then says so explicitly");
  });
});
