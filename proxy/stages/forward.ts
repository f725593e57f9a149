// Stage 10, forward: the terminal stage. Dispatches the request to the chosen target through undici
// (direct, or over an agent's tunnel stream), the response flowing back through the handler
// decorators into ResponseRelay; an allowed upgrade is spliced instead. One retry on another target
// or agent for idempotent requests without a body whose attempt never reached the upstream; when
// there is nowhere else to go, the first attempt's error is the answer.
import type http from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { Logger } from "pino";
import { WarrenError, type ErrorCode } from "../../lib/errors.ts";
import { mapError } from "../../lib/error-mapper.ts";
import { buildUpstreamRequestHeaders } from "../headers.ts";
import { matchPathPrefix } from "../routing/path-prefix.ts";
import { ResponseRelay, type RelayResult, type SpliceTransform } from "../handlers/response-relay.ts";
import { DeadlineHandler } from "../handlers/deadline.ts";
import { composeHandlers, type HandlerDecorator } from "../handlers/compose.ts";
import { requestBody, type BodyTransform } from "../body/request-body.ts";
import { answer, TAKEN, type Stage, type StageResult } from "../stage.ts";
import type { TrustedProxies } from "../client-ip.ts";
import type { RateLimitStore } from "../policy/rate-limit/store.ts";
import type { PassiveHealth } from "../health/passive.ts";
import type { Selection, TargetSelector } from "../targets/target-selector.ts";
import type { AgentDialer, UpstreamDispatchOptions } from "../targets/upstream-pools.ts";
import type { RequestContext } from "../context.ts";
import type { CompiledRoute, CompiledTarget } from "../snapshot.ts";

/** Edits the flat upstream request header list in place. */
export type HeaderTransform = (ctx: RequestContext, headers: string[]) => void;

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export interface ForwardDeps {
  readonly selector: TargetSelector;
  readonly passive: PassiveHealth;
  readonly agents: AgentDialer;
  readonly trusted: TrustedProxies;
  readonly rateLimits: RateLimitStore;
  /** Response-side decorators in front of ResponseRelay (first sees every callback first). */
  readonly decorators: readonly HandlerDecorator[];
  readonly bodyTransforms: readonly BodyTransform[];
  /** Edit the upstream request's headers after they are built (the cache's validators). */
  readonly headerTransforms: readonly HeaderTransform[];
  /** Streams each direction of a spliced upgrade passes through (the upgrade shaper). */
  readonly spliceTransforms: readonly SpliceTransform[];
  readonly log: Logger;
}

export function upstreamPath(route: CompiledRoute, t: CompiledTarget, ctx: RequestContext): string {
  let rest = ctx.forwardTarget;
  if (route.stripPathPrefix && route.pathPrefix !== "/" && matchPathPrefix(route.pathPrefix, ctx.path)) {
    rest = rest.slice(route.pathPrefix.replace(/\/$/, "").length);
    if (rest === "" || rest.startsWith("?")) rest = `/${rest}`;
  }
  return `${t.basePath}${rest}`;
}

/** The request headers sent to target `t` (before the header transforms). */
export function upstreamHeaders(ctx: RequestContext, t: CompiledTarget, trusted: TrustedProxies): string[] {
  const route = ctx.route!;
  const req = ctx.req;
  const headers = buildUpstreamRequestHeaders(req.rawHeaders, {
    host: route.preserveHost && ctx.hostValue ? ctx.hostValue : t.hostHeader,
    peer: ctx.peer,
    peerTrusted: !trusted.isEmpty && trusted.contains(ctx.peer),
    clientIp: ctx.clientIp,
    proto: ctx.proto,
    originalHost: ctx.hostValue,
    httpVersion: req.httpVersion,
    rules: route.requestRules,
    via: route.addVia ? "warren" : undefined,
  });
  for (let i = 0; i < t.headers.length; i++) headers.push(t.headers[i]!);
  return headers;
}

/** A connect failure or a timeout is the target's health; a reset, a bad response or a refusal is not. */
function countsForHealth(code: ErrorCode, phase: "connect" | "exchange"): boolean {
  return (phase === "connect" && code !== "agent_denied") || code === "upstream_timeout" || code === "agent_dial_timeout";
}

export function forward(d: ForwardDeps): Stage {
  /** One attempt against one selection; settles when the response was relayed (or failed). */
  const attempt = (ctx: RequestContext, sel: Selection, body: Readable | undefined, upgrade: string | undefined, track: (r: ResponseRelay) => void): Promise<RelayResult> => {
    const route = ctx.route!;
    const t = sel.target;
    const headers = upstreamHeaders(ctx, t, d.trusted);
    for (const x of d.headerTransforms) x(ctx, headers);
    d.selector.active.add(sel.key);
    return new Promise<RelayResult>((settle) => {
      const relay = new ResponseRelay(ctx, (r) => {
        d.selector.active.done(sel.key);
        settle(r);
      }, d.spliceTransforms);
      track(relay);
      const handler = new DeadlineHandler(composeHandlers(d.decorators, relay, ctx), {
        connectMs: route.timeouts.connectMs,
        headersMs: route.timeouts.responseHeadersMs,
        connectCode: sel.agent ? "agent_dial_timeout" : "upstream_timeout",
      });
      const opts: UpstreamDispatchOptions = {
        method: ctx.method as Dispatcher.HttpMethod,
        path: upstreamPath(route, t, ctx),
        headers,
        body: body ?? null,
        upgrade: upgrade ?? null,
        requestId: ctx.id,
      };
      sel.dispatcher.dispatch(opts, handler);
    });
  };

  const run = async (ctx: RequestContext): Promise<StageResult> => {
    const route = ctx.route!;
    const up = ctx.upgradeProtocol;
    const upgrade = ctx.raw?.kind === "upgrade" && up !== undefined && route.upgradeProtocols.has(up) ? up : undefined;
    const body = requestBody(ctx, d.bodyTransforms);
    if (body === "unsupported") return answer("bad_framing");
    let relay: ResponseRelay | undefined;
    let clientGone = false;
    ctx.res.once("close", () => {
      if (ctx.res.writableFinished || ctx.status === 101) return;
      clientGone = true;
      relay?.abort(new WarrenError("client_aborted"));
    });
    // The client waits for this before it sends the body; it is due only now that the body is wanted.
    if (ctx.expectContinue) (ctx.res as http.ServerResponse).writeContinue();
    const mayRetry = !ctx.hasBody && IDEMPOTENT.has(ctx.method);
    let sel = ctx.selection!;
    let first: { code: ErrorCode; cause: unknown } | undefined;
    let excluded: Set<string> | undefined;
    for (let n = 0; ; n++) {
      const r = await attempt(ctx, sel, body, upgrade, (x) => (relay = x));
      if (r.ok) return TAKEN;
      if (clientGone) {
        ctx.code = "client_aborted";
        return TAKEN;
      }
      const m = mapError(r.error);
      // Never handed to a connection: nothing reached the upstream, whatever the error was.
      const phase = r.requestStarted ? m.phase : "connect";
      // A reset through an agent that is no longer there: the agent went away, not the origin.
      const code: ErrorCode = sel.agent !== undefined && m.code === "upstream_reset" && !d.agents.isOnline(sel.agent.id) ? "agent_disconnected" : m.code;
      if (route.passiveHealth.enabled && countsForHealth(code, phase)) d.passive.eject(sel.key, route.passiveHealth.cooldownMs);
      if (r.responseStarted) {
        // Mid-body: the status line is gone; all that is left is to cut the client's response short.
        ctx.code = code;
        ctx.cause = r.error;
        ctx.res.destroy();
        return TAKEN;
      }
      first ??= { code, cause: r.error };
      d.log.debug({ requestId: ctx.id, routeId: route.id, targetId: sel.target.id, agentId: sel.agent?.id, code, err: r.error.message }, "upstream attempt failed");
      if (n === 0 && mayRetry && phase === "connect") {
        (excluded ??= new Set()).add(sel.key);
        const next = d.selector.select(route, ctx.hashKey, excluded);
        if (next !== undefined) {
          sel = next;
          ctx.selection = next;
          ctx.target = next.target;
          ctx.agent = next.agent;
          continue;
        }
      }
      ctx.cause = first.cause;
      return answer(first.code);
    }
  };

  return { name: "forward", run };
}
