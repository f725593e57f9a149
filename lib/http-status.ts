// Raw HTTP/1.1 status lines and small whole responses, for the places that answer on a bare socket
// (upgrade requests, parse errors, the tunnel handshake) instead of through a ServerResponse.
import { STATUS_CODES } from "node:http";

/** The reason phrase Node (and RFC 9110) gives a status: 431 → "Request Header Fields Too Large". */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? (status === 499 ? "Client Closed Request" : "Unknown");
}

/** "HTTP/1.1 431 Request Header Fields Too Large\r\n". */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
}

/**
 * A complete response that closes the connection: status line, the given headers (flat
 * [name, value, ...]), Content-Length, `Connection: close`, then the body.
 */
export function rawResponse(status: number, headers: readonly string[], body: string | Buffer = ""): Buffer {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  let head = statusLine(status);
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  head += `content-length: ${payload.length}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), payload]);
}
