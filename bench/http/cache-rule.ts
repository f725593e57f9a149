// What bench/http loads as a cache rule (issue 11 acceptance 7).

/**
 * One cache rule for every bench request to direct.bench (GET /1k, /64k from wrk or load.ts). The
 * bench origin sends no freshness (no Cache-Control, Expires or validators), so the rule supplies it:
 * FIXED mode, one hour, far longer than a run. Requests carry no Cookie or Authorization and the
 * origin sends no Set-Cookie, so nothing refuses to store. Cache-Status is on: the bench checks a hit
 * by it (one header more on every answer, as an operator who wants to see hits would have).
 */
export const BENCH_CACHE_RULE: Record<string, unknown> = {
  name: "bench cache",
  priority: 1,
  scope: { hosts: ["direct.bench"] },
  ttlMode: "CACHE_TTL_MODE_FIXED",
  ttlMs: "3600000",
  cacheStatusHeader: true,
};
