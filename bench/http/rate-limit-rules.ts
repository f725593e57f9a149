// What bench/http loads as rate-limit rules (issue 10 acceptance 7).

/** The rule whose RateLimit field the bench reads back after a row, to check that it counted. */
export const CHECKED_RATE_LIMIT_RULE = "per client (checked)";
/** Its limit: RateLimit's `r` is this minus the requests it counted. */
export const CHECKED_RATE_LIMIT = 1_000_000_000;

/**
 * Five rate-limit rules that every bench request (GET direct.bench /1k, /64k from wrk or load.ts)
 * matches and that never deny: each consumes from its own counter on every request. A mix of scopes
 * (empty, host, path prefix, method), key parts and the three algorithms, as a real gateway would
 * have. Limits are 1e9 per window, so nothing is refused during a run. The fixed-window rule counts
 * over a day (windows are epoch-aligned, so a 60 s one could roll over mid-run) and sends RateLimit
 * on allowed responses: after a row the bench reads `r` from one request and checks that the rule
 * counted at least the requests the generator made.
 */
export const BENCH_RATE_LIMIT_RULES: Record<string, unknown>[] = [
  {
    name: CHECKED_RATE_LIMIT_RULE,
    priority: 1,
    keyParts: ["client_ip"],
    algorithm: "RATE_LIMIT_ALGORITHM_FIXED_WINDOW",
    limit: CHECKED_RATE_LIMIT,
    windowMs: 86_400_000,
    headersOnAllowed: true,
  },
  {
    name: "per host",
    priority: 2,
    scope: { hosts: ["direct.bench"] },
    keyParts: ["host"],
    algorithm: "RATE_LIMIT_ALGORITHM_SLIDING_WINDOW",
    limit: 1_000_000_000,
    windowMs: 60_000,
  },
  {
    name: "per client and path",
    priority: 3,
    scope: { pathPrefixes: ["/"] },
    keyParts: ["client_ip", "path"],
    algorithm: "RATE_LIMIT_ALGORITHM_TOKEN_BUCKET",
    limit: 1_000_000_000,
    windowMs: 60_000,
  },
  {
    name: "per user agent",
    priority: 4,
    scope: { methods: ["GET", "HEAD"] },
    keyParts: ["header:user-agent", "client_ip"],
    algorithm: "RATE_LIMIT_ALGORITHM_SLIDING_WINDOW",
    limit: 1_000_000_000,
    windowMs: 60_000,
  },
  {
    name: "per host and method",
    priority: 5,
    scope: { hosts: ["direct.bench"], pathPrefixes: ["/"] },
    keyParts: ["host", "method"],
    algorithm: "RATE_LIMIT_ALGORITHM_TOKEN_BUCKET",
    limit: 1_000_000_000,
    windowMs: 60_000,
    burst: 2_000_000_000,
  },
];
