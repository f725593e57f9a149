// A waiting room rule's stored settings (validated, defaults filled in) → the data plane's config.
import { WaitingRoomActivation, type WafRuleSpec } from "../../proto/gen/warren/v1/policy_pb.ts";
import type { CompiledTemplate, WafRuleAction } from "../../proxy/index.ts";
import { fieldError } from "../errors.ts";
import { WAITING_ROOM_DEFAULTS } from "./validate-waiting-room.ts";

export function waitingRoomAction(spec: WafRuleSpec, templates: ReadonlyMap<string, CompiledTemplate>, builtInPage: CompiledTemplate | undefined): WafRuleAction {
  const w = spec.waitingRoom;
  if (!w) throw fieldError("spec.waiting_room", "is required for waiting room rules");
  const page = w.templateId === "" ? builtInPage : templates.get(w.templateId);
  if (!page) throw fieldError("spec.waiting_room.template_id", w.templateId === "" ? "there is no built-in waiting room page" : `no template ${w.templateId}`);
  const pollIntervalS = w.pollIntervalSeconds || WAITING_ROOM_DEFAULTS.pollIntervalSeconds;
  return {
    kind: "waiting_room",
    page,
    config: {
      maxAdmitted: w.maxAdmitted,
      admissionTtlMs: (w.admissionTtlSeconds || WAITING_ROOM_DEFAULTS.admissionTtlSeconds) * 1000,
      queueTimeoutMs: (w.queueTimeoutSeconds || WAITING_ROOM_DEFAULTS.queueTimeoutSeconds) * 1000,
      pollIntervalS,
      maxQueued: w.maxQueued || WAITING_ROOM_DEFAULTS.maxQueued,
      automatic:
        w.activation === WaitingRoomActivation.AUTOMATIC
          ? {
              activeRequests: w.activeRequestsThreshold,
              requestsPerSecond: w.requestsPerSecondThreshold,
              minActiveMs: w.minActiveSeconds * 1000,
              quietMs: (w.quietSeconds || WAITING_ROOM_DEFAULTS.quietSeconds) * 1000,
            }
          : undefined,
    },
  };
}
