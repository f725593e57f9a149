// What bench/http and bench/policy load as WAF rules.

/**
 * Ten WAF rules that a bench request never matches (issue 9 acceptance 8): five whose scope rules
 * them out, five with an empty scope whose CEL `when` is evaluated on every request and is false.
 */
export const BENCH_WAF_RULES: Record<string, unknown>[] = [
  ...[1, 2, 3, 4, 5].map((i) => ({ name: `scoped ${i}`, priority: i, scope: { hosts: [`other${i}.bench`], pathPrefixes: ["/admin"], methods: ["POST"] }, action: "WAF_ACTION_BLOCK" })),
  { name: "scanners", priority: 6, when: '"user-agent" in headers && headers["user-agent"].exists(v, v.matches("(?i)(sqlmap|nikto|masscan)"))', action: "WAF_ACTION_BLOCK" },
  { name: "private nets", priority: 7, when: 'cidr(client_ip, "10.0.0.0/8") || cidr(client_ip, "192.168.0.0/16")', action: "WAF_ACTION_BLOCK" },
  { name: "admin paths", priority: 8, when: 'path_prefix(path, "/admin") && method != "GET"', action: "WAF_ACTION_BLOCK" },
  { name: "trace", priority: 9, when: 'method == "TRACE" || method == "TRACK"', action: "WAF_ACTION_BLOCK" },
  { name: "evil header", priority: 10, when: '"x-evil" in headers || host_match(host, "*.evil.bench")', action: "WAF_ACTION_BLOCK" },
];
