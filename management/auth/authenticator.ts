import type { Store } from "../store/index.ts";
import { ApiError } from "../errors.ts";
import { readCookie, SESSION_COOKIE } from "./cookies.ts";
import { weakerRole, type Principal } from "./principal.ts";
import { randomSecret, safeEqual, sha256Hex } from "./secrets.ts";
import { newId } from "../store/ids.ts";
import type { UserRow } from "../store/index.ts";

export const SESSION_TTL_MS = 7 * 24 * 3600_000;
export const API_TOKEN_PREFIX = "wrn_";
// Bookkeeping writes (last_seen_at, last_used_at) happen at most this often per credential.
const TOUCH_EVERY_MS = 30_000;

export interface CallerHeaders {
  authorization: string | null;
  cookie: string | null;
}

/** Resolves a caller from a Bearer API token or the session cookie. Secrets are looked up by SHA-256 only. */
export class Authenticator {
  constructor(private readonly store: Store) {}

  authenticate(h: CallerHeaders, now: number): Principal | undefined {
    if (h.authorization !== null) return this.fromAuthorization(h.authorization, now);
    const sessionToken = readCookie(h.cookie, SESSION_COOKIE);
    if (sessionToken) return this.fromSession(sessionToken, now);
    return undefined;
  }

  /** An Authorization header is used exclusively: a bad token never falls back to a cookie. */
  private fromAuthorization(header: string, now: number): Principal {
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!m) throw new ApiError("unauthenticated", "Authorization must be `Bearer wrn_…`");
    const token = m[1]!;
    if (!token.startsWith(API_TOKEN_PREFIX)) throw new ApiError("unauthenticated", "invalid API token");
    const hash = sha256Hex(token);
    const row = this.store.tokens.byTokenHash(hash);
    if (!row || !safeEqual(row.token_hash, hash)) throw new ApiError("unauthenticated", "invalid API token");
    if (row.expires_at !== null && row.expires_at <= now) throw new ApiError("unauthenticated", "API token expired");
    const user = this.store.users.byId(row.user_id);
    if (!user || user.disabled) throw new ApiError("unauthenticated", "the token's user is disabled");
    if (row.last_used_at === null || now - row.last_used_at >= TOUCH_EVERY_MS) this.store.tokens.touch(row.id, now);
    return { kind: "token", user, role: weakerRole(row.role, user.role), tokenId: row.id, tokenName: row.name };
  }

  private fromSession(token: string, now: number): Principal | undefined {
    const hash = sha256Hex(token);
    const row = this.store.sessions.byTokenHash(hash);
    if (!row || !safeEqual(row.token_hash, hash) || row.revoked_at !== null || row.expires_at <= now) return undefined;
    const user = this.store.users.byId(row.user_id);
    if (!user || user.disabled) return undefined;
    if (now - row.last_seen_at >= TOUCH_EVERY_MS) this.store.sessions.touch(row.id, now);
    return { kind: "session", user, role: user.role, sessionId: row.id };
  }

  createSession(user: UserRow, now: number, peerIp: string, userAgent: string): { token: string; expiresAt: number } {
    const token = randomSecret(32);
    const expiresAt = now + SESSION_TTL_MS;
    this.store.sessions.insert({
      id: newId("ses"),
      token_hash: sha256Hex(token),
      user_id: user.id,
      created_at: now,
      expires_at: expiresAt,
      last_seen_at: now,
      peer_ip: peerIp,
      user_agent: userAgent.slice(0, 256),
    });
    return { token, expiresAt };
  }
}
