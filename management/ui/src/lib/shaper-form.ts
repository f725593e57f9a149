// The shaper editor's form model: ShaperRuleSpec ↔ form text. Rates and byte sizes are a number and
// a unit (B, KiB, MiB: binary, converted to bytes exactly; a fraction that is not a whole number of
// bytes is refused); key parts only for a per-key budget. Pure: unit-tested in
// test/unit/ui/shaper-form.test.ts.
import { create } from "@bufbuild/protobuf";
import { ShaperBudget, ShaperRuleSpecSchema, type ShaperRule, type ShaperRuleSpec } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { FormError } from "./route-form.ts";
import { formToRuleBasics, ruleBasicsToForm, ruleSpecWith, type RuleBasicsForm } from "./policy-form.ts";
import { keyPartsToRows, rowsToKeyParts, type KeyPartRow } from "./rate-limit-form.ts";

export { FormError };

export type SizeUnit = "B" | "KiB" | "MiB";

export const SIZE_UNITS: readonly (readonly [SizeUnit, number])[] = [
  ["B", 1],
  ["KiB", 1024],
  ["MiB", 1024 * 1024],
];

const MAX_U32 = 4_294_967_295;

/**
 * Bytes as the largest unit they are at least 1 of, exactly, with at most three decimals (1.5 MiB,
 * 1536 B → 1.5 KiB, 1500 B stays bytes); 0 = empty (the server's default).
 */
export function sizeToForm(bytes: number, emptyUnit: SizeUnit = "KiB"): { value: string; unit: SizeUnit } {
  if (bytes === 0) return { value: "", unit: emptyUnit };
  for (let i = SIZE_UNITS.length - 1; i > 0; i--) {
    const [unit, size] = SIZE_UNITS[i]!;
    if (bytes >= size && (bytes * 1000) % size === 0) return { value: String(bytes / size), unit };
  }
  return { value: String(bytes), unit: "B" };
}

/**
 * A number (decimals allowed: 1.5 MiB) of a unit as whole bytes; empty = 0. Refuses what is not a
 * number, not a whole number of bytes (0.3 KiB), or more than the API holds.
 */
export function sizeToBytes(value: string, unit: SizeUnit, field: string, max = MAX_U32): number {
  const t = value.trim();
  if (t === "") return 0;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) throw new FormError(field, "must be a number, 0 or more");
  const size = SIZE_UNITS.find(([u]) => u === unit)?.[1] ?? 1;
  // Exact: whole part × size + fraction × size, the fraction as an integer over 10^digits.
  const whole = BigInt(m[1]!) * BigInt(size);
  const digits = m[2] ?? "";
  const scale = 10n ** BigInt(digits.length);
  const fracNum = BigInt(digits || "0") * BigInt(size);
  if (fracNum % scale !== 0n) throw new FormError(field, `is not a whole number of bytes (${unit} = ${size} bytes)`);
  const total = whole + fracNum / scale;
  if (total > BigInt(max)) throw new FormError(field, `must be at most ${max} bytes`);
  return Number(total);
}

/** "1 MiB", "1.5 MiB", "512 KiB", "1500 B": exact. */
export function sizeText(bytes: number): string {
  const { value, unit } = sizeToForm(bytes, "B");
  return `${value || 0} ${unit}`;
}

/** A rate for the list: "1 MiB/s", or "not shaped" for 0. */
export function rateText(bytesPerSecond: number): string {
  return bytesPerSecond === 0 ? "not shaped" : `${sizeText(bytesPerSecond)}/s`;
}

export interface SizeField {
  value: string;
  unit: SizeUnit;
}

export interface ShaperForm extends RuleBasicsForm {
  budget: ShaperBudget;
  keyParts: KeyPartRow[];
  upload: SizeField;
  download: SizeField;
  burst: SizeField;
  requestExempt: SizeField;
  responseExempt: SizeField;
}

export function shaperToForm(spec: ShaperRuleSpec | undefined): ShaperForm {
  const perRequest = spec?.budget === ShaperBudget.PER_REQUEST;
  return {
    ...ruleBasicsToForm(spec),
    budget: perRequest ? ShaperBudget.PER_REQUEST : ShaperBudget.PER_KEY,
    // A per-request shaper has none; the rows are kept for switching back.
    keyParts: keyPartsToRows(perRequest ? [] : spec?.keyParts),
    upload: sizeToForm(spec?.uploadBytesPerSecond ?? 0),
    download: sizeToForm(spec?.downloadBytesPerSecond ?? 0),
    burst: sizeToForm(spec?.burstBytes ?? 0),
    requestExempt: sizeToForm(spec?.requestExemptBytes ?? 0),
    responseExempt: sizeToForm(spec?.responseExemptBytes ?? 0),
  };
}

export function formToShaperSpec(f: ShaperForm): ShaperRuleSpec {
  const perKey = f.budget === ShaperBudget.PER_KEY;
  return create(ShaperRuleSpecSchema, {
    ...formToRuleBasics(f),
    budget: f.budget,
    // A per-request budget has no key (the server refuses key parts with it).
    keyParts: perKey ? rowsToKeyParts(f.keyParts) : [],
    uploadBytesPerSecond: sizeToBytes(f.upload.value, f.upload.unit, "upload_bytes_per_second"),
    downloadBytesPerSecond: sizeToBytes(f.download.value, f.download.unit, "download_bytes_per_second"),
    burstBytes: sizeToBytes(f.burst.value, f.burst.unit, "burst_bytes"),
    requestExemptBytes: sizeToBytes(f.requestExempt.value, f.requestExempt.unit, "request_exempt_bytes"),
    responseExemptBytes: sizeToBytes(f.responseExempt.value, f.responseExempt.unit, "response_exempt_bytes"),
  });
}

/** "per client_ip + host", "per request". */
export function budgetSummary(spec: ShaperRuleSpec | undefined): string {
  if (spec?.budget === ShaperBudget.PER_REQUEST) return "per request";
  const parts = spec?.keyParts ?? [];
  return `per ${parts.length > 0 ? parts.join(" + ") : "client_ip"}`;
}

export function shaperSpecWith(rule: ShaperRule, patch: { enabled?: boolean; priority?: number }): ShaperRuleSpec {
  return ruleSpecWith(ShaperRuleSpecSchema, rule, patch);
}
