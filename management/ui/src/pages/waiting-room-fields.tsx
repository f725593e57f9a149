// The WAF rule editor's waiting room section: capacity, timings, activation and the page.
import type { ApiProblem } from "../lib/errors.ts";
import type { WaitingRoomForm } from "../lib/waiting-room-form.ts";
import type { Template } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { Checkbox, Select, TextInput } from "../components/ui.tsx";

export function WaitingRoomFields({ value: w, problem, pages, onValue }: { value: WaitingRoomForm; problem: ApiProblem | undefined; pages: readonly Template[]; onValue: (w: WaitingRoomForm) => void }) {
  const set = (patch: Partial<WaitingRoomForm>) => onValue({ ...w, ...patch });
  return (
    <>
      <p class="hint">
        At most this many sessions of the rule's scope at once; the others wait in arrival order on a page that shows their place and refreshes itself (no JavaScript). Admitted clients go on to the next
        rules. The queue lives in the gateway's memory: editing the rule starts an empty room.
      </p>
      <div class="grid2">
        <TextInput label="Admitted at once" field="waiting_room.max_admitted" problem={problem} inputMode="numeric" placeholder="100" hint="Required, at least 1." value={w.maxAdmitted} onValue={(v) => set({ maxAdmitted: v })} />
        <TextInput label="Admission lifetime (seconds)" field="waiting_room.admission_ttl_seconds" problem={problem} inputMode="numeric" placeholder="300" hint="2–86400: an admitted client silent this long frees its place." value={w.admissionTtl} onValue={(v) => set({ admissionTtl: v })} />
        <TextInput label="Refresh interval (seconds)" field="waiting_room.poll_interval_seconds" problem={problem} inputMode="numeric" placeholder="5" hint="1–60: Retry-After and the page's refresh." value={w.pollInterval} onValue={(v) => set({ pollInterval: v })} />
        <TextInput label="Queue timeout (seconds)" field="waiting_room.queue_timeout_seconds" problem={problem} inputMode="numeric" placeholder="60" hint="A waiting client that stops refreshing this long loses its place; at least twice the refresh interval." value={w.queueTimeout} onValue={(v) => set({ queueTimeout: v })} />
        <TextInput label="Queue limit" field="waiting_room.max_queued" problem={problem} inputMode="numeric" placeholder="10000" hint="Beyond it new arrivals get a plain 503." value={w.maxQueued} onValue={(v) => set({ maxQueued: v })} />
      </div>
      <Checkbox label="Only under load (automatic)" field="waiting_room.activation" problem={problem} checked={w.automatic} hint="Off: the room is always on." onValue={(v) => set({ automatic: v })} />
      {w.automatic && (
        <div class="grid2">
          <TextInput label="Requests in flight above" field="waiting_room.active_requests_threshold" problem={problem} inputMode="numeric" hint="Empty = not used; give this or the next." value={w.activeRequests} onValue={(v) => set({ activeRequests: v })} />
          <TextInput label="Requests per second above" field="waiting_room.requests_per_second_threshold" problem={problem} inputMode="numeric" hint="In the rule's scope, over the last second." value={w.requestsPerSecond} onValue={(v) => set({ requestsPerSecond: v })} />
          <TextInput label="Turn on after (seconds over)" field="waiting_room.min_active_seconds" problem={problem} inputMode="numeric" placeholder="0" hint="0–3600." value={w.minActive} onValue={(v) => set({ minActive: v })} />
          <TextInput label="Turn off after (seconds under)" field="waiting_room.quiet_seconds" problem={problem} inputMode="numeric" placeholder="30" hint="1–86400." value={w.quiet} onValue={(v) => set({ quiet: v })} />
        </div>
      )}
      <Select
        label="Page"
        field="waiting_room.template_id"
        problem={problem}
        hint={<a href="/templates">Manage templates</a>}
        value={w.templateId}
        options={[["", "The built-in waiting room page"] as const, ...pages.map((t) => [t.id, t.spec?.name ?? t.id] as const)]}
        onValue={(v) => set({ templateId: v })}
      />
    </>
  );
}
