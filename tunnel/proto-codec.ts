// A tunnel message codec backed by @bufbuild/protobuf and a generated schema: management's way to read
// what agents send (ControlMessage). The agent itself uses tunnel/message-codecs.ts.
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { MessageCodec } from "./message-codecs.ts";

export function protoCodec<D extends DescMessage>(schema: D): MessageCodec<MessageShape<D>> {
  return {
    typeName: schema.typeName,
    encode: (msg) => toBinary(schema, msg),
    decode: (bytes) => fromBinary(schema, bytes),
  };
}
