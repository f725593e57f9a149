// The WAF rule editor's waiting room settings (WAF_ACTION_WAITING_ROOM): text fields ↔ the spec's
// WaitingRoomSettings. Empty fields send 0, which the server reads as its default. Pure: unit-tested in
// test/unit/ui/policies.test.ts.
import { create } from "@bufbuild/protobuf";
import { WaitingRoomActivation, WaitingRoomSettingsSchema, type WaitingRoomSettings } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { parseWhole } from "./route-form.ts";

export interface WaitingRoomForm {
  maxAdmitted: string;
  admissionTtl: string;
  queueTimeout: string;
  pollInterval: string;
  maxQueued: string;
  automatic: boolean;
  activeRequests: string;
  requestsPerSecond: string;
  minActive: string;
  quiet: string;
  templateId: string;
}

const num = (n: number | undefined): string => (n ? String(n) : "");

export function waitingRoomToForm(w: WaitingRoomSettings | undefined): WaitingRoomForm {
  return {
    maxAdmitted: num(w?.maxAdmitted),
    admissionTtl: num(w?.admissionTtlSeconds),
    queueTimeout: num(w?.queueTimeoutSeconds),
    pollInterval: num(w?.pollIntervalSeconds),
    maxQueued: num(w?.maxQueued),
    automatic: w?.activation === WaitingRoomActivation.AUTOMATIC,
    activeRequests: num(w?.activeRequestsThreshold),
    requestsPerSecond: num(w?.requestsPerSecondThreshold),
    minActive: num(w?.minActiveSeconds),
    quiet: num(w?.quietSeconds),
    templateId: w?.templateId ?? "",
  };
}

/** Throws FormError (field named as the server names it, without "spec.") for a non-number. */
export function formToWaitingRoom(f: WaitingRoomForm): WaitingRoomSettings {
  const p = (text: string, field: string) => parseWhole(text, `waiting_room.${field}`);
  return create(WaitingRoomSettingsSchema, {
    maxAdmitted: p(f.maxAdmitted, "max_admitted"),
    admissionTtlSeconds: p(f.admissionTtl, "admission_ttl_seconds"),
    queueTimeoutSeconds: p(f.queueTimeout, "queue_timeout_seconds"),
    pollIntervalSeconds: p(f.pollInterval, "poll_interval_seconds"),
    maxQueued: p(f.maxQueued, "max_queued"),
    activation: f.automatic ? WaitingRoomActivation.AUTOMATIC : WaitingRoomActivation.ALWAYS,
    // The thresholds go only with automatic activation (the server refuses them otherwise).
    activeRequestsThreshold: f.automatic ? p(f.activeRequests, "active_requests_threshold") : 0,
    requestsPerSecondThreshold: f.automatic ? p(f.requestsPerSecond, "requests_per_second_threshold") : 0,
    minActiveSeconds: f.automatic ? p(f.minActive, "min_active_seconds") : 0,
    quietSeconds: f.automatic ? p(f.quiet, "quiet_seconds") : 0,
    templateId: f.templateId,
  });
}

export function waitingRoomSummary(w: WaitingRoomSettings | undefined): string {
  return `waiting room (${w?.maxAdmitted ?? 0} at once${w?.activation === WaitingRoomActivation.AUTOMATIC ? ", automatic" : ""})`;
}
