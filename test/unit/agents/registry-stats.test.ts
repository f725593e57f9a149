import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { AgentRegistry } from "../../../management/agents/registry.ts";
import { ControlMessageSchema } from "../../../proto/gen/warren/v1/tunnel_pb.ts";
import { encodeMessage } from "../../../tunnel/messages.ts";
import { protoCodec } from "../../../tunnel/proto-codec.ts";
import { YamuxSession } from "../../../tunnel/yamux/index.ts";
import { tcpPair } from "../../tunnel/helpers.ts";
import { pollUntil } from "../../helpers/wait.ts";

const stats = (v: { activeStreams: bigint; streamsTotal: bigint; dialFailures: bigint; bytesFromOrigins: bigint; bytesToOrigins: bigint }) =>
  encodeMessage(protoCodec(ControlMessageSchema), create(ControlMessageSchema, { msg: { case: "stats", value: v } }));

describe("AgentRegistry: the stats an agent reports", () => {
  it("keeps only the latest report, with when it arrived, each counter capped at 2^53 - 1", async () => {
    let clock = 1_000_000;
    const registry = new AgentRegistry(pino({ level: "silent" }), { recordSeen: () => {} }, () => clock);
    const [agentSide, serverSide] = await tcpPair();
    registry.attach("agt_test", serverSide, { remoteAddress: "127.0.0.1", mtls: false, certificateNotAfter: undefined });
    const agent = new YamuxSession(agentSide, { role: "client" });
    try {
      assert.equal(registry.status("agt_test")?.reported, undefined, "nothing before the first report");
      const control = agent.openStream();
      control.on("error", () => {}); // closing the session at the end resets it
      const max = 2n ** 64n - 1n;
      control.write(stats({ activeStreams: max, streamsTotal: max, dialFailures: 3n, bytesFromOrigins: max, bytesToOrigins: 10n }));
      const first = await pollUntil("the first report", async () => registry.status("agt_test")?.reported, (r) => r !== undefined, { timeoutMs: 5_000, intervalMs: 5 });
      assert.deepEqual(first, {
        activeStreams: Number.MAX_SAFE_INTEGER,
        streamsTotal: Number.MAX_SAFE_INTEGER,
        dialFailures: 3,
        bytesFromOrigins: Number.MAX_SAFE_INTEGER,
        bytesToOrigins: 10,
        reportedAt: 1_000_000,
      });
      clock = 1_005_000;
      control.write(stats({ activeStreams: 1n, streamsTotal: 7n, dialFailures: 0n, bytesFromOrigins: 123n, bytesToOrigins: 45n }));
      const second = await pollUntil("the second report", async () => registry.status("agt_test")?.reported, (r) => r?.reportedAt === 1_005_000, {
        timeoutMs: 5_000,
        intervalMs: 5,
      });
      assert.deepEqual(second, { activeStreams: 1, streamsTotal: 7, dialFailures: 0, bytesFromOrigins: 123, bytesToOrigins: 45, reportedAt: 1_005_000 });
    } finally {
      agent.close();
      registry.closeAll("test over");
    }
  });
});
