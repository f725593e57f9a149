import net from "node:net";
import { ListenerProtocol, type ListenerSpec } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { fieldError } from "../errors.ts";
import { validateCertificate } from "../tls/validate-certificate.ts";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ValidListener {
  name: string;
  bindAddress: string;
  port: number;
  protocol: "http" | "https";
  enabled: boolean;
  acceptProxyProtocol: boolean;
  tlsCertPem: string;
  tlsKeyPem: string;
  tlsMinVersion: "1.2" | "1.3";
  http2: boolean;
}

/**
 * Checks a listener spec field by field. `storedKeyPem` is the key already stored: an update that
 * sends the same certificate without the (write-only) key keeps it.
 */
export function validateListener(spec: ListenerSpec | undefined, storedKeyPem = "", now: number = Date.now()): ValidListener {
  if (!spec) throw fieldError("spec", "is required");
  const name = spec.name.trim();
  if (!NAME_RE.test(name)) throw fieldError("spec.name", "must be 1–64 characters of letters, digits, '_', '.', '-', starting with a letter or digit");
  const bindAddress = spec.bindAddress.trim().replace(/^\[|\]$/g, "");
  if (bindAddress !== "" && net.isIP(bindAddress) === 0) throw fieldError("spec.bind_address", "must be an IP address (or empty for all interfaces), without a port");
  if (!Number.isInteger(spec.port) || spec.port > 65535) throw fieldError("spec.port", "must be 1–65535, or 0 for any free port");
  let protocol: "http" | "https";
  if (spec.protocol === ListenerProtocol.HTTP) protocol = "http";
  else if (spec.protocol === ListenerProtocol.HTTPS) protocol = "https";
  else throw fieldError("spec.protocol", "must be LISTENER_PROTOCOL_HTTP or LISTENER_PROTOCOL_HTTPS");

  let tlsCertPem = spec.tlsCertificatePem.trim();
  // Both are stored with one trailing newline: trim the stored key too, so keeping it is a no-op.
  let tlsKeyPem = spec.tlsPrivateKeyPem.trim() || (tlsCertPem ? storedKeyPem.trim() : "");
  if (protocol === "http" && (tlsCertPem || spec.tlsPrivateKeyPem)) throw fieldError("spec.tls_certificate_pem", "only HTTPS listeners take a certificate");
  if (tlsCertPem || tlsKeyPem) {
    if (!tlsCertPem) throw fieldError("spec.tls_certificate_pem", "is required with a private key");
    if (!tlsKeyPem) throw fieldError("spec.tls_private_key_pem", "is required with a certificate");
    const valid = validateCertificate(tlsCertPem, tlsKeyPem, { cert: "spec.tls_certificate_pem", key: "spec.tls_private_key_pem" }, now);
    tlsCertPem = valid.chainPem;
    tlsKeyPem = valid.keyPem;
  }
  const requested = spec.tlsMinVersion.trim() || "1.2";
  if (requested !== "1.2" && requested !== "1.3") throw fieldError("spec.tls_min_version", 'must be "1.2" or "1.3" (or empty for 1.2)');
  if (protocol === "http" && spec.tlsMinVersion.trim()) throw fieldError("spec.tls_min_version", "only HTTPS listeners take a TLS version");
  const tlsMinVersion = protocol === "http" ? "1.2" : requested;
  if (protocol === "http" && spec.http2) throw fieldError("spec.http2", "only HTTPS listeners speak HTTP/2");
  return { name, bindAddress, port: spec.port, protocol, enabled: spec.enabled, acceptProxyProtocol: spec.acceptProxyProtocol, tlsCertPem, tlsKeyPem, tlsMinVersion, http2: spec.http2 };
}
