// The ACME issuance engine (RFC 8555; DESIGN.md §6): registers accounts and issues certificates with
// acme-client's protocol layer, answering the CA's challenges through the data plane's
// AcmeChallenges (HTTP-01, TLS-ALPN-01) or a DNS provider (DNS-01). The order is driven step by step
// rather than with acme-client's auto(): auto() verifies challenges itself first (fetching
// http://name/ from here, which fails behind NAT and for TLS-ALPN-01 on a non-443 listener), polls
// with its own unabortable 5–30 s backoff, and leaves cleanup errors unreported.
// Errors are AcmeError with a message made for operators (it becomes the certificate's last error):
// the names, the step, and the CA's problem detail. Key material and key authorizations are never logged.
import { createPrivateKey, X509Certificate } from "node:crypto";
import acme from "acme-client";
import type { Logger } from "pino";
import { generateP256 } from "../../pki/keys.ts";
import type { DnsProvider, DnsTxtHandle } from "../dns/provider.ts";
import { createAlpnChallengeCertificate } from "./alpn-certificate.ts";
import { AcmeTransport } from "./transport.ts";

export { fetchRenewalInfo, type RenewalInfo } from "./renewal-info.ts";

export type AcmeChallengeType = "http-01" | "tls-alpn-01" | "dns-01";

/**
 * Where challenge answers go: the data plane's AcmeChallenges (proxy/tls/acme-challenges.ts) has this
 * shape. Named structurally so management/ does not reach into proxy/ past proxy/index.ts.
 */
export interface AcmeChallengeResponder {
  setHttp01(token: string, keyAuthorization: string): void;
  removeHttp01(token: string): void;
  setTlsAlpn01(name: string, certPem: string, keyPem: string): void;
  removeTlsAlpn01(name: string): void;
}

export interface AcmeAccount {
  directoryUrl: string;
  accountKeyPem: string;
  accountUrl: string;
  email: string;
}

export interface RegisterAcmeAccountInput {
  directoryUrl: string;
  email: string;
  /** External account binding (ZeroSSL, Google): key id and the HMAC key as given (base64url). */
  eab?: { keyId: string; hmacKey: string } | undefined;
  /** PEM to trust for the directory's HTTPS (tests: Pebble's); unset in production. */
  caCertificates?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface IssueAcmeCertificateInput {
  account: AcmeAccount;
  names: string[];
  challenge: AcmeChallengeType;
  challenges: AcmeChallengeResponder;
  dns?: DnsProvider | undefined;
  caCertificates?: string | undefined;
  signal?: AbortSignal | undefined;
  log: Logger;
  /** Bound on waiting for the CA to validate and to issue (default 5 min). */
  validationTimeoutMs?: number | undefined;
}

export interface IssuedCertificate {
  /** Full chain as the CA sent it, leaf first. */
  certPem: string;
  /** PKCS#8 PEM of the certificate's ECDSA P-256 key. */
  keyPem: string;
}

/** An ACME failure, worded for the operator. */
export class AcmeError extends Error {
  override readonly name = "AcmeError";
}

const DEFAULT_VALIDATION_TIMEOUT_MS = 5 * 60_000;

export async function registerAcmeAccount(input: RegisterAcmeAccountInput): Promise<{ accountKeyPem: string; accountUrl: string }> {
  const { keyPem } = await generateP256();
  const transport = new AcmeTransport({ caCertificates: input.caCertificates, signal: input.signal });
  const client = new acme.Client({
    directoryUrl: input.directoryUrl,
    accountKey: keyPem,
    ...(input.eab ? { externalAccountBinding: { kid: input.eab.keyId, hmacKey: input.eab.hmacKey } } : {}),
  });
  transport.attach(client);
  try {
    await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${input.email}`] });
    return { accountKeyPem: keyPem, accountUrl: client.getAccountUrl() };
  } catch (err) {
    throw new AcmeError(`registering an ACME account at ${input.directoryUrl} failed: ${message(err)}`);
  } finally {
    transport.close();
  }
}

/** Lower-case, no trailing dot, no duplicates; wildcards only with DNS-01 (RFC 8555 §7.1.3). */
export function normalizeAcmeNames(names: readonly string[], challenge: AcmeChallengeType): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.trim().toLowerCase().replace(/\.$/, "");
    if (name === "") throw new AcmeError("an ACME certificate name is empty");
    if (name.includes("*") && !/^\*\.[^*]+$/.test(name)) throw new AcmeError(`${name}: a wildcard must be a single leading "*." label`);
    if (name.startsWith("*.") && challenge !== "dns-01") {
      throw new AcmeError(`${name}: wildcard names can only be validated with dns-01 (this certificate uses ${challenge})`);
    }
    if (!out.includes(name)) out.push(name);
  }
  if (out.length === 0) throw new AcmeError("an ACME certificate needs at least one name");
  return out;
}

type Authz = acme.Authorization;
interface Challenge {
  type: string;
  url: string;
  status: string;
  token?: string;
  error?: { type?: string; detail?: string };
}

/** A challenge answer put in place, and how to take it down. */
interface Prepared {
  label: string;
  authz: Authz;
  challenge: Challenge;
  cleanup: () => Promise<void>;
}

export async function issueAcmeCertificate(input: IssueAcmeCertificateInput): Promise<IssuedCertificate> {
  const { account, challenge: type, challenges, dns, signal, log } = input;
  const names = normalizeAcmeNames(input.names, type);
  const what = names.join(", ");
  if (type === "dns-01" && dns === undefined) throw new AcmeError(`${what}: dns-01 needs a DNS provider, and none is configured`);
  const deadline = Date.now() + (input.validationTimeoutMs ?? DEFAULT_VALIDATION_TIMEOUT_MS);

  const transport = new AcmeTransport({ caCertificates: input.caCertificates, signal });
  const client = new acme.Client({ directoryUrl: account.directoryUrl, accountKey: account.accountKeyPem, accountUrl: account.accountUrl });
  transport.attach(client);
  const step = async <T>(doing: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AcmeError) throw err;
      throw new AcmeError(`${what}: ${doing} failed: ${message(err)}`);
    }
  };

  try {
    const order = await step(`creating the order at ${account.directoryUrl}`, () =>
      client.createOrder({ identifiers: names.map((value) => ({ type: "dns", value })) }),
    );
    log.info({ names, challenge: type, order: order.url }, "acme: order created");
    const authzs = await step("fetching the authorizations", () => client.getAuthorizations(order));

    const prepared: Prepared[] = [];
    try {
      for (const authz of authzs) {
        const label = authzLabel(authz);
        if (authz.status === "valid") {
          log.info({ name: label }, "acme: authorization already valid");
          continue;
        }
        if (authz.status !== "pending") throw new AcmeError(`${label}: the CA's authorization is ${authz.status}`);
        const chosen = (authz.challenges as Challenge[]).find((c) => c.type === type);
        if (chosen === undefined) {
          const offered = (authz.challenges as Challenge[]).map((c) => c.type).join(", ") || "none";
          throw new AcmeError(`${label}: the CA offers no ${type} challenge (offered: ${offered})`);
        }
        prepared.push(await step(`${label}: preparing the ${type} answer`, () => prepare(client, authz, chosen, label, input)));
      }
      if (type === "dns-01" && prepared.length > 0 && (dns?.propagationDelayMs ?? 0) > 0) {
        log.info({ names, ms: dns!.propagationDelayMs }, "acme: waiting for DNS propagation");
        await abortableSleep(dns!.propagationDelayMs!, signal);
      }
      // All answers are in place; ask the CA to validate them, then wait for each verdict.
      for (const p of prepared) {
        await step(`${p.label}: asking the CA to validate ${type}`, () => client.completeChallenge(p.challenge as acme.Authorization["challenges"][number]));
      }
      for (const p of prepared) {
        await waitForAuthz(client, p, type, deadline, signal);
        log.info({ name: p.label, challenge: type }, "acme: authorization valid");
      }
    } finally {
      // Always take the answers down, even when validation failed or was aborted.
      for (const p of prepared) {
        try {
          await p.cleanup();
        } catch (err) {
          log.warn({ name: p.label, err: message(err) }, "acme: removing a challenge answer failed");
        }
      }
    }

    const key = await generateP256();
    const [, csr] = await acme.crypto.createCsr(
      // CN is optional (the SANs carry the names) and limited to 64 characters (RFC 5280 ub-common-name).
      { ...(names[0]!.length <= 64 ? { commonName: names[0]! } : {}), altNames: names },
      key.keyPem,
    );
    let final = await step("finalizing the order", () => client.finalizeOrder(order, csr));
    final = await waitForOrder(client, final, what, deadline, signal);
    const chain = await step("downloading the certificate", () => client.getCertificate(final));
    const certPem = normalizeChain(chain, what);
    const leaf = new X509Certificate(certPem);
    if (!leaf.checkPrivateKey(createPrivateKey(key.keyPem))) throw new AcmeError(`${what}: the CA's certificate does not match the key sent in the CSR`);
    log.info({ names, serial: leaf.serialNumber, notAfter: leaf.validTo }, "acme: certificate issued");
    return { certPem, keyPem: key.keyPem };
  } finally {
    transport.close();
  }
}

async function prepare(client: acme.Client, authz: Authz, challenge: Challenge, label: string, input: IssueAcmeCertificateInput): Promise<Prepared> {
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge as acme.Authorization["challenges"][number]);
  const name = authz.identifier.value;
  switch (challenge.type) {
    case "http-01": {
      const token = challenge.token;
      if (!token || !/^[A-Za-z0-9_-]+$/.test(token)) throw new AcmeError(`${label}: the CA sent an http-01 challenge with an unusable token`);
      input.challenges.setHttp01(token, keyAuthorization);
      return { label, authz, challenge, cleanup: async () => input.challenges.removeHttp01(token) };
    }
    case "tls-alpn-01": {
      const { certPem, keyPem } = await createAlpnChallengeCertificate(name, keyAuthorization);
      input.challenges.setTlsAlpn01(name, certPem, keyPem);
      return { label, authz, challenge, cleanup: async () => input.challenges.removeTlsAlpn01(name) };
    }
    case "dns-01": {
      const dns = input.dns!;
      // For *.example.com the authorization's identifier is example.com (RFC 8555 §7.1.3).
      const fqdn = `_acme-challenge.${name}`;
      let handle: DnsTxtHandle;
      try {
        handle = await dns.setTxt(fqdn, keyAuthorization, input.signal);
      } catch (err) {
        throw new AcmeError(`${label}: creating the TXT record ${fqdn} with ${dns.kind} failed: ${message(err)}`);
      }
      return { label, authz, challenge, cleanup: () => dns.removeTxt(handle) };
    }
    default:
      throw new AcmeError(`${label}: unsupported challenge type ${challenge.type}`);
  }
}

/** Polls the authorization until valid; invalid → the CA's problem for this challenge. */
async function waitForAuthz(client: acme.Client, p: Prepared, type: AcmeChallengeType, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  for (let i = 0; ; i++) {
    const [authz] = await pollStep(p.label, "checking the authorization", () => client.getAuthorizations({ authorizations: [p.authz.url] } as acme.Order));
    if (authz === undefined) throw new AcmeError(`${p.label}: the CA returned no authorization`);
    if (authz.status === "valid") return;
    if (authz.status !== "pending") {
      const ch = (authz.challenges as Challenge[]).find((c) => c.type === type && c.error) ?? (authz.challenges as Challenge[]).find((c) => c.error);
      throw new AcmeError(`${p.label}: ${type} validation failed: ${problem(ch?.error) ?? `authorization ${authz.status}`}`);
    }
    await pollDelay(i, deadline, signal, `${p.label}: the CA did not validate ${type} in time`);
  }
}

async function waitForOrder(client: acme.Client, order: acme.Order, what: string, deadline: number, signal: AbortSignal | undefined): Promise<acme.Order> {
  for (let i = 0; ; i++) {
    if (order.status === "valid") return order;
    if (order.status === "invalid") throw new AcmeError(`${what}: the order became invalid: ${problem(order.error as Challenge["error"]) ?? "no detail from the CA"}`);
    await pollDelay(i, deadline, signal, `${what}: the CA did not issue the certificate in time`);
    order = await pollStep(what, "checking the order", () => client.getOrder(order));
  }
}

async function pollStep<T>(label: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new AcmeError(`${label}: ${doing} failed: ${message(err)}`);
  }
}

/** 250 ms doubling to 3 s: Pebble answers in milliseconds, a public CA in seconds. */
async function pollDelay(attempt: number, deadline: number, signal: AbortSignal | undefined, timeoutMessage: string): Promise<void> {
  const ms = Math.min(3000, 250 * 2 ** attempt);
  if (Date.now() + ms > deadline) throw new AcmeError(timeoutMessage);
  await abortableSleep(ms, signal);
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): Error {
  return new AcmeError(`ACME issuance aborted${signal.reason instanceof Error ? `: ${signal.reason.message}` : ""}`);
}

function authzLabel(authz: Authz): string {
  return authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
}

/** "detail (type without the urn prefix)", or undefined. */
function problem(p: { type?: string; detail?: string } | undefined): string | undefined {
  if (p === undefined) return undefined;
  const type = p.type?.replace(/^urn:ietf:params:acme:error:/, "");
  return [p.detail, type ? `(${type})` : undefined].filter(Boolean).join(" ") || undefined;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function normalizeChain(chain: unknown, what: string): string {
  const text = typeof chain === "string" ? chain : Buffer.isBuffer(chain) ? chain.toString("utf8") : "";
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks || blocks.length === 0) throw new AcmeError(`${what}: the CA's certificate download is not a PEM chain`);
  return blocks.map((b) => `${b}\n`).join("");
}
