// Stage 6, traffic shaping (DESIGN.md §5): the first enabled shaper whose scope — and then its CEL
// `when` — matches sets ctx.shaping; the upload transform, download decorator, static body writer
// and upgrade splice read it. An evaluation error counts as no match (fails open). Warren's own
// answers (error pages, 429s, WAF pages, redirects) are small and go out unshaped.
import type { Stage, StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledShaperRule } from "../shaping/types.ts";
import { ShaperBuckets } from "../shaping/bucket-registry.ts";
import { celRequest, ruleMatches, type PolicyErrors } from "../policy/rule-match.ts";

export function shaping(errors: PolicyErrors, buckets = new ShaperBuckets()): Stage {
  return {
    name: "shaping",
    run(ctx: RequestContext): StageResult {
      const rules = ctx.snapshot.shapers;
      // Buckets of deleted or edited rules go with the first request on the new snapshot.
      buckets.retain(rules);
      if (rules.length === 0) return undefined;
      for (const rule of rules) {
        if (!ruleMatches(ctx, rule, errors)) continue;
        const lease = buckets.acquire(rule, () => rule.key(celRequest(ctx)), performance.now());
        ctx.shaping = { rule, upload: lease.upload, download: lease.download, shapedBytesIn: 0, shapedBytesOut: 0, exemptBytesIn: 0, exemptBytesOut: 0 };
        // Held while the response (or the spliced connection) lasts, so a shared bucket in use never expires.
        ctx.res.once("close", lease.release);
        return undefined;
      }
      return undefined;
    },
  };
}
