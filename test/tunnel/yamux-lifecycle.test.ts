import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { Flag, FrameType, YamuxError, YamuxSession, type YamuxStream } from "../../tunnel/yamux/index.ts";
import { cleanup, echoStreams, rawPair, readAll, sha256, streamError, tcpPair, tcpSessions, sessions, whenClosed, writeAll } from "./helpers.ts";

function isYamuxError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof YamuxError, `expected a YamuxError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function nextStream(session: { once(e: "stream", l: (s: YamuxStream) => void): unknown }): Promise<YamuxStream> {
  return new Promise((resolve) => session.once("stream", resolve));
}

describe("yamux session lifecycle", () => {
  afterEach(cleanup);

  it("opens streams both ways with odd client ids and even server ids, and echoes data intact", async () => {
    const { client, server, close } = await tcpSessions();
    echoStreams(server);
    echoStreams(client);
    const fromClient = client.openStream();
    const fromServer = server.openStream();
    assert.equal(fromClient.id, 1);
    assert.equal(fromServer.id, 2);
    client.openStream().destroy(); // id 3 is used even if the stream dies at once
    const five = client.openStream();
    assert.equal(five.id, 5);
    five.destroy();
    const a = randomBytes(3 * 1024 * 1024 + 17);
    const b = randomBytes(1024 * 1024 + 5);
    const [ra, rb] = await Promise.all([readAll(fromClient), readAll(fromServer), writeAll(fromClient, a), writeAll(fromServer, b)]);
    assert.equal(sha256(ra), sha256(a));
    assert.equal(sha256(rb), sha256(b));
    assert.equal(client.bytesOut, a.length + b.length);
    assert.equal(client.bytesIn, a.length + b.length);
    close();
  });

  it("half-closes with FIN: the side that ended still reads, the other still writes", async () => {
    const { client, server, close } = await tcpSessions();
    const accepted = nextStream(server);
    const c = client.openStream();
    c.write("hello");
    const s = await accepted;

    // Client ends first; server sees 'end' but can keep writing to the client.
    c.end();
    const serverGot = await readAll(s);
    assert.equal(serverGot.toString(), "hello");
    assert.equal(c.writableFinished, true);
    s.write("after your FIN");
    s.end(" bye");
    const clientGot = await readAll(c);
    assert.equal(clientGot.toString(), "after your FIN bye");
    await Promise.all([whenClosed(c), whenClosed(s)]);
    assert.equal(client.streamCount, 0);
    assert.equal(server.streamCount, 0);

    // And the other way round: the server ends first.
    const accepted2 = nextStream(server);
    const c2 = client.openStream();
    c2.write("x");
    const s2 = await accepted2;
    s2.end("server done");
    const got = await readAll(c2);
    assert.equal(got.toString(), "server done");
    c2.end("client still writing");
    const got2 = await readAll(s2);
    assert.equal(got2.toString(), "xclient still writing");
    await Promise.all([whenClosed(c2), whenClosed(s2)]);
    assert.equal(client.streamCount, 0);
    assert.equal(server.streamCount, 0);
    close();
  });

  it("destroy() sends RST: the peer's stream fails with yamux_stream_reset, even while it is blocked writing", async () => {
    const { client, server, close } = await tcpSessions();
    const accepted = nextStream(server);
    const c = client.openStream();
    c.write("x");
    const s = await accepted;
    const failed = streamError(c);
    s.destroy();
    const err = await failed;
    assert.ok(isYamuxError("yamux_stream_reset")(err));
    assert.equal(client.streamCount, 0);
    assert.equal(server.streamCount, 0);

    // The server stops reading; the client fills the window and blocks; then the server resets.
    const accepted2 = nextStream(server);
    const c2 = client.openStream();
    const s2p = accepted2;
    c2.write(Buffer.alloc(1));
    const s2 = await s2p;
    s2.pause();
    const writeFailed = new Promise<Error | null | undefined>((resolve) => c2.write(Buffer.alloc(2 * 1024 * 1024), resolve));
    c2.on("error", () => {});
    await server.ping(); // the client has now sent all it may
    assert.equal(s2.readableLength, 256 * 1024);
    const localErr = streamError(s2);
    s2.destroy(new Error("local reason"));
    assert.equal((await localErr).message, "local reason", "the local side sees its own error");
    const werr = await writeFailed;
    assert.ok(isYamuxError("yamux_stream_reset")(werr));
    assert.equal(c2.destroyed, true);
    close();
  });

  it("close() fails every open stream at once with yamux_session_closed, rejects pings, and emits close once", async () => {
    const { client, server } = await tcpSessions();
    echoStreams(server);
    const streams = Array.from({ length: 10 }, () => client.openStream());
    const errors = streams.map((s) => streamError(s));
    // One stream is blocked on a full window, one has a write in progress.
    streams[0]!.write(Buffer.alloc(4 * 1024 * 1024));
    const pendingPing = client.ping();
    let closes = 0;
    let closeErr: Error | undefined;
    client.on("close", (e) => {
      closes++;
      closeErr = e;
    });
    const serverClosed = once(server, "close");
    const boom = new Error("boom");
    client.close(boom);
    client.close();
    assert.equal(closes, 1);
    assert.equal(closeErr, boom);
    assert.equal(client.isClosed, true);
    assert.equal(client.streamCount, 0);
    for (const s of streams) assert.equal(s.destroyed, true, "destroyed synchronously by close()");
    for (const err of await Promise.all(errors)) {
      assert.ok(isYamuxError("yamux_session_closed")(err));
      assert.equal(err.cause, boom);
    }
    await assert.rejects(pendingPing, isYamuxError("yamux_session_closed"));
    assert.throws(() => client.openStream(), isYamuxError("yamux_session_closed"));
    // The peer hears go-away (internal error) and its socket ending: it closes too.
    const [serverErr] = (await serverClosed) as [Error | undefined];
    assert.ok(isYamuxError("yamux_go_away")(serverErr));
    assert.equal(server.isClosed, true);
  });

  it("closes at once when the socket ends or fails, not only by keepalive", async () => {
    const [a, b] = await tcpPair();
    const { client, server } = sessions(a, b);
    echoStreams(server);
    const s = client.openStream();
    s.write("x");
    const failed = streamError(s);
    const closed = once(client, "close");
    const serverClosed = once(server, "close");
    a.destroy(new Error("cable cut"));
    const [err] = (await closed) as [Error];
    assert.ok(isYamuxError("yamux_socket_error")(err));
    assert.ok(isYamuxError("yamux_session_closed")(await failed));
    await serverClosed; // the peer saw its socket end/reset
    assert.equal(server.isClosed, true);
  });

  it("ping() measures the round trip both ways", async () => {
    const { client, server, close } = await tcpSessions();
    const rtt = await client.ping();
    assert.ok(rtt > 0 && rtt < 1000, `rtt ${rtt}`);
    assert.ok((await server.ping()) > 0);
    close();
  });

  it("goAway() refuses new streams from the peer, whose openStream() fails; open streams keep working", async () => {
    const { client, server, close } = await tcpSessions();
    echoStreams(server);
    const before = client.openStream();
    before.write("1");
    await client.ping(); // the server has accepted `before`
    const goaway = once(client, "goaway");
    server.goAway();
    assert.deepEqual(await goaway, [0]);
    assert.equal(client.remoteGoAway, true);
    assert.throws(() => client.openStream(), isYamuxError("yamux_go_away"));
    // The stream opened before still echoes both ways.
    before.end("23");
    assert.equal((await readAll(before)).toString(), "123");
    // Go-away is one-way: the server may still open streams to the client.
    echoStreams(client);
    const back = server.openStream();
    back.end("still open");
    assert.equal((await readAll(back)).toString(), "still open");
    assert.equal(client.isClosed, false);
    assert.equal(server.isClosed, false);
    close();
  });

  it("bounds the accept backlog: extra SYNs get RST until a listener takes the queue", async () => {
    const { client, server, close } = await tcpSessions({}, { acceptBacklog: 4 });
    const refused: string[] = [];
    server.on("refused", (_id, reason) => refused.push(reason.code));
    const streams = Array.from({ length: 6 }, (_, i) => {
      const s = client.openStream();
      s.write(`stream ${i}`);
      return s;
    });
    const errs = await Promise.all([streamError(streams[4]!), streamError(streams[5]!)]);
    for (const e of errs) assert.ok(isYamuxError("yamux_stream_reset")(e));
    assert.deepEqual(refused, ["yamux_backlog_full", "yamux_backlog_full"]);
    assert.equal(server.streamCount, 4);
    // Attaching a listener delivers the queued streams in order, data included.
    const got: number[] = [];
    server.on("stream", (s) => {
      got.push(s.id);
      s.pipe(s);
    });
    const echoes = await Promise.all(
      streams.slice(0, 4).map(async (s, i) => {
        s.end();
        return (await readAll(s)).toString() === `stream ${i}`;
      }),
    );
    assert.deepEqual(echoes, [true, true, true, true]);
    assert.deepEqual(got, [1, 3, 5, 7]);
    close();
  });

  it("enforces maxStreams both ways", async () => {
    const { client, server, close } = await tcpSessions({ maxStreams: 2 }, { maxStreams: 1 });
    echoStreams(server);
    const a = client.openStream();
    const b = client.openStream();
    assert.throws(() => client.openStream(), isYamuxError("yamux_too_many_streams"));
    const refused = once(server, "refused");
    const reset = streamError(b);
    a.write("a");
    b.write("b");
    assert.ok(isYamuxError("yamux_stream_reset")(await reset));
    assert.equal(((await refused)[1] as YamuxError).code, "yamux_too_many_streams");
    a.end();
    assert.equal((await readAll(a)).toString(), "a");
    close();
  });

  it("keepalive closes the session when pongs stop, failing its streams; answered pings keep it open", async () => {
    const { session, peer } = await rawPair("client", { keepAliveIntervalMs: 20, keepAliveTimeoutMs: 400 });
    const s = session.openStream();
    const failed = streamError(s);
    // The peer answers five keepalive rounds: the session stays open.
    for (let i = 0; i < 5; i++) await peer.next((f) => f.type === FrameType.Ping && (f.flags & Flag.SYN) !== 0);
    assert.equal(session.isClosed, false);
    // Then it goes silent: the pong deadline passes.
    peer.answerPings = false;
    const [err] = (await once(session, "close")) as [Error];
    assert.ok(isYamuxError("yamux_keepalive_timeout")(err));
    assert.ok(isYamuxError("yamux_session_closed")(await failed));
    await peer.ended; // and the socket is gone
  });

  it("runs over an HTTP/1.1 upgrade; bytes that arrived with the 101 are unshifted back into the socket", async () => {
    const server = http.createServer();
    const serverSessions: YamuxSession[] = [];
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: warren-yamux\r\n\r\n");
      const s = new YamuxSession(socket, { role: "server", keepAliveIntervalMs: 0 });
      serverSessions.push(s);
      // The server speaks first, so its frames can ride in the same packet as the 101.
      const st = s.openStream();
      st.end(`hello ${req.headers["warren-tunnel-version"]}`);
      echoStreams(s);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const req = http.request({
      port: (server.address() as net.AddressInfo).port,
      host: "127.0.0.1",
      path: "/agent/tunnel",
      headers: { Connection: "Upgrade", Upgrade: "warren-yamux", "Warren-Tunnel-Version": "1" },
    });
    req.end();
    const [res, socket, head] = (await once(req, "upgrade")) as [http.IncomingMessage, net.Socket, Buffer];
    assert.equal(res.statusCode, 101);
    if (head.length > 0) socket.unshift(head);
    const client = new YamuxSession(socket, { role: "client", keepAliveIntervalMs: 0 });
    const [hello] = (await once(client, "stream")) as [YamuxStream];
    assert.equal((await readAll(hello)).toString(), "hello 1");
    hello.end();
    const s = client.openStream();
    s.end("over the upgraded socket");
    assert.equal((await readAll(s)).toString(), "over the upgraded socket");
    client.close();
    await once(serverSessions[0]!, "close");
    server.close();
  });

  it("10,000 sequential streams open, echo and close without leaking", async () => {
    const { client, server, close } = await tcpSessions();
    echoStreams(server);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) {
      const s = client.openStream();
      s.end("ping");
      const got = await readAll(s);
      if (got.length !== 4) assert.fail(`stream ${i} echoed ${got.length} bytes`);
      await whenClosed(s);
    }
    await client.ping(); // the server has processed the last FIN
    assert.equal(client.streamCount, 0);
    assert.equal(server.streamCount, 0);
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 32 * 1024 * 1024, `heap grew ${grown} bytes`);
    close();
  });
});
