// The public request pipeline (DESIGN.md §5): the ordered stage list and the runner, nothing else.
// Plain and upgrade requests run the same stages; only the forward stage's terminal differs.
import { TAKEN, type Stage, type StageResult } from "./stage.ts";
import { answerError } from "./respond.ts";
import type { RequestContext } from "./context.ts";
import { hygiene } from "./stages/hygiene.ts";
import { clientIdentity } from "./stages/client-identity.ts";
import { reservedPaths } from "./stages/reserved-paths.ts";
import { CaptchaFailures, CaptchaVerifier } from "./policy/captcha.ts";
import { waf, PolicyErrors } from "./stages/waf.ts";
import { rateLimit } from "./stages/rate-limit.ts";
import { shaping } from "./stages/shaping.ts";
import { route } from "./stages/route.ts";
import { routeAction } from "./stages/route-action.ts";
import { selectTarget } from "./stages/select-target.ts";
import { forward, type ForwardDeps } from "./stages/forward.ts";
import { cache } from "./stages/cache.ts";
import type { CacheService } from "./cache/service.ts";
import type { HandlerDecorator } from "./handlers/compose.ts";
import { WaitingRooms } from "./policy/waiting-room.ts";
import type { AcmeChallenges } from "./tls/acme-challenges.ts";

export interface CacheDeps {
  readonly service: CacheService;
  /** Decorators in front of the relay for answers the cache gives itself (ForwardDeps.decorators without the cache tee). */
  readonly decorators: readonly HandlerDecorator[];
}

export function pipelineStages(d: ForwardDeps, c: CacheDeps, acme: AcmeChallenges): readonly Stage[] {
  const rooms = new WaitingRooms(d.log);
  const policyErrors = new PolicyErrors(d.log);
  return [
    hygiene,
    clientIdentity(d.trusted),
    reservedPaths({ captcha: { verifier: new CaptchaVerifier(), failures: new CaptchaFailures(d.log) }, rooms, acme }),
    waf(policyErrors, rooms),
    rateLimit(d.rateLimits, policyErrors),
    shaping(policyErrors),
    route,
    routeAction,
    selectTarget(d.selector),
    cache({ service: c.service, decorators: c.decorators, trusted: d.trusted, errors: policyErrors }),
    forward(d),
  ];
}

export class Pipeline {
  readonly names: readonly string[];
  constructor(
    readonly stages: readonly Stage[],
    /** A stage threw: Warren's bug. Answers with the mapped code (unknown errors: 500) and logs the cause. */
    private readonly onBug: (ctx: RequestContext, stage: Stage, err: unknown) => void,
  ) {
    this.names = Object.freeze(stages.map((s) => s.name));
  }

  run(ctx: RequestContext, from = 0): void {
    // One clock read per stage boundary: a stage's end is the next one's start.
    let t0 = performance.now();
    for (let i = from; i < this.stages.length; i++) {
      const stage = this.stages[i]!;
      let r: StageResult | Promise<StageResult>;
      try {
        r = stage.run(ctx);
      } catch (e) {
        return this.bug(ctx, stage, e);
      }
      if (r instanceof Promise) {
        const started = t0;
        r.then(
          (v) => {
            ctx.timings[i] = performance.now() - started;
            if (!this.settled(ctx, stage, v)) return;
            // The client left while this stage waited (a Redis round trip, a cache flight): nothing
            // after it may start — the response's close has fired already, so a dispatch made now
            // would never hear of it and would hold an upstream connection for good.
            if (ctx.responseClosed) {
              ctx.code ??= "client_aborted";
              ctx.answeredBy = stage.name;
              ctx.settle("pipeline");
              return;
            }
            this.run(ctx, i + 1);
          },
          (e: unknown) => this.bug(ctx, stage, e),
        );
        return;
      }
      const t1 = performance.now();
      ctx.timings[i] = t1 - t0;
      t0 = t1;
      if (!this.settled(ctx, stage, r)) return;
    }
    // Past the last stage without an answer: the terminal stage always answers, so this is a bug.
    this.bug(ctx, this.stages[this.stages.length - 1]!, new Error("no stage answered the request"));
  }

  private bug(ctx: RequestContext, stage: Stage, err: unknown): void {
    this.onBug(ctx, stage, err);
    ctx.settle("pipeline");
  }

  /** True to go on; otherwise the stage answered or took the request over. */
  private settled(ctx: RequestContext, stage: Stage, r: StageResult): boolean {
    if (r === undefined) return true;
    ctx.answeredBy = stage.name;
    if (r !== TAKEN) answerError(ctx, r.code, r.headers);
    ctx.settle("pipeline");
    return false;
  }
}
