// Certificate names as TlsService accepts them, and the store's SNI choice (exact, parent wildcard,
// default), without a socket.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { validateCertificateNames } from "../../../management/tls/names.ts";
import { CertificateStore, type StoredCertificate } from "../../../proxy/index.ts";

describe("certificate names", () => {
  it("normalizes and de-duplicates", () => {
    assert.deepEqual(validateCertificateNames([" A.Example.com. ", "a.example.com", "*.Example.com"], "names", { acme: true }), ["a.example.com", "*.example.com"]);
  });
  it("refuses what a public CA cannot issue, naming the entry", () => {
    for (const [name, why] of [
      ["10.0.0.1", /IP address/],
      ["[::1]", /IP address/],
      ["localhost", /single label/],
      ["printer.local", /\.local/],
      ["db.internal", /\.internal/],
      ["a.localhost", /localhost/],
      ["*.*.example.com", /wildcard/],
      ["a*.example.com", /wildcard/],
      ["-bad.example.com", /label/],
    ] as const) {
      assert.throws(() => validateCertificateNames(["ok.example.com", name], "names", { acme: true }), (e: Error) => /^names\[1\]: /.test(e.message) && why.test(e.message), name);
    }
  });
  it("lets a self-signed certificate name a single label or localhost", () => {
    assert.deepEqual(validateCertificateNames(["localhost", "intranet"], "names", { acme: false }), ["localhost", "intranet"]);
    assert.throws(() => validateCertificateNames([], "names", { acme: false }), { message: /^names: needs at least one/ });
  });
});

describe("the certificate store", () => {
  const ctx = tls.createSecureContext();
  const cert = (id: string, names: string[], notAfter = Date.now() + 60_000): StoredCertificate => ({ id, names, context: ctx, notAfter });
  const store = new CertificateStore([cert("exact", ["a.example.com"]), cert("wild", ["*.example.com"]), cert("late", ["a.example.com"]), cert("gone", ["old.example.com"], Date.now() - 1)]);
  const pick = (name: string) => {
    const c = store.select(name);
    return c.kind === "stored" ? c.certificate.id : "default";
  };
  it("prefers the exact name, in the order given, then the parent's wildcard", () => {
    assert.equal(pick("a.example.com"), "exact");
    assert.equal(pick("A.EXAMPLE.COM."), "exact");
    assert.equal(pick("b.example.com"), "wild");
    assert.equal(pick("c.b.example.com"), "default");
    assert.equal(pick("example.com"), "default");
  });
  it("skips a certificate past its not-after", () => {
    assert.equal(pick("old.example.com"), "wild");
  });
  it("lists its names", () => {
    assert.deepEqual(store.names().sort(), ["*.example.com", "a.example.com", "old.example.com"]);
  });
});
