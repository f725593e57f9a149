// The per-client ACME transport: 429/503 retried with Retry-After (bounded), an abort during the wait
// ends it at once with the caller's reason, a silent server is a named timeout, and the module-level
// axios defaults acme-client ships are never touched.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import acme from "acme-client";
import { AcmeTransport } from "../../../management/tls/acme/transport.ts";

describe("AcmeTransport", { timeout: 30_000 }, () => {
  let hits = 0;
  let mode: "busy-then-ok" | "always-busy" | "silent" = "busy-then-ok";
  const server = http.createServer((req, res) => {
    hits++;
    if (mode === "silent") return; // never answers
    if (mode === "always-busy" || hits <= 2) {
      res.writeHead(hits === 1 ? 429 : 503, { "retry-after": mode === "always-busy" ? "60" : "0", "content-type": "application/problem+json" });
      return res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "slow down" }));
    }
    res.writeHead(200, { "content-type": "application/json", "replay-nonce": "n1" });
    res.end(JSON.stringify({ ok: true, method: req.method, ct: req.headers["content-type"] ?? null }));
  });
  let base = "";
  before(async () => {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("retries 429 and 503 (Retry-After: 0) and returns the answer, JSON parsed, headers lower-case", async () => {
    hits = 0;
    mode = "busy-then-ok";
    const t = new AcmeTransport();
    try {
      const r = await t.request(`${base}/x`, "post", { a: 1 }, { "Content-Type": "application/jose+json" });
      assert.equal(hits, 3);
      assert.equal(r.status, 200);
      assert.equal(r.headers["replay-nonce"], "n1");
      assert.deepEqual(r.data, { ok: true, method: "POST", ct: "application/jose+json" });
    } finally {
      t.close();
    }
  });

  it("gives up after its retries and returns the CA's problem for acme-client to report", async () => {
    hits = 0;
    mode = "always-busy";
    const t = new AcmeTransport({ retries: 1, maxRetryDelayMs: 10 });
    try {
      const r = await t.get(`${base}/x`);
      assert.equal(hits, 2);
      assert.equal(r.status, 503);
      assert.deepEqual(r.data, { type: "urn:ietf:params:acme:error:rateLimited", detail: "slow down" });
    } finally {
      t.close();
    }
  });

  it("an abort while waiting out Retry-After ends the request at once with the caller's reason", async () => {
    hits = 0;
    mode = "always-busy";
    const controller = new AbortController();
    const t = new AcmeTransport({ signal: controller.signal });
    const t0 = Date.now();
    const pending = t.get(`${base}/x`);
    while (hits === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new Error("stopping"));
    await assert.rejects(pending, /^Error: stopping$/);
    assert.ok(Date.now() - t0 < 2000);
    t.close();
  });

  it("a server that never answers is a named timeout", async () => {
    mode = "silent";
    const t = new AcmeTransport({ timeoutMs: 200 });
    try {
      await assert.rejects(t.get(`${base}/dir`), new RegExp(`GET ${base}/dir: no answer within 200 ms`));
    } finally {
      t.close();
    }
  });

  it("leaves acme-client's shared axios instance as it was (no global agent or CA)", () => {
    assert.equal(acme.axios.defaults.httpsAgent, undefined);
    assert.equal(acme.axios.defaults.httpAgent, undefined);
  });
});
