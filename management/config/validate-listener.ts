import net from "node:net";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { ListenerProtocol, type ListenerSpec } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { fieldError } from "../errors.ts";

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
}

/**
 * Checks a listener spec field by field. `storedKeyPem` is the key already stored: an update that
 * sends the same certificate without the (write-only) key keeps it.
 */
export function validateListener(spec: ListenerSpec | undefined, storedKeyPem = ""): ValidListener {
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
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(tlsCertPem);
    } catch {
      throw fieldError("spec.tls_certificate_pem", "is not a PEM certificate");
    }
    let key;
    try {
      key = createPrivateKey(tlsKeyPem);
    } catch {
      throw fieldError("spec.tls_private_key_pem", "is not a PEM private key");
    }
    if (!cert.checkPrivateKey(key)) throw fieldError("spec.tls_private_key_pem", "does not match the certificate");
    tlsCertPem = `${tlsCertPem}\n`;
    tlsKeyPem = `${tlsKeyPem}\n`;
  }
  return { name, bindAddress, port: spec.port, protocol, enabled: spec.enabled, acceptProxyProtocol: spec.acceptProxyProtocol, tlsCertPem, tlsKeyPem };
}
