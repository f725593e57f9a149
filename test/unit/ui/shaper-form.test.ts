// The shaper editor's form model (management/ui/src/lib/shaper-form.ts): rates and sizes convert to
// bytes exactly (binary units), spec → form → spec keeps everything, key parts go only with a per-key
// budget, and the list's summaries.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ShaperBudget, ShaperRuleSchema, ShaperRuleSpecSchema } from "../../../proto/gen/warren/v1/policy_pb.ts";
import { budgetSummary, FormError, formToShaperSpec, rateText, shaperSpecWith, shaperToForm, sizeText, sizeToBytes, sizeToForm } from "../../../management/ui/src/lib/shaper-form.ts";

const stored = () =>
  create(ShaperRuleSpecSchema, {
    name: "downloads",
    priority: 3,
    enabled: false,
    scope: { hosts: ["files.test"], pathPrefixes: ["/dl"], methods: ["GET"] },
    when: 'cidr(client_ip, "10.0.0.0/8")',
    keyParts: ["client_ip", "header:x-user"],
    budget: ShaperBudget.PER_KEY,
    uploadBytesPerSecond: 256 * 1024,
    downloadBytesPerSecond: 2 * 1024 * 1024,
    burstBytes: 1500,
    requestExemptBytes: 0,
    responseExemptBytes: 1_310_720,
  });

const refused = (field: string) => (e: unknown) => e instanceof FormError && e.problem.field === field;

describe("byte sizes and rates", () => {
  it("shows the largest binary unit a size is at least 1 of, exactly (three decimals at most)", () => {
    assert.deepEqual(sizeToForm(1024 * 1024), { value: "1", unit: "MiB" });
    assert.deepEqual(sizeToForm(1536 * 1024), { value: "1.5", unit: "MiB" });
    assert.deepEqual(sizeToForm(1000 * 1024), { value: "1000", unit: "KiB" }, "976.5625 MiB would need more decimals");
    assert.deepEqual(sizeToForm(512 * 1024), { value: "512", unit: "KiB" }, "not 0.5 MiB");
    assert.deepEqual(sizeToForm(1500), { value: "1500", unit: "B" }, "1.46484375 KiB is not short");
    assert.deepEqual(sizeToForm(1536), { value: "1.5", unit: "KiB" });
    assert.deepEqual(sizeToForm(0), { value: "", unit: "KiB" });
  });
  it("converts to bytes exactly, fractions included, and refuses what is not whole bytes", () => {
    assert.equal(sizeToBytes("1", "MiB", "f"), 1_048_576);
    assert.equal(sizeToBytes("1.5", "MiB", "f"), 1_572_864);
    assert.equal(sizeToBytes("0.5", "KiB", "f"), 512);
    assert.equal(sizeToBytes("100", "KiB", "f"), 102_400);
    assert.equal(sizeToBytes(" 1500 ", "B", "f"), 1500);
    assert.equal(sizeToBytes("", "MiB", "f"), 0);
    assert.throws(() => sizeToBytes("0.3", "KiB", "burst_bytes"), refused("burst_bytes"), "0.3 KiB = 307.2 bytes");
    assert.throws(() => sizeToBytes("1.5", "B", "f"), refused("f"));
    assert.throws(() => sizeToBytes("-1", "KiB", "f"), refused("f"));
    assert.throws(() => sizeToBytes("1e3", "KiB", "f"), refused("f"));
    assert.throws(() => sizeToBytes("4096", "MiB", "upload_bytes_per_second"), refused("upload_bytes_per_second"), "4 GiB/s does not fit the API's uint32");
    assert.equal(sizeToBytes("4095", "MiB", "f"), 4095 * 1_048_576);
  });
  it("writes sizes and rates for the list", () => {
    assert.equal(sizeText(2 * 1024 * 1024), "2 MiB");
    assert.equal(sizeText(1500), "1500 B");
    assert.equal(sizeText(1_572_864), "1.5 MiB");
    assert.equal(sizeText(0), "0 B");
    assert.equal(rateText(512 * 1024), "512 KiB/s");
    assert.equal(rateText(0), "not shaped");
  });
});

describe("shaper form", () => {
  it("round-trips a stored per-key shaper", () => {
    const spec = stored();
    const f = shaperToForm(spec);
    assert.deepEqual([f.upload, f.download, f.burst, f.responseExempt, f.requestExempt], [
      { value: "256", unit: "KiB" },
      { value: "2", unit: "MiB" },
      { value: "1500", unit: "B" },
      { value: "1.25", unit: "MiB" },
      { value: "", unit: "KiB" },
    ]);
    assert.deepEqual(f.keyParts, [
      { kind: "client_ip", name: "" },
      { kind: "header", name: "x-user" },
    ]);
    assert.deepEqual(formToShaperSpec(f), spec);
  });
  it("round-trips a per-request shaper and sends no key parts with it", () => {
    const spec = create(ShaperRuleSpecSchema, { name: "each", enabled: true, scope: {}, budget: ShaperBudget.PER_REQUEST, keyParts: [], downloadBytesPerSecond: 1024 });
    assert.deepEqual(formToShaperSpec(shaperToForm(spec)), spec);
    const f = shaperToForm(stored());
    f.budget = ShaperBudget.PER_REQUEST;
    assert.deepEqual(formToShaperSpec(f).keyParts, [], "the rows stay in the form but are not sent");
    f.budget = ShaperBudget.PER_KEY;
    assert.deepEqual(formToShaperSpec(f).keyParts, ["client_ip", "header:x-user"]);
  });
  it("converts the units the user picked and names the field of a bad one", () => {
    const f = shaperToForm(undefined);
    assert.equal(f.budget, ShaperBudget.PER_KEY);
    f.name = "n";
    f.upload = { value: "1.5", unit: "MiB" };
    f.download = { value: "", unit: "KiB" };
    const s = formToShaperSpec(f);
    assert.equal(s.uploadBytesPerSecond, 1_572_864);
    assert.equal(s.downloadBytesPerSecond, 0);
    f.download = { value: "fast", unit: "KiB" };
    assert.throws(() => formToShaperSpec(f), refused("download_bytes_per_second"));
    f.download = { value: "", unit: "KiB" };
    f.requestExempt = { value: "0.1", unit: "KiB" };
    assert.throws(() => formToShaperSpec(f), refused("request_exempt_bytes"));
  });
  it("summarizes the budget and toggles with the whole spec", () => {
    assert.equal(budgetSummary(stored()), "per client_ip + header:x-user");
    assert.equal(budgetSummary(create(ShaperRuleSpecSchema, { budget: ShaperBudget.PER_REQUEST })), "per request");
    assert.equal(budgetSummary(create(ShaperRuleSpecSchema, {})), "per client_ip");
    const rule = create(ShaperRuleSchema, { id: "sh_1", spec: stored() });
    const on = shaperSpecWith(rule, { enabled: true, priority: -1 });
    assert.deepEqual([on.enabled, on.priority, rule.spec?.enabled, rule.spec?.priority], [true, -1, false, 3]);
    assert.deepEqual({ ...on, enabled: false, priority: 3 }, rule.spec);
  });
});
