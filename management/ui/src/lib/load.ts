import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { handleSessionLoss } from "./session.ts";
import { FormError, problemOf, type ApiProblem } from "./errors.ts";

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly problem: ApiProblem | undefined;
  readonly loading: boolean;
  reload(): void;
}

/**
 * Loads data for a page (and again every `refreshMs`, without a reload or a flicker: the last data
 * stays on screen while the next arrives). A lost session goes to login.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], refreshMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);
  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    load().then(
      (d) => {
        if (cancelled || !alive.current) return;
        setData(d);
        setProblem(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (cancelled || !alive.current) return;
        if (handleSessionLoss(e)) return;
        setProblem(problemOf(e));
        setLoading(false);
      },
    );
    let timer: number | undefined;
    if (refreshMs > 0) timer = window.setTimeout(() => setTick((t) => t + 1), refreshMs);
    return () => {
      cancelled = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, problem, loading, reload };
}

/**
 * Runs a write; returns its problem (for the form) or undefined. A lost session goes to login, except
 * where `unauthenticated` is the answer itself (a wrong password on the login or setup form).
 */
export async function attempt(write: () => Promise<unknown>, opts: { signedIn?: boolean } = {}): Promise<ApiProblem | undefined> {
  try {
    await write();
    return undefined;
  } catch (e) {
    if (opts.signedIn !== false && handleSessionLoss(e)) return undefined;
    return problemOf(e);
  }
}

/**
 * A form's save: `toRequest` reads the form, and a FormError from it (what the form can tell is wrong
 * on its own) is the form's problem and nothing is sent; else `write` sends it while busy, and its
 * problem, or none, is the form's. Returns whether the write went through.
 */
export async function submit<Req>(toRequest: () => Req, write: (req: Req) => Promise<unknown>, set: { problem: (p: ApiProblem | undefined) => void; busy: (busy: boolean) => void }): Promise<boolean> {
  let req: Req;
  try {
    req = toRequest();
  } catch (err) {
    if (err instanceof FormError) {
      set.problem(err.problem);
      return false;
    }
    throw err;
  }
  set.busy(true);
  const p = await attempt(() => write(req));
  set.busy(false);
  set.problem(p);
  return p === undefined;
}
