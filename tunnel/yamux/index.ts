/**
 * Warren's Yamux (hashicorp/yamux spec.md), proven against the Go reference by test/tunnel/interop.test.ts.
 *
 *   const session = new YamuxSession(socket, { role: "server" });
 *   session.on("stream", (s) => ...);          // streams the peer opens
 *   const s = session.openStream();            // a Duplex: write, end() = FIN, destroy() = RST
 *
 * Usage notes:
 * - After an HTTP upgrade, put the bytes that came with the 101 back first: `socket.unshift(head)`,
 *   then construct the session (the server's first frames often ride in the same packet).
 * - When a session closes, every open stream is destroyed with yamux_session_closed: give streams an
 *   'error' listener, as with any socket.
 * - `for await (const chunk of stream)` destroys the stream when the loop ends, which sends RST if
 *   our write side is still open; end() first, or read with 'data'/'end'.
 */
export { YamuxError, type YamuxErrorCode } from "./errors.ts";
export {
  Flag,
  FrameParser,
  FrameType,
  GoAwayCode,
  HEADER_SIZE,
  INITIAL_STREAM_WINDOW,
  PROTOCOL_VERSION,
  decodeHeader,
  encodeHeader,
  writeHeader,
  type FrameHeader,
  type FrameSink,
} from "./frame.ts";
export { SEND_BUFFER_LIMIT, YamuxSession, type YamuxOptions, type YamuxSessionEvents } from "./session.ts";
export { YamuxStream, MAX_FRAME_PAYLOAD } from "./stream.ts";
