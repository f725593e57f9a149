import net from "node:net";

export interface RawReply {
  /** Everything the server sent until it closed the connection. */
  readonly raw: string;
  /** Status of the last final (non-1xx) response head, 0 if none. */
  readonly status: number;
  /** Lower-case header names of that head; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Status codes of every head seen, informational ones included, in order. */
  readonly statuses: number[];
}

/** Parses what a server sent on one connection (heads and the body of the last final response). */
export function parseRawReply(raw: string): RawReply {
  const statuses: number[] = [];
  let rest = raw;
  let status = 0;
  let headers: Record<string, string> = {};
  let body = "";
  while (rest.startsWith("HTTP/")) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const lines = rest.slice(0, end).split("\r\n");
    const code = Number(lines[0]!.split(" ")[1]);
    statuses.push(code);
    rest = rest.slice(end + 4);
    if (code >= 200 || code === 101) {
      status = code;
      headers = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(":");
        const k = l.slice(0, c).trim().toLowerCase();
        const v = l.slice(c + 1).trim();
        headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
      }
      body = rest;
      break;
    }
  }
  return { raw, status, headers, body, statuses };
}

/**
 * Sends bytes on a fresh TCP connection and collects everything until the server closes it (or
 * `idleMs` pass without data, for keep-alive answers). For requests a normal client would not send.
 */
export function rawHttp(port: number, data: string | Buffer, o: { idleMs?: number; endAfterWrite?: boolean } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(parseRawReply(Buffer.concat(chunks).toString("latin1")));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, o.idleMs ?? 1_000);
    };
    sock.on("data", (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    sock.on("end", finish);
    sock.on("close", finish);
    sock.on("error", (e) => (chunks.length > 0 ? finish() : reject(e)));
    sock.write(data, () => {
      if (o.endAfterWrite) sock.end();
      arm();
    });
  });
}
