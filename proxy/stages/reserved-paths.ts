// Stage 3, Warren's reserved paths: everything under /.well-known/warren/ belongs to the gateway, on
// every listener and before routing, so no route can expose an upstream's version of it. Here: the
// challenge's scripts (proof of work and captcha), the worker, and the endpoint that checks a
// solution — or asks the captcha provider — and hands out the pass cookie; and ACME HTTP-01 validations.
import type http from "node:http";
import { answer, TAKEN, type Stage, type StageResult } from "../stage.ts";
import { writeAnswer } from "../respond.ts";
import type { RequestContext } from "../context.ts";
import { CHALLENGE_ASSETS, CHALLENGE_VERIFY_PATH, CHALLENGE_NOSCRIPT_PATH } from "../policy/challenge-page.ts";
import { clientNetwork, issuePass, passCookieName, readChallenge, safeReturnPath, solves } from "../policy/challenge.ts";
import { EndpointLimit } from "../policy/endpoint-limit.ts";
import { CaptchaFailures, CaptchaVerifier } from "../policy/captcha.ts";
import { WaitingRooms } from "../policy/waiting-room.ts";
import { WAITING_ROOM_STATUS_PATH, waitingRoomStatus } from "../policy/waiting-room-gate.ts";
import { ACME_HTTP01_PREFIX, AcmeChallenges } from "../tls/acme-challenges.ts";

export const RESERVED_PREFIX = "/.well-known/warren/";

/** Captcha responses run to a few KiB (hCaptcha's are the longest). */
const MAX_VERIFY_BODY = 16 * 1024;

export interface CaptchaDeps {
  readonly verifier: CaptchaVerifier;
  readonly failures: CaptchaFailures;
}

/** Reads a small urlencoded form body; undefined when it is larger than `max`. */
function readForm(req: http.IncomingMessage, max: number): Promise<URLSearchParams | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (d: Buffer) => {
      n += d.length;
      if (n > max) {
        req.removeAllListeners("data");
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(d);
    });
    req.once("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    req.once("error", reject);
  });
}

async function verify(ctx: RequestContext, cap: CaptchaDeps): Promise<StageResult> {
  const req = ctx.req;
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers["content-type"] ?? "")) return answer("unsupported_media_type");
  if (Number(req.headers["content-length"] ?? 0) > MAX_VERIFY_BODY) return answer("body_too_large");
  if (ctx.expectContinue) (ctx.res as http.ServerResponse).writeContinue();
  const form = await readForm(req, MAX_VERIFY_BODY);
  if (form === undefined) return answer("body_too_large");
  const returnTo = safeReturnPath(form.get("return") ?? undefined);
  const nowS = Math.floor(Date.now() / 1000);
  const key = ctx.snapshot.policyKey;
  const token = form.get("token") ?? "";
  const c = readChallenge(key, token, nowS);
  const rule = c && ctx.snapshot.waf.find((r) => r.id === c.ruleId);
  const a = rule?.action;
  // The token was issued for this rule as it is now, this host and this client's network.
  const bound = c !== undefined && a?.kind === "challenge" && rule!.fingerprint === c.fingerprint && c.host === ctx.host && c.network === clientNetwork(ctx.clientIp);
  if (!bound) return answer("challenge_failed");
  // Which check this token is for: the rule's own (puzzle or captcha), or its no-JavaScript captcha.
  const captcha = c.check === "noscript" ? (a.noScript.kind === "captcha" ? a.noScript.captcha : undefined) : c.check === "captcha" ? a.captcha : undefined;
  if (c.check === "pow") {
    // Proof of work: only a puzzle token of a proof-of-work rule, solved.
    if (a.captcha !== undefined || a.difficulty !== c.difficulty || !solves(token, form.get("nonce") ?? "", c.difficulty)) return answer("challenge_failed");
  } else {
    // A token for another kind of check is refused.
    if (captcha === undefined) return answer("challenge_failed");
    const response = form.get("response") ?? "";
    if (response === "") return answer("challenge_failed");
    const out = await cap.verifier.verify(captcha, response, ctx.clientIp);
    if (out.kind === "failure") return answer("challenge_failed");
    if (out.kind === "unavailable") {
      cap.failures.failed(rule!, captcha, out.reason);
      if (captcha.fallback === "block") {
        ctx.rule = rule;
        return answer("waf_blocked");
      }
      // CAPTCHA_FALLBACK_ALLOW: a deliberate fail-open the operator chose — while the provider
      // cannot be asked, clients get a pass as if they had solved the check.
    }
  }
  ctx.rule = rule;
  const expiresAt = nowS + a.passTtlS;
  const cookie = [
    `${passCookieName(rule!.id)}=${issuePass(key, rule!.id, rule!.fingerprint, ctx.host, expiresAt)}`,
    "Path=/",
    `Max-Age=${a.passTtlS}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(ctx.proto === "https" ? ["Secure"] : []),
  ].join("; ");
  writeAnswer(ctx, 303, ["location", returnTo, "set-cookie", cookie, "cache-control", "no-store"], "");
  return TAKEN;
}

/** GET challenge/noscript: a browser without JavaScript, sent here by a rule whose no-JavaScript answer is the block. */
function noScriptBlock(ctx: RequestContext): StageResult {
  const token = new URLSearchParams(ctx.query.slice(1)).get("token") ?? "";
  const c = readChallenge(ctx.snapshot.policyKey, token, Math.floor(Date.now() / 1000));
  const rule = c && ctx.snapshot.waf.find((r) => r.id === c.ruleId);
  const a = rule?.action;
  const bound = c !== undefined && c.check === "noscript" && a?.kind === "challenge" && a.noScript.kind === "block" && rule!.fingerprint === c.fingerprint && c.host === ctx.host && c.network === clientNetwork(ctx.clientIp);
  if (!bound) return answer("challenge_failed");
  ctx.rule = rule;
  return answer("waf_blocked");
}

export interface ReservedPathsDeps {
  readonly captcha?: CaptchaDeps;
  readonly rooms?: WaitingRooms;
  readonly acme?: AcmeChallenges;
}

/**
 * An ACME HTTP-01 validation (RFC 8555 §8.3) for a token of an issuance in progress. Other tokens
 * go on to routing: an origin may run its own ACME client behind Warren.
 */
function acmeHttp01(ctx: RequestContext, acme: AcmeChallenges): StageResult {
  const keyAuthorization = acme.http01Answer(ctx.routingPath.slice(ACME_HTTP01_PREFIX.length));
  if (keyAuthorization === undefined || ctx.raw !== undefined) return undefined;
  if (ctx.method !== "GET" && ctx.method !== "HEAD") return answer("method_not_allowed", ["allow", "GET, HEAD"]);
  writeAnswer(ctx, 200, ["content-type", "text/plain", "cache-control", "no-store"], Buffer.from(keyAuthorization));
  return TAKEN;
}

export function reservedPaths(deps: ReservedPathsDeps = {}): Stage {
  const cap = deps.captcha ?? { verifier: new CaptchaVerifier(), failures: new CaptchaFailures(undefined) };
  const rooms = deps.rooms ?? new WaitingRooms();
  const acme = deps.acme ?? new AcmeChallenges();
  const verifyLimit = new EndpointLimit(30, 60_000);
  const statusLimit = new EndpointLimit(120, 60_000);
  const noScriptLimit = new EndpointLimit(30, 60_000);
  return {
    name: "reserved_paths",
    run(ctx: RequestContext): StageResult | Promise<StageResult> {
      if (ctx.routingPath.startsWith(ACME_HTTP01_PREFIX)) return acmeHttp01(ctx, acme);
      if (!ctx.routingPath.startsWith(RESERVED_PREFIX)) return undefined;
      const asset = CHALLENGE_ASSETS.get(ctx.routingPath);
      if (asset !== undefined) {
        if (ctx.method !== "GET" && ctx.method !== "HEAD") return answer("method_not_allowed", ["allow", "GET, HEAD"]);
        writeAnswer(ctx, 200, ["content-type", "text/javascript; charset=utf-8", "cache-control", "public, max-age=3600", "x-content-type-options", "nosniff"], asset);
        return TAKEN;
      }
      if (ctx.routingPath === CHALLENGE_VERIFY_PATH && ctx.raw === undefined) {
        if (ctx.method !== "POST") return answer("method_not_allowed", ["allow", "POST"]);
        if (!verifyLimit.take(ctx.clientIp)) return answer("endpoint_rate_limited", ["retry-after", String(verifyLimit.retryAfterS())]);
        return verify(ctx, cap);
      }
      if (ctx.routingPath === CHALLENGE_NOSCRIPT_PATH && ctx.raw === undefined) {
        if (ctx.method !== "GET" && ctx.method !== "HEAD") return answer("method_not_allowed", ["allow", "GET, HEAD"]);
        if (!noScriptLimit.take(ctx.clientIp)) return answer("endpoint_rate_limited", ["retry-after", String(noScriptLimit.retryAfterS())]);
        return noScriptBlock(ctx);
      }
      if (ctx.routingPath === WAITING_ROOM_STATUS_PATH && ctx.raw === undefined) {
        if (ctx.method !== "GET" && ctx.method !== "HEAD") return answer("method_not_allowed", ["allow", "GET, HEAD"]);
        if (!statusLimit.take(ctx.clientIp)) return answer("endpoint_rate_limited", ["retry-after", String(statusLimit.retryAfterS())]);
        waitingRoomStatus(ctx, rooms);
        return TAKEN;
      }
      return answer("route_not_found");
    },
  };
}
