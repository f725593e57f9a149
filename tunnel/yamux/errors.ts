/**
 * Every Yamux failure mode with its stable code, in one table. Callers branch on `err.code`,
 * never on messages; `cause` carries the underlying socket error for logs.
 */
const CODES = {
  /** The session is closed (locally, by the peer, or because its socket ended or failed). */
  YAMUX_SESSION_CLOSED: "session closed",
  /** The peer reset the stream (RST), or refused it (backlog full, go-away, stream limit). */
  YAMUX_STREAM_RESET: "stream reset by peer",
  /** The peer broke the protocol (bad version or type, window overflow, bad stream id, ...). */
  YAMUX_PROTOCOL_ERROR: "protocol error",
  /** The peer sent go-away: no new streams, or (non-zero code) it ended the session with an error. */
  YAMUX_GO_AWAY: "peer sent go-away",
  /** A keepalive ping got no answer in time; the session was closed. */
  YAMUX_KEEPALIVE_TIMEOUT: "keepalive timeout",
  /** `ping()` got no answer in time. */
  YAMUX_PING_TIMEOUT: "ping timeout",
  /** An incoming stream was refused because too many were waiting to be accepted. */
  YAMUX_BACKLOG_FULL: "accept backlog full",
  /** The `maxStreams` limit was reached. */
  YAMUX_TOO_MANY_STREAMS: "too many streams",
  /** All stream ids of this side are used up; open a new session. */
  YAMUX_STREAMS_EXHAUSTED: "stream ids exhausted",
  /** The underlying socket failed. */
  YAMUX_SOCKET_ERROR: "socket error",
  /** A YamuxOptions value is out of range. */
  YAMUX_INVALID_OPTION: "invalid option",
} as const;

export type YamuxErrorCode = keyof typeof CODES;

export class YamuxError extends Error {
  override name = "YamuxError";
  constructor(
    readonly code: YamuxErrorCode,
    message: string = CODES[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
