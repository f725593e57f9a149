// Frame-level conformance: a RawPeer writes and inspects the exact frames of hashicorp/yamux spec.md.
import assert from "node:assert/strict";
import { once } from "node:events";
import { afterEach, describe, it } from "node:test";
import {
  Flag,
  FrameType,
  GoAwayCode,
  INITIAL_STREAM_WINDOW,
  MAX_FRAME_PAYLOAD,
  SEND_BUFFER_LIMIT,
  YamuxError,
  encodeHeader,
  type YamuxStream,
} from "../../tunnel/yamux/index.ts";
import { cleanup, rawPair, readAll, streamError, type RawFrame } from "./helpers.ts";

afterEach(cleanup);

const isWU = (id: number, flag: number) => (f: RawFrame) => f.type === FrameType.WindowUpdate && f.streamId === id && (f.flags & flag) !== 0;

function expectCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof YamuxError, `expected a YamuxError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function nextStream(session: { once(e: "stream", l: (s: YamuxStream) => void): unknown }): Promise<YamuxStream> {
  return new Promise((resolve) => session.once("stream", resolve));
}

describe("yamux frames on the wire", () => {
  it("openStream() sends SYN at once; the peer's ACK, data and FIN may share one frame", async () => {
    const { session, peer } = await rawPair("client");
    const syn = peer.next(isWU(1, Flag.SYN));
    const s = session.openStream();
    const f = await syn;
    assert.equal(f.flags, Flag.SYN);
    assert.equal(f.length, 0);
    // Writes before the ACK are allowed.
    s.write("early");
    await peer.barrier();
    assert.equal(peer.dataBytes(1), 5);
    // ACK + data + FIN in one DATA frame.
    peer.sendData(1, Flag.ACK | Flag.FIN, Buffer.from("reply"));
    assert.equal((await readAll(s)).toString(), "reply");
    const fin = peer.next(isWU(1, Flag.FIN));
    s.end();
    await fin;
    await peer.barrier();
    assert.equal(session.streamCount, 0, "both FINs: the stream is forgotten");
    session.close();
  });

  it("accepts a stream opened by DATA|SYN|FIN, ACKs it exactly once, and FINs after its data", async () => {
    const { session, peer } = await rawPair("server");
    const accepted = nextStream(session);
    peer.sendData(1, Flag.SYN | Flag.FIN, Buffer.from("hi"));
    const s = await accepted;
    assert.equal(s.id, 1);
    assert.equal((await readAll(s)).toString(), "hi");
    s.end("yo");
    await peer.next(isWU(1, Flag.FIN));
    const frames = peer.frames.filter((f) => f.streamId === 1);
    assert.equal(frames.filter((f) => f.flags & Flag.ACK).length, 1, "one ACK");
    const dataIdx = frames.findIndex((f) => f.type === FrameType.Data);
    const finIdx = frames.findIndex((f) => f.flags & Flag.FIN);
    assert.equal(frames[dataIdx]!.payload.toString(), "yo");
    assert.ok(dataIdx < finIdx, "FIN after the data");
    assert.equal(session.streamCount, 0);
    session.close();
  });

  it("a WINDOW_UPDATE|SYN carrying credit enlarges the new stream's send window", async () => {
    const { session, peer } = await rawPair("server");
    const accepted = nextStream(session);
    peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 1024 * 1024);
    const s = await accepted;
    s.on("error", () => {});
    s.write(Buffer.alloc(2 * 1024 * 1024));
    await peer.barrier();
    assert.equal(peer.dataBytes(1), INITIAL_STREAM_WINDOW + 1024 * 1024);
    session.close();
  });

  it("answers ping SYN with ACK and the same opaque value; ping() times out against a silent peer", async () => {
    const { session, peer } = await rawPair("client");
    const pong = peer.next((f) => f.type === FrameType.Ping && (f.flags & Flag.ACK) !== 0);
    peer.send(FrameType.Ping, Flag.SYN, 0, 0xdeadbeef);
    assert.equal((await pong).length, 0xdeadbeef);
    peer.answerPings = false;
    await assert.rejects(session.ping(30), expectCode("yamux_ping_timeout"));
    assert.equal(session.isClosed, false, "a failed ping() alone does not close the session");
    session.close();
  });

  it("go-away: code 0 stops new streams but keeps the session; codes 1 and 2 end it", async () => {
    const { session, peer } = await rawPair("client");
    const goaway = once(session, "goaway");
    peer.send(FrameType.GoAway, 0, 0, GoAwayCode.Normal);
    assert.deepEqual(await goaway, [0]);
    assert.throws(() => session.openStream(), expectCode("yamux_go_away"));
    assert.equal(session.isClosed, false);
    const closed = once(session, "close");
    peer.send(FrameType.GoAway, 0, 0, GoAwayCode.InternalError);
    const [err] = (await closed) as [Error];
    assert.ok(expectCode("yamux_go_away")(err));
  });

  it("after goAway(), an incoming SYN is answered with RST and reported as refused", async () => {
    const { session, peer } = await rawPair("server");
    const goaway = peer.next((f) => f.type === FrameType.GoAway);
    session.goAway();
    assert.equal((await goaway).length, GoAwayCode.Normal);
    const refused = once(session, "refused");
    const rst = peer.next(isWU(1, Flag.RST));
    peer.sendData(1, Flag.SYN, Buffer.from("late"));
    await rst;
    const [id, reason] = (await refused) as [number, YamuxError];
    assert.equal(id, 1);
    assert.equal(reason.code, "yamux_go_away");
    assert.equal(session.streamCount, 0);
    session.close();
  });

  it("destroy() sends RST; an incoming RST destroys the stream with yamux_stream_reset", async () => {
    const { session, peer } = await rawPair("client");
    const a = session.openStream();
    const rst = peer.next(isWU(a.id, Flag.RST));
    a.destroy();
    await rst;
    const b = session.openStream();
    const failed = streamError(b);
    peer.send(FrameType.WindowUpdate, Flag.RST, b.id, 0);
    assert.ok(expectCode("yamux_stream_reset")(await failed));
    await peer.barrier();
    assert.equal(peer.frames.filter(isWU(b.id, Flag.RST)).length, 0, "no RST sent back for a reset stream");
    assert.equal(session.streamCount, 0);
    session.close();
  });

  it("drops frames for streams that closed (the peer may have sent them before it learnt)", async () => {
    const { session, peer } = await rawPair("server");
    const accepted = nextStream(session);
    peer.send(FrameType.WindowUpdate, Flag.SYN, 1, 0);
    const s = await accepted;
    s.on("error", () => {});
    const rst = peer.next(isWU(1, Flag.RST));
    s.destroy();
    await rst;
    peer.sendData(1, 0, Buffer.from("late"));
    peer.send(FrameType.WindowUpdate, 0, 1, 1000);
    const mine = session.openStream();
    const ack = peer.next(isWU(mine.id, Flag.SYN));
    await ack;
    mine.destroy();
    peer.sendData(mine.id, 0, Buffer.from("late too"));
    await peer.barrier();
    assert.equal(session.isClosed, false);
    session.close();
  });

  describe("protocol errors send go-away(1) and close the session, failing its streams", () => {
    const cases: Array<[string, (peer: Awaited<ReturnType<typeof rawPair>>["peer"]) => void]> = [
      ["an unknown version", (p) => p.socket.write(Buffer.from([1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]))],
      ["an unknown frame type", (p) => p.socket.write(Buffer.from([0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))],
      ["data beyond the receive window", (p) => {
        p.sendData(1, Flag.SYN, Buffer.alloc(INITIAL_STREAM_WINDOW));
        p.sendData(1, 0, Buffer.alloc(1));
      }],
      ["one frame larger than the window", (p) => p.sendData(1, Flag.SYN, Buffer.alloc(INITIAL_STREAM_WINDOW + 1))],
      ["a huge announced length (nothing is buffered for it)", (p) => p.socket.write(encodeHeader(FrameType.Data, Flag.SYN, 1, 0xffffffff))],
      ["a SYN with the wrong parity for the peer's role", (p) => p.send(FrameType.WindowUpdate, Flag.SYN, 2, 0)],
      ["a duplicate SYN", (p) => {
        p.send(FrameType.WindowUpdate, Flag.SYN, 1, 0);
        p.send(FrameType.WindowUpdate, Flag.SYN, 1, 0);
      }],
      ["a stream frame on stream 0", (p) => p.sendData(0, 0, Buffer.from("x"))],
      ["a frame for a stream the peer never opened", (p) => p.sendData(99, 0, Buffer.from("stray"))],
      ["a FIN for a stream the peer never opened", (p) => p.send(FrameType.WindowUpdate, Flag.FIN, 77, 1000)],
      ["a frame for a stream we never opened", (p) => p.send(FrameType.WindowUpdate, 0, 4, 1000)],
      ["data after the peer's own FIN", (p) => {
        p.sendData(1, Flag.SYN | Flag.FIN, Buffer.from("a"));
        p.sendData(1, 0, Buffer.from("after fin"));
      }],
      ["data for a closed stream larger than any window", (p) => {
        p.send(FrameType.WindowUpdate, Flag.SYN, 1, 0);
        p.send(FrameType.WindowUpdate, Flag.RST, 1, 0);
        p.socket.write(encodeHeader(FrameType.Data, 0, 1, 0xffff0000));
      }],
      ["an unknown go-away code", (p) => p.send(FrameType.GoAway, 0, 0, 3)],
      ["the first byte of a header with an unknown version (the rest never comes)", (p) => p.socket.write(Buffer.from([7]))],
      ["a window update overflowing 2^32-1", (p) => {
        p.send(FrameType.WindowUpdate, Flag.SYN, 1, 0xffff0000);
        p.send(FrameType.WindowUpdate, 0, 1, 0xffff0000);
      }],
    ];
    for (const [name, act] of cases) {
      it(name, async () => {
        const { session, peer } = await rawPair("server");
        session.on("stream", (s) => s.on("error", () => {}));
        const mine = session.openStream();
        const failed = streamError(mine);
        const goaway = peer.next((f) => f.type === FrameType.GoAway);
        const closed = once(session, "close");
        act(peer);
        assert.equal((await goaway).length, GoAwayCode.ProtocolError);
        const [err] = (await closed) as [Error];
        assert.ok(expectCode("yamux_protocol_error")(err));
        assert.ok(expectCode("yamux_session_closed")(await failed));
        await peer.ended;
      });
    }
  });
});

describe("yamux flow control on the wire", () => {
  it("returns credit only when the consumer reads, in batches of at least half a window", async () => {
    const { session, peer } = await rawPair("server");
    const accepted = nextStream(session);
    peer.sendData(1, Flag.SYN, Buffer.alloc(64 * 1024, 1));
    const s = await accepted; // not reading: paused
    s.on("error", () => {});
    for (let i = 0; i < 3; i++) peer.sendData(1, 0, Buffer.alloc(64 * 1024, 1));
    await peer.barrier();
    const credit = () => peer.frames.filter((f) => f.type === FrameType.WindowUpdate && f.streamId === 1).reduce((n, f) => n + f.length, 0);
    assert.equal(s.readableLength, INITIAL_STREAM_WINDOW, "the whole window is buffered");
    assert.equal(credit(), 0, "receipt alone gives no credit");
    // One more byte would overflow the window: covered by the protocol-error cases.
    s.read(100 * 1024);
    await peer.barrier();
    assert.equal(credit(), 0, "less than half a window consumed: no update yet");
    s.read(30 * 1024);
    await peer.barrier();
    const granted = credit();
    assert.ok(granted >= 130 * 1024, `credit ${granted} covers what was read`);
    // Granted credit never lets the peer exceed maxStreamWindow of unread data.
    assert.ok(granted - 130 * 1024 <= 16 * 1024 * 1024 - INITIAL_STREAM_WINDOW);
    session.close();
  });

  it("a sender with an empty window waits for WINDOW_UPDATE, without timers", async (t) => {
    const { session, peer } = await rawPair("client");
    await session.ping(); // the session's own first ping is answered before this one: no real timer is left pending
    t.mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
    const s = session.openStream();
    s.on("error", () => {});
    let done = false;
    s.write(Buffer.alloc(INITIAL_STREAM_WINDOW + 300 * 1024, 7), () => {
      done = true;
    });
    await peer.barrier();
    assert.equal(peer.dataBytes(s.id), INITIAL_STREAM_WINDOW);
    assert.equal(done, false);
    peer.send(FrameType.WindowUpdate, 0, s.id, 100 * 1024);
    await peer.barrier();
    assert.equal(peer.dataBytes(s.id), INITIAL_STREAM_WINDOW + 100 * 1024, "exactly the granted credit is used");
    assert.equal(done, false);
    peer.send(FrameType.WindowUpdate, 0, s.id, 10 * 1024 * 1024);
    await peer.barrier();
    assert.equal(peer.dataBytes(s.id), INITIAL_STREAM_WINDOW + 300 * 1024);
    assert.equal(done, true, "the write completes once its last byte is handed to the socket");
    for (const f of peer.frames) if (f.type === FrameType.Data) assert.ok(f.length <= MAX_FRAME_PAYLOAD);
    t.mock.timers.reset();
    session.close();
  });

  it("pauses DATA while the socket pushes back and resumes on drain", async () => {
    const { session, peer } = await rawPair("client");
    const s = session.openStream();
    s.on("error", () => {});
    peer.send(FrameType.WindowUpdate, Flag.ACK, s.id, 256 * 1024 * 1024);
    await peer.barrier();
    peer.socket.pause(); // the peer stops reading the socket
    const socket = (session as unknown as { socket: import("node:net").Socket }).socket;
    const total = 128 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 3);
    let written = 0;
    let accepted = 0;
    // A writer that respects backpressure offers up to 128 MiB.
    while (written < total) {
      written += chunk.length;
      accepted++;
      if (!s.write(chunk)) break;
    }
    assert.ok(socket.writableLength <= SEND_BUFFER_LIMIT + MAX_FRAME_PAYLOAD + 64, `socket buffer ${socket.writableLength}`);
    // Let the kernel buffers fill, then check again: the session holds at most one frame beyond its send budget.
    const drained = once(s, "drain");
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.ok(socket.writableLength <= SEND_BUFFER_LIMIT + MAX_FRAME_PAYLOAD + 64, `socket buffer ${socket.writableLength}`);
    assert.ok(accepted <= 2, "the writer was pushed back at once");
    peer.socket.resume();
    await drained;
    s.end();
    await peer.next(isWU(s.id, Flag.FIN));
    assert.equal(peer.dataBytes(s.id), accepted * chunk.length);
    session.close();
  });
});

