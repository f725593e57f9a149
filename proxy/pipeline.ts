import { STATUS_CODES } from "node:http";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { Transform } from "node:stream";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import { checkEncodedSeparators, checkFraming, checkHostHeader, checkRequestTarget } from "./hygiene.ts";
import { clientIp, type TrustedProxies } from "./client-ip.ts";
import { buildDownstreamResponseHeaders, buildUpstreamRequestHeaders, flatHeaders, rawHeaderValue } from "./headers.ts";
import { WarrenError, renderErrorPage, statusOf, type ErrorCode } from "./errors.ts";
import { mapError } from "../lib/error-mapper.ts";

function classifyUpstreamError(e: unknown) {
  const m = mapError(e);
  const connectPhase = m.phase === "connect";
  return { code: m.code, connectPhase, countsForHealth: (connectPhase && m.code !== "agent_denied") || m.code === "upstream_timeout" };
}
import { matchPathPrefix } from "./routing/path-prefix.ts";
import type { CompiledRoute, CompiledTarget, ProxySnapshot } from "./snapshot.ts";
import type { AgentDialer, UpstreamPools } from "./targets/upstream-pools.ts";
import type { PassiveHealth } from "./health.ts";
import type { ActiveHealth } from "./health-checks.ts";
import type { EventSink } from "./observe/request-event.ts";
import { AgentPicker } from "./targets/agent-picker.ts";
import { lingerAfterEarlyAnswer } from "./linger.ts";
import { ResponseRelay, type RelayResult } from "./targets/response-relay.ts";

export interface PipelineDeps {
  readonly snapshot: () => ProxySnapshot;
  readonly pools: UpstreamPools;
  readonly agents: AgentDialer;
  readonly trusted: TrustedProxies;
  readonly health: PassiveHealth;
  readonly active: ActiveHealth;
  readonly events: EventSink;
  readonly log: Logger;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const REQUEST_ID_PREFIX = randomBytes(4).toString("hex");
let requestCounter = 0;

function newRequestId(): string {
  return `${REQUEST_ID_PREFIX}-${(++requestCounter).toString(36)}`;
}

/** Per request: where it went, for logs and (later) the events table. */
interface Outcome {
  readonly requestId: string;
  routeId?: string;
  targetId?: string;
  agentId?: string;
  errorCode?: ErrorCode;
  bytesIn: number;
  bytesOut: number;
}

type Refusal = { code: ErrorCode; extra?: Record<string, string>; routeId?: string };

interface Prepared {
  readonly route: CompiledRoute;
  readonly host: string;
  readonly hostValue: string | undefined;
  readonly ip: string;
  readonly method: string;
  readonly forwardTarget: string;
  readonly path: string;
  readonly query: string;
}

/** An error page on a socket that never became an HTTP response (upgrade requests). */
function rawError(req: http.IncomingMessage, socket: Duplex, code: ErrorCode, o: Outcome, extra: Record<string, string> = {}): void {
  o.errorCode = code;
  const page = renderErrorPage(code, o.requestId, req.headers.accept);
  let text = `HTTP/1.1 ${page.status} ${STATUS_CODES[page.status] ?? "Error"}\r\ncontent-type: ${page.contentType}\r\ncontent-length: ${Buffer.byteLength(page.body)}\r\nx-request-id: ${o.requestId}\r\nconnection: close\r\n`;
  for (const [k, v] of Object.entries(extra)) text += `${k}: ${v}\r\n`;
  socket.end(`${text}\r\n${page.body}`);
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, code: ErrorCode, o: Outcome, extra: Record<string, string> = {}): void {
  o.errorCode = code;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const page = renderErrorPage(code, o.requestId, req.headers.accept);
  // A refused request whose body is still arriving: linger so the client reads this answer (the
  // connection then closes). Malformed requests (400, 431) close at once: nothing of theirs is trusted.
  const linger = page.status === 413 && !req.complete;
  const close = !linger && (page.status === 400 || page.status === 431 || page.status === 413);
  if (linger) lingerAfterEarlyAnswer(req, res);
  res.writeHead(page.status, {
    "content-type": page.contentType,
    "content-length": Buffer.byteLength(page.body),
    "cache-control": "no-store",
    "x-request-id": o.requestId,
    ...(close ? { connection: "close" } : {}),
    ...extra,
  });
  o.bytesOut += req.method === "HEAD" ? 0 : Buffer.byteLength(page.body);
  res.end(req.method === "HEAD" ? undefined : page.body);
}

/** Counts request body bytes and fails the stream past the route's limit (bodies without Content-Length). */
function limitBody(max: number, o: Outcome): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      o.bytesIn = seen;
      if (max > 0 && seen > max) cb(new WarrenError("body_too_large"));
      else cb(null, chunk);
    },
  });
}

function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The public request pipeline (DESIGN.md §5): hygiene, client identity, routing, targets, forward. */
export class Pipeline {
  private readonly agentPicker: AgentPicker;
  private readonly active = new Map<string, number>();

  constructor(private readonly d: PipelineDeps) {
    this.agentPicker = new AgentPicker(d.agents);
  }

  /** Stages 1, 2 and 7: hygiene, client identity, routing. Shared by plain and upgrade requests. */
  private prepare(listenerId: string, peer: string, req: http.IncomingMessage): Prepared | Refusal {
    const listener = this.d.snapshot().listeners.get(listenerId);
    if (!listener) return { code: "route_not_found" };
    const host = checkHostHeader(req.rawHeaders, req.httpVersion);
    if (!host.ok) return { code: host.code };
    const framing = checkFraming(req.rawHeaders);
    if (framing) return { code: framing };
    const method = req.method ?? "GET";
    const target = checkRequestTarget(req.url ?? "", method, host.value);
    if (!target.ok) return { code: target.code };
    const ip = clientIp(peer, req.headers["x-forwarded-for"], this.d.trusted);
    const m = listener.router.match(host.host, target.routingPath, method);
    if (m.kind === "not_found") return { code: "route_not_found" };
    if (m.kind === "method_not_allowed") return { code: "method_not_allowed", extra: { allow: m.allow.join(", ") } };
    const route = m.route;
    const sep = checkEncodedSeparators(target.path, route.allowEncodedSeparators);
    if (sep) return { code: sep, routeId: route.id };
    return { route, host: host.host, hostValue: host.value, ip, method, forwardTarget: target.forwardTarget, path: target.path, query: target.query };
  }

  handle(listenerId: string, proto: "http" | "https", peer: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const o: Outcome = { requestId: newRequestId(), bytesIn: 0, bytesOut: 0 };
    const started = performance.now();
    let ip = peer;
    res.once("close", () => this.record(listenerId, req, res, o, ip, started));
    const p = this.prepare(listenerId, peer, req);
    if ("code" in p) {
      o.routeId = p.routeId;
      return sendError(req, res, p.code, o, p.extra);
    }
    const { route, method } = p;
    o.routeId = route.id;
    ip = p.ip;
    const cl = req.headers["content-length"];
    const hasBody = (cl !== undefined && cl !== "0") || req.headers["transfer-encoding"] !== undefined;
    if (route.maxBodyBytes > 0 && cl !== undefined && Number(cl) > route.maxBodyBytes) return sendError(req, res, "body_too_large", o);

    if (route.httpsRedirect && proto === "http") {
      const location = `https://${p.hostValue ?? p.host}${p.forwardTarget}`;
      res.writeHead(308, { location, "content-length": 0 });
      return void res.end();
    }
    const action = route.action;
    if (action.kind === "static") {
      res.writeHead(action.status, [...action.headers, "content-length", String(action.body.length), "x-request-id", o.requestId]);
      if (method !== "HEAD") o.bytesOut = action.body.length;
      return void res.end(method === "HEAD" ? undefined : action.body);
    }
    if (action.kind === "redirect") {
      const query = action.keepQuery ? p.query : "";
      let location: string;
      if (action.mode === "same_host_path") location = `${action.location}${query}`;
      else if (action.mode === "external_origin") location = `${action.location}${p.path}${query}`;
      else location = `${action.location}${action.keepQuery && p.query ? (action.location.includes("?") ? `&${p.query.slice(1)}` : p.query) : ""}`;
      res.writeHead(action.status, { location, "content-length": 0 });
      return void res.end();
    }
    void this.forward(route, proto, peer, p.ip, p.hostValue, p.forwardTarget, p.path, method, hasBody, req, res, o);
  }

  /** Upgrade requests (WebSocket and others): routed like any request, then spliced to the target. */
  handleUpgrade(listenerId: string, proto: "http" | "https", peer: string, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const o: Outcome = { requestId: newRequestId(), bytesIn: 0, bytesOut: 0 };
    socket.on("error", () => {});
    const p = this.prepare(listenerId, peer, req);
    if ("code" in p) return rawError(req, socket, p.code, o, p.extra);
    if (p.route.action.kind !== "forward") return rawError(req, socket, "method_not_allowed", o);
    void this.forwardUpgrade(p, proto, peer, req, socket, head, o);
  }

  private async forwardUpgrade(p: Prepared, proto: "http" | "https", peer: string, req: http.IncomingMessage, socket: Duplex, head: Buffer, o: Outcome): Promise<void> {
    const { route } = p;
    const snapshot = this.d.snapshot();
    const key = this.hashKey(route, p.ip, req);
    let exclude: string | undefined;
    let excludeAgent: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const chosen = this.choose(route, snapshot, key, exclude, excludeAgent, o);
      if (!chosen) return rawError(req, socket, "no_healthy_target", o);
      const { t, agentId, dispatcher } = chosen;
      const headers = this.upstreamHeaders(route, t, p.hostValue, peer, p.ip, proto, req);
      try {
        const up = await dispatcher.upgrade({
          path: this.upstreamPath(route, t, p.forwardTarget, p.path),
          method: p.method,
          headers,
          protocol: String(req.headers.upgrade ?? "websocket"),
        });
        const out = buildDownstreamResponseHeaders(flatHeaders(up.headers), { rules: route.responseRules, upgrade: true });
        let text = "HTTP/1.1 101 Switching Protocols\r\n";
        for (let i = 0; i < out.length; i += 2) text += `${out[i]}: ${out[i + 1]}\r\n`;
        socket.write(`${text}\r\n`);
        if (head.length) up.socket.write(head);
        up.socket.on("error", () => socket.destroy());
        socket.on("error", () => up.socket.destroy());
        up.socket.on("close", () => socket.destroy());
        socket.on("close", () => up.socket.destroy());
        up.socket.pipe(socket);
        socket.pipe(up.socket);
        return;
      } catch (e) {
        const f = classifyUpstreamError(e);
        if (f.countsForHealth && route.passiveHealth.enabled) this.d.health.eject(route.id, t.id, route.passiveHealth.cooldownMs);
        if (f.connectPhase && attempt === 0) {
          if (agentId && f.code.startsWith("agent_")) excludeAgent = agentId;
          else exclude = t.id;
          continue;
        }
        return rawError(req, socket, f.code, o);
      }
    }
  }

  /** Target selection (stage 8): lowest priority group with an eligible target, then the agent for agent targets. */
  private choose(route: CompiledRoute, snapshot: ProxySnapshot, key: string | undefined, exclude: string | undefined, excludeAgent: string | undefined, o: Outcome) {
    const t = route.pool.pick({
      exclude,
      key,
      active: (id) => this.active.get(id) ?? 0,
      eligible: (x) =>
        !this.d.health.isEjected(route.id, x.id) &&
        (x.kind === "direct" ? this.d.active.isHealthy(route.id, x.id) : this.agentPicker.hasCandidate(snapshot, x, excludeAgent, (a) => this.d.active.isHealthy(route.id, x.id, a))),
    });
    if (!t) return undefined;
    o.targetId = t.id;
    if (t.kind === "direct") return { t, agentId: undefined, dispatcher: this.d.pools.direct(t, route.timeouts.connectMs) };
    const agentId = this.agentPicker.pick(snapshot, t, excludeAgent, (a) => this.d.active.isHealthy(route.id, t.id, a));
    if (!agentId) return undefined;
    o.agentId = agentId;
    return { t, agentId, dispatcher: this.d.pools.viaAgent(agentId, t, () => o.requestId) };
  }

  private upstreamHeaders(route: CompiledRoute, t: CompiledTarget, originalHost: string | undefined, peer: string, ip: string, proto: "http" | "https", req: http.IncomingMessage): string[] {
    const headers = buildUpstreamRequestHeaders(req.rawHeaders, {
      host: route.preserveHost && originalHost ? originalHost : t.hostHeader,
      peer,
      peerTrusted: this.d.trusted.contains(peer),
      clientIp: ip,
      proto,
      originalHost,
      httpVersion: req.httpVersion,
      rules: route.requestRules,
    });
    for (let i = 0; i < t.headers.length; i++) headers.push(t.headers[i]!);
    return headers;
  }

  /** Stage 11: one event per request, handed to a sink that batches writes off this path. */
  private record(listenerId: string, req: http.IncomingMessage, res: http.ServerResponse, o: Outcome, ip: string, started: number): void {
    // Gateway-side failures are logged with the request id the client saw on its error page.
    if (o.errorCode && statusOf(o.errorCode) >= 500) {
      this.d.log.warn({ requestId: o.requestId, routeId: o.routeId, targetId: o.targetId, agentId: o.agentId, code: o.errorCode }, "request failed");
    }
    const url = req.url ?? "";
    const q = url.indexOf("?");
    this.d.events.record({
      at: Date.now(),
      requestId: o.requestId,
      listenerId,
      routeId: o.routeId ?? "",
      targetId: o.targetId ?? "",
      agentId: o.agentId ?? "",
      method: (req.method ?? "").slice(0, 16),
      host: String(req.headers.host ?? "").slice(0, 255),
      path: (q < 0 ? url : url.slice(0, q)).slice(0, 2048),
      // A response that never started (client gone) is recorded as 499, like nginx.
      status: res.headersSent ? res.statusCode : 499,
      bytesIn: o.bytesIn,
      bytesOut: o.bytesOut,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      errorKind: o.errorCode ?? (res.writableFinished ? "" : "client_aborted"),
      clientIp: ip,
    });
  }

  private hashKey(route: CompiledRoute, ip: string, req: http.IncomingMessage): string | undefined {
    if (!route.hash) return undefined;
    if (route.hash.on === "client_ip") return ip;
    if (route.hash.on === "header") return rawHeaderValue(req.rawHeaders, route.hash.key);
    return cookieValue(req.headers.cookie, route.hash.key);
  }

  private upstreamPath(route: CompiledRoute, t: CompiledTarget, forwardTarget: string, path: string): string {
    let rest = forwardTarget;
    if (route.stripPathPrefix && route.pathPrefix !== "/" && matchPathPrefix(route.pathPrefix, path)) {
      rest = forwardTarget.slice(route.pathPrefix.replace(/\/$/, "").length);
      if (rest === "" || rest.startsWith("?")) rest = `/${rest}`;
    }
    return `${t.basePath}${rest}`;
  }

  private async forward(
    route: CompiledRoute,
    proto: "http" | "https",
    peer: string,
    ip: string,
    originalHost: string | undefined,
    forwardTarget: string,
    path: string,
    method: string,
    hasBody: boolean,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    o: Outcome,
  ): Promise<void> {
    const snapshot = this.d.snapshot();
    const key = this.hashKey(route, ip, req);
    let relay: ResponseRelay | undefined;
    let clientGone = false;
    res.once("close", () => {
      if (res.writableFinished) return;
      clientGone = true;
      relay?.abort(new Error("the client closed the connection"));
    });
    const body = hasBody ? req.pipe(limitBody(route.maxBodyBytes, o)) : undefined;
    // One retry, on another target or agent, when nothing reached the upstream and no body was streamed.
    const mayRetry = !hasBody && IDEMPOTENT.has(method);
    let exclude: string | undefined;
    let excludeAgent: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (clientGone) return;
      const chosen = this.choose(route, snapshot, key, exclude, excludeAgent, o);
      if (!chosen) return sendError(req, res, "no_healthy_target", o);
      const { t, agentId, dispatcher } = chosen;
      const headers = this.upstreamHeaders(route, t, originalHost, peer, ip, proto, req);
      this.active.set(t.id, (this.active.get(t.id) ?? 0) + 1);
      let r: RelayResult;
      try {
        r = await new Promise<RelayResult>((settle) => {
          relay = new ResponseRelay(res, route.responseRules, o.requestId, o, settle);
          dispatcher.dispatch(
            {
              method: method as Dispatcher.HttpMethod,
              path: this.upstreamPath(route, t, forwardTarget, path),
              headers,
              body,
              headersTimeout: route.timeouts.responseHeadersMs,
              bodyTimeout: 0,
            },
            relay,
          );
        });
      } finally {
        this.active.set(t.id, (this.active.get(t.id) ?? 1) - 1);
      }
      if (r.ok || clientGone) return;
      const e = r.error;
      const f = classifyUpstreamError(e);
      if (f.countsForHealth && route.passiveHealth.enabled) this.d.health.eject(route.id, t.id, route.passiveHealth.cooldownMs);
      if (r.responseStarted) {
        // Mid-body: the status line is gone, all that is left is to cut the client's response short.
        o.errorCode = f.code;
        return void res.destroy();
      }
      if (e instanceof WarrenError && e.code === "body_too_large") return sendError(req, res, "body_too_large", o);
      this.d.log.debug({ requestId: o.requestId, routeId: route.id, targetId: t.id, agentId, code: f.code, err: e.message }, "upstream failed");
      if (f.connectPhase && mayRetry && attempt === 0) {
        if (agentId && f.code.startsWith("agent_")) excludeAgent = agentId;
        else exclude = t.id;
        continue;
      }
      return sendError(req, res, f.code, o);
    }
  }
}
