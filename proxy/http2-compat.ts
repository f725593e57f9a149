// HTTP/2 requests at the edge (listeners with `http2`): Node's compat Http2ServerRequest /
// Http2ServerResponse are made to look like what node:http hands over for HTTP/1.1, so every stage,
// the relay and the answers stay one code path. Only what differs is adapted, here, once per request:
//
// - request headers: no pseudo-headers in rawHeaders/headers; `:authority` is the Host (a Host that
//   differs from it is kept beside it, so hygiene answers 400 duplicate_host, RFC 9113 §8.3.1; neither
//   → 400 missing_host, as for HTTP/1.1); cookie crumbs joined into one Cookie (RFC 9113 §8.2.3: an
//   HTTP/1.1 origin reads one); a body without content-length is announced as `transfer-encoding:
//   chunked` — exactly how it travels to the HTTP/1.1 origin, and how hygiene knows there is a body;
// - response headers: connection-specific fields (Connection, Keep-Alive, Transfer-Encoding, Upgrade,
//   …) are dropped — HTTP/2 has none and Node throws on them;
// - a response complete while the request body is still arriving ends the stream with RST_STREAM
//   NO_ERROR (RFC 9113 §8.1), HTTP/2's lingering close: the client stops sending, the stream is freed.
import http2 from "node:http2";
import type http from "node:http";
import type net from "node:net";

/** Header fields HTTP/2 forbids (RFC 9113 §8.2.2); Node throws on them in a response. */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings", "te"]);

/**
 * The request arrived over HTTP/2 (a compat Http2ServerRequest). Not httpVersionMajor: node:http's
 * parser accepts a request line saying "HTTP/2.0" on an HTTP/1.1 connection and reports 2 too.
 */
export function isHttp2(req: object): req is http2.Http2ServerRequest {
  return req instanceof http2.Http2ServerRequest;
}

/** The TLS socket a request came on: for HTTP/2, its session's (req.socket is a proxy there). */
export function requestSocket(req: http.IncomingMessage | http2.Http2ServerRequest): net.Socket {
  if (isHttp2(req)) return req.stream.session!.socket as net.Socket;
  return (req as http.IncomingMessage).socket;
}

/**
 * Adapts one HTTP/2 request and its response in place (own properties shadow the compat getters) and
 * returns them typed as node:http's, which is how the pipeline reads them from here on.
 */
export function adaptHttp2(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): { req: http.IncomingMessage; res: http.ServerResponse } {
  const src = req.rawHeaders;
  const raw: string[] = [];
  let authority: string | undefined;
  let host: string | undefined;
  let hostCount = 0;
  let cookie: string | undefined;
  let contentLength = false;
  for (let i = 0; i < src.length; i += 2) {
    const name = src[i]!;
    const value = src[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ":authority") authority = value;
      continue;
    }
    // HTTP/2 field names arrive in lower case (Node refuses others).
    if (name === "cookie") {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (name === "host") {
      host = value;
      hostCount++;
    } else if (name === "content-length") contentLength = true;
    raw.push(name, value);
  }
  // Host first, as an HTTP/1.1 client puts it; a different Host stays too (→ duplicate_host).
  if (authority !== undefined && (hostCount === 0 || host!.toLowerCase() !== authority.toLowerCase() || hostCount > 1)) raw.unshift("host", authority);
  if (cookie !== undefined) raw.push("cookie", cookie);
  const stream = req.stream;
  // END_STREAM on the HEADERS frame: no body. Otherwise, without a length, it is chunked upstream.
  if (!stream.endAfterHeaders && !contentLength) raw.push("transfer-encoding", "chunked");
  const headers: http.IncomingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const prev = headers[name];
    // node:http's joining: set-cookie is a list, cookie joined by "; ", the first host kept, others by ", ".
    if (prev === undefined) headers[name] = name === "set-cookie" ? [raw[i + 1]!] : raw[i + 1]!;
    else if (Array.isArray(prev)) prev.push(raw[i + 1]!);
    else if (name !== "host") headers[name] = `${prev}, ${raw[i + 1]!}`;
  }
  Object.defineProperty(req, "rawHeaders", { value: raw, configurable: true });
  Object.defineProperty(req, "headers", { value: headers, configurable: true });

  const writeHead = res.writeHead;
  res.writeHead = function (this: http2.Http2ServerResponse, status: number, a?: unknown, b?: unknown) {
    const given = (b ?? a) as string[] | http.OutgoingHttpHeaders | undefined;
    let out: string[] | http.OutgoingHttpHeaders | undefined = given;
    if (Array.isArray(given)) {
      out = [];
      for (let i = 0; i < given.length; i += 2) if (!CONNECTION_SPECIFIC.has(given[i]!.toLowerCase())) out.push(given[i]!, given[i + 1]!);
    } else if (given !== undefined) {
      out = {};
      for (const k of Object.keys(given)) if (!CONNECTION_SPECIFIC.has(k.toLowerCase())) out[k] = given[k];
    }
    return (writeHead as (s: number, h?: unknown) => http2.Http2ServerResponse).call(this, status, out);
  } as typeof res.writeHead;

  // The response is out but the body is still coming (an early answer, or an origin that answered
  // without reading it all): tell the client to stop, without error, and free the stream.
  // Nothing reads the rest any more: it is discarded, so the stream can end and be freed.
  stream.once("finish", () => {
    if (req.readableEnded) return;
    req.unpipe();
    req.resume();
    if (!stream.destroyed && !stream.closed && !stream.state.remoteClose) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
  return { req: req as unknown as http.IncomingMessage, res: res as unknown as http.ServerResponse };
}
