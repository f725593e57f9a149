// Where a public request's answer is written: a ServerResponse, or RawResponse (proxy/respond.ts)
// for requests node:http handed over as bare sockets.

/** What stages and the response relay write to: the part of http.ServerResponse Warren uses. */
export interface ResponseSink {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers: string[]): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(err?: Error): unknown;
  on(event: "drain" | "close" | "finish", fn: () => void): unknown;
  once(event: "drain" | "close" | "finish", fn: () => void): unknown;
  off(event: "drain" | "close" | "finish", fn: () => void): unknown;
  /** 103 Early Hints (HTTP/1.1 clients only). */
  writeEarlyHints(hints: Record<string, string | string[]>): void;
}
