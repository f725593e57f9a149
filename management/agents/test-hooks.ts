import { splice } from "../../lib/splice.ts";
import type http from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Authenticator } from "../auth/authenticator.ts";
import type { AgentRegistry } from "./registry.ts";
import { TunnelError } from "../../tunnel/errors.ts";
import { randomSecret } from "../auth/secrets.ts";

export const TEST_AGENT_STREAM_PATH = "/_test/agent-stream";

/**
 * Test-only (WARREN_TEST_HOOKS=true): `GET /_test/agent-stream?agent=ID&address=HOST:PORT` with an
 * admin API token upgrades to a raw byte stream spliced onto `registry.openStream` — so tests can
 * drive a real agent's streams from outside the server process before the data plane exists.
 */
export function agentStreamTestHook(registry: AgentRegistry, authenticator: Authenticator, log: Logger) {
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => {});
    const fail = (status: number, body: string): void =>
      void socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    let principal;
    try {
      principal = authenticator.authenticate({ authorization: req.headers.authorization ?? null, cookie: null }, Date.now());
    } catch {
      principal = undefined;
    }
    if (principal?.role !== "admin") {
      fail(401, "admin token required");
      return;
    }
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const agentId = q.get("agent") ?? "";
    const address = q.get("address") ?? "";
    registry.openStream(agentId, { address, requestId: `test-${randomSecret(6)}` }).then(
      (stream) => {
        socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: warren-test-tcp\r\n\r\n");
        if (head.length) stream.write(head);
        splice(socket, stream);
      },
      (e: unknown) => {
        const code = e instanceof TunnelError ? e.code : "internal_error";
        log.debug({ agentId, address, code }, "test stream failed");
        fail(e instanceof TunnelError ? 502 : 500, code);
      },
    );
  };
}
