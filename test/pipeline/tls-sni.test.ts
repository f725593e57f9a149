// Public TLS in the data plane (DESIGN.md §6): the certificate store in the snapshot picks the
// certificate per handshake — exact name, then the parent's wildcard, then the listener's default,
// then the fallback — certificates swap without touching open connections, the minimum TLS version
// holds whatever SNI picks, and ACME validations (HTTP-01, TLS-ALPN-01) are answered. The harness has
// no database at all: every handshake here is served from the compiled snapshot alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Harness, type HarnessOptions, type ListenerInit } from "./harness.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { openDownload } from "../helpers/open-download.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

interface Pair {
  certPem: string;
  keyPem: string;
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** Handshakes with `servername` (none when undefined) and returns the served leaf's fingerprint and the socket. */
function handshake(port: number, servername: string | undefined, extra: tls.ConnectionOptions = {}): Promise<{ fp: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername ? { servername } : {}), ALPNProtocols: ["http/1.1"], ...extra }, () => {
      resolve({ fp: socket.getPeerX509Certificate()!.fingerprint256, socket });
    });
    socket.once("error", reject);
  });
}

async function served(port: number, servername: string | undefined): Promise<string> {
  const { fp, socket } = await handshake(port, servername);
  socket.destroy();
  return fp;
}

describe("the certificate store on an HTTPS listener", () => {
  let h: Harness;
  let origin: http.Server;
  let url: string;
  let exact: Pair, wildcard: Pair, defaultCert: Pair, fallback: Pair, renewed: Pair, expired: Pair;
  const originPaths: string[] = [];
  let releaseSlow: (() => void) | undefined;
  let options: (certs: ListenerInit["tls"]) => HarnessOptions;

  before(async () => {
    [exact, wildcard, defaultCert, fallback, renewed, expired] = await Promise.all([
      generateSelfSigned(["a.test"], 30),
      generateSelfSigned(["*.wild.test"], 30),
      generateSelfSigned(["default.test"], 30),
      generateSelfSigned(["warren-fallback.invalid"], 30),
      generateSelfSigned(["a.test"], 60),
      generateSelfSigned(["old.test"], 1, new Date(Date.now() - 3 * 86_400_000)),
    ]);
    origin = http.createServer((req, res) => {
      originPaths.push(req.url ?? "");
      if (req.url === "/slow") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("first;");
        releaseSlow = () => res.end("last");
        return;
      }
      res.end("origin");
    });
    await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const routes = [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] }];
    options = (certs) => ({
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      listeners: [
        { protocol: "https", routes, tls: certs },
        { protocol: "https", routes, tls: { certificates: [{ names: ["a.test"], certPem: exact.certPem, keyPem: exact.keyPem }] } },
        { protocol: "http", routes },
      ],
    });
    h = await Harness.start(
      options({
        defaultCertificate: { cert: defaultCert.certPem, key: defaultCert.keyPem },
        certificates: [
          { names: ["a.test"], certPem: exact.certPem, keyPem: exact.keyPem },
          { names: ["*.wild.test"], certPem: wildcard.certPem, keyPem: wildcard.keyPem },
          { names: ["old.test"], certPem: expired.certPem, keyPem: expired.keyPem, notAfter: Date.now() - 86_400_000 },
        ],
      }),
    );
  });
  after(async () => {
    await h.close();
    await new Promise<void>((r) => origin.close(() => r()));
  });

  it("picks the exact name, then the parent's wildcard, then the default", async () => {
    const port = h.port(0);
    assert.equal(await served(port, "a.test"), fingerprint(exact.certPem));
    assert.equal(await served(port, "A.Test."), fingerprint(exact.certPem), "SNI names are matched case-insensitively, without a trailing dot");
    assert.equal(await served(port, "x.wild.test"), fingerprint(wildcard.certPem));
    // A wildcard covers one label (RFC 6125): a client would reject it for y.x.wild.test anyway.
    assert.equal(await served(port, "y.x.wild.test"), fingerprint(defaultCert.certPem));
    assert.equal(await served(port, "wild.test"), fingerprint(defaultCert.certPem));
    assert.equal(await served(port, "other.test"), fingerprint(defaultCert.certPem));
    assert.equal(await served(port, undefined), fingerprint(defaultCert.certPem), "no SNI: the default");
    assert.equal(await served(port, "old.test"), fingerprint(defaultCert.certPem), "an expired certificate is not served");
  });

  it("serves the fallback on a listener without a default certificate", async () => {
    const port = h.port(1);
    assert.equal(await served(port, "a.test"), fingerprint(exact.certPem));
    assert.equal(await served(port, "other.test"), fingerprint(fallback.certPem));
    assert.equal(await served(port, undefined), fingerprint(fallback.certPem));
  });

  it("verifies with a real client against the stored certificate", async () => {
    const { socket } = await handshake(h.port(0), "a.test", { rejectUnauthorized: true, ca: exact.certPem });
    assert.equal(socket.authorized, true);
    socket.destroy();
  });

  it("swaps a certificate in without closing a connection that is mid-download", async () => {
    const port = h.port(0);
    const { fp, socket } = await handshake(port, "a.test");
    assert.equal(fp, fingerprint(exact.certPem));
    const download = await openDownload(socket, "a.test");
    await h.reconfigure(
      options({
        defaultCertificate: { cert: renewed.certPem, key: renewed.keyPem },
        certificates: [
          { names: ["a.test"], certPem: renewed.certPem, keyPem: renewed.keyPem, notAfter: Date.now() + 60 * 86_400_000 },
          { names: ["a.test"], certPem: exact.certPem, keyPem: exact.keyPem },
        ],
      }),
    );
    assert.equal(await served(port, "a.test"), fingerprint(renewed.certPem), "new handshakes get the newer certificate");
    assert.equal(await served(port, undefined), fingerprint(renewed.certPem), "and the new default");
    assert.equal(h.port(0), port, "the listener was not rebound");
    releaseSlow!();
    const received = await download.finished;
    assert.match(received, /^HTTP\/1\.1 200[\s\S]*first;[\s\S]*last/, "the open download finished on its original connection");
  });

  it("holds the listener's minimum TLS version whatever certificate SNI picks", async () => {
    await h.reconfigure(options({ minVersion: "1.3", certificates: [{ names: ["a.test"], certPem: exact.certPem, keyPem: exact.keyPem }] }));
    await assert.rejects(handshake(h.port(0), "a.test", { maxVersion: "TLSv1.2" }));
    await assert.rejects(handshake(h.port(0), undefined, { maxVersion: "TLSv1.2" }));
    const { fp, socket } = await handshake(h.port(0), "a.test");
    assert.equal(socket.getProtocol(), "TLSv1.3");
    assert.equal(fp, fingerprint(exact.certPem));
    socket.destroy();
  });

  it("answers a TLS-ALPN-01 validation only while its challenge is set", async () => {
    const challenge = await generateSelfSigned(["a.test"], 1);
    const acme = { ALPNProtocols: ["acme-tls/1"] };
    h.plane.acmeChallenges.setTlsAlpn01("a.test", challenge.certPem, challenge.keyPem);
    const { fp, socket } = await handshake(h.port(1), "a.test", acme);
    assert.equal(fp, fingerprint(challenge.certPem));
    assert.equal(socket.alpnProtocol, "acme-tls/1");
    socket.destroy();
    // An ordinary client for the same name still gets the stored certificate meanwhile.
    assert.equal(await served(h.port(1), "a.test"), fingerprint(exact.certPem));
    h.plane.acmeChallenges.removeTlsAlpn01("a.test");
    await assert.rejects(handshake(h.port(1), "a.test", acme), "acme-tls/1 without a challenge gets no_application_protocol");
  });

  it("answers an HTTP-01 validation before routing, and passes unknown tokens on", async () => {
    const port = h.port(2);
    h.plane.acmeChallenges.setHttp01("tok-123", "tok-123.thumb");
    const got = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/tok-123`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), "tok-123.thumb");
    assert.ok(!originPaths.includes("/.well-known/acme-challenge/tok-123"), "the origin never saw the validation");
    const post = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/tok-123`, { method: "POST" });
    assert.equal(post.status, 405);
    h.plane.acmeChallenges.removeHttp01("tok-123");
    const other = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/tok-123`);
    assert.equal(await other.text(), "origin", "a token Warren is not validating goes to the route (an origin's own ACME client)");
  });
});
