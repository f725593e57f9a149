import { secretAad, type SecretBox } from "../secrets/keyring.ts";

// The one list of what is a credential in the database and the AAD each is sealed with, so a
// ciphertext copied to another row, column or header fails to open. Repositories seal on write
// and open on read with these; start-up and `warren secrets rotate` walk the same list.

export const captchaSecretAad = (id: string): string => secretAad("captcha_providers", id, "secret_key");
export const listenerKeyAad = (id: string): string => secretAad("listeners", id, "tls_key_pem");
export const tlsCertificateKeyAad = (id: string): string => secretAad("tls_certificates", id, "key_pem");
export const acmeAccountKeyAad = (id: string): string => secretAad("acme_accounts", id, "key_pem");
export const dnsCredentialSecretAad = (id: string): string => secretAad("dns_credentials", id, "secret");
export const metaAad = (key: string): string => secretAad("meta", key);
export const targetHeaderAad = (routeId: string, targetId: string, header: string): string =>
  secretAad("routes", routeId, `target:${targetId}:header:${header.toLowerCase()}`);

/** The key that signs challenge tokens, pass and waiting-room cookies (config/seed.ts policyKey()). */
export const POLICY_HMAC_KEY = "policy_hmac_key";
/** Meta keys whose values are credentials (read and written with ProxyRepo.secretMeta). */
export const SECRET_META_KEYS: readonly string[] = [POLICY_HMAC_KEY];

interface HeaderJson {
  name?: string;
  value?: string;
  sensitive?: boolean;
}
interface RouteJson {
  targets?: { id?: string; headers?: HeaderJson[] }[];
}

/** Applies `fn` to the value of every sensitive target header of a stored RouteSpec JSON. */
export function mapRouteSecrets(routeId: string, json: string, fn: (value: string, aad: string) => string): string {
  const spec = JSON.parse(json) as RouteJson;
  let changed = false;
  for (const t of spec.targets ?? []) {
    for (const h of t.headers ?? []) {
      if (!h.sensitive || !h.value) continue;
      const next = fn(h.value, targetHeaderAad(routeId, t.id ?? "", h.name ?? ""));
      if (next !== h.value) {
        h.value = next;
        changed = true;
      }
    }
  }
  return changed ? JSON.stringify(spec) : json;
}

export const sealRouteSpec = (box: SecretBox, routeId: string, json: string): string => mapRouteSecrets(routeId, json, (v, aad) => box.seal(v, aad));
export const openRouteSpec = (box: SecretBox, routeId: string, json: string): string => mapRouteSecrets(routeId, json, (v, aad) => box.open(v, aad));
