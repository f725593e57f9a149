import { fieldError } from "../errors.ts";

export const SYSTEM_LABEL_PREFIX = "warren.io/";
export const AGENT_ID_LABEL = "warren.io/agent-id";
const MAX_LABELS = 32;

// Kubernetes-style: optional DNS-subdomain prefix, then a name of up to 63 characters.
const NAME = "[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?";
const PREFIX = "[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?";
const KEY_RE = new RegExp(`^(${PREFIX}/)?${NAME}$`);
const VALUE_RE = new RegExp(`^(${NAME})?$`);

/** Validates user labels; `warren.io/` keys are Warren's own. Errors name the exact label. */
export function validateLabels(labels: Readonly<Record<string, string>>, field = "labels"): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw fieldError(field, `at most ${MAX_LABELS} labels`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!KEY_RE.test(k)) throw fieldError(`${field}["${k}"]`, "key must be [prefix/]name: name 1–63 of A–Z, a–z, 0–9, '.', '_', '-' starting and ending alphanumeric");
    if (k.startsWith(SYSTEM_LABEL_PREFIX)) throw fieldError(`${field}["${k}"]`, `keys under ${SYSTEM_LABEL_PREFIX} are reserved for Warren`);
    if (!VALUE_RE.test(v)) throw fieldError(`${field}["${k}"]`, "value must be empty or 1–63 of A–Z, a–z, 0–9, '.', '_', '-' starting and ending alphanumeric");
    out[k] = v;
  }
  return out;
}

/** The labels an agent carries for selection: its user labels plus the system ones. */
export function effectiveLabels(agentId: string, userLabels: Readonly<Record<string, string>>): Record<string, string> {
  return { ...userLabels, [AGENT_ID_LABEL]: agentId };
}

export function parseStoredLabels(json: string): Record<string, string> {
  const v: unknown = JSON.parse(json);
  return v && typeof v === "object" ? (v as Record<string, string>) : {};
}
