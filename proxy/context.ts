// What every stage reads and writes for one request (DESIGN.md §5). One class, every field set in
// the constructor, so V8 keeps one shape for it on the hot path.
import type http from "node:http";
import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import type { ErrorCode } from "../lib/errors.ts";
import type { CompiledListener, CompiledRoute, CompiledTarget, CompiledWafRule, CompiledRateLimitRule, ProxySnapshot, AgentCandidate } from "./snapshot.ts";
import type { ShapingState } from "./shaping/types.ts";
import type { CelRequest } from "./policy/cel-request.ts";
import type { ResponseSink } from "./response-sink.ts";
import type { Selection } from "./targets/target-selector.ts";
import type { CacheExchange } from "./cache/exchange.ts";

const REQUEST_ID_PREFIX = randomBytes(4).toString("hex");
let requestCounter = 0;

export function newRequestId(): string {
  return `${REQUEST_ID_PREFIX}-${(++requestCounter).toString(36)}`;
}

/**
 * A request that arrived as a bare socket instead of a ServerResponse: node:http hands over the
 * socket for `Upgrade:` requests and for CONNECT. Answers are written raw; an allowed upgrade is
 * spliced.
 */
export interface RawRequestSocket {
  readonly kind: "upgrade" | "connect";
  readonly socket: Duplex;
  /** Bytes that came after the head (the start of the other protocol, or a body). */
  readonly head: Buffer;
}

export class RequestContext {
  readonly id = newRequestId();
  readonly startedAt = performance.now();
  readonly at = Date.now();
  /** Milliseconds spent in each stage, by the stage's index in the pipeline. */
  readonly timings: number[] = [];

  // Set by hygiene.
  method: string;
  /** Host as routes compare it (normalizeHost); "" for an HTTP/1.0 request without Host. */
  host = "";
  /** The Host header as received. */
  hostValue: string | undefined = undefined;
  /** Path as received, without the query. */
  path = "";
  /** "?…" or "". */
  query = "";
  /** Origin-form target as received: what is forwarded (before strip-prefix). */
  forwardTarget = "";
  /** normalizePath(path): routing and policy scopes only. */
  routingPath = "";
  encodedSeparator = false;
  /** The request has a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody = false;
  /** The client sent `Expect: 100-continue`: answered once, when the body is first needed. */
  expectContinue = false;
  /** The upgrade token asked for (lower case), when the request is an upgrade. */
  upgradeProtocol: string | undefined = undefined;

  // Set by client identity.
  clientIp: string;

  // Set by the policy stages.
  /** The request as policy expressions and key parts see it; built once, when a policy first needs it. */
  cel: CelRequest | undefined = undefined;
  /** The WAF rule that decided this request (blocked it, or allowed it past the rest). */
  rule: CompiledWafRule | undefined = undefined;
  /** Rate-limit rules that counted this request, in order; the last one denied it when `limited`. */
  rateLimitRules: CompiledRateLimitRule[] | undefined = undefined;
  limited = false;
  /** RateLimit-Policy / RateLimit headers (flat) a rule asks to add to an allowed response. */
  rateLimitHeaders: string[] | undefined = undefined;
  /** The shaper that applies to this request's bodies, with its buckets. */
  shaping: ShapingState | undefined = undefined;
  /** A Set-Cookie a policy adds to whatever answers the request (the waiting room's session). */
  setCookie: string | undefined = undefined;

  // Set by routing and target selection.
  route: CompiledRoute | undefined = undefined;
  target: CompiledTarget | undefined = undefined;
  agent: AgentCandidate | undefined = undefined;
  /** The chosen target (and agent) with its dispatcher; replaced when the one retry goes elsewhere. */
  selection: Selection | undefined = undefined;
  /** Consistent-hash key for this request (client IP, a header or a cookie), computed once. */
  hashKey: string | undefined = undefined;

  // Set by the cache stage.
  /** What the cache decided for this request; undefined when no cache rule matched. */
  cache: CacheExchange | undefined = undefined;
  /** hit | miss | stale | revalidated | bypass | expired | stored | store_failed | "" (no rule matched). */
  cacheStatus = "";

  // The outcome.
  /** The error the request ended with (events, logs, metrics). */
  code: ErrorCode | undefined = undefined;
  /** For logs only: what caused `code`. */
  cause: unknown = undefined;
  /** Name of the stage that answered or took the request over. */
  answeredBy = "";
  /** Status sent to the client (101 for a spliced upgrade); 0 until answered. */
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** The pipeline is done with this request (answered, or the terminal stage settled). */
  pipelineDone = false;
  /** The response (or the raw socket) is closed. */
  responseClosed = false;
  /** Runs once both are true: the event is recorded then, with every stage's time. */
  onDone: (() => void) | undefined = undefined;

  constructor(
    readonly snapshot: ProxySnapshot,
    readonly listener: CompiledListener,
    readonly proto: "http" | "https",
    /** The TCP peer, or the PROXY protocol source. */
    readonly peer: string,
    readonly req: http.IncomingMessage,
    /** Where answers go: the ServerResponse, or a raw writer on `raw.socket`. */
    readonly res: ResponseSink,
    readonly raw: RawRequestSocket | undefined,
  ) {
    this.method = req.method ?? "GET";
    this.clientIp = peer;
  }

  /** Called by the pipeline runner when it stops, and on response close. */
  settle(part: "pipeline" | "response"): void {
    if (part === "pipeline") this.pipelineDone = true;
    else this.responseClosed = true;
    if (this.pipelineDone && this.responseClosed) {
      const f = this.onDone;
      this.onDone = undefined;
      f?.();
    }
  }
}
