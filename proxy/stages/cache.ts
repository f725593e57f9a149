// Stage 9, the cache (DESIGN.md §5): after target selection, before forward. The first enabled rule
// whose scope, CEL `when` (an evaluation error is no match), route and target filters match decides.
// A fresh entry answers here (through the same response chain a proxied response takes, so the
// download shaper paces it); a stale one inside stale-while-revalidate answers too and is
// revalidated in the background, one request per key; otherwise the request goes on to forward —
// as the leader of a flight that stores and shares its response, as a waiter behind another
// request's flight, or untouched (bypass, HEAD miss).
import type { Dispatcher } from "undici";
import { WarrenError } from "../../lib/errors.ts";
import { TAKEN, type Stage, type StageResult } from "../stage.ts";
import type { RequestContext } from "../context.ts";
import { ResponseRelay } from "../handlers/response-relay.ts";
import { composeHandlers, type HandlerDecorator } from "../handlers/compose.ts";
import { DeadlineHandler } from "../handlers/deadline.ts";
import { CacheTee } from "../handlers/cache-tee.ts";
import { Downstream, headerObject } from "../cache/downstream.ts";
import { cacheRequestHeaders, cacheStatusValue, type CacheExchange, type CacheRequest } from "../cache/exchange.ts";
import { mergeVary, normalizeQuery, primaryKey, variantKey } from "../cache/key.ts";
import { freshness, notModified, notModifiedHeaders, requestBypass, requestWantsRevalidation } from "../cache/semantics.ts";
import { playEntry } from "../cache/play-entry.ts";
import type { Flight, Waiter } from "../cache/flight.ts";
import type { CacheService } from "../cache/service.ts";
import type { CompiledCacheRule, StoredEntry } from "../cache/types.ts";
import type { TrustedProxies } from "../client-ip.ts";
import { flatHeaders } from "../headers.ts";
import { ruleMatches, type PolicyErrors } from "../policy/rule-match.ts";
import { upstreamHeaders, upstreamPath } from "./forward.ts";

export interface CacheStageDeps {
  readonly service: CacheService;
  /** The response decorators in front of ResponseRelay for answers the cache gives (the download shaper). */
  readonly decorators: readonly HandlerDecorator[];
  readonly trusted: TrustedProxies;
  readonly errors: PolicyErrors;
}

const NO_CLIENT: Dispatcher.DispatchHandler = {};
const VALIDATORS = new Set(["if-none-match", "if-modified-since"]);

function firstRule(ctx: RequestContext, rules: readonly CompiledCacheRule[], errors: PolicyErrors): CompiledCacheRule | undefined {
  for (const rule of rules) {
    if (!ruleMatches(ctx, rule, errors)) continue;
    if (rule.routeIds !== undefined && !rule.routeIds.has(ctx.route!.id)) continue;
    if (rule.targetIds !== undefined && (ctx.target === undefined || !rule.targetIds.has(ctx.target.id))) continue;
    return rule;
  }
  return undefined;
}

interface Lookup {
  readonly rule: CompiledCacheRule;
  readonly req: CacheRequest;
  readonly primary: string;
  readonly url: string;
  readonly key: string;
}

function exchange(l: Lookup, o: Partial<CacheExchange> & Pick<CacheExchange, "mode" | "fwd">): CacheExchange {
  return {
    rule: l.rule,
    primary: l.primary,
    url: l.url,
    key: l.key,
    detail: undefined,
    flight: undefined,
    stale: undefined,
    staleIfError: false,
    conditional: [],
    stripConditionals: false,
    ...o,
  };
}

export function cache(d: CacheStageDeps): Stage {
  const svc = d.service;

  /** Answers from the cache through the response chain; settles when the response is done. */
  const serve = (ctx: RequestContext, begin: (down: Downstream) => void): Promise<StageResult> =>
    new Promise((resolve) => {
      const relay = new ResponseRelay(ctx, (r) => {
        if (!r.ok) {
          ctx.code ??= ctx.res.writableFinished ? undefined : clientGone ? "client_aborted" : "upstream_reset";
          ctx.cause ??= r.error;
          if (!ctx.res.writableFinished) ctx.res.destroy();
        }
        resolve(TAKEN);
      });
      let clientGone = false;
      ctx.res.once("close", () => {
        if (ctx.res.writableFinished) return;
        clientGone = true;
        relay.abort(new WarrenError("client_aborted"));
      });
      begin(new Downstream(composeHandlers(d.decorators, relay, ctx)));
    });

  const statusHeader = (rule: CompiledCacheRule, params: readonly (string | undefined)[]): string | undefined => (rule.cacheStatusHeader ? cacheStatusValue(params) : undefined);

  /** stale-while-revalidate: the conditional (or plain) request runs with no client, filling the store. */
  const revalidateInBackground = (ctx: RequestContext, l: Lookup, entry: StoredEntry, conditional: string[]): void => {
    const sel = ctx.selection;
    if (sel === undefined || svc.flights.get(l.key) !== undefined) return;
    const flight = svc.flights.lead(l.key);
    const x = exchange(l, { mode: "lead", fwd: "stale", flight, stale: entry, conditional, stripConditionals: true });
    const req: CacheRequest = { ...l.req, method: "GET" };
    const headers = upstreamHeaders(ctx, sel.target, d.trusted);
    cacheRequestHeaders(x, headers);
    const route = ctx.route!;
    const tee = new CacheTee(NO_CLIENT, req, x, svc, () => {}, true);
    const handler = new DeadlineHandler(tee, { connectMs: route.timeouts.connectMs, headersMs: route.timeouts.responseHeadersMs, connectCode: sel.agent ? "agent_dial_timeout" : "upstream_timeout" });
    sel.dispatcher.dispatch({ method: "GET", path: upstreamPath(route, sel.target, ctx), headers, body: null, upgrade: null, requestId: ctx.id } as Dispatcher.DispatchOptions, handler);
  };

  /** Waits behind another request's flight; its response streams in, or this request goes on by itself. */
  const wait = (ctx: RequestContext, l: Lookup, flight: Flight, pass: CacheExchange, attempt: number): Promise<StageResult> | StageResult => {
    const onOwn = (): StageResult => {
      ctx.cache = pass;
      ctx.cacheStatus = "miss";
      return undefined;
    };
    return new Promise<StageResult>((resolve) => {
      let settled = false;
      const settle = (r: StageResult | Promise<StageResult>): void => {
        settled = true;
        ctx.res.off("close", onClose);
        resolve(r);
      };
      const onClose = (): void => {
        if (settled) return;
        flight.unwait(w);
        ctx.code = "client_aborted";
        settle(TAKEN);
      };
      const w: Waiter = {
        started: (f) => {
          if (settled) return;
          // The response varies on more than the lookup knew: only requests with the same values share it.
          if (variantKey(l.primary, f.vary, l.req.headers) !== f.storeKey) return settle(onOwn());
          ctx.cacheStatus = "hit";
          const cs = statusHeader(l.rule, [`fwd=${pass.fwd}`, "collapsed"]);
          settle(
            serve(ctx, (down) => {
              const h = f.headers;
              const etag = typeof h.etag === "string" ? h.etag : undefined;
              const lm = typeof h["last-modified"] === "string" ? h["last-modified"] : undefined;
              if (notModified(l.req.headers, etag, lm)) {
                const flat = notModifiedHeaders(flatHeaders(h));
                if (cs !== undefined) flat.push("cache-status", cs);
                down.start(304, headerObject(flat));
                return down.end();
              }
              down.start(f.status, cs === undefined ? h : { ...h, "cache-status": cs });
              if (f.subscribe(down) === undefined) down.error(new WarrenError("upstream_reset", "the coalesced response went on without this client"));
            }),
          );
        },
        released: (outcome) => {
          if (settled) return;
          settle(outcome === "retry" && attempt < 2 ? lookup(ctx, l.rule, attempt + 1) : onOwn());
        },
      };
      ctx.res.once("close", onClose);
      if (!flight.wait(w)) settle(onOwn());
    });
  };

  const lookup = (ctx: RequestContext, rule: CompiledCacheRule, attempt: number): StageResult | Promise<StageResult> => {
    const headers = ctx.req.headers;
    const req: CacheRequest = { host: ctx.host, path: ctx.path, method: ctx.method, headers };
    const bypass = requestBypass(ctx.method, headers, { hasBody: ctx.hasBody, upgrade: ctx.raw !== undefined || ctx.upgradeProtocol !== undefined, rule });
    const { primary, url } = primaryKey(ctx.host, ctx.path, normalizeQuery(ctx.query, rule.queryMode, rule.queryNames));
    const known = svc.store.varyOf(primary);
    const key = variantKey(primary, mergeVary(rule.varyHeaders, known ?? []), headers);
    const l: Lookup = { rule, req, primary, url, key };
    if (bypass !== undefined) {
      ctx.cacheStatus = "bypass";
      ctx.cache = exchange(l, { mode: "pass", fwd: bypass === "method" ? "method" : "bypass", detail: bypass === "method" ? undefined : bypass });
      return undefined;
    }
    const entry = svc.store.get(key);
    const forced = requestWantsRevalidation(headers);
    let stale: StoredEntry | undefined;
    let staleIfError = false;
    const conditional: string[] = [];
    if (entry !== undefined) {
      const policy = svc.restore(entry.meta);
      const f = freshness(policy, rule);
      if (!forced && f.ageMs < f.lifetimeMs) {
        ctx.cacheStatus = "hit";
        return serve(ctx, (down) => playEntry(down, req, entry, entry.meta.headers, f.ageMs / 1000, statusHeader(rule, ["hit"])));
      }
      const staleMs = f.ageMs - f.lifetimeMs;
      // The cache's validators, never the client's: a 304 must be about the stored response.
      const own: Record<string, string | string[] | undefined> = {};
      for (const k in headers) if (!VALIDATORS.has(k)) own[k] = headers[k];
      const reval = policy.revalidationHeaders(svc.policyRequest(req, url, own));
      for (const v of VALIDATORS) if (typeof reval[v] === "string") conditional.push(v, reval[v]);
      if (!forced && staleMs < f.staleWhileRevalidateMs) {
        ctx.cacheStatus = "stale";
        revalidateInBackground(ctx, l, entry, conditional);
        const ttl = `ttl=${-Math.ceil(staleMs / 1000)}`;
        return serve(ctx, (down) => playEntry(down, req, entry, entry.meta.headers, f.ageMs / 1000, statusHeader(rule, ["hit", ttl, "detail=stale-while-revalidate"])));
      }
      stale = entry;
      staleIfError = staleMs < f.staleIfErrorMs;
    }
    const fwd = forced ? "request" : stale !== undefined ? "stale" : known === undefined ? "uri-miss" : "vary-miss";
    // HEAD never stores (no body): forwarded as it is, falling back to a stale GET entry on errors.
    const pass = exchange(l, { mode: "pass", fwd, stale, staleIfError });
    if (ctx.method === "HEAD") {
      ctx.cacheStatus = "miss";
      ctx.cache = pass;
      return undefined;
    }
    const running = svc.flights.get(key);
    if (running !== undefined) return wait(ctx, l, running, pass, attempt);
    const flight = svc.flights.lead(key);
    ctx.cache = exchange(l, { mode: "lead", fwd, flight, stale, staleIfError, conditional, stripConditionals: true });
    ctx.cacheStatus = "miss";
    // A leader that never got a response head (an error answer, its client gone) lets its waiters go.
    ctx.res.once("close", () => flight.release("upstream"));
    return undefined;
  };

  return {
    name: "cache",
    run(ctx: RequestContext): StageResult | Promise<StageResult> {
      const rules = ctx.snapshot.cacheRules;
      if (rules.length === 0) return undefined;
      const rule = firstRule(ctx, rules, d.errors);
      if (rule === undefined) return undefined;
      return lookup(ctx, rule, 0);
    },
  };
}
