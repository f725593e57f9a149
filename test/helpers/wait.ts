/**
 * Polls `probe` every `intervalMs` until `done` accepts what it returned; fails after `timeoutMs`
 * naming `what` and the last value seen. For state that is only visible by asking (an API field),
 * where no event can be awaited; the interval only paces the asking, it is never the wait itself.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? String(x) : x))}`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
