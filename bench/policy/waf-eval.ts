// What WAF rules that do not match cost per request, in process (no sockets, no noise from other
// processes): the waf stage over the ten rules bench/http adds (five scoped out, five with a CEL
// `when` evaluated on every request), against the same stage with no rules.
// Run: node --import tsx bench/policy/waf-eval.ts [--n 200000]
import { parseArgs } from "node:util";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { WafRuleSpecSchema } from "../../proto/gen/warren/v1/policy_pb.ts";
import { compilePolicies } from "../../management/config/compile-policies.ts";
import { validateWafRule, wafRuleSpecToJson } from "../../management/config/validate-policy.ts";
import { waf, PolicyErrors } from "../../proxy/stages/waf.ts";
import { BENCH_WAF_RULES } from "../http/waf-rules.ts";
import type { RequestContext } from "../../proxy/context.ts";
import type { ProxySnapshot } from "../../proxy/index.ts";
import type { WafRuleRow } from "../../management/store/policy-repo.ts";
import pino from "pino";

const { values } = parseArgs({ options: { n: { type: "string", default: "200000" } } });
const N = Number(values.n);

const rows = BENCH_WAF_RULES.map((init, i) => {
  const spec = validateWafRule(fromJson(WafRuleSpecSchema, init as JsonValue), () => undefined);
  const row: WafRuleRow = { id: `waf_${i}`, name: spec.name, priority: spec.priority, spec: wafRuleSpecToJson(spec), created_at: 0, updated_at: 0 };
  return { row, spec };
});
const rules = compilePolicies({ wafRules: rows, templates: [] });
const stage = waf(new PolicyErrors(pino({ level: "silent" })));
// A browser-like request: what wrk sends is leaner; this is the heavier case for `headers`.
const headers = {
  host: "direct.bench",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml",
  "accept-language": "en-GB,en;q=0.9",
  "accept-encoding": "gzip, deflate, br",
  cookie: "session=abc; theme=dark",
};
function ctx(snapshot: Pick<ProxySnapshot, "waf" | "policyKey">): RequestContext {
  return { snapshot, host: "direct.bench", routingPath: "/1k", path: "/1k", query: "", method: "GET", proto: "http", clientIp: "127.0.0.1", req: { headers } } as unknown as RequestContext;
}

function time(snapshot: Pick<ProxySnapshot, "waf" | "policyKey">): number {
  for (let i = 0; i < N / 10; i++) if (stage.run(ctx(snapshot)) !== undefined) throw new Error("a bench rule matched");
  const t0 = performance.now();
  for (let i = 0; i < N; i++) stage.run(ctx(snapshot));
  return ((performance.now() - t0) * 1000) / N;
}

const key = Buffer.alloc(32);
const none = time({ waf: [], policyKey: key });
const ten = time({ waf: rules, policyKey: key });
const scopedOnly = time({ waf: rules.filter((r) => r.when === undefined), policyKey: key });
console.log(`waf stage per request: no rules ${none.toFixed(3)} µs, 5 scoped-out rules ${scopedOnly.toFixed(3)} µs, all 10 rules ${ten.toFixed(3)} µs`);
