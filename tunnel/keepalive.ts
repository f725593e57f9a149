// Tunnel keepalive (DESIGN.md §4 step 5): both ends ping every 15 s and close the session when a pong
// is more than 10 s late. One definition for the gateway and the agent.
export const KEEPALIVE_INTERVAL_MS = 15_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
