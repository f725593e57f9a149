// The tunnel's hand-written message codecs (tunnel/message-codecs.ts) against @bufbuild/protobuf with
// the generated schemas, per message: OpenStream and OpenResult are written and read once per request
// through an agent. Run: node --import tsx bench/tunnel/codecs.ts
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { OpenResultSchema, OpenStreamSchema } from "../../proto/gen/warren/v1/tunnel_pb.ts";
import { OPEN_RESULT, OPEN_STREAM } from "../../tunnel/message-codecs.ts";

const N = 200_000;
function perOp(f: () => unknown): number {
  for (let i = 0; i < 20_000; i++) f();
  const start = performance.now();
  for (let i = 0; i < N; i++) f();
  return ((performance.now() - start) * 1000) / N;
}

const open = { address: "10.0.0.12:8080", tlsSni: "app.example.com", requestId: "req_01HZX3J4K5M6N7P8Q9R0", dialTimeoutMs: 5000 };
const openBytes = toBinary(OpenStreamSchema, create(OpenStreamSchema, open));
const result = { ok: false, errorKind: "agent_dial_failed", message: "connect ECONNREFUSED 10.0.0.12:8080" };
const resultBytes = toBinary(OpenResultSchema, create(OpenResultSchema, result));
const rows: [string, number, number][] = [
  ["OpenStream encode", perOp(() => OPEN_STREAM.encode(open)), perOp(() => toBinary(OpenStreamSchema, create(OpenStreamSchema, open)))],
  ["OpenStream decode", perOp(() => OPEN_STREAM.decode(openBytes)), perOp(() => fromBinary(OpenStreamSchema, openBytes))],
  ["OpenResult encode", perOp(() => OPEN_RESULT.encode(result)), perOp(() => toBinary(OpenResultSchema, create(OpenResultSchema, result)))],
  ["OpenResult decode", perOp(() => OPEN_RESULT.decode(resultBytes)), perOp(() => fromBinary(OpenResultSchema, resultBytes))],
];
console.log("| message | tunnel codec µs | @bufbuild/protobuf µs | ratio (protobuf / ours) |\n|---|---|---|---|");
for (const [name, ours, theirs] of rows) console.log(`| ${name} | ${ours.toFixed(3)} | ${theirs.toFixed(3)} | ${(theirs / ours).toFixed(2)} |`);
