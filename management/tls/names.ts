// The names a certificate is requested for. Self-signed: any DNS name or wildcard. ACME: only names
// a public CA can issue — no IP addresses, no localhost, no single labels, no reserved test TLDs
// a CA refuses — refused on save, with the name, instead of failing at the CA an hour later.
import net from "node:net";
import { dnsNameError } from "../../lib/host-name.ts";
import { fieldError } from "../errors.ts";

export const MAX_CERTIFICATE_NAMES = 100;

/** Checks and normalizes names (lower case, no trailing dot, duplicates removed, order kept). */
export function validateCertificateNames(names: readonly string[], field: string, o: { acme: boolean }): string[] {
  if (names.length === 0) throw fieldError(field, "needs at least one name");
  if (names.length > MAX_CERTIFICATE_NAMES) throw fieldError(field, `at most ${MAX_CERTIFICATE_NAMES} names per certificate`);
  const out: string[] = [];
  names.forEach((raw, i) => {
    const f = `${field}[${i}]`;
    let name = raw.trim().toLowerCase();
    if (name.endsWith(".")) name = name.slice(0, -1);
    if (net.isIP(name.replace(/^\[|\]$/g, "")) !== 0) throw fieldError(f, o.acme ? `"${raw}" is an IP address; ACME certificates here are for DNS names` : `"${raw}" is an IP address; certificates here are for DNS names`);
    const wildcard = name.startsWith("*.");
    const base = wildcard ? name.slice(2) : name;
    if (base.includes("*")) throw fieldError(f, `"${raw}": a wildcard must be the whole first label ("*.example.com")`);
    const err = dnsNameError(base);
    if (err) throw fieldError(f, `"${raw}" ${err}`);
    if (o.acme) {
      const labels = base.split(".");
      if (labels.length < 2 || (wildcard && labels.length < 2)) throw fieldError(f, `"${raw}" is a single label; a public CA issues only for names under a public domain`);
      if (base === "localhost" || base.endsWith(".localhost")) throw fieldError(f, `"${raw}" is localhost; a public CA cannot validate it`);
      const tld = labels[labels.length - 1]!;
      if (tld === "local" || tld === "internal" || tld === "invalid" || tld === "lan" || tld === "home" || tld === "arpa") {
        throw fieldError(f, `"${raw}" is under .${tld}, which is not a public domain`);
      }
      if (/^\d+$/.test(tld)) throw fieldError(f, `"${raw}" ends in a numeric label`);
    }
    if (!out.includes(name)) out.push(name);
  });
  return out;
}
