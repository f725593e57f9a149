import type { ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuthMethod, AuthService } from "../../proto/gen/warren/v1/auth_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { checkNewPassword, normalizeUsername } from "../auth/credentials-policy.ts";
import { dummyPasswordHash, hashPassword, verifyPassword } from "../auth/password.ts";
import { clearedSessionCookie, sessionCookie } from "../auth/cookies.ts";
import { SESSION_TTL_MS } from "../auth/authenticator.ts";
import { newId } from "../store/ids.ts";
import { kPeer, principalOf, setAuditTarget } from "./context.ts";
import { roleToProto, userToProto } from "./convert.ts";
import type { ApiDeps } from "./deps.ts";

/** The throttle's "username" for setup-token guesses: no user can have it (usernames are [a-z0-9_-]). */
const SETUP_THROTTLE_KEY = "(setup token)";

export function authService(d: ApiDeps): ServiceImpl<typeof AuthService> {
  return {
    getSetupState() {
      const s = d.setup.state(d.store.users.count(), d.now());
      return {
        setupRequired: s.required,
        setupOpen: s.open,
        openUntil: s.openUntil ? timestampFromMs(s.openUntil.getTime()) : undefined,
      };
    },

    async setupAdmin(req, ctx) {
      const state = d.setup.state(d.store.users.count(), d.now());
      if (!state.required) throw new ApiError("failed_precondition", "setup is already complete: an admin exists");
      if (!state.open) {
        throw new ApiError(
          "setup_closed",
          `the setup window closed at ${d.setup.openUntil.toISOString()}; restart warren serve to open it again`,
        );
      }
      // The setup token is a credential: missing or wrong, the caller is not authenticated (401).
      if (req.setupToken === "") throw new ApiError("unauthenticated", "setup_token: is required");
      // Guessing is throttled like logins, per peer: five wrong tokens block it for five minutes.
      // (Check, compare and count run without an await between them, so parallel guesses cannot race.)
      const peer = ctx.values.get(kPeer);
      const wait = d.throttle.blockedFor(peer.ip, SETUP_THROTTLE_KEY, d.now());
      if (wait > 0) throw new ApiError("login_throttled", `too many wrong setup tokens; try again in ${Math.ceil(wait / 1000)} s`);
      if (!d.setup.tokenMatches(req.setupToken)) {
        d.throttle.recordFailure(peer.ip, SETUP_THROTTLE_KEY, d.now());
        throw new ApiError("unauthenticated", "setup_token: invalid setup token");
      }
      const username = normalizeUsername(req.username);
      checkNewPassword(req.password);
      const hash = await hashPassword(req.password);
      const now = d.now();
      const id = newId("usr");
      d.store.users.transaction(() => {
        // Re-check inside the write transaction: two racing setups must not both succeed.
        if (d.store.users.count() !== 0) throw new ApiError("failed_precondition", "setup is already complete: an admin exists");
        d.store.users.insert({ id, username, password_hash: hash, role: "admin", disabled: 0, created_at: now, updated_at: now });
      });
      setAuditTarget(ctx, id);
      d.log.info({ userId: id, username }, "first admin created");
      return { user: userToProto(d.store.users.byId(id)!) };
    },

    async login(req, ctx) {
      if (req.username.trim() === "") throw fieldError("username", "is required");
      if (req.password === "") throw fieldError("password", "is required");
      const username = req.username.trim().toLowerCase();
      const peer = ctx.values.get(kPeer);
      const now = d.now();
      // Reserved before the (slow, asynchronous) password check: parallel guesses count at once.
      const wait = d.throttle.begin(peer.ip, username, now);
      if (wait > 0) {
        throw new ApiError("login_throttled", `too many failed login attempts; try again in ${Math.ceil(wait / 1000)} s`);
      }
      // A username under attack from many addresses is slowed, never locked (its owner must get in).
      let user: ReturnType<typeof d.store.users.byUsername>;
      let ok: boolean;
      try {
        const slow = d.throttle.userDelay(username, now);
        if (slow > 0) await new Promise((r) => setTimeout(r, slow));
        user = d.store.users.byUsername(username);
        // Verify against a dummy hash for unknown users so timing does not reveal which names exist.
        ok = await verifyPassword(req.password, user?.password_hash ?? (await dummyPasswordHash()));
      } catch (e) {
        // Warren's failure, not the caller's: the reserved attempt is given back uncounted.
        d.throttle.cancel(peer.ip, username);
        throw e;
      }
      if (!user || !ok || user.disabled) {
        d.throttle.recordFailure(peer.ip, username, now);
        throw new ApiError("unauthenticated", "invalid username or password");
      }
      d.throttle.recordSuccess(peer.ip, username);
      const session = d.authenticator.createSession(user, now, peer.ip, peer.userAgent);
      d.store.users.touchLogin(user.id, now);
      ctx.responseHeader.append(
        "Set-Cookie",
        sessionCookie(session.token, { secure: d.cookieSecure, maxAgeSeconds: Math.floor(SESSION_TTL_MS / 1000) }),
      );
      setAuditTarget(ctx, user.id);
      return { user: userToProto({ ...user, last_login_at: now }), expiresAt: timestampFromMs(session.expiresAt) };
    },

    logout(_req, ctx) {
      const p = principalOf(ctx);
      if (p.sessionId) d.store.sessions.revoke(p.sessionId, d.now());
      ctx.responseHeader.append("Set-Cookie", clearedSessionCookie(d.cookieSecure));
      setAuditTarget(ctx, p.sessionId ?? p.tokenId ?? "");
      return {};
    },

    getCurrentUser(_req, ctx) {
      const p = principalOf(ctx);
      return {
        user: userToProto(p.user),
        authMethod: p.kind === "session" ? AuthMethod.SESSION : AuthMethod.API_TOKEN,
        effectiveRole: roleToProto(p.role),
        tokenId: p.tokenId ?? "",
      };
    },

    getServerInfo() {
      return {
        version: d.info.version,
        tlsMode: d.info.tlsMode,
        caFingerprintSha256: d.info.caFingerprintSha256,
        caCertificatePem: d.info.caCertificatePem,
        publicUrl: d.info.publicUrl,
      };
    },
  };
}
