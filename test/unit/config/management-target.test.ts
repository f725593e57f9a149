import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { fromJson } from "@bufbuild/protobuf";
import { RouteSpecSchema } from "../../../proto/gen/warren/v1/proxy_pb.ts";
import { reachesManagement, refuseManagementTargets } from "../../../management/config/management-target.ts";
import { ApiError } from "../../../management/errors.ts";

const anyAddress = { port: 8081, bindAddress: "0.0.0.0" };
const loopbackOnly = { port: 8081, bindAddress: "127.0.0.1" };

describe("reachesManagement", () => {
  it("bound to every address: loopback, unspecified and this host's interface addresses reach it", () => {
    const ifaces = Object.values(networkInterfaces()).flatMap((l) => l ?? []).map((i) => i.address);
    for (const a of ["127.0.0.1", "127.0.0.53", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1", "[::1]", ...ifaces]) assert.equal(reachesManagement(a, anyAddress), true, a);
    for (const a of ["192.0.2.10", "2001:db8::1"]) assert.equal(reachesManagement(a, anyAddress), false, a);
    assert.equal(reachesManagement("::1", { port: 8081, bindAddress: "::" }), true);
  });

  it("bound to one address: that address (in any spelling) and the unspecified ones, nothing else", () => {
    for (const a of ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1", "0.0.0.0", "::"]) assert.equal(reachesManagement(a, loopbackOnly), true, a);
    for (const a of ["127.0.0.2", "::1", "192.0.2.10"]) assert.equal(reachesManagement(a, loopbackOnly), false, a);
  });
});

describe("refuseManagementTargets", () => {
  const spec = (url: string, kind = "TARGET_KIND_DIRECT") =>
    fromJson(RouteSpecSchema, { listenerId: "lst_x", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: "http://192.0.2.1:80" }, { kind, url, agentSelector: kind === "TARGET_KIND_AGENT" ? { a: "b" } : {} }] });

  it("refuses a direct target on management's port and address, naming the target", async () => {
    for (const url of ["http://localhost:8081", "https://127.0.0.1:8081/base", "http://[::1]:8081", "http://[::ffff:127.0.0.1]:8081"]) {
      await assert.rejects(refuseManagementTargets(spec(url), anyAddress), (e: unknown) => e instanceof ApiError && /^spec\.targets\[1\]\.url: is Warren's management endpoint/.test(e.message), url);
    }
    // Default ports count: management on 443 is reached by https://localhost.
    await assert.rejects(refuseManagementTargets(spec("https://localhost"), { port: 443, bindAddress: "0.0.0.0" }));
  });

  it("lets other ports, other hosts and agent targets through", async () => {
    for (const url of ["http://localhost:8082", "http://192.0.2.1:8081", "http://127.0.0.2:8081"]) await refuseManagementTargets(spec(url), url.includes("127.0.0.2") ? loopbackOnly : anyAddress);
    // An agent dials from its own host: 127.0.0.1 there is not this management.
    await refuseManagementTargets(spec("http://127.0.0.1:8081", "TARGET_KIND_AGENT"), anyAddress);
    // A name that does not resolve cannot be judged (nor reached).
    await refuseManagementTargets(spec("http://no-such-host.invalid:8081"), anyAddress);
  });
});
