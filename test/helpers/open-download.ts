// A download held open on a TLS connection, for tests that change certificates under it: GET /slow
// (an origin that writes "first;" and ends with "last" when the test releases it), resolved once the
// first part has arrived; `finished` resolves with everything the connection carried when it closes.
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
