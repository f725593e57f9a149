// How every policy stage matches a rule (DESIGN.md §5): the scope first, then the CEL `when` over
// the request (built once per request, shared by the stages and key parts); an evaluation error is
// counted, logged at most once a minute per rule, and decides as the stage says (WAF block rules fail
// closed, everything else open).
import type { Logger } from "pino";
import { CelRequest, type CompiledWhen } from "./cel.ts";
import type { ScopeMatcher } from "./match.ts";
import type { RequestContext } from "../context.ts";

/** What the error counter needs of a rule of any kind. */
export interface PolicyRule {
  readonly id: string;
  readonly name: string;
}

/** Evaluation errors are counted per rule and logged at most once per rule per interval; decisions are logged at debug. */
export class PolicyErrors {
  private readonly counts = new Map<string, number>();
  private readonly lastLog = new Map<string, number>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  evalError(rule: PolicyRule, err: unknown, now = Date.now()): void {
    const n = (this.counts.get(rule.id) ?? 0) + 1;
    this.counts.set(rule.id, n);
    if (now - (this.lastLog.get(rule.id) ?? -Infinity) < this.intervalMs) return;
    this.lastLog.set(rule.id, now);
    this.log.warn({ ruleId: rule.id, rule: rule.name, errors: n, err: err instanceof Error ? err.message : String(err) }, "policy rule's `when` failed to evaluate");
  }

  /** A rule decided a request: at debug level only (the request event has it anyway). */
  decided(rule: PolicyRule, ctx: RequestContext, outcome: string): void {
    if (this.log.isLevelEnabled("debug")) this.log.debug({ requestId: ctx.id, ruleId: rule.id, rule: rule.name, outcome, host: ctx.host, path: ctx.path, method: ctx.method }, "policy rule decided");
  }

  /** Evaluation errors of a rule since start. */
  count(ruleId: string): number {
    return this.counts.get(ruleId) ?? 0;
  }
}

/** The request as CEL and key parts see it, built once per request and shared by the policy stages. */
export function celRequest(ctx: RequestContext): CelRequest {
  return (ctx.cel ??= new CelRequest({
    method: ctx.method,
    protocol: ctx.proto,
    host: ctx.host,
    path: ctx.path,
    rawQuery: ctx.query === "" ? "" : ctx.query.slice(1),
    headers: ctx.req.headers,
    clientIp: ctx.clientIp,
  }));
}

/** A rule of any kind as matching sees it. */
export interface MatchableRule extends PolicyRule {
  readonly scope: ScopeMatcher;
  readonly when: CompiledWhen | undefined;
}

/** Scope, then `when`; `onError` is the answer when `when` fails to evaluate (counted and logged). */
export function ruleMatches(ctx: RequestContext, rule: MatchableRule, errors: PolicyErrors, onError = false): boolean {
  if (!rule.scope.matches(ctx.host, ctx.routingPath, ctx.method)) return false;
  if (rule.when === undefined) return true;
  try {
    return rule.when.evaluate(celRequest(ctx));
  } catch (e) {
    errors.evalError(rule, e);
    return onError;
  }
}
