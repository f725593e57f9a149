import net from "node:net";
import type { AddressInfo } from "node:net";

export interface RawOrigin {
  readonly url: string;
  readonly port: number;
  /** Request heads received, in order. */
  readonly heads: string[];
  close(): Promise<void>;
}

/**
 * An origin that speaks HTTP/1.1 by hand, for answers node:http will not produce (an unsolicited
 * 100, 103 Early Hints, a 304 with Content-Length, garbage, a reset mid-body). `answer` is called with
 * each request head (and the socket) and writes whatever it likes.
 */
export async function startRawOrigin(answer: (head: string, socket: net.Socket) => void): Promise<RawOrigin> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
    socket.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        heads.push(head);
        answer(head, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    heads,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
