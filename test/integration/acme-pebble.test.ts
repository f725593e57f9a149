// The ACME engine against a real Pebble (Debian's pebble 2.4 + pebble-challtestsrv): HTTP-01,
// TLS-ALPN-01 and DNS-01 (the Cloudflare provider's real code path, against a local fake Cloudflare
// API that publishes the TXT through challtestsrv, which Pebble resolves) each issue a certificate that
// a real TLS client then verifies against Pebble's root. Challenge answers come from the same
// AcmeChallenges object the data plane uses, served here by tiny node servers on the ports Pebble's
// validation authority connects to. Failure paths: nobody answering HTTP-01, the CA gone, an abort.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { once } from "node:events";
import { createHash, X509Certificate } from "node:crypto";
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import pino from "pino";
import acme from "acme-client";
import { AcmeChallenges, ACME_HTTP01_PREFIX, ACME_TLS_ALPN_PROTOCOL } from "../../proxy/tls/acme-challenges.ts";
import { AcmeError, fetchRenewalInfo, issueAcmeCertificate, registerAcmeAccount, type AcmeAccount } from "../../management/tls/acme/client.ts";
import { CloudflareDnsProvider } from "../../management/tls/dns/cloudflare.ts";
import { startFakeCloudflare } from "../helpers/fake-cloudflare.ts";
import { Pebble, pebbleMissing } from "../helpers/pebble.ts";

/** Every log line the engine writes, to check that no secret reaches them. */
function capturingLogger(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

async function listen(server: http.Server | tls.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

async function close(server: http.Server | tls.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  await new Promise<void>((r) => server.close(() => r()));
}

/** The HTTP listener Pebble validates HTTP-01 against: answers from `challenges`, 404 otherwise. */
function http01Server(challenges: AcmeChallenges): http.Server {
  return http.createServer((req, res) => {
    const path = req.url ?? "";
    const answer = path.startsWith(ACME_HTTP01_PREFIX) ? challenges.http01Answer(path.slice(ACME_HTTP01_PREFIX.length)) : undefined;
    if (answer === undefined) {
      res.writeHead(404).end("no such challenge");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(answer);
  });
}

/** The HTTPS listener Pebble validates TLS-ALPN-01 against (flag in ALPNCallback, cert in SNICallback). */
function tlsAlpnServer(challenges: AcmeChallenges): tls.Server {
  return tls.createServer({
    ALPNCallback: ({ protocols }) => (protocols.includes(ACME_TLS_ALPN_PROTOCOL) ? ACME_TLS_ALPN_PROTOCOL : undefined),
    SNICallback: (servername, cb) => {
      const ctx = challenges.tlsAlpn01Context(servername);
      if (ctx === undefined) cb(new Error(`no TLS-ALPN-01 challenge for ${servername}`));
      else cb(null, ctx);
    },
  });
}

/** Serves the issued chain and key, then verifies it as a browser would: Pebble's root, the name. */
async function verifyWithRealTls(certPem: string, keyPem: string, rootPem: string, servername: string): Promise<X509Certificate> {
  const server = https.createServer({ cert: certPem, key: keyPem }, (_req, res) => res.end("ok"));
  const port = await listen(server);
  try {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: rootPem });
    await once(socket, "secureConnect");
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    const peer = new X509Certificate(socket.getPeerX509Certificate()!.raw);
    socket.destroy();
    return peer;
  } finally {
    await close(server);
  }
}

function thumbprint(accountKeyPem: string): string {
  return createHash("sha256").update(JSON.stringify(acme.crypto.getJwk(accountKeyPem))).digest("base64url");
}

function assertNoSecretsLogged(lines: string[], account: AcmeAccount, keyPem: string): void {
  const all = lines.join("");
  assert.ok(!all.includes("PRIVATE KEY"), "a private key was logged");
  assert.ok(!all.includes(keyPem.split("\n")[1]!), "the certificate key was logged");
  assert.ok(!all.includes(thumbprint(account.accountKeyPem)), "a key authorization (token.thumbprint) was logged");
}

describe("ACME engine against Pebble", { skip: pebbleMissing, timeout: 120_000 }, () => {
  const challenges = new AcmeChallenges();
  const httpServer = http01Server(challenges);
  const alpnServer = tlsAlpnServer(challenges);
  let pebble: Pebble;
  let account: AcmeAccount;
  let rootPem: string;

  before(async () => {
    const [httpPort, tlsPort] = [await listen(httpServer), await listen(alpnServer)];
    pebble = await Pebble.start({ httpPort, tlsPort });
    rootPem = await pebble.rootPem();
    const email = "ops@warren.test";
    const reg = await registerAcmeAccount({ directoryUrl: pebble.directoryUrl, email, caCertificates: pebble.caCertPem });
    account = { directoryUrl: pebble.directoryUrl, email, ...reg };
  });

  after(async () => {
    await pebble?.stop();
    await Promise.all([close(httpServer), close(alpnServer)]);
  });

  it("registers an account: a P-256 key and Pebble's account URL", () => {
    assert.match(account.accountUrl, new RegExp(`^https://127\\.0\\.0\\.1:${pebble.acmePort}/`));
    assert.match(account.accountKeyPem, /BEGIN PRIVATE KEY/);
    assert.equal(acme.crypto.getJwk(account.accountKeyPem).kty, "EC");
  });

  it("HTTP-01: issues a certificate a TLS client verifies against Pebble's root", async () => {
    const { log, lines } = capturingLogger();
    const t0 = Date.now();
    const issued = await issueAcmeCertificate({ account, names: ["a.warren.test", "www.a.warren.test"], challenge: "http-01", challenges, caCertificates: pebble.caCertPem, log });
    const chain = issued.certPem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    assert.equal(chain.length, 2, "leaf + intermediate");
    const peer = await verifyWithRealTls(issued.certPem, issued.keyPem, rootPem, "www.a.warren.test");
    assert.match(peer.subjectAltName ?? "", /DNS:a\.warren\.test/);
    assert.match(peer.subjectAltName ?? "", /DNS:www\.a\.warren\.test/);
    assert.equal(peer.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    // The answers are gone once the order is done.
    assert.equal((challenges as unknown as { http01: Map<string, string> }).http01.size, 0);
    assertNoSecretsLogged(lines, account, issued.keyPem);
    console.log(`# http-01 issuance took ${Date.now() - t0} ms`);
    // Pebble 2.4 has no ARI: the directory (read over its own TLS, trusted per call) offers no renewalInfo.
    assert.equal(await fetchRenewalInfo({ directoryUrl: pebble.directoryUrl, certPem: issued.certPem, caCertificates: pebble.caCertPem }), undefined);
  });

  it("TLS-ALPN-01: issues a certificate a TLS client verifies", async () => {
    const { log, lines } = capturingLogger();
    const t0 = Date.now();
    const issued = await issueAcmeCertificate({ account, names: ["b.warren.test"], challenge: "tls-alpn-01", challenges, caCertificates: pebble.caCertPem, log });
    const peer = await verifyWithRealTls(issued.certPem, issued.keyPem, rootPem, "b.warren.test");
    assert.match(peer.subjectAltName ?? "", /DNS:b\.warren\.test/);
    assert.equal(challenges.hasTlsAlpn01("b.warren.test"), false, "challenge certificate removed");
    assertNoSecretsLogged(lines, account, issued.keyPem);
    console.log(`# tls-alpn-01 issuance took ${Date.now() - t0} ms`);
  });

  it("DNS-01 through the Cloudflare provider (fake API → challtestsrv): a name and its wildcard", async () => {
    const cloudflare = await startFakeCloudflare(pebble);
    const { calls, records } = cloudflare;
    try {
      const dns = new CloudflareDnsProvider({ zoneId: "zone123", apiToken: "cf-token", baseUrl: cloudflare.baseUrl, propagationDelayMs: 0 });
      const { log, lines } = capturingLogger();
      const t0 = Date.now();
      const issued = await issueAcmeCertificate({ account, names: ["c.warren.test", "*.c.warren.test"], challenge: "dns-01", challenges, dns, caCertificates: pebble.caCertPem, log });
      for (const name of ["c.warren.test", "anything.c.warren.test"]) await verifyWithRealTls(issued.certPem, issued.keyPem, rootPem, name);
      assert.equal(calls.filter((c) => c.startsWith("POST")).length, 2, calls.join(", "));
      assert.equal(calls.filter((c) => c.startsWith("DELETE")).length, 2, calls.join(", "));
      assert.equal(records.size, 0, "every TXT record deleted");
      assertNoSecretsLogged(lines, account, issued.keyPem);
      console.log(`# dns-01 issuance (2 names) took ${Date.now() - t0} ms`);

      // A Cloudflare refusal reaches the operator with Cloudflare's message.
      const denied = new CloudflareDnsProvider({ zoneId: "zone123", apiToken: "wrong", baseUrl: cloudflare.baseUrl, propagationDelayMs: 0 });
      await assert.rejects(
        issueAcmeCertificate({ account, names: ["d.warren.test"], challenge: "dns-01", challenges, dns: denied, caCertificates: pebble.caCertPem, log }),
        (err: Error) => err instanceof AcmeError && /d\.warren\.test/.test(err.message) && /Authentication error \(code 10000\)/.test(err.message),
      );
    } finally {
      await cloudflare.close();
    }
  });

  it("a wildcard with http-01 is refused before anything is ordered", async () => {
    await assert.rejects(
      issueAcmeCertificate({ account, names: ["*.warren.test"], challenge: "http-01", challenges, caCertificates: pebble.caCertPem, log: pino({ level: "silent" }) }),
      /\*\.warren\.test: wildcard names can only be validated with dns-01/,
    );
  });

  it("HTTP-01 with nobody answering fails naming the name and Pebble's problem", async () => {
    const silent = new AcmeChallenges(); // never consulted by the listener Pebble reaches
    const err = await issueAcmeCertificate({
      account,
      names: ["nobody.warren.test"],
      challenge: "http-01",
      challenges: silent,
      caCertificates: pebble.caCertPem,
      log: pino({ level: "silent" }),
    }).then(
      () => assert.fail("issued without a challenge answer"),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof AcmeError, String(err));
    console.log(`# ${err.message}`);
    assert.match(err.message, /^nobody\.warren\.test: http-01 validation failed: .*404.*\(unauthorized\)/);
    assert.equal((silent as unknown as { http01: Map<string, string> }).http01.size, 0, "answer removed after the failure");
  });

  it("an abort during validation stops the issuance promptly and still removes the answer", async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    // Aborts the moment the answer is in place, i.e. while the order is under way.
    const aborting = {
      setHttp01: (token: string, keyAuthorization: string) => {
        challenges.setHttp01(token, keyAuthorization);
        seen.push(token);
        controller.abort(new Error("shutting down"));
      },
      removeHttp01: (token: string) => challenges.removeHttp01(token),
      setTlsAlpn01: () => assert.fail("unexpected"),
      removeTlsAlpn01: () => assert.fail("unexpected"),
    };
    const t0 = Date.now();
    const err = await issueAcmeCertificate({ account, names: ["abort.warren.test"], challenge: "http-01", challenges: aborting, caCertificates: pebble.caCertPem, signal: controller.signal, log: pino({ level: "silent" }) }).then(
      () => assert.fail("not aborted"),
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof AcmeError, String(err));
    assert.match(err.message, /^abort\.warren\.test: .*shutting down/);
    assert.equal(seen.length, 1);
    assert.equal(challenges.http01Answer(seen[0]!), undefined, "answer removed after the abort");
    assert.ok(Date.now() - t0 < 5000);
  });

  // Last: stops the CA.
  it("with Pebble gone, issuance fails fast with a clear error instead of hanging", async () => {
    await pebble.stopCa();
    const t0 = Date.now();
    await assert.rejects(
      issueAcmeCertificate({ account, names: ["gone.warren.test"], challenge: "http-01", challenges, caCertificates: pebble.caCertPem, log: pino({ level: "silent" }) }),
      (e: Error) => {
        console.log(`# ${e.message}`);
        return e instanceof AcmeError && /^gone\.warren\.test: creating the order at https:\/\/127\.0\.0\.1:\d+\/dir failed: .*ECONNREFUSED/.test(e.message);
      },
    );
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });
});
