// Who is signed in, and what the server says about itself. A call that comes back unauthenticated
// (the session expired or was revoked) sends the user to the login page, and back afterwards.
import { signal, computed } from "@preact/signals";
import { Role } from "../../../../proto/gen/warren/v1/user_pb.ts";
import type { GetCurrentUserResponse, GetServerInfoResponse, GetSetupStateResponse } from "../../../../proto/gen/warren/v1/auth_pb.ts";
import { api } from "./api.ts";
import { navigate } from "./router.ts";
import { problemOf } from "./errors.ts";

export const me = signal<GetCurrentUserResponse | undefined>(undefined);
export const info = signal<GetServerInfoResponse | undefined>(undefined);
export const setup = signal<GetSetupStateResponse | undefined>(undefined);
/** The first load finished (signed in, or known not to be). */
export const ready = signal(false);

export const isAdmin = computed(() => me.value?.effectiveRole === Role.ADMIN);

/** Where to go after signing in: the page the user was sent away from. */
export function loginPath(from: string = window.location.pathname + window.location.search): string {
  return from.startsWith("/login") || from.startsWith("/setup") || from === "/" ? "/login" : `/login?next=${encodeURIComponent(from)}`;
}

export async function loadSession(): Promise<void> {
  try {
    setup.value = await api.auth.getSetupState({});
    if (setup.value.setupRequired) {
      me.value = undefined;
      return;
    }
    try {
      me.value = await api.auth.getCurrentUser({});
      // Admin-only (it carries the CA): viewers do without.
      info.value = await api.auth.getServerInfo({}).catch(() => undefined);
    } catch (e) {
      if (problemOf(e).code !== "unauthenticated") throw e;
      me.value = undefined;
    }
  } finally {
    ready.value = true;
  }
}

/** For page loaders: an unauthenticated answer means the session is gone. Returns true when it handled the error. */
export function handleSessionLoss(err: unknown): boolean {
  if (problemOf(err).code !== "unauthenticated") return false;
  me.value = undefined;
  navigate(loginPath(), { replace: true });
  return true;
}

export async function logout(): Promise<void> {
  try {
    await api.auth.logout({});
  } finally {
    me.value = undefined;
    navigate("/login");
  }
}
