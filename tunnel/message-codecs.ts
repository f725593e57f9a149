// The tunnel's messages (proto/warren/v1/tunnel.proto) in protobuf's binary format, without the
// protobuf runtime (tunnel/proto-wire.ts says why). Field numbers and types are the .proto's; the
// conformance test (test/unit/tunnel/message-codecs.test.ts) checks every codec against
// @bufbuild/protobuf's encoding of the generated schemas, both ways.
import { WireReader, WireWriter } from "./proto-wire.ts";

/** A message type on the tunnel: its name (for errors) and its two directions. */
export interface MessageCodec<T> {
  readonly typeName: string;
  encode(msg: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** OpenStream: what the gateway asks the agent to dial. */
export interface OpenStreamMessage {
  address: string;
  tlsSni: string;
  requestId: string;
  dialTimeoutMs: number;
}

/** OpenResult: the agent's answer. */
export interface OpenResultMessage {
  ok: boolean;
  errorKind: string;
  message: string;
}

export interface AgentHelloMessage {
  version: string;
  hostname: string;
  labels: Record<string, string>;
  protocolVersion: number;
}

export interface AgentStatsMessage {
  activeStreams: bigint;
  streamsTotal: bigint;
  dialFailures: bigint;
  bytesFromOrigins: bigint;
  bytesToOrigins: bigint;
}

/** ControlMessage's oneof, as @bufbuild/protobuf spells it. */
export type ControlMessageCase =
  | { case: "hello"; value: AgentHelloMessage }
  | { case: "heartbeat"; value: { sentAtUnixMs: bigint } }
  | { case: "stats"; value: AgentStatsMessage }
  | { case: undefined; value?: undefined };

export const OPEN_STREAM: MessageCodec<OpenStreamMessage> = {
  typeName: "warren.v1.OpenStream",
  encode: (m) => new WireWriter().string(1, m.address).string(2, m.tlsSni).string(3, m.requestId).uint32(4, m.dialTimeoutMs).finish(),
  decode(bytes) {
    const m: OpenStreamMessage = { address: "", tlsSni: "", requestId: "", dialTimeoutMs: 0 };
    const r = new WireReader(bytes);
    // Like @bufbuild/protobuf, a known field is read as its declared type whatever its wire type says.
    while (!r.done) {
      const [field, type] = r.tag();
      if (field === 1) m.address = r.string();
      else if (field === 2) m.tlsSni = r.string();
      else if (field === 3) m.requestId = r.string();
      else if (field === 4) m.dialTimeoutMs = r.uint32();
      else r.skip(type, field);
    }
    return m;
  },
};

export const OPEN_RESULT: MessageCodec<OpenResultMessage> = {
  typeName: "warren.v1.OpenResult",
  encode: (m) => new WireWriter().bool(1, m.ok).string(2, m.errorKind).string(3, m.message).finish(),
  decode(bytes) {
    const m: OpenResultMessage = { ok: false, errorKind: "", message: "" };
    const r = new WireReader(bytes);
    while (!r.done) {
      const [field, type] = r.tag();
      if (field === 1) m.ok = r.bool();
      else if (field === 2) m.errorKind = r.string();
      else if (field === 3) m.message = r.string();
      else r.skip(type, field);
    }
    return m;
  },
};

/** The agent only sends ControlMessage (management reads it with the generated schema). */
export function encodeControlMessage(msg: ControlMessageCase): Uint8Array {
  const w = new WireWriter();
  switch (msg.case) {
    case "hello": {
      const h = msg.value;
      const inner = new WireWriter().string(1, h.version).string(2, h.hostname);
      // Map entries: key 1, value 2, each entry a message of its own; both written even when empty.
      for (const [k, v] of Object.entries(h.labels)) inner.message(3, new WireWriter().string(1, k, true).string(2, v, true));
      inner.uint32(4, h.protocolVersion);
      return w.message(1, inner).finish();
    }
    case "heartbeat":
      return w.message(2, new WireWriter().int64(1, msg.value.sentAtUnixMs)).finish();
    case "stats": {
      const s = msg.value;
      const inner = new WireWriter().uint64(1, s.activeStreams).uint64(2, s.streamsTotal).uint64(3, s.dialFailures).uint64(4, s.bytesFromOrigins).uint64(5, s.bytesToOrigins);
      return w.message(3, inner).finish();
    }
    default:
      return w.finish();
  }
}
