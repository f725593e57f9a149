// validateDnsSettings / createDnsProvider: save-time checks name the offending field.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createDnsProvider, validateDnsSecret, validateDnsSettings } from "../../../management/tls/dns/index.ts";
import { CloudflareDnsProvider } from "../../../management/tls/dns/cloudflare.ts";
import { Rfc2136DnsProvider } from "../../../management/tls/dns/rfc2136.ts";

const fails = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: Error) => re.test(e.message) && (e as { code?: string }).code === "invalid_argument");

describe("validateDnsSettings", () => {
  it("accepts good settings for both providers", () => {
    validateDnsSettings("cloudflare", { zone_id: "023e105f4ecef8ad9ca31a8372d0c353" });
    validateDnsSettings("cloudflare", { zone_id: "abc", api_base_url: "http://127.0.0.1:9/client/v4", propagation_seconds: "0" });
    validateDnsSettings("rfc2136", { server: "ns1.example.com", zone: "example.com", tsig_key_name: "acme-key" });
    validateDnsSettings("rfc2136", { server: "[2001:db8::1]:5353", zone: "example.com.", tsig_key_name: "k.", tsig_algorithm: "hmac-sha512" });
    validateDnsSettings("rfc2136", { server: "192.0.2.1:53", zone: "example.com", tsig_key_name: "k" });
  });

  it("names the field", () => {
    fails(() => validateDnsSettings("route53", {}), /^spec\.provider: must be one of cloudflare, rfc2136/);
    fails(() => validateDnsSettings("cloudflare", {}), /^spec\.settings\.zone_id: is required/);
    fails(() => validateDnsSettings("cloudflare", { zone_id: "a b" }), /^spec\.settings\.zone_id: must be the zone's ID/);
    fails(() => validateDnsSettings("cloudflare", { zone_id: "abc", zoneid: "x" }), /^spec\.settings\.zoneid: is not a cloudflare setting/);
    fails(() => validateDnsSettings("cloudflare", { zone_id: "abc", api_base_url: "ftp://x" }), /^spec\.settings\.api_base_url:/);
    fails(() => validateDnsSettings("cloudflare", { zone_id: "abc", propagation_seconds: "-1" }), /^spec\.settings\.propagation_seconds:/);
    fails(() => validateDnsSettings("rfc2136", { zone: "example.com", tsig_key_name: "k" }), /^spec\.settings\.server: is required/);
    fails(() => validateDnsSettings("rfc2136", { server: "ns:99999", zone: "example.com", tsig_key_name: "k" }), /^spec\.settings\.server: must be host/);
    fails(() => validateDnsSettings("rfc2136", { server: "ns", zone: "exa mple.com", tsig_key_name: "k" }), /^spec\.settings\.zone:/);
    fails(() => validateDnsSettings("rfc2136", { server: "ns", zone: "example.com", tsig_key_name: "k", tsig_algorithm: "hmac-md5" }), /^spec\.settings\.tsig_algorithm: must be one of hmac-sha256/);
  });

  it("checks the secret", () => {
    fails(() => validateDnsSecret("cloudflare", " "), /^spec\.secret: the Cloudflare API token is required/);
    fails(() => validateDnsSecret("rfc2136", "not base64!"), /^spec\.secret: must be the TSIG secret in base64/);
    validateDnsSecret("rfc2136", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=");
  });

  it("creates the provider with its settings", () => {
    const cf = createDnsProvider("cloudflare", { zone_id: "abc", propagation_seconds: "7" }, "tok");
    assert.ok(cf instanceof CloudflareDnsProvider);
    assert.equal(cf.propagationDelayMs, 7000);
    const r = createDnsProvider("rfc2136", { server: "127.0.0.1", zone: "example.com", tsig_key_name: "k" }, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=", { propagationDelayMs: 0 });
    assert.ok(r instanceof Rfc2136DnsProvider);
    assert.equal(r.propagationDelayMs, 0);
  });
});
