// The agent half of bench/http's "bare node proxy via tunnel" row: TLS to bench/http/bare-proxy.ts
// --tunnel, a Yamux client session, and every stream served by agent/stream-relay.ts as `warren agent`
// serves it (allowlist "all", no control stream, no reconnect).
//
//   node --import tsx bench/http/bare-agent.ts TUNNEL_PORT
//
// Sends {port: 0} over IPC once connected; {cmd:"exit"} exits.
import tls from "node:tls";
import pino from "pino";
import { TargetPolicy } from "../../agent/allowlist.ts";
import { RelayCounters, relayStream } from "../../agent/stream-relay.ts";
import { YamuxSession } from "../../tunnel/yamux/index.ts";

const port = Number(process.argv[2]);
const policy = new TargetPolicy("all", undefined);
const counters = new RelayCounters();
const logger = pino({ level: "warn" });

const sock = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => {
  const session = new YamuxSession(sock, { role: "client", keepAliveIntervalMs: 0 });
  session.on("stream", (stream) => void relayStream(stream, { policy, counters, logger }));
  session.once("close", () => process.exit(0));
  process.send?.({ port: 0 });
});
sock.on("error", (err) => {
  console.error("bare agent:", err.message);
  process.exit(1);
});

process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "exit") process.exit(0);
});
process.on("disconnect", () => process.exit(0));
