import type { LogLine, WarrenProcess } from "./warren-process.ts";

/**
 * Waits for the *next* occurrence of a log line, where waitForLog would return the first one ever:
 * `next()` called before the event resolves with the first matching line logged after that call's
 * preceding lines were counted. Each line is scanned once, so long suites stay linear.
 */
export function occurrences(w: WarrenProcess, match: (l: LogLine) => boolean, what: string): { next(timeoutMs?: number): Promise<LogLine> } {
  const counted = new Set<LogLine>();
  let scanned = 0;
  return {
    next(timeoutMs?: number) {
      for (; scanned < w.logs.length; scanned++) if (match(w.logs[scanned]!)) counted.add(w.logs[scanned]!);
      return w.waitForLog((l) => match(l) && !counted.has(l), { what, timeoutMs });
    },
  };
}
