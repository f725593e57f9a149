// Session-level fuzz: the transport delivers bytes in tiny random pieces, both ways.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { type YamuxStream } from "../../tunnel/yamux/index.ts";
import { cleanup, echoStreams, pipePair, prng, randomBytesSeeded, readAll, sessions, sha256, streamError, writeAll } from "./helpers.ts";

afterEach(cleanup);

function nextStream(session: { once(e: "stream", l: (s: YamuxStream) => void): unknown }): Promise<YamuxStream> {
  return new Promise((resolve) => session.once("stream", resolve));
}

/** Mostly 1-12 bytes (headers split everywhere), sometimes up to 3000. */
function chunker(seed: number): () => number {
  const rand = prng(seed);
  return () => (rand() < 0.8 ? 1 + Math.floor(rand() * 12) : 1 + Math.floor(rand() * 3000));
}

describe("yamux over a transport that splits every write at random points", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: concurrent echo streams both ways, ping, FIN and RST arrive intact`, async () => {
      const [a, b] = pipePair({ chunk: chunker(seed) }, { chunk: chunker(seed + 1000) });
      const { client, server, close } = sessions(a, b);
      echoStreams(server);
      echoStreams(client);
      const rand = prng(seed);
      const jobs: Array<Promise<boolean>> = [];
      for (let i = 0; i < 24; i++) {
        const opener = i % 3 === 0 ? server : client;
        const size = Math.floor(rand() * 200 * 1024);
        const data = randomBytesSeeded(rand, size);
        jobs.push(
          (async () => {
            const s = opener.openStream();
            const [echo] = await Promise.all([readAll(s), writeAll(s, data, 1 + Math.floor(rand() * 32 * 1024))]);
            return sha256(echo) === sha256(data);
          })(),
        );
      }
      assert.ok((await client.ping()) >= 0);
      assert.deepEqual(await Promise.all(jobs), Array(24).fill(true));

      // A reset crosses the chunked transport too.
      const accepted = nextStream(client);
      const s = server.openStream();
      s.write("x");
      const c = await accepted;
      const reset = streamError(s);
      c.destroy();
      assert.equal((await reset).code, "yamux_stream_reset");

      await server.ping();
      assert.equal(client.streamCount, 0);
      assert.equal(server.streamCount, 0);
      assert.equal(client.isClosed || server.isClosed, false);
      close();
    });
  }
});
