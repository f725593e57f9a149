// Issue item 1: curl sends `Expect: 100-continue` on every upload over 1 MiB. Warren answers it once
// (only when the body is wanted), never forwards it, and the upload reaches the origin intact —
// direct and through an agent.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Harness } from "./harness.ts";
import { curl } from "../helpers/curl.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

describe("Expect: 100-continue (item 1)", () => {
  let h: Harness;
  let origin: Origin;
  let dir: string;
  const files: Record<string, { path: string; sha256: string; size: number }> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "warren-upload-"));
    for (const [name, size] of [
      ["2m", 2 * 1024 * 1024],
      ["100m", 100 * 1024 * 1024],
    ] as const) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) data[i] = (i / 4096) & 255;
      const path = join(dir, name);
      writeFileSync(path, data);
      files[name] = { path, sha256: createHash("sha256").update(data).digest("hex"), size };
    }
    origin = await startOrigin("a");
    h = await Harness.start({
      agents: [{ id: "agt_aaaaaaaaaaaaaaaa", labels: { site: "x" } }],
      listeners: [
        {
          routes: [
            { pathPrefix: "/direct", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] },
            { pathPrefix: "/agent", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.AGENT, url: origin.url, agentSelector: { site: "x" }, enabled: true }] },
            { pathPrefix: "/small", action: RouteAction.FORWARD, options: { maxBodyBytes: 1024n }, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] },
          ],
        },
      ],
    });
    await h.connectAgent("agt_aaaaaaaaaaaaaaaa");
  });
  after(async () => {
    await h.close();
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const path of ["/direct/upload", "/agent/upload"]) {
    for (const name of ["2m", "100m"]) {
      it(`uploads ${name} with curl's default headers to ${path}`, async () => {
        const f = files[name]!;
        const r = await curl(["--data-binary", `@${f.path}`, `${h.url()}${path}`]);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.deepEqual(r.statuses, [100, 200], "one 100 Continue, then the origin's answer");
        assert.deepEqual(JSON.parse(r.body), { sha256: f.sha256, bytes: f.size });
        const seen = origin.seen.at(-1)!;
        assert.equal(seen.headers.expect, undefined, "Expect is never forwarded");
      });
    }
  }

  it("refuses a declared body over the route's limit without asking for it (no 100)", async () => {
    const r = await curl(["--data-binary", `@${files["2m"]!.path}`, `${h.url()}/small/upload`]);
    assert.deepEqual(r.statuses, [413]);
  });

  it("answers 417 to an expectation other than 100-continue", async () => {
    const r = await rawHttp(h.port(), "POST /direct/upload HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
    assert.equal(r.status, 417);
    assert.match(r.body, /expectation_failed/);
  });
});
