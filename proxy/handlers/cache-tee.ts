// The cache tee (DESIGN.md §5 stage 9): a DispatchHandler decorator in front of the download shaper
// and ResponseRelay. For a request the cache stage lets lead, it decides from the response head
// whether the response is stored; a stored one is written into the store while it streams and is
// shared, as a flight, with the requests coalesced behind it. A 304 to the cache's own conditional
// request refreshes the stored entry and answers from it; an origin error within stale-if-error
// answers with the stale entry. Anything else passes through, annotated with Cache-Status.
import type { Dispatcher } from "undici";
import type { Duplex } from "node:stream";
import { rawHeaderValue } from "../headers.ts";
import type { RequestContext } from "../context.ts";
import type { HandlerDecorator } from "./compose.ts";
import { Downstream, UpstreamSource, headerObject, type ResponseHeaders } from "../cache/downstream.ts";
import { cacheStatusValue, mergeNotModified, storedHeaders, type CacheExchange, type CacheRequest } from "../cache/exchange.ts";
import { mergeVary, parseVary, variantKey } from "../cache/key.ts";
import { notModified, notModifiedHeaders, responseRefusal } from "../cache/semantics.ts";
import { playEntry } from "../cache/play-entry.ts";
import type { CacheService } from "../cache/service.ts";
import type { EntryWriter } from "../cache/types.ts";

export class CacheTee implements Dispatcher.DispatchHandler {
  private readonly down: Downstream;
  private mode: "pending" | "pass" | "flight" | "substitute" = "pending";
  private writer: EntryWriter | undefined;
  private size = 0;
  private tooBig = false;
  private storeKey = "";

  constructor(
    next: Dispatcher.DispatchHandler,
    private readonly req: CacheRequest,
    private readonly x: CacheExchange,
    private readonly svc: CacheService,
    /** Sets the request's cacheStatus (a background revalidation has none to set). */
    private readonly report: (status: string) => void,
    /** No client behind it: nothing is played back. */
    private readonly background = false,
  ) {
    this.down = new Downstream(next);
  }

  private status(params: readonly (string | undefined)[]): string | undefined {
    return this.x.rule.cacheStatusHeader ? cacheStatusValue(params) : undefined;
  }

  private annotate(headers: ResponseHeaders, params: readonly (string | undefined)[]): ResponseHeaders {
    const v = this.status(params);
    return v === undefined ? headers : { ...headers, "cache-status": v };
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.down.source = new UpstreamSource(controller);
    this.down.requestStart(context);
  }

  onRequestUpgrade(_controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.down.handler.onRequestUpgrade?.(this.down, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    // 1xx: the relay's business (103 Early Hints).
    if (statusCode < 200) return void this.down.handler.onResponseStart?.(this.down, statusCode, headers, statusMessage);
    const x = this.x;
    if (x.stale !== undefined && x.staleIfError && statusCode >= 500) return this.serveStale(`fwd-status=${statusCode}`);
    if (x.mode === "pass" || x.flight === undefined) {
      this.mode = "pass";
      this.down.start(statusCode, this.annotate(headers, [`fwd=${x.fwd}`, x.detail && `detail=${x.detail}`]), statusMessage);
      return;
    }
    if (x.stale !== undefined && statusCode === 304) return this.revalidated(headers);
    this.lead(controller, statusCode, headers, statusMessage);
  }

  private lead(controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders, statusMessage: string | undefined): void {
    const { x, svc, req } = this;
    const rule = x.rule;
    const flight = x.flight!;
    const fwdStatus = x.stale !== undefined ? `fwd-status=${status}` : undefined;
    const policy = svc.newPolicy(req, x.url, status, headers, rule);
    const refusal = responseRefusal(status, headers, rule, policy);
    if (refusal !== undefined) {
      // The stored response was replaced by one that may not be stored; a passing 5xx does not replace it.
      if (x.stale !== undefined && status < 500) svc.store.delete(x.stale.meta.key);
      this.report(x.stale !== undefined ? "expired" : "miss");
      flight.release("upstream");
      this.mode = "pass";
      this.down.start(status, this.annotate(headers, [`fwd=${x.fwd}`, fwdStatus, `detail=${refusal}`]), statusMessage);
      return;
    }
    const vary = mergeVary(rule.varyHeaders, parseVary(headers.vary));
    const key = variantKey(x.primary, vary, req.headers);
    const stored = storedHeaders(headers);
    this.storeKey = key;
    this.writer = svc.store.begin({
      key,
      primary: x.primary,
      vary,
      ruleId: rule.id,
      host: req.host,
      path: req.path,
      url: x.url,
      status,
      headers: stored,
      policy: policy.toObject() as unknown as Record<string, unknown>,
      storedAt: svc.now(),
    });
    this.mode = "flight";
    flight.vary = vary;
    flight.storeKey = key;
    flight.start(status, headers, controller, () => svc.store.get(key)?.open());
    const cs = [`fwd=${x.fwd}`, fwdStatus, this.writer !== undefined ? "stored" : undefined];
    if (this.background) {
      flight.subscribe(this.down);
    } else if (x.stripConditionals && notModified(req.headers, rawHeaderValue(stored, "etag"), rawHeaderValue(stored, "last-modified"))) {
      // The client's own validators match the new response: it gets a 304, the flight goes on for the store and the waiters.
      this.down.start(304, headerObject([...notModifiedHeaders(stored), ...(this.status(cs) !== undefined ? ["cache-status", this.status(cs)!] : [])]));
      this.down.end();
    } else {
      this.down.start(status, this.annotate(headers, cs), statusMessage);
      flight.subscribe(this.down);
    }
    if (flight.subscribers === 0 && this.writer === undefined) controller.abort(new Error("nobody reads this response any more"));
  }

  /** 304 to the cache's validators: the stored entry is fresh again; answer from it. */
  private revalidated(headers: ResponseHeaders): void {
    const { x, svc, req } = this;
    const entry = x.stale!;
    const old = svc.restore(entry.meta);
    const { policy } = old.revalidatedPolicy(svc.policyRequest(req, x.url), { status: 304, headers: headers as Record<string, string> });
    const merged = mergeNotModified(entry.meta.headers, headers);
    svc.store.refresh(entry.meta.key, merged, policy.toObject() as unknown as Record<string, unknown>);
    this.report("revalidated");
    this.mode = "substitute";
    x.flight?.release("retry");
    if (!this.background) playEntry(this.down, req, entry, merged, policy.age(), this.status([`fwd=${x.fwd}`, "fwd-status=304"]));
  }

  /** The origin failed within the stale entry's stale-if-error window: answer with the entry. */
  private serveStale(fwdStatus: string | undefined): void {
    const { x, svc } = this;
    const entry = x.stale!;
    this.report("stale");
    this.mode = "substitute";
    x.flight?.release("upstream");
    if (!this.background) playEntry(this.down, this.req, entry, entry.meta.headers, svc.restore(entry.meta).age(), this.status(["fwd=stale", fwdStatus, "detail=stale-if-error"]));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.mode === "pass") return this.down.data(chunk);
    if (this.mode !== "flight") return;
    const w = this.writer;
    if (w !== undefined) {
      this.size += chunk.length;
      if (this.size > this.x.rule.maxObjectBytes) {
        w.abort();
        this.writer = undefined;
        this.tooBig = true;
      } else w.write(chunk);
    }
    this.x.flight!.push(chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, _trailers: ResponseHeaders): void {
    if (this.mode === "pass") return this.down.end();
    if (this.mode !== "flight") return;
    const w = this.writer;
    this.writer = undefined;
    let stored = false;
    if (w !== undefined) {
      w.commit();
      // A tier may still decline it at commit (over its own object limit): ask.
      stored = this.svc.store.get(this.storeKey) !== undefined;
    }
    this.report(stored ? (this.x.stale !== undefined ? "expired" : "stored") : this.tooBig ? "miss" : "store_failed");
    this.x.flight!.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const x = this.x;
    switch (this.mode) {
      case "pending":
        if (x.stale !== undefined && x.staleIfError && !this.down.aborted) return this.serveStale(undefined);
        // The leader's client left: its waiters look again (one of them leads anew). The origin failed: each goes on its own.
        x.flight?.release(this.down.aborted ? "retry" : "upstream");
        return this.down.error(error);
      case "pass":
        return this.down.error(error);
      case "flight":
        this.writer?.abort();
        this.writer = undefined;
        return x.flight!.fail(error);
      case "substitute":
        return;
    }
  }
}

/** The decorator: only requests the cache stage looked at get a tee. */
export function cacheTee(svc: CacheService): HandlerDecorator {
  return (next, ctx: RequestContext) => {
    const x = ctx.cache;
    if (x === undefined) return next;
    return new CacheTee(next, { host: ctx.host, path: ctx.path, method: ctx.method, headers: ctx.req.headers }, x, svc, (s) => (ctx.cacheStatus = s));
  };
}
