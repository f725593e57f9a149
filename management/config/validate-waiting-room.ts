// Save-time validation of a waiting room rule's settings (WAF_ACTION_WAITING_ROOM): defaults filled
// in, every range checked with the field named, so the data plane reads only sound numbers.
import { create } from "@bufbuild/protobuf";
import { TemplateKind, WaitingRoomActivation, WaitingRoomSettingsSchema, type WaitingRoomSettings } from "../../proto/gen/warren/v1/policy_pb.ts";
import { fieldError } from "../errors.ts";

export const WAITING_ROOM_DEFAULTS = {
  admissionTtlSeconds: 300,
  queueTimeoutSeconds: 60,
  pollIntervalSeconds: 5,
  maxQueued: 10_000,
  quietSeconds: 30,
} as const;

const F = "spec.waiting_room";

function range(v: number, lo: number, hi: number, field: string, what = ""): void {
  if (v < lo || v > hi) throw fieldError(`${F}.${field}`, `must be ${lo}–${hi}${what}`);
}

/** Validates and normalizes (defaults filled in) a waiting room's settings. */
export function validateWaitingRoom(input: WaitingRoomSettings | undefined, templateKind: (id: string) => TemplateKind | undefined): WaitingRoomSettings {
  if (!input) throw fieldError(F, "is required for waiting room rules (at least max_admitted)");
  const w = create(WaitingRoomSettingsSchema, input);
  if (w.maxAdmitted === 0) throw fieldError(`${F}.max_admitted`, "is required (sessions admitted at once, at least 1)");
  range(w.maxAdmitted, 1, 1_000_000, "max_admitted");
  w.admissionTtlSeconds ||= WAITING_ROOM_DEFAULTS.admissionTtlSeconds;
  range(w.admissionTtlSeconds, 2, 86_400, "admission_ttl_seconds", " seconds");
  w.pollIntervalSeconds ||= WAITING_ROOM_DEFAULTS.pollIntervalSeconds;
  range(w.pollIntervalSeconds, 1, 60, "poll_interval_seconds", " seconds");
  w.queueTimeoutSeconds ||= Math.max(WAITING_ROOM_DEFAULTS.queueTimeoutSeconds, 2 * w.pollIntervalSeconds);
  range(w.queueTimeoutSeconds, 2, 86_400, "queue_timeout_seconds", " seconds");
  if (w.queueTimeoutSeconds < 2 * w.pollIntervalSeconds) throw fieldError(`${F}.queue_timeout_seconds`, `must be at least twice poll_interval_seconds (${2 * w.pollIntervalSeconds}), or polling clients lose their place`);
  w.maxQueued ||= WAITING_ROOM_DEFAULTS.maxQueued;
  range(w.maxQueued, 1, 1_000_000, "max_queued");
  if (w.activation === WaitingRoomActivation.UNSPECIFIED) w.activation = WaitingRoomActivation.ALWAYS;
  if (w.activation === WaitingRoomActivation.AUTOMATIC) {
    if (w.activeRequestsThreshold === 0 && w.requestsPerSecondThreshold === 0)
      throw fieldError(`${F}.active_requests_threshold`, "automatic activation needs active_requests_threshold or requests_per_second_threshold (or both)");
    range(w.activeRequestsThreshold, 0, 10_000_000, "active_requests_threshold");
    range(w.requestsPerSecondThreshold, 0, 10_000_000, "requests_per_second_threshold");
    range(w.minActiveSeconds, 0, 3600, "min_active_seconds", " seconds");
    w.quietSeconds ||= WAITING_ROOM_DEFAULTS.quietSeconds;
    range(w.quietSeconds, 1, 86_400, "quiet_seconds", " seconds");
  } else if (w.activation === WaitingRoomActivation.ALWAYS) {
    for (const [v, f] of [
      [w.activeRequestsThreshold, "active_requests_threshold"],
      [w.requestsPerSecondThreshold, "requests_per_second_threshold"],
      [w.minActiveSeconds, "min_active_seconds"],
      [w.quietSeconds, "quiet_seconds"],
    ] as const)
      if (v !== 0) throw fieldError(`${F}.${f}`, "only automatic activation takes it");
  } else {
    throw fieldError(`${F}.activation`, "must be WAITING_ROOM_ACTIVATION_ALWAYS or WAITING_ROOM_ACTIVATION_AUTOMATIC");
  }
  if (w.templateId !== "") {
    const kind = templateKind(w.templateId);
    if (kind === undefined) throw fieldError(`${F}.template_id`, `no template ${w.templateId}`);
    if (kind !== TemplateKind.WAITING_ROOM_PAGE) throw fieldError(`${F}.template_id`, "must name a WAITING_ROOM_PAGE template");
  }
  return w;
}
