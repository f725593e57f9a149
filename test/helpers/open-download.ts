// A download held open on a TLS connection, for tests that change certificates under it: GET /slow
// (an origin that writes "first;" and ends with "last" when the test releases it), resolved once the
// first part has arrived; `finished` resolves with everything the connection carried when it closes.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type tls from "node:tls";

export interface OpenDownload {
  /** Everything received when the connection closed. */
  readonly finished: Promise<string>;
}

export async function openDownload(socket: tls.TLSSocket, host: string, path = "/slow"): Promise<OpenDownload> {
  let received = "";
  const firstChunk = new Promise<void>((resolve) =>
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
      if (received.includes("first;")) resolve();
    }),
  );
  const finished = new Promise<string>((resolve) => socket.once("close", () => resolve(received)));
  socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
  await firstChunk;
  return { finished };
}

/** The origin behind such downloads: GET /slow writes "first;" and ends with "last" on `release()`; anything else gets `origin <path>`. */
export interface SlowOrigin {
  readonly url: string;
  /** Ends the latest /slow response. */
  release(): void;
  close(): Promise<void>;
}

export async function startSlowOrigin(): Promise<SlowOrigin> {
  let pending: http.ServerResponse | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === "/slow") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first;");
      pending = res;
      return;
    }
    res.end(`origin ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: () => pending?.end("last"),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
