import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Flag,
  FrameParser,
  FrameType,
  HEADER_SIZE,
  YamuxError,
  decodeHeader,
  encodeHeader,
  type FrameHeader,
} from "../../tunnel/yamux/index.ts";
import { prng, randomBytesSeeded } from "./helpers.ts";

interface Parsed {
  header: FrameHeader;
  payload: Buffer;
}

function parseAll(chunks: Buffer[]): Parsed[] {
  const out: Parsed[] = [];
  let parts: Buffer[] = [];
  let seen = 0;
  const parser = new FrameParser({
    onHeader: (h) => {
      parts = [];
      seen = 0;
      assert.ok(h.type === FrameType.Data || h.length >= 0);
    },
    onPayload: (c) => {
      assert.ok(c.length > 0, "no empty payload pieces");
      parts.push(c);
      seen += c.length;
    },
    onFrameEnd: (h) => {
      assert.equal(seen, h.type === FrameType.Data ? h.length : 0, "payload pieces add up to the length");
      out.push({ header: h, payload: Buffer.concat(parts) });
    },
  });
  for (const c of chunks) parser.push(c);
  return out;
}

function randomFrames(rand: () => number, count: number): { wire: Buffer; frames: Parsed[] } {
  const frames: Parsed[] = [];
  const bufs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const type = Math.floor(rand() * 4) as FrameType;
    const flags = Math.floor(rand() * 16);
    const streamId = Math.floor(rand() * 0xffffffff);
    let payload: Buffer = Buffer.alloc(0);
    let length: number;
    if (type === FrameType.Data) {
      // Mostly small, sometimes empty, sometimes large.
      const r = rand();
      const size = r < 0.1 ? 0 : r < 0.8 ? Math.floor(rand() * 64) : Math.floor(rand() * 200_000);
      payload = randomBytesSeeded(rand, size);
      length = size;
    } else {
      length = Math.floor(rand() * 0xffffffff);
    }
    const header: FrameHeader = { type, flags, streamId, length };
    frames.push({ header, payload });
    bufs.push(encodeHeader(type, flags, streamId, length), payload);
  }
  return { wire: Buffer.concat(bufs), frames };
}

function chunkRandomly(wire: Buffer, rand: () => number, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < wire.length; ) {
    // Bias towards tiny chunks so headers split at every offset, with some large ones.
    const n = rand() < 0.7 ? 1 + Math.floor(rand() * 16) : 1 + Math.floor(rand() * maxChunk);
    chunks.push(wire.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

describe("yamux frame codec", () => {
  it("encodes the 12-byte big-endian header of the spec", () => {
    const h = encodeHeader(FrameType.WindowUpdate, Flag.SYN | Flag.ACK, 0x01020304, 0x0a0b0c0d);
    assert.equal(h.length, HEADER_SIZE);
    assert.deepEqual([...h], [0, 1, 0, 3, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
    assert.deepEqual(decodeHeader(h), { type: FrameType.WindowUpdate, flags: 3, streamId: 0x01020304, length: 0x0a0b0c0d });
  });

  it("rejects an unknown version or type with yamux_protocol_error", () => {
    const badVersion = encodeHeader(FrameType.Ping, Flag.SYN, 0, 1);
    badVersion[0] = 1;
    const badType = encodeHeader(FrameType.Ping, Flag.SYN, 0, 1);
    badType[1] = 4;
    for (const bad of [badVersion, badType]) {
      assert.throws(
        () => parseAll([bad]),
        (err: unknown) => err instanceof YamuxError && err.code === "yamux_protocol_error",
      );
    }
  });

  it("parses identically however the byte stream is chunked (seeded fuzz)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = prng(seed);
      const { wire, frames } = randomFrames(rand, 60);
      const whole = parseAll([wire]);
      assert.deepEqual(whole, frames, `seed ${seed}: whole buffer`);
      for (const maxChunk of [1, 7, 12, 13, 4096, 100_000]) {
        const got = parseAll(chunkRandomly(wire, rand, maxChunk));
        assert.deepEqual(got, frames, `seed ${seed}, chunks up to ${maxChunk}`);
      }
    }
  });

  it("parses identically when split at every single byte offset", () => {
    const rand = prng(99);
    const { wire, frames } = randomFrames(rand, 6);
    for (let a = 0; a <= wire.length; a++) {
      const b = Math.min(wire.length, a + 1 + Math.floor(rand() * 30));
      const got = parseAll([wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]);
      assert.deepEqual(got, frames, `split at ${a}/${b}`);
    }
    // One byte at a time.
    assert.deepEqual(
      parseAll([...wire].map((x) => Buffer.from([x]))),
      frames,
    );
  });

  it("hands out payload pieces as views of the input, without copying", () => {
    const payload = Buffer.from("hello yamux");
    const wire = Buffer.concat([encodeHeader(FrameType.Data, 0, 1, payload.length), payload]);
    const pieces: Buffer[] = [];
    new FrameParser({ onHeader() {}, onPayload: (c) => pieces.push(c), onFrameEnd() {} }).push(wire);
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0]!.buffer, wire.buffer, "same memory as the input chunk");
  });

  it("stops at once when told to, ignoring the rest of the chunk", () => {
    const wire = Buffer.concat([encodeHeader(FrameType.Ping, Flag.SYN, 0, 1), encodeHeader(FrameType.Ping, Flag.SYN, 0, 2)]);
    const seen: number[] = [];
    const parser: FrameParser = new FrameParser({
      onHeader: (h) => {
        seen.push(h.length);
        parser.stop();
      },
      onPayload() {},
      onFrameEnd() {},
    });
    parser.push(wire);
    assert.deepEqual(seen, [1]);
  });
});
