// What an API error means for a form: the server's field errors start with the field's name
// (`spec.targets[0].url: must be …`, management/errors.ts fieldError); the form shows the message
// under that field. Pure: unit-tested in test/unit/ui/.

export interface ApiProblem {
  /** Connect code name ("invalid_argument", "unauthenticated", …). */
  readonly code: string;
  /** The field the server named (proto path, snake_case as sent), or undefined for a form-level error. */
  readonly field: string | undefined;
  /** The message without the field prefix. */
  readonly message: string;
}

/** A problem found before the request: the same shape as the server's, naming the form field. */
export class FormError extends Error {
  readonly problem: ApiProblem;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.problem = { code: "invalid_argument", field, message };
  }
}

const FIELD_RE = /^((?:[a-z_][a-z0-9_]*)(?:\[[^\]]*\])?(?:\.(?:[a-z_][a-z0-9_]*)(?:\[[^\]]*\])?)*): (.+)$/s;

const CODE_NAMES: Readonly<Record<number, string>> = {
  1: "canceled",
  2: "unknown",
  3: "invalid_argument",
  4: "deadline_exceeded",
  5: "not_found",
  6: "already_exists",
  7: "permission_denied",
  8: "resource_exhausted",
  9: "failed_precondition",
  10: "aborted",
  11: "out_of_range",
  12: "unimplemented",
  13: "internal",
  14: "unavailable",
  15: "data_loss",
  16: "unauthenticated",
};

/** A ConnectError-shaped value (code number + rawMessage) or anything thrown. */
export function problemOf(err: unknown): ApiProblem {
  const e = err as { code?: unknown; rawMessage?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "number" ? (CODE_NAMES[e.code] ?? "unknown") : "unknown";
  const raw = typeof e?.rawMessage === "string" ? e.rawMessage : typeof e?.message === "string" ? e.message : String(err);
  if (code === "unknown" && typeof e?.code !== "number") return { code: "network", field: undefined, message: "Management did not answer. Check the connection and try again." };
  const m = FIELD_RE.exec(raw);
  // Field errors are invalid_argument; a few checks of one field answer otherwise (a wrong current_password is permission_denied).
  if (m && (code === "invalid_argument" || code === "permission_denied" || code === "already_exists" || code === "failed_precondition")) return { code, field: normalizeField(m[1]!), message: m[2]! };
  return { code, field: undefined, message: raw };
}

/** `spec.targets[3].url` and `targets[3].url` name the same field: forms use the path without the request wrapper. */
export function normalizeField(field: string): string {
  return field.replace(/^(spec|user|agent|listener|route)\./, "");
}

/**
 * The message for one form field: the problem's, when it names this field or a field inside it
 * (`targets[0]` collects `targets[0].url`), else undefined.
 */
export function messageFor(problem: ApiProblem | undefined, field: string): string | undefined {
  if (!problem?.field) return undefined;
  const f = problem.field;
  return f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`) ? problem.message : undefined;
}
