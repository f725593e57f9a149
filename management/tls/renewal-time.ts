// When to renew a public certificate (DESIGN.md §6). Pure, so the scheduler's decisions are testable
// without a clock: inside the CA's ACME Renewal Information window when it offers one (RFC 9773 §4.2
// asks for a uniformly random point in it, so a fleet does not renew in lockstep), otherwise at two
// thirds of the certificate's life (Let's Encrypt's own advice, and it keeps a margin of a third of
// the life — 15 days of a 45-day certificate — for retries).

export interface RenewalWindow {
  start: Date;
  end: Date;
}

export interface NextRenewalInput {
  notBefore: Date;
  notAfter: Date;
  /** The CA's suggested window (ARI), when it has one. */
  ari?: RenewalWindow | undefined;
  now: Date;
  /** A number in [0, 1): Math.random in production, fixed in tests. */
  random: () => number;
}

export function nextRenewalAt(input: NextRenewalInput): Date {
  const { notBefore, notAfter, ari, now, random } = input;
  if (ari !== undefined && ari.end.getTime() > ari.start.getTime()) {
    // A window that has already closed means "renew now" (RFC 9773 §4.2).
    if (ari.end.getTime() <= now.getTime()) return new Date(now.getTime());
    // Only the part of the window still ahead of us can be picked.
    const start = Math.max(ari.start.getTime(), now.getTime());
    return new Date(start + Math.floor(random() * (ari.end.getTime() - start)));
  }
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return new Date(notBefore.getTime() + Math.floor((lifetime * 2) / 3));
}

export const RETRY_FIRST_MS = 60 * 60 * 1000;
export const RETRY_MAX_MS = 24 * 60 * 60 * 1000;

/** After `failures` consecutive failed attempts (1 = the first failed): 1 h, 2 h, 4 h, … capped at 24 h. */
export function retryAfterFailure(failures: number, now: Date): Date {
  const n = Math.max(1, Math.floor(failures));
  // 2^(n-1) overflows to Infinity for large n; Math.min keeps the cap.
  const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (n - 1));
  return new Date(now.getTime() + delay);
}
