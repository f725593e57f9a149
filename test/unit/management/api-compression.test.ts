import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync, brotliCompressSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { API_COMPRESSIONS } from "../../../management/api/compression.ts";

const [gzip, br] = API_COMPRESSIONS as [(typeof API_COMPRESSIONS)[0], (typeof API_COMPRESSIONS)[0]];
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return Code[e.code];
  }
};

describe("management API request decompression", () => {
  it("round-trips gzip and brotli", async () => {
    const body = new TextEncoder().encode('{"a":1}');
    assert.equal(Buffer.from(await gzip.decompress(new Uint8Array(gzipSync(body)), 1024)).toString(), '{"a":1}');
    assert.equal(Buffer.from(await br.decompress(new Uint8Array(brotliCompressSync(body)), 1024)).toString(), '{"a":1}');
  });

  it("answers a body that does not decompress with invalid_argument, never internal (a 500)", async () => {
    const truncated = new Uint8Array(gzipSync(Buffer.alloc(1000, 0x61)).subarray(0, 12));
    const junk = new TextEncoder().encode("\u0000not compressed at all");
    for (const [c, bytes] of [[gzip, truncated], [gzip, junk], [br, junk], [br, new Uint8Array([0xff, 0xff, 0xff])]] as const) {
      assert.equal(await codeOf(c.decompress(bytes, 1024)), "InvalidArgument", `${c.name} ${Buffer.from(bytes).toString("hex")}`);
    }
  });

  it("keeps resource_exhausted for a body over the limit once decompressed", async () => {
    assert.equal(await codeOf(gzip.decompress(new Uint8Array(gzipSync(Buffer.alloc(10_000))), 100)), "ResourceExhausted");
  });
});
